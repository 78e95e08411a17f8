"""The cost hook (``fallom.cost.*``): µs per call on the cached path vs the first lookup of a model.

Run by ``bench.py`` as ``python _cost.py``; prints one JSON line (``--quick`` for smoke-test sizes). Measures:

- loading genai-prices (imports + price snapshot), once per process, on the warm-up thread after ``init()``;
- the first lookup of a model (resolving it against the snapshot, then compiling its rates), once per model;
- the hook per call once the model is cached, for a plain OpenAI usage, an Anthropic usage with cache reads and
  1-hour writes, and a long-context (tiered) call;
- ``Invocation.stop()`` with and without the hook (no-op tracer, so only our code is timed): what a call pays for it;
- genai-prices' own ``calc_price`` per call, for reference (what pricing on every call without the cache would cost).
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def _median_ns(action: Callable[[], object], calls: int, repeats: int) -> float:
    """Median over ``repeats`` of the mean ns per call of ``calls`` back-to-back calls."""
    samples = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter_ns()
        for _ in range(calls):
            action()
        samples.append((time.perf_counter_ns() - started) / calls)
    return statistics.median(samples)


def main() -> None:
    """Measure and print one JSON line."""
    quick = "--quick" in sys.argv
    calls, repeats = (2_000, 3) if quick else (50_000, 7)
    clock = time.perf_counter_ns

    started = clock()
    from fallom_otel import _cost, _price_data

    if _price_data.load_snapshot() is None:
        sys.exit("genai-prices cannot be imported: nothing to measure")
    load_ms = (clock() - started) / 1e6
    from importlib.metadata import version

    prices_version = version("genai-prices")  # 0.2.x on Python 3.11+, the 0.1 line on 3.10: their data differ

    from opentelemetry import trace

    from fallom_otel_instrumentors._hooks import Hooks
    from fallom_otel_instrumentors._invocation import TelemetryHandler

    models = [
        ("openai", "gpt-4o"),
        ("openai", "gpt-4o-mini-2024-07-18"),
        ("openai", "o3-2025-04-16"),
        ("anthropic", "claude-sonnet-4-5-20250929"),
        ("anthropic", "claude-haiku-4-5-20251001"),
        ("azure.ai.openai", "gpt-4o-2024-08-06"),
        ("openai", "no-such-model-anywhere"),
    ]
    first_lookup_us: dict[str, float] = {}
    for provider, model in models:
        hook = _cost.CostHook()
        begun = clock()
        hook.price_of(provider, model)
        first_lookup_us[f"{provider}/{model}"] = (clock() - begun) / 1e3

    hook = _cost.CostHook()
    handler = TelemetryHandler(trace.NoOpTracerProvider(), scope_name="bench", scope_version="0")
    hooked = TelemetryHandler(
        trace.NoOpTracerProvider(), scope_name="bench", scope_version="0", hooks=Hooks(on_end=(hook,))
    )

    def invocation(on: TelemetryHandler, provider: str, model: str, **usage: int) -> Any:
        call = on.start("chat", provider, model)
        call.response_model = model
        for name, value in usage.items():
            setattr(call.usage, name, value)
        return call

    shapes = {
        "openai plain": ("openai", "gpt-4o", {"input_tokens": 1200, "output_tokens": 300}),
        "anthropic cache read + 1h write": (
            "anthropic",
            "claude-sonnet-4-5-20250929",
            {
                "input_tokens": 9000,
                "output_tokens": 400,
                "cache_read_input_tokens": 5000,
                "cache_write_input_tokens": 3000,
                "cache_write_1h_input_tokens": 1000,
            },
        ),
        "anthropic long context": (
            "anthropic",
            "claude-sonnet-4-5-20250929",
            {"input_tokens": 250_000, "output_tokens": 2000, "cache_read_input_tokens": 200_000},
        ),
    }
    hook_ns: dict[str, float] = {}
    for label, (provider, model, usage) in shapes.items():
        call = invocation(hooked, provider, model, **usage)
        attributes: dict[str, Any] = {}
        hook(call, attributes)  # resolve once: the loop measures the cached path
        assert attributes, f"no cost for {label}"
        hook_ns[label] = _median_ns(lambda call=call, attributes=attributes: hook(call, attributes), calls, repeats)

    # stop() end to end, with and without the hook (a fresh invocation per call; its creation is timed in both).
    usage = shapes["openai plain"][2]

    def stop_plain() -> None:
        invocation(handler, "openai", "gpt-4o", **usage).stop()

    def stop_hooked() -> None:
        invocation(hooked, "openai", "gpt-4o", **usage).stop()

    stop_samples = [(_median_ns(stop_plain, calls, 1), _median_ns(stop_hooked, calls, 1)) for _ in range(repeats)]
    stop_plain_ns = statistics.median(s[0] for s in stop_samples)
    stop_hooked_ns = statistics.median(s[1] for s in stop_samples)
    stop_delta_ns = statistics.median(s[1] - s[0] for s in stop_samples)

    from genai_prices import Usage, calc_price

    genai_usage = Usage(input_tokens=1200, output_tokens=300)
    calc_price(genai_usage, "gpt-4o", provider_id="openai")
    reference_calls = max(calls // 20, 200)
    calc_price_ns = _median_ns(lambda: calc_price(genai_usage, "gpt-4o", provider_id="openai"), reference_calls, 3)

    result = {
        "genai_prices": prices_version,
        "python": sys.version.split()[0],
        "load_ms": load_ms,
        "first_lookup_us": first_lookup_us,
        "hook_ns": hook_ns,
        "stop_plain_ns": stop_plain_ns,
        "stop_hooked_ns": stop_hooked_ns,
        "stop_delta_ns": stop_delta_ns,
        "calc_price_ns": calc_price_ns,
        "calls": calls,
        "repeats": repeats,
    }
    sys.stdout.write(json.dumps(result) + "\n")


def report_lines(result: dict[str, Any]) -> list[str]:
    """The report section for ``bench.py``."""
    budget_ns = 2_000
    worst = max([*result["hook_ns"].values(), result["stop_delta_ns"]])
    lines = ["10. Cost hook (fallom.cost.*): cached price per (provider, model, tier) vs first lookup"]
    prices = f"genai-prices {result.get('genai_prices', '?')}, Python {result.get('python', '?')}"
    lines.append(f"  {prices} load (imports + snapshot, once, warm-up thread) {result['load_ms']:8.1f} ms")
    for name, micros in result["first_lookup_us"].items():
        lines.append(f"  first lookup  {name:<44} {micros:8.1f} µs   (once per model)")
    for label, ns in result["hook_ns"].items():
        lines.append(f"  cached hook   {label:<44} {ns / 1e3:8.2f} µs/call")
    lines.append(
        f"  Invocation.stop() without / with the hook                  {result['stop_plain_ns'] / 1e3:8.2f} / "
        f"{result['stop_hooked_ns'] / 1e3:.2f} µs  (+{result['stop_delta_ns'] / 1e3:.2f} µs)"
    )
    lines.append(
        f"  for reference: genai_prices.calc_price on every call         {result['calc_price_ns'] / 1e3:8.1f} µs/call"
    )
    verdict = "OK" if worst < budget_ns else "OVER"
    lines.append(f"  [{verdict}] the cost hook adds {worst / 1e3:.2f} µs per call (budget: under 2 µs)")
    return lines


if __name__ == "__main__":
    main()
