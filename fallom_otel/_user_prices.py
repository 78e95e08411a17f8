"""The user's own prices (``init(prices=...)`` or the JSON file named by ``FALLOM_PRICES``), validated up front."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fallom_otel._price import Band, Price
from fallom_otel_semconv.gen_ai import GenAiProviderNameValues

__all__ = ["PRICE_KEYS", "PriceTable", "load_prices", "parse_prices"]

PRICE_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "cache_write_1h_mtok")
"""The keys of one user price entry, each in US dollars per million tokens (genai-prices' names)."""

_REQUIRED_KEYS = ("input_mtok", "output_mtok")
_PROVIDER_NAMES = frozenset(member.value for member in GenAiProviderNameValues)


class PriceTable:
    """The user's prices, validated: exact model names and ``prefix*`` patterns, optionally per provider.

    Lookups are case-insensitive. A provider-scoped entry wins over a global one; an exact name over a pattern; the
    longest matching pattern over shorter ones; the response model over the request model.
    """

    def __init__(self, entries: dict[tuple[str | None, str], Price], source: str) -> None:
        self.source = source
        self._exact = {key: price for key, price in entries.items() if not key[1].endswith("*")}
        self._prefixes = sorted(
            ((provider, name[:-1], price) for (provider, name), price in entries.items() if name.endswith("*")),
            key=lambda item: -len(item[1]),
        )

    def __len__(self) -> int:
        return len(self._exact) + len(self._prefixes)

    def find(self, provider: str, models: list[str]) -> Price | None:
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
    entries: dict[tuple[str | None, str], Price] = {}
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


def _parse_entry(entry: Mapping[Any, Any], where: str, source: str) -> Price:
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

    def band(total_input: float) -> Band:
        rate_input = at("input_mtok", total_input)
        rate_output = at("output_mtok", total_input)
        assert rate_input is not None and rate_output is not None  # required above
        rate_write = at("cache_write_mtok", total_input)
        rate_write_1h = at("cache_write_1h_mtok", total_input)
        # Without a rate of their own, cache reads and writes are billed as plain input; 1-hour writes as writes.
        return (rate_input, at("cache_read_mtok", total_input), rate_write, rate_write_1h, rate_output, None)

    return Price(band(0), tuple((start, band(start + 0.5)) for start in thresholds), source)


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
