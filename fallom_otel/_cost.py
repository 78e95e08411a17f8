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

import logging
import threading
import time
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from opentelemetry.util.types import AttributeValue

from fallom_otel import _price_data
from fallom_otel._price import PER_MTOK, Price, price_usage
from fallom_otel._user_prices import PriceTable
from fallom_otel_instrumentors._metrics import metric_attributes
from fallom_otel_semconv import fallom as fallom_keys
from fallom_otel_semconv import openai as openai_keys
from fallom_otel_semconv.gen_ai import GenAiOperationNameValues

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter

    from fallom_otel_instrumentors._invocation import Invocation

__all__ = ["CostHook", "cost_hook"]

_logger = logging.getLogger("fallom_otel")

_EMBEDDINGS = GenAiOperationNameValues.EMBEDDINGS.value
_SERVICE_TIER = openai_keys.OPENAI_RESPONSE_SERVICE_TIER
_MAX_CACHED = 1024  # distinct (provider, model, tier) keys kept; a runaway set of model names cannot grow memory

_FALLOM_COST_USD = fallom_keys.FALLOM_COST_USD
_FALLOM_COST_INPUT_USD = fallom_keys.FALLOM_COST_INPUT_USD
_FALLOM_COST_OUTPUT_USD = fallom_keys.FALLOM_COST_OUTPUT_USD
_FALLOM_COST_SOURCE = fallom_keys.FALLOM_COST_SOURCE


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
        self._cache: dict[tuple[str, str | None, str | None, Any], Price] = {}
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
            costs = price_usage(band, usage, input_tokens, output_tokens)
            if costs is None:
                _logger.debug("fallom-otel: inconsistent token usage for %s; no cost recorded", key[1] or key[2])
                return
            input_usd, output_usd = costs
        else:
            # The common case (no cache, no reasoning): two multiplications.
            input_usd = input_tokens * band[0] / PER_MTOK
            output_usd = output_tokens * band[4] / PER_MTOK
        total = input_usd + output_usd
        attributes[_FALLOM_COST_USD] = total
        attributes[_FALLOM_COST_INPUT_USD] = input_usd
        attributes[_FALLOM_COST_OUTPUT_USD] = output_usd
        attributes[_FALLOM_COST_SOURCE] = price.source
        counter = self.counter
        if counter is not None:
            counter.add(total, metric_attributes(invocation))

    def price_of(self, provider: str, model: str, service_tier: str | None = None) -> Price:
        """The resolved price of ``model`` (cached like the call path); for tests and benchmarks."""
        return self._resolve((provider, model, None, service_tier))

    def _resolve(self, key: tuple[str, str | None, str | None, Any]) -> Price:
        provider, response_model, request_model, tier = key
        models = list(dict.fromkeys(m for m in (response_model, request_model) if m))  # the response model first
        price = None
        if self.prices is not None:
            price = self.prices.find(provider, models)
        if price is None:
            price = _price_data.lookup(provider, models, tier if isinstance(tier, str) else None)
        with self._lock:
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            self._cache[key] = price
            # A missing genai-prices is reported once, by _price_data, not per model.
            if price.base is None and price.source != _price_data.UNAVAILABLE:
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
