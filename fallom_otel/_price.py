"""A model's resolved prices, and the pricing of one call's token usage with them (USD per million tokens)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["PER_MTOK", "TTL_S", "Band", "Price", "price_usage"]

TTL_S = 3600.0  # a resolved price is re-checked at least this often (dated price changes, refreshed snapshots)
PER_MTOK = 1_000_000.0

# One band of rates in USD per million tokens, in this order; None means "no rate of its own" (see price_usage):
# (input, cache_read, cache_write, cache_write_1h, output, output_reasoning).
Band = tuple[float, float | None, float | None, float | None, float, float | None]


class Price:
    """A model's resolved prices: the base band, long-context tiers, where they came from and until when."""

    __slots__ = ("base", "expires", "source", "tiers")

    def __init__(
        self, base: Band | None, tiers: tuple[tuple[int, Band], ...], source: str, expires: float = math.inf
    ) -> None:
        self.base = base  # None: the model's price is unknown
        self.tiers = tiers  # (threshold, band), ascending; a band applies when total input > threshold
        self.source = source
        self.expires = expires


def price_usage(band: Band, usage: Any, input_tokens: int, output_tokens: int) -> tuple[float, float] | None:
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
    return input_micro / PER_MTOK, output_micro / PER_MTOK
