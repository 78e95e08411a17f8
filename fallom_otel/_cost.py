"""The cost of a call, from its token usage and the model's prices: ``fallom.cost.*`` span attributes.

Prices come from the user's own table (``init(prices=...)`` or the JSON file named by ``FALLOM_PRICES``) first, then
from genai-prices, a maintained price database (no hand-written table here; its 0.2 line on Python 3.11+, its 0.1
line on Python 3.10, which 0.2 does not support). Each token bucket is priced at its own rate, following the
providers' billing rules:

- input: uncached input at the input rate, cache reads at the cache-read rate, cache writes at the cache-write rate,
  and Anthropic's 1-hour cache writes at their own rate (2x base input, vs 1.25x for 5-minute writes) when the
  usage says which lifetime was written;
- output: every output token at the output rate, reasoning included (OpenAI and Anthropic bill reasoning / thinking
  as output), unless the model has a separate reasoning rate;
- long-context tiers: when the whole prompt (cache reads and writes included) passes a tier's threshold, every token
  of the call is billed at that tier's rates (e.g. Claude Sonnet 4.5 over 200k input tokens);
- OpenAI service tiers (``flex``, ``priority``) at their own prices when the response names the tier.

Usage fields follow the span contract: ``input_tokens`` includes cache reads and writes, ``output_tokens`` includes
reasoning; the same inclusive convention genai-prices uses, so nothing is double counted.

An unknown price, or a call without usage, gets no cost attribute (never 0), and one debug line per unknown model;
without an importable genai-prices only the user's prices apply, and one warning says so.
The call path does a dict lookup and a few multiplications: each (provider, model, service tier) is resolved once
against genai-prices and cached (re-resolved when a dated price change takes effect, and at least hourly, so an
updated price snapshot is picked up).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Mapping, MutableMapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry.util.types import AttributeValue

from fallom_otel_instrumentors._metrics import metric_attributes
from fallom_otel_semconv import fallom as fallom_keys
from fallom_otel_semconv import openai as openai_keys
from fallom_otel_semconv.gen_ai import GenAiOperationNameValues, GenAiProviderNameValues

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter

    from fallom_otel_instrumentors._invocation import Invocation

__all__ = ["PRICE_KEYS", "CostHook", "PriceTable", "cost_hook", "load_prices", "parse_prices", "warm_up"]

_logger = logging.getLogger("fallom_otel")

PRICE_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "cache_write_1h_mtok")
"""The keys of one user price entry, each in US dollars per million tokens (genai-prices' names)."""

_REQUIRED_KEYS = ("input_mtok", "output_mtok")
_PROVIDER_NAMES = frozenset(member.value for member in GenAiProviderNameValues)

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
_EMBEDDINGS = GenAiOperationNameValues.EMBEDDINGS.value
_SERVICE_TIER = openai_keys.OPENAI_RESPONSE_SERVICE_TIER

_TTL_S = 3600.0  # a resolved price is re-checked at least this often (dated price changes, refreshed snapshots)
_MAX_CACHED = 1024  # distinct (provider, model, tier) keys kept; a runaway set of model names cannot grow memory
_PER_MTOK = 1_000_000.0

_FALLOM_COST_USD = fallom_keys.FALLOM_COST_USD
_FALLOM_COST_INPUT_USD = fallom_keys.FALLOM_COST_INPUT_USD
_FALLOM_COST_OUTPUT_USD = fallom_keys.FALLOM_COST_OUTPUT_USD
_FALLOM_COST_SOURCE = fallom_keys.FALLOM_COST_SOURCE


# --- Rates ---------------------------------------------------------------------------------------------------------

# One band of rates in USD per million tokens, in this order; None means "no rate of its own" (see _price_usage):
# (input, cache_read, cache_write, cache_write_1h, output, output_reasoning).
_Band = tuple[float, float | None, float | None, float | None, float, float | None]


class _Price:
    """A model's resolved prices: the base band, long-context tiers, where they came from and until when."""

    __slots__ = ("base", "expires", "source", "tiers")

    def __init__(
        self, base: _Band | None, tiers: tuple[tuple[int, _Band], ...], source: str, expires: float = math.inf
    ) -> None:
        self.base = base  # None: the model's price is unknown
        self.tiers = tiers  # (threshold, band), ascending; a band applies when total input > threshold
        self.source = source
        self.expires = expires


def _price_usage(band: _Band, usage: Any, input_tokens: int, output_tokens: int) -> tuple[float, float] | None:
    """``(input_usd, output_usd)``, or None when the usage is inconsistent (parts larger than the whole)."""
    rate_input, rate_read, rate_write, rate_write_1h, rate_output, rate_reasoning = band
    uncached = input_tokens
    input_micro = 0.0  # USD x 1e6, divided once at the end
    cache_read = usage.cache_read_input_tokens
    if cache_read and rate_read is not None:
        input_micro += cache_read * rate_read
        uncached -= cache_read
    cache_write = usage.cache_write_input_tokens
    if cache_write:
        write_1h = usage.cache_write_1h_input_tokens or 0
        if write_1h > cache_write:
            return None
        if write_1h and rate_write_1h is not None:
            input_micro += write_1h * rate_write_1h
            uncached -= write_1h
            cache_write -= write_1h
        if rate_write is not None:
            input_micro += cache_write * rate_write
            uncached -= cache_write
    if uncached < 0:
        return None
    input_micro += uncached * rate_input
    output_micro = 0.0
    reasoning = usage.reasoning_output_tokens
    if reasoning and rate_reasoning is not None:
        if reasoning > output_tokens:
            return None
        output_micro += reasoning * rate_reasoning
        output_tokens -= reasoning
    output_micro += output_tokens * rate_output
    return input_micro / _PER_MTOK, output_micro / _PER_MTOK


# --- The hook ------------------------------------------------------------------------------------------------------


class CostHook:
    """The end hook adding ``fallom.cost.*`` to a span (and to the ``fallom.client.cost`` counter when metrics are on).

    One instance per ``init()`` configuration; its cache lives as long as it does.
    """

    def __init__(self, prices: PriceTable | None = None, counter: Counter | None = None) -> None:
        """Create the hook.

        Args:
            prices: The user's price table, consulted before genai-prices.
            counter: The ``fallom.client.cost`` counter, or None without metrics.
        """
        self.prices = prices
        self.counter = counter
        self._cache: dict[tuple[str, str | None, str | None, Any], _Price] = {}
        self._lock = threading.Lock()
        self._reported_unknown: set[tuple[str, str | None]] = set()

    def __call__(self, invocation: Invocation, attributes: MutableMapping[str, AttributeValue]) -> None:
        """Add the cost of a finished call to the span attributes about to be set (see ``EndHook``)."""
        usage = invocation.usage
        input_tokens = usage.input_tokens
        if input_tokens is None:
            return  # no usage reported (a failed call, a stream without usage): nothing to price, never 0
        output_tokens = usage.output_tokens
        if output_tokens is None:
            if invocation.operation != _EMBEDDINGS:
                return  # the output count is missing: a partial cost would understate the bill
            output_tokens = 0
        key = (invocation.provider, invocation.response_model, invocation.request_model, attributes.get(_SERVICE_TIER))
        price = self._cache.get(key)
        if price is None or price.expires <= time.time():
            price = self._resolve(key)
        band = price.base
        if band is None:
            return
        for threshold, tier_band in price.tiers:
            if input_tokens > threshold:
                band = tier_band
        if usage.cache_read_input_tokens or usage.cache_write_input_tokens or usage.reasoning_output_tokens:
            costs = _price_usage(band, usage, input_tokens, output_tokens)
            if costs is None:
                _logger.debug("fallom-otel: inconsistent token usage for %s; no cost recorded", key[1] or key[2])
                return
            input_usd, output_usd = costs
        else:
            # The common case (no cache, no reasoning): two multiplications.
            input_usd = input_tokens * band[0] / _PER_MTOK
            output_usd = output_tokens * band[4] / _PER_MTOK
        total = input_usd + output_usd
        attributes[_FALLOM_COST_USD] = total
        attributes[_FALLOM_COST_INPUT_USD] = input_usd
        attributes[_FALLOM_COST_OUTPUT_USD] = output_usd
        attributes[_FALLOM_COST_SOURCE] = price.source
        counter = self.counter
        if counter is not None:
            counter.add(total, metric_attributes(invocation))

    def price_of(self, provider: str, model: str, service_tier: str | None = None) -> _Price:
        """The resolved price of ``model`` (cached like the call path); for tests and benchmarks."""
        return self._resolve((provider, model, None, service_tier))

    def _resolve(self, key: tuple[str, str | None, str | None, Any]) -> _Price:
        provider, response_model, request_model, tier = key
        models = list(dict.fromkeys(m for m in (response_model, request_model) if m))  # the response model first
        price = None
        if self.prices is not None:
            price = self.prices.find(provider, models)
        if price is None:
            price = _genai_prices_lookup(provider, models, tier if isinstance(tier, str) else None)
        with self._lock:
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            self._cache[key] = price
            if price.base is None and price.source != _UNAVAILABLE:  # a missing genai-prices is reported once
                reported = (provider, models[0] if models else None)
                if reported not in self._reported_unknown and len(self._reported_unknown) < _MAX_CACHED:
                    self._reported_unknown.add(reported)
                    _logger.debug(
                        "fallom-otel: no price known for model %r (provider %s); its calls get no cost attributes. "
                        "Add it with init(prices=...) or FALLOM_PRICES.",
                        " / ".join(models) or None,
                        provider,
                    )
        return price


_hook_lock = threading.Lock()
_last_hook: CostHook | None = None


def cost_hook(prices: PriceTable | None, counter: Counter | None) -> CostHook:
    """The cost hook for this price table and counter: the same instance (and warm cache) while they do not change."""
    global _last_hook
    with _hook_lock:
        hook = _last_hook
        if hook is None or hook.prices is not prices or hook.counter is not counter:
            hook = _last_hook = CostHook(prices, counter)
        return hook


# --- genai-prices --------------------------------------------------------------------------------------------------
# Two release lines are supported: 0.2.x (Python 3.11+) and 0.1.x (its last line for Python 3.10). Both have the API
# read here; what this code needs from their data objects is looked up by attribute (tiers, 1-hour rates, dated
# constraints), not by class or version, so a field one line lacks reads as "no rate of its own" and our own rules
# (Anthropic's 1-hour write = 2x base input) or no cost at all take over, never a made-up number.

_UNAVAILABLE = "genai-prices unavailable"  # the source of a "no price" that only means genai-prices did not import
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
    timer = threading.Timer(delay_s, _load_snapshot)
    timer.daemon = True
    timer.name = "fallom-otel-prices"
    timer.start()


def _load_snapshot() -> Any:
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


def _genai_prices_lookup(provider: str, models: list[str], tier: str | None) -> _Price:
    snapshot = _load_snapshot()
    if snapshot is None:
        return _Price(None, (), _UNAVAILABLE, time.time() + _TTL_S)
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
        base, tiers = _bands(model_price, claude=provider in _CLAUDE_PROVIDERS)
        if base is None:
            continue
        return _Price(base, tiers, source, time.time() + _seconds_until_change(model, now))
    return _Price(None, (), source, time.time() + _TTL_S)


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


def _bands(model_price: Any, *, claude: bool) -> tuple[_Band | None, tuple[tuple[int, _Band], ...]]:
    """Turn a genai-prices ``ModelPrice`` into rate bands; (None, ()) when it has no input or output token price."""
    raw = {name: getattr(model_price, name, None) for name in _RATE_FIELDS}
    if raw["input_mtok"] is None or raw["output_mtok"] is None:
        return None, ()
    thresholds = sorted({t.start for v in raw.values() for t in (getattr(v, "tiers", None) or ())})

    def band(total_input: float) -> _Band:
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
    wait = _TTL_S
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


# --- User prices ---------------------------------------------------------------------------------------------------


class PriceTable:
    """The user's prices, validated: exact model names and ``prefix*`` patterns, optionally per provider.

    Lookups are case-insensitive. A provider-scoped entry wins over a global one; an exact name over a pattern; the
    longest matching pattern over shorter ones; the response model over the request model.
    """

    def __init__(self, entries: dict[tuple[str | None, str], _Price], source: str) -> None:
        self.source = source
        self._exact = {key: price for key, price in entries.items() if not key[1].endswith("*")}
        self._prefixes = sorted(
            ((provider, name[:-1], price) for (provider, name), price in entries.items() if name.endswith("*")),
            key=lambda item: -len(item[1]),
        )

    def __len__(self) -> int:
        return len(self._exact) + len(self._prefixes)

    def find(self, provider: str, models: list[str]) -> _Price | None:
        """The price of the first of ``models`` that has one, or None."""
        for model in models:
            name = model.lower()
            for scope in (provider, None):
                price = self._exact.get((scope, name))
                if price is not None:
                    return price
            for scope in (provider, None):
                for entry_provider, prefix, price in self._prefixes:
                    if entry_provider == scope and name.startswith(prefix):
                        return price
        return None


def load_prices(value: object, *, origin: str) -> PriceTable | None:
    """Validate user prices: a mapping, or the path of a JSON file holding one (see :func:`parse_prices`).

    Args:
        value: None, a mapping, or a path (``str`` / ``os.PathLike``).
        origin: How to name the setting in error messages (``prices`` or ``FALLOM_PRICES``).

    Raises:
        TypeError: A value has the wrong type.
        ValueError: A file cannot be read or parsed, or an entry is invalid.
    """
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"{origin}: cannot read price file {str(path)!r}: {exc.strerror or exc}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{origin}: price file {str(path)!r} is not valid JSON: {exc}") from exc
        return parse_prices(data, origin=f"{origin} ({path.name})", source=f"user:{path.name}")
    return parse_prices(value, origin=origin, source="user")


def parse_prices(data: object, *, origin: str = "prices", source: str = "user") -> PriceTable:
    """Validate a user price mapping.

    The format, in US dollars per million tokens (genai-prices' key names)::

        {
            "my-fine-tune": {"input_mtok": 3.0, "output_mtok": 12.0, "cache_read_mtok": 0.3},
            "ft:gpt-4o-mini-2024-07-18:my-org:*": {"input_mtok": 0.3, "output_mtok": 1.2},
            "anthropic": {"claude-sonnet-4-5": {"input_mtok": 3.0, "output_mtok": 15.0, "cache_write_mtok": 3.75}},
        }

    A key is a model name (case-insensitive; a trailing ``*`` matches every name starting with the rest), or a
    ``gen_ai.provider.name`` (``openai``, ``anthropic``, ``azure.ai.openai``, ...) holding model entries for that
    provider only. ``input_mtok`` and ``output_mtok`` are required; ``cache_read_mtok``, ``cache_write_mtok`` and
    ``cache_write_1h_mtok`` default to the input rate (no discount). A rate is a number, or
    ``{"base": 3.0, "tiers": [{"start": 200000, "price": 6.0}]}`` for long-context pricing (the tier's rates apply to
    the whole call once its input tokens exceed ``start``).

    Raises:
        TypeError: A value has the wrong type.
        ValueError: An entry is empty, misses a required key, has an unknown key or a negative or non-finite rate.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"{origin} must be a mapping of model name to prices, got {type(data).__name__}")
    entries: dict[tuple[str | None, str], _Price] = {}
    for name, entry in data.items():
        if not isinstance(name, str) or not name.strip():
            raise TypeError(f"{origin}: every key must be a non-empty model or provider name, got {name!r}")
        if not isinstance(entry, Mapping):
            raise TypeError(f"{origin}[{name!r}] must be a mapping of prices, got {type(entry).__name__}")
        if name in _PROVIDER_NAMES and entry and all(isinstance(v, Mapping) for v in entry.values()):
            for model, model_entry in entry.items():
                where = f"{origin}[{name!r}][{model!r}]"
                if not isinstance(model, str) or not model.strip():
                    raise TypeError(f"{origin}[{name!r}]: every key must be a non-empty model name, got {model!r}")
                entries[(name, model.strip().lower())] = _parse_entry(model_entry, where, source)
        else:
            entries[(None, name.strip().lower())] = _parse_entry(entry, f"{origin}[{name!r}]", source)
    return PriceTable(entries, source)


def _parse_entry(entry: Mapping[Any, Any], where: str, source: str) -> _Price:
    if not entry:
        raise ValueError(f"{where} is empty; it needs input_mtok and output_mtok (USD per million tokens)")
    unknown = [key for key in entry if key not in PRICE_KEYS]
    if unknown:
        raise ValueError(
            f"{where} has unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(PRICE_KEYS)}"
        )
    missing = [key for key in _REQUIRED_KEYS if key not in entry]
    if missing:
        raise ValueError(
            f"{where} misses {' and '.join(missing)} (USD per million tokens; use 0 for a free direction, "
            "e.g. output_mtok=0 for an embeddings model)"
        )
    parsed = {key: _parse_rate(value, f"{where}[{key!r}]") for key, value in entry.items()}
    thresholds = sorted({start for _, tiers in parsed.values() for start, _ in tiers})

    def at(key: str, total_input: float) -> float | None:
        if key not in parsed:
            return None
        rate, tiers = parsed[key]
        for start, price in tiers:
            if total_input > start:
                rate = price
        return rate

    def band(total_input: float) -> _Band:
        rate_input = at("input_mtok", total_input)
        rate_output = at("output_mtok", total_input)
        assert rate_input is not None and rate_output is not None  # required above
        rate_write = at("cache_write_mtok", total_input)
        rate_write_1h = at("cache_write_1h_mtok", total_input)
        # Without a rate of their own, cache reads and writes are billed as plain input; 1-hour writes as writes.
        return (rate_input, at("cache_read_mtok", total_input), rate_write, rate_write_1h, rate_output, None)

    return _Price(band(0), tuple((start, band(start + 0.5)) for start in thresholds), source)


def _parse_rate(value: object, where: str) -> tuple[float, list[tuple[int, float]]]:
    if isinstance(value, Mapping):
        unknown = [key for key in value if key not in ("base", "tiers")]
        if unknown or "base" not in value or "tiers" not in value:
            raise ValueError(
                f'{where} must be a number or {{"base": <number>, "tiers": [{{"start": <int>, "price": <number>}}]}}'
            )
        tiers_raw = value["tiers"]
        if not isinstance(tiers_raw, (list, tuple)):
            raise TypeError(f"{where}['tiers'] must be a list, got {type(tiers_raw).__name__}")
        tiers: list[tuple[int, float]] = []
        for index, tier in enumerate(tiers_raw):
            tier_where = f"{where}['tiers'][{index}]"
            if not isinstance(tier, Mapping) or set(tier) != {"start", "price"}:
                raise ValueError(f'{tier_where} must be {{"start": <int>, "price": <number>}}')
            start = tier["start"]
            if not isinstance(start, int) or isinstance(start, bool) or start < 0:
                raise ValueError(f"{tier_where}['start'] must be an int >= 0 (input tokens), got {start!r}")
            tiers.append((start, _number(tier["price"], f"{tier_where}['price']")))
        tiers.sort()
        return _number(value["base"], f"{where}['base']"), tiers
    return _number(value, where), []


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{where} must be a number (USD per million tokens), got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{where} must be a finite number >= 0 (USD per million tokens), got {value!r}")
    return number
