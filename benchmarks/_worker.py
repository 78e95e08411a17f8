"""The measuring process: runs one group of workloads and prints its results as one JSON line on stdout.

``bench.py`` starts it once per group, each in a fresh interpreter, so no group inherits another's patches, caches
or memory. Progress goes to stderr. Groups (first argument):

- ``ours``: non-streamed chat (sync, async), streamed chat (50, 500 chunks), the hand-made-span floor and the
  stream-proxy micro-benchmark, bare SDK vs ``OpenAIInstrumentor`` with content capture on.
- ``peer NAME``: the non-streamed chat workloads under a peer instrumentor (run with the peers' venv python).
- ``rss``: resident memory over many instrumented calls.
- ``anthropic``: non-streamed ``messages.create`` (sync, async), streamed with 50 and 500 ``content_block_delta``
  events and the stream-proxy micro-benchmark over prebuilt events, bare SDK vs ``AnthropicInstrumentor`` with
  content capture on. The SDK's own native span is on in "bare" unless ``ANTHROPIC_OPEN_TELEMETRY=false`` is set in
  the environment (``--no-micro`` skips the micro-benchmark, which does not depend on it).

Export always goes through ``fallom_otel.init(base_url=<receiver>)``: an SDK ``TracerProvider``, the session span
processor, a ``BatchSpanProcessor`` and the OTLP/HTTP protobuf exporter, to the loopback receiver process.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import importlib
import importlib.metadata
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from _fixtures import (
    ANSWER,
    ANTHROPIC_MODEL,
    CHAT_KWARGS,
    MESSAGES_KWARGS,
    MODEL,
    anthropic_async_client,
    anthropic_sync_client,
    async_client,
    chunk_objects,
    event_objects,
    sync_client,
)
from _measure import BlockTiming, Mode, alternate, time_async_block, time_sync_block
from _receiver import fetch_stats

# Sizes chosen so each block lasts ~0.5-1 s (the bare SDK takes ~0.8 ms per non-streamed call and ~80 us per
# streamed chunk on the reference machine) and the whole ``make bench`` stays within ~5 minutes on 2 cores.
FULL = {
    "reps": 7,  # blocks per mode, alternating; the median is reported
    "nonstream_calls": 800,
    "nonstream_warmup": 50,
    "stream50_calls": 80,
    "stream500_calls": 12,
    "stream_warmup": 3,
    "floor_spans": 2000,
    "micro_reps": 7,
    "micro_chunks": 60_000,  # chunks per micro-benchmark pass set, whatever the stream length
}
QUICK = {**FULL, "reps": 2, "nonstream_calls": 100, "stream50_calls": 10, "stream500_calls": 2, "micro_reps": 3}
# The Anthropic group (~0.45 ms per bare non-streamed call; two runs of it, with and without the SDK's native span):
# fewer repetitions, so that it adds well under a minute to ``make bench``.
ANTHROPIC_FULL = {
    **FULL,
    "reps": 5,
    "nonstream_calls": 800,
    "stream50_calls": 200,
    "stream500_calls": 20,
    "micro_reps": 5,
}
ANTHROPIC_QUICK = {**ANTHROPIC_FULL, "reps": 2, "nonstream_calls": 100, "stream50_calls": 10, "stream500_calls": 2}
ANTHROPIC_DELTAS = (50, 500)  # content_block_delta events per streamed message (+5 framing events)
ANTHROPIC_FRAMING_EVENTS = 5

# What the peers need to record content on the span, as ours does with ``capture_content=True``.
# name -> (distribution, module holding its OpenAIInstrumentor, environment that turns content capture on)
PEERS: dict[str, tuple[str, str, dict[str, str]]] = {
    "otel-genai": (
        "opentelemetry-instrumentation-genai-openai",
        "opentelemetry.instrumentation.genai.openai",
        {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"},
    ),
    "openllmetry": (
        "opentelemetry-instrumentation-openai",
        "opentelemetry.instrumentation.openai",
        {"TRACELOOP_TRACE_CONTENT": "true"},
    ),
}


def _progress(message: str) -> None:
    sys.stderr.write(f"  .. {message}\n")
    sys.stderr.flush()


def _flush() -> bool:
    import fallom_otel

    return fallom_otel.flush(60_000)


def _bare_mode() -> Mode:
    return Mode("bare", enter=lambda: None, leave=lambda: None)


def _instrumented_mode(instrumentor: Any, targets: list[tuple[object, str]] | None = None, **kwargs: Any) -> Mode:
    """Instrument once; then switch between bare and instrumented by swapping the patched SDK methods.

    ``instrument()`` / ``uninstrument()`` per block would be simpler, but not every instrumentor reverses cleanly
    (one peer's ``uninstrument()`` leaves its chat wrappers in place, so a second ``instrument()`` stacks them and
    "bare" blocks are traced). Swapping the attributes the instrumentor replaced works the same for all of them,
    costs nothing on the measured path, and leaves exactly the methods the workload calls bare or patched.
    The instrumentor's own state stays "instrumented" throughout.

    ``targets`` are ``(class or module, attribute)`` pairs; by default OpenAI's chat ``create`` / ``parse``.
    """
    from opentelemetry import trace

    if targets is None:
        from openai.resources.chat import completions

        classes: tuple[type, ...] = (completions.Completions, completions.AsyncCompletions)
        targets = [(cls, name) for cls in classes for name in _METHODS]
    keys = targets
    original = {key: vars(key[0]).get(key[1]) for key in keys}
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider(), **kwargs)
    patched = {key: vars(key[0]).get(key[1]) for key in keys}
    changed = [key for key in keys if patched[key] is not original[key]]
    if not changed:
        raise RuntimeError(f"{type(instrumentor).__module__}: instrument() patched none of the target methods")

    def install(methods: dict[tuple[object, str], object]) -> None:
        for owner, name in changed:
            setattr(owner, name, methods[(owner, name)])

    install(original)  # start bare
    return Mode("instrumented", enter=lambda: install(patched), leave=lambda: install(original))


_METHODS = ("create", "parse")


# --- the workloads -------------------------------------------------------------------------------------------


def _sync_nonstream() -> Callable[[], object]:
    client = sync_client()
    completions = client.chat.completions  # the method is looked up per call: the patch is on the class

    def call() -> object:
        return completions.create(**CHAT_KWARGS)

    return call


def _async_nonstream() -> Callable[[], Any]:
    client = async_client()
    completions = client.chat.completions

    async def call() -> object:
        return await completions.create(**CHAT_KWARGS)

    return call


def _sync_stream(chunks: int) -> Callable[[], object]:
    client = sync_client(stream_chunks=chunks)
    completions = client.chat.completions

    def call() -> object:
        # The whole call: request, every chunk read by the application, the end of the stream.
        received = 0
        for _ in completions.create(stream=True, **CHAT_KWARGS):
            received += 1
        return received

    return call


def _nonstream_group(
    modes: list[Mode], size: dict[str, int], spans: list[int], floor: Callable[[], None] | None = None
) -> dict[str, Any]:
    """Non-streamed chat, sync and async; ``spans`` collects how many spans the traced blocks produced.

    With ``floor`` (a hand-made span), the sync workload gets a third mode, ``floor``: each bare call followed by
    one hand-made span. That is the physical floor *in situ*: the same span work as the tight-loop floor, but
    interleaved with the SDK's ~0.8 ms of work per call, as the instrumentation's is, so that caches and branch
    predictors are as cold for it as they are for the instrumentation.
    """
    results: dict[str, Any] = {}
    calls, warmup, reps = size["nonstream_calls"], size["nonstream_warmup"], size["reps"]
    traced_modes = len(modes) - 1
    _progress(f"non-streamed sync: {reps} x {calls} calls per mode")
    sync_call = _sync_nonstream()
    sync_block = functools.partial(time_sync_block, sync_call, calls, warmup, _flush)
    runs: list[tuple[Mode, Callable[[], BlockTiming]]] = [(mode, sync_block) for mode in modes]
    if floor is not None:

        def call_then_floor_span() -> None:
            sync_call()
            floor()

        floor_block = functools.partial(time_sync_block, call_then_floor_span, calls, warmup, _flush)
        runs.append((Mode("floor", enter=lambda: None, leave=lambda: None), floor_block))
        traced_modes += 1
    results["nonstream_sync"] = alternate(runs, reps)
    _progress(f"non-streamed async: {reps} x {calls} calls per mode")
    loop = asyncio.new_event_loop()
    async_call = _async_nonstream()
    async_block = functools.partial(time_async_block, loop, async_call, calls, warmup, _flush)
    try:
        results["nonstream_async"] = alternate([(mode, async_block) for mode in modes], reps)
    finally:
        loop.close()
    spans.append(reps * (calls + warmup) * (traced_modes + len(modes) - 1))
    return results


# --- the physical floor: one hand-made span, no patching -------------------------------------------------------


def _floor_span_maker() -> Callable[[], None]:
    """One span like ours for the same call (same keys and value types), built and ended by hand.

    It pays what any GenAI span must pay: building the attribute dict and the two message JSON strings, the SDK's
    span start (with the session processor's ``on_start``), ``set_attributes`` and ``end`` (handing the span to the
    batch processor). It does not make the span current, read the SDK's objects or run any wrapper.
    """
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind
    from opentelemetry.util.types import AttributeValue

    from fallom_otel_semconv import SCHEMA_URL, common, gen_ai
    from fallom_otel_semconv import openai as openai_keys

    tracer = trace.get_tracer("benchmarks.floor", "0", schema_url=SCHEMA_URL)
    messages = CHAT_KWARGS["messages"]
    chat = gen_ai.GenAiOperationNameValues.CHAT.value
    provider = gen_ai.GenAiProviderNameValues.OPENAI.value
    api_type = openai_keys.OpenAiApiTypeValues.CHAT_COMPLETIONS.value

    def dumps(value: object) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def make() -> None:
        start: dict[str, AttributeValue] = {
            gen_ai.GEN_AI_OPERATION_NAME: chat,
            gen_ai.GEN_AI_PROVIDER_NAME: provider,
            gen_ai.GEN_AI_REQUEST_MODEL: MODEL,
            common.SERVER_ADDRESS: "llm.test",
            common.SERVER_PORT: 80,
            gen_ai.GEN_AI_REQUEST_MAX_TOKENS: 256,
            gen_ai.GEN_AI_REQUEST_TEMPERATURE: 0.2,
            openai_keys.OPENAI_API_TYPE: api_type,
            gen_ai.GEN_AI_INPUT_MESSAGES: dumps(
                [{"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]} for m in messages]
            ),
        }
        span = tracer.start_span(f"{chat} {MODEL}", kind=SpanKind.CLIENT, attributes=start)
        span.set_attributes(
            {
                gen_ai.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini-2024-07-18",
                gen_ai.GEN_AI_RESPONSE_ID: "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
                gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
                gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 71,
                gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: 128,
                gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 0,
                gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 0,
                openai_keys.OPENAI_RESPONSE_SERVICE_TIER: "default",
                openai_keys.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: "fp_0ba0d124f1",
                gen_ai.GEN_AI_OUTPUT_MESSAGES: dumps(
                    [
                        {
                            "role": "assistant",
                            "parts": [{"type": "text", "content": ANSWER}],
                            "finish_reason": "stop",
                        }
                    ]
                ),
            }
        )
        span.end()

    return make


# --- the stream-proxy micro-benchmark --------------------------------------------------------------------------


class _ChunkSource:
    """The smallest stand-in for an SDK stream: iterable over prebuilt chunks, with ``close()``."""

    def __init__(self, chunks: list[Any]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[Any]:
        return iter(self._chunks)

    def close(self) -> None:
        """Nothing to release."""


def _micro(chunk_counts: tuple[int, ...], size: dict[str, int]) -> dict[str, Any]:
    """Nanoseconds per chunk: ``SyncStreamProxy`` + ``ChatStreamAccumulator`` over prebuilt chunks vs a bare iterator.

    The span comes from a no-op tracer provider: what is measured is the proxy's per-chunk path (``__next__``,
    first-chunk/first-token stamps, ``accumulator.add``) and, once per stream, the end (``accumulator.finish``,
    output JSON). Proxy construction and span start happen outside the timed region. Each pass iterates one whole
    stream; passes are repeated until ``micro_chunks`` chunks were iterated, per mode, per repetition.
    """
    from fallom_otel_instrumentors.openai._chat import ChatStreamAccumulator

    streams = {count: chunk_objects(count) for count in chunk_counts}
    return _proxy_micro(streams, ChatStreamAccumulator, "openai", MODEL, size)


def _proxy_micro(
    streams: dict[int, list[Any]],
    accumulator: Callable[[Any], Any],
    provider: str,
    model: str,
    size: dict[str, int],
) -> dict[str, Any]:
    """The micro-benchmark of :func:`_micro` over any prebuilt streams (key: a label, value: the items)."""
    from opentelemetry import trace

    from fallom_otel_instrumentors._invocation import TelemetryHandler
    from fallom_otel_instrumentors._stream import SyncStreamProxy
    from fallom_otel_instrumentors.openai._chat import CHAT

    handler = TelemetryHandler(
        trace.NoOpTracerProvider(), scope_name="benchmarks.micro", scope_version="0", capture_content=True
    )
    clock = time.perf_counter_ns
    results: dict[str, Any] = {}
    for label, items in streams.items():
        count = len(items)
        source = _ChunkSource(items)
        passes = max(1, size["micro_chunks"] // count)
        bare_runs: list[float] = []
        proxy_runs: list[float] = []
        for rep in range(size["micro_reps"] + 1):  # the first repetition is a warm-up
            gc.collect()
            elapsed = 0
            for _ in range(passes):
                started = clock()
                for _chunk in source:
                    pass
                elapsed += clock() - started
            bare = elapsed / (passes * count)
            gc.collect()
            elapsed = 0
            for _ in range(passes):
                invocation = handler.start(CHAT, provider, model)
                proxy = SyncStreamProxy(source, invocation, accumulator(invocation))
                started = clock()
                for _chunk in proxy:
                    pass
                elapsed += clock() - started
            if rep:
                bare_runs.append(bare)
                proxy_runs.append(elapsed / (passes * count))
        results[str(label)] = {
            "items": count,
            "bare_ns_per_chunk": statistics.median(bare_runs),
            "proxy_ns_per_chunk": statistics.median(proxy_runs),
            "passes": passes,
        }
    return results


# --- groups ----------------------------------------------------------------------------------------------------


def _receiver_delta(receiver: str, before: dict[str, Any]) -> int:
    return int(fetch_stats(receiver)["spans"]) - int(before["spans"])


def run_ours(receiver: str, size: dict[str, int]) -> dict[str, Any]:
    """All workloads of fallom-otel's own instrumentor."""
    import fallom_otel
    from fallom_otel_instrumentors.openai import OpenAIInstrumentor

    fallom_otel.init(base_url=receiver, capture_content=True)
    instrumentor = OpenAIInstrumentor()
    modes = [_bare_mode(), _instrumented_mode(instrumentor, capture_content=True)]
    make_floor_span = _floor_span_maker()
    before = fetch_stats(receiver)
    expected: list[int] = []
    results = _nonstream_group(modes, size, expected, floor=make_floor_span)
    results["span_attributes"] = fetch_stats(receiver)["last_span_attributes"]

    reps, warmup = size["reps"], size["stream_warmup"]
    for chunks, calls in ((50, size["stream50_calls"]), (500, size["stream500_calls"])):
        _progress(f"streamed sync, {chunks} chunks: {reps} x {calls} calls per mode")
        call = _sync_stream(chunks)
        block = functools.partial(time_sync_block, call, calls, warmup, _flush)
        results[f"stream{chunks}"] = alternate([(mode, block) for mode in modes], reps)
        expected.append(reps * (calls + warmup))

    _progress(f"floor, tight loop: {reps} x {size['floor_spans']} hand-made spans")
    floor_mode = Mode("floor", enter=lambda: None, leave=lambda: None)
    floor_block = functools.partial(time_sync_block, make_floor_span, size["floor_spans"], 100, _flush)
    results["floor"] = alternate([(floor_mode, floor_block)], reps)["floor"]
    expected.append(reps * (size["floor_spans"] + 100))

    _progress("stream-proxy micro-benchmark: 50 and 500 chunks")
    results["micro"] = _micro((50, 500), size)
    results["spans_expected"] = sum(expected)
    results["spans_received"] = _receiver_delta(receiver, before)
    return results


def run_peer(name: str, receiver: str, size: dict[str, int]) -> dict[str, Any]:
    """The non-streamed workloads under a peer instrumentor, on the same provider and exporter as ours."""
    distribution, module_name, env = PEERS[name]
    os.environ.update(env)  # read by the peers when they instrument / start spans
    import fallom_otel

    fallom_otel.init(base_url=receiver, capture_content=True)
    module = importlib.import_module(module_name)
    version = importlib.metadata.version(distribution)
    instrumentor = module.OpenAIInstrumentor()
    modes = [_bare_mode(), _instrumented_mode(instrumentor)]
    before = fetch_stats(receiver)
    expected: list[int] = []
    results = _nonstream_group(modes, size, expected)
    results["span_attributes"] = fetch_stats(receiver)["last_span_attributes"]
    results["spans_expected"] = sum(expected)
    results["spans_received"] = _receiver_delta(receiver, before)
    results["version"] = version
    results["content_env"] = env
    return results


# --- Anthropic ------------------------------------------------------------------------------------------------


def _anthropic_targets() -> list[tuple[object, str]]:
    """What ``AnthropicInstrumentor`` patches on the measured path, swapped together by the mode.

    The first-party Messages methods, and the SDK's ``start_api_call_span`` (wrapped so that our span replaces the
    native one; left in place in "bare", its wrapper would cost a context lookup per call).
    """
    from anthropic import _base_client
    from anthropic.resources.messages import messages

    classes: tuple[type, ...] = (messages.Messages, messages.AsyncMessages)
    targets: list[tuple[object, str]] = [(cls, name) for cls in classes for name in ("create", "parse", "stream")]
    targets.append((_base_client, "start_api_call_span"))
    return targets


def _anthropic_sync_nonstream() -> Callable[[], object]:
    messages = anthropic_sync_client().messages

    def call() -> object:
        return messages.create(**MESSAGES_KWARGS)

    return call


def _anthropic_async_nonstream() -> Callable[[], Any]:
    messages = anthropic_async_client().messages

    async def call() -> object:
        return await messages.create(**MESSAGES_KWARGS)

    return call


def _anthropic_sync_stream(deltas: int) -> Callable[[], object]:
    messages = anthropic_sync_client(stream_deltas=deltas).messages

    def call() -> object:
        received = 0
        for _ in messages.create(stream=True, **MESSAGES_KWARGS):
            received += 1
        return received

    return call


def run_anthropic(receiver: str, size: dict[str, int], micro: bool) -> dict[str, Any]:
    """Anthropic workloads: bare SDK vs ``AnthropicInstrumentor``, content capture on."""
    import fallom_otel
    from fallom_otel_instrumentors.anthropic import AnthropicInstrumentor
    from fallom_otel_instrumentors.anthropic._messages import AnthropicStreamAccumulator

    native = os.environ.get("ANTHROPIC_OPEN_TELEMETRY", "").lower() != "false"
    fallom_otel.init(base_url=receiver, capture_content=True)
    modes = [_bare_mode(), _instrumented_mode(AnthropicInstrumentor(), _anthropic_targets(), capture_content=True)]
    bare_spans = 1 if native else 0  # per bare call: the SDK's own span, exported through the same pipeline
    results: dict[str, Any] = {"native_span": native, "anthropic": importlib.metadata.version("anthropic")}
    expected = 0
    reps, calls, warmup = size["reps"], size["nonstream_calls"], size["nonstream_warmup"]
    per_rep = (calls + warmup) * (1 + bare_spans)

    # The span of each mode, once, outside the timed blocks: what bare and instrumented export per call.
    call = _anthropic_sync_nonstream()
    for mode in modes:
        _flush()
        before = fetch_stats(receiver)
        mode.enter()
        try:
            call()
        finally:
            mode.leave()
        _flush()
        after = fetch_stats(receiver)
        results[f"{mode.name}_spans_per_call"] = int(after["spans"]) - int(before["spans"])
        results[f"{mode.name}_span_attributes"] = (
            after["last_span_attributes"] if results[f"{mode.name}_spans_per_call"] else []
        )
    before = fetch_stats(receiver)

    _progress(f"anthropic (native span {'on' if native else 'off'}) non-streamed sync: {reps} x {calls} calls")
    block = functools.partial(time_sync_block, call, calls, warmup, _flush)
    results["nonstream_sync"] = alternate([(mode, block) for mode in modes], reps)
    expected += reps * per_rep
    _progress(f"anthropic non-streamed async: {reps} x {calls} calls per mode")
    loop = asyncio.new_event_loop()
    async_block = functools.partial(time_async_block, loop, _anthropic_async_nonstream(), calls, warmup, _flush)
    try:
        results["nonstream_async"] = alternate([(mode, async_block) for mode in modes], reps)
    finally:
        loop.close()
    expected += reps * per_rep

    stream_warmup = size["stream_warmup"]
    for deltas, stream_calls in zip(ANTHROPIC_DELTAS, (size["stream50_calls"], size["stream500_calls"]), strict=True):
        _progress(f"anthropic streamed sync, {deltas} deltas: {reps} x {stream_calls} calls per mode")
        stream_block = functools.partial(
            time_sync_block, _anthropic_sync_stream(deltas), stream_calls, stream_warmup, _flush
        )
        results[f"stream{deltas}"] = alternate([(mode, stream_block) for mode in modes], reps)
        expected += reps * (stream_calls + stream_warmup) * (1 + bare_spans)

    if micro:
        _progress("anthropic stream-proxy micro-benchmark: 50 and 500 deltas")
        streams = {deltas: event_objects(deltas) for deltas in ANTHROPIC_DELTAS}
        results["micro"] = _proxy_micro(streams, AnthropicStreamAccumulator, "anthropic", ANTHROPIC_MODEL, size)
    results["spans_expected"] = expected
    results["spans_received"] = _receiver_delta(receiver, before)
    return results


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("VmRSS not found in /proc/self/status")


def run_rss(receiver: str, max_calls: int, max_seconds: float) -> dict[str, Any]:
    """RSS after many instrumented non-streamed calls: a warm-up, then checkpoints every ``step`` calls.

    Each checkpoint flushes the export queue and runs ``gc.collect()`` first, so what remains is what is really
    retained; it records VmRSS and the number of objects the garbage collector tracks (a leak of Python objects
    shows there exactly, where RSS also moves with allocator fragmentation). Growth is read from the first
    checkpoint on (warm-up effects such as interned strings, lazily imported modules and pooled buffers are done
    by then); it stops early at ``max_seconds``.
    """
    from opentelemetry import trace

    import fallom_otel
    from fallom_otel_instrumentors.openai import OpenAIInstrumentor

    fallom_otel.init(base_url=receiver, capture_content=True)
    OpenAIInstrumentor().instrument(tracer_provider=trace.get_tracer_provider(), capture_content=True)
    call = _sync_nonstream()
    before = fetch_stats(receiver)
    warmup, step, flush_every = 2_000, 5_000, 1_000
    for _ in range(warmup):
        call()
    _flush()
    gc.collect()
    checkpoints = [(0, _rss_kib(), len(gc.get_objects()))]
    started = time.monotonic()
    done = 0
    _progress(f"RSS: up to {max_calls} instrumented calls or {max_seconds:.0f} s")
    while done < max_calls and time.monotonic() - started < max_seconds:
        for _ in range(min(step, max_calls - done) // flush_every):
            for _ in range(flush_every):
                call()
            # Flushing every 1,000 calls keeps the export queue (2,048 spans) from overflowing: under a sustained
            # stream of calls the batch processor's thread can fall behind (GIL), and dropped spans would make
            # the run retain less than an application whose spans all get through.
            _flush()
        done += min(step, max_calls - done)
        gc.collect()
        checkpoints.append((done, _rss_kib(), len(gc.get_objects())))
    return {
        "warmup_calls": warmup,
        "max_calls": max_calls,
        "calls": done,
        "seconds": time.monotonic() - started,
        "checkpoints": checkpoints,
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "spans_expected": warmup + done,
        "spans_received": _receiver_delta(receiver, before),
    }


def main() -> None:
    """Parse the group to run and print its results as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("group", choices=["ours", "peer", "rss", "anthropic"])
    parser.add_argument("peer", nargs="?", choices=sorted(PEERS))
    parser.add_argument("--receiver", required=True, help="base URL of the loopback OTLP receiver")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    parser.add_argument("--max-calls", type=int, default=100_000)
    parser.add_argument("--max-seconds", type=float, default=150.0)
    parser.add_argument("--no-micro", action="store_true", help="anthropic: skip the stream-proxy micro-benchmark")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    if args.group == "ours":
        result = run_ours(args.receiver, size)
    elif args.group == "anthropic":
        result = run_anthropic(args.receiver, ANTHROPIC_QUICK if args.quick else ANTHROPIC_FULL, not args.no_micro)
    elif args.group == "peer":
        if args.peer is None:
            parser.error("peer needs a NAME")
        result = run_peer(args.peer, args.receiver, size)
    else:
        result = run_rss(args.receiver, args.max_calls, args.max_seconds)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
