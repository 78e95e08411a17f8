"""Prices from genai-prices, a maintained price database, resolved per (provider, model, service tier).

Two release lines are supported: 0.2.x (Python 3.11+) and 0.1.x (its last line for Python 3.10). Both have the API
read here; what this code needs from their data objects is looked up by attribute (tiers, 1-hour rates, dated
constraints), not by class or version, so a field one line lacks reads as "no rate of its own" and our own rules
(Anthropic's 1-hour write = 2x base input) or no cost at all take over, never a made-up number.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from fallom_otel._price import TTL_S, Band, Price
from fallom_otel_semconv.gen_ai import GenAiProviderNameValues

__all__ = ["UNAVAILABLE", "bands", "load_snapshot", "lookup", "warm_up"]

_logger = logging.getLogger("fallom_otel")

# gen_ai.provider.name -> genai-prices provider id. Azure falls back to OpenAI's (and Anthropic's) prices inside
# genai-prices for models it has no Azure price for; Vertex AI (provider "google") falls back to Anthropic's.
_GENAI_PRICES_PROVIDERS = {
    GenAiProviderNameValues.OPENAI.value: "openai",
    GenAiProviderNameValues.ANTHROPIC.value: "anthropic",
    GenAiProviderNameValues.AZURE_AI_OPENAI.value: "azure",
    GenAiProviderNameValues.AWS_BEDROCK.value: "aws",
    GenAiProviderNameValues.GCP_VERTEX_AI.value: "google",
    GenAiProviderNameValues.GCP_GEMINI.value: "google",
    GenAiProviderNameValues.GCP_GEN_AI.value: "google",
    GenAiProviderNameValues.DEEPSEEK.value: "deepseek",
    GenAiProviderNameValues.GROQ.value: "groq",
    GenAiProviderNameValues.MISTRAL_AI.value: "mistral",
    GenAiProviderNameValues.PERPLEXITY.value: "perplexity",
    GenAiProviderNameValues.X_AI.value: "x-ai",
    GenAiProviderNameValues.COHERE.value: "cohere",
}
# Clients whose models are Anthropic's: a 1-hour cache write is billed at 2x the base input rate (Anthropic's rule,
# also on Bedrock and Vertex AI), used when the price data has no 1-hour rate of its own.
_CLAUDE_PROVIDERS = frozenset(
    {
        GenAiProviderNameValues.ANTHROPIC.value,
        GenAiProviderNameValues.AWS_BEDROCK.value,
        GenAiProviderNameValues.GCP_VERTEX_AI.value,
    }
)

UNAVAILABLE = "genai-prices unavailable"  # the source of a "no price" that only means genai-prices did not import
_warm_started = False
_unavailable_lock = threading.Lock()
_unavailable_reported = False


def warm_up(delay_s: float = 0.2) -> None:
    """Load genai-prices (~150 ms of imports) on a background thread soon after ``init()``, once per process.

    The short delay keeps the import off the application's own start-up; a call that needs a price before the load
    finished waits for it once.
    """
    global _warm_started
    if _warm_started:
        return
    _warm_started = True
    timer = threading.Timer(delay_s, load_snapshot)
    timer.daemon = True
    timer.name = "fallom-otel-prices"
    timer.start()


def load_snapshot() -> Any:
    """genai-prices' price snapshot, or None when genai-prices cannot be imported (reported once, then no costs)."""
    try:
        from genai_prices import data_snapshot
    except ImportError as error:
        # An expected state, not an internal error: a venv installed without dependencies (--no-deps), or a
        # genai-prices that cannot load here. The call path goes on with user prices only.
        _report_unavailable(error)
        return None
    return data_snapshot.get_snapshot()


def _report_unavailable(error: ImportError) -> None:
    global _unavailable_reported
    with _unavailable_lock:
        if _unavailable_reported:
            return
        _unavailable_reported = True
    _logger.warning(
        "fallom-otel: genai-prices cannot be imported (%s): calls get no cost attributes unless their model is "
        "priced with init(prices=...) or FALLOM_PRICES. Install genai-prices to price the others.",
        error,
    )


def _genai_prices_version() -> str:
    import genai_prices

    version = getattr(genai_prices, "__version__", None)
    if isinstance(version, str):
        return version
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as distribution_version

    try:
        return distribution_version("genai-prices")
    except PackageNotFoundError:
        return "unknown"


def lookup(provider: str, models: list[str], tier: str | None) -> Price:
    snapshot = load_snapshot()
    if snapshot is None:
        return Price(None, (), UNAVAILABLE, time.time() + TTL_S)
    now = datetime.now(tz=timezone.utc)  # timezone.utc: Python 3.10 has no datetime.UTC
    source = f"genai-prices {_genai_prices_version()}"
    if getattr(snapshot, "from_auto_update", False):
        source += f" (prices updated {snapshot.timestamp:%Y-%m-%d})"
    provider_id = _GENAI_PRICES_PROVIDERS.get(provider)
    for model_ref in models:
        try:
            found_provider, model = snapshot.find_provider_model(model_ref, None, provider_id, None)
        except LookupError:
            continue
        # Request-context variants (service tiers) belong to the provider's own models; genai-prices ignores them
        # for a model borrowed from another provider (Azure -> OpenAI), and so do we.
        own = any(model is m for m in found_provider.models)
        context = {"service_tier": tier} if tier and own else None
        model_price = model.get_prices(now, context)
        base, tiers = bands(model_price, claude=provider in _CLAUDE_PROVIDERS)
        if base is None:
            continue
        return Price(base, tiers, source, time.time() + _seconds_until_change(model, now))
    return Price(None, (), source, time.time() + TTL_S)


_RATE_FIELDS = (
    "input_mtok",
    "cache_read_mtok",
    "cache_write_mtok",
    "cache_write_1h_mtok",
    "output_mtok",
    "output_reasoning_mtok",
)


def _rate_at(value: Any, total_input: float) -> float | None:
    """A genai-prices rate (a number, or ``TieredPrices``: ``base`` and ascending ``tiers``) for a prompt size."""
    if value is None:
        return None
    tiers = getattr(value, "tiers", None)
    if tiers is None:
        return float(value)
    rate = value.base
    for tier in tiers:  # sorted ascending by genai-prices
        if total_input > tier.start:
            rate = tier.price
    return float(rate)


def bands(model_price: Any, *, claude: bool) -> tuple[Band | None, tuple[tuple[int, Band], ...]]:
    """Turn a genai-prices ``ModelPrice`` into rate bands; (None, ()) when it has no input or output token price."""
    raw = {name: getattr(model_price, name, None) for name in _RATE_FIELDS}
    if raw["input_mtok"] is None or raw["output_mtok"] is None:
        return None, ()
    thresholds = sorted({t.start for v in raw.values() for t in (getattr(v, "tiers", None) or ())})

    def band(total_input: float) -> Band:
        rates = {name: _rate_at(value, total_input) for name, value in raw.items()}
        rate_input = rates["input_mtok"]
        rate_output = rates["output_mtok"]
        assert rate_input is not None and rate_output is not None  # checked above
        rate_write_1h = rates["cache_write_1h_mtok"]
        if rate_write_1h is None and claude and rates["cache_write_mtok"] is not None:
            rate_write_1h = 2.0 * rate_input  # Anthropic: 1-hour cache writes cost 2x the base input rate
        return (
            rate_input,
            rates["cache_read_mtok"],
            rates["cache_write_mtok"],
            rate_write_1h,
            rate_output,
            rates["output_reasoning_mtok"],
        )

    base = band(0)
    return base, tuple((start, band(start + 0.5)) for start in thresholds)


def _seconds_until_change(model: Any, now: datetime) -> float:
    """Seconds until one of the model's dated or time-of-day prices may switch (at most the cache TTL).

    Reads the constraints of its conditional prices and price variants by their fields (``start_date``;
    ``start_time`` / ``end_time``), which both genai-prices lines share.
    """
    conditional = model.prices if isinstance(model.prices, list) else ()
    constraints = [getattr(c, "constraint", None) for c in conditional]
    constraints += [getattr(v, "constraint", None) for v in (getattr(model, "price_variants", None) or ())]
    wait = TTL_S
    for constraint in constraints:
        start_date = getattr(constraint, "start_date", None)
        if start_date is not None:
            starts = datetime.combine(start_date, datetime.min.time(), tzinfo=timezone.utc)
            if starts > now:
                wait = min(wait, (starts - now).total_seconds())
        for boundary in (getattr(constraint, "start_time", None), getattr(constraint, "end_time", None)):
            if boundary is None:
                continue
            moment = datetime.combine(now.date(), boundary.replace(tzinfo=boundary.tzinfo or timezone.utc))
            if moment <= now:
                moment += timedelta(days=1)
            wait = min(wait, (moment - now).total_seconds())
    return max(wait, 1.0)
