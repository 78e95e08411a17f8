"""Timing helpers shared by the benchmark workers: timed blocks, alternation of modes, medians.

Method, for every "bare vs instrumented" workload:

- One *block* = a few untimed warm-up calls, a flush (so no earlier span is still being exported), ``gc.collect()``,
  then ``calls`` calls timed with ``time.perf_counter_ns`` one by one, then a timed ``flush()`` of the export queue.
- From a block: *request path* = mean time of a call (the batch processor exports in its background thread
  meanwhile, and competes for the GIL as it would in an application); *p50 call* = median single call (the
  instrumentation's own cost, mostly clear of export pauses); *total* = (all calls + the final flush) / calls, i.e.
  the cost of a call including the encoding and delivery of its span.
- Modes alternate block by block (bare, instrumented, bare, ...), so drift of the machine (other tenants, CPU
  frequency) hits both alike; the reported value is the median over the repetitions.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["BlockTiming", "Mode", "alternate", "median_timing", "time_async_block", "time_sync_block"]


@dataclass(frozen=True)
class BlockTiming:
    """Per-call nanoseconds of one block (see the module docstring for the three measures)."""

    request_ns: float
    p50_ns: float
    total_ns: float

    def as_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class Mode:
    """A named way of running the workload: ``enter()`` switches it on (patching, say), ``leave()`` off."""

    name: str
    enter: Callable[[], object]
    leave: Callable[[], object]


def _finish(times: list[int], started: int, loop_end: int, flush: Callable[[], object]) -> BlockTiming:
    flush()
    flushed = time.perf_counter_ns()
    calls = len(times)
    return BlockTiming(
        request_ns=(loop_end - started) / calls,
        p50_ns=float(statistics.median(times)),
        total_ns=(flushed - started) / calls,
    )


def time_sync_block(call: Callable[[], object], calls: int, warmup: int, flush: Callable[[], object]) -> BlockTiming:
    """Time ``calls`` synchronous calls of ``call`` after ``warmup`` untimed ones; ``flush`` ends the block."""
    for _ in range(warmup):
        call()
    flush()
    gc.collect()
    times = [0] * calls
    clock = time.perf_counter_ns
    started = clock()
    for i in range(calls):
        before = clock()
        call()
        times[i] = clock() - before
    loop_end = clock()
    return _finish(times, started, loop_end, flush)


def time_async_block(
    loop: asyncio.AbstractEventLoop,
    call: Callable[[], Awaitable[object]],
    calls: int,
    warmup: int,
    flush: Callable[[], object],
) -> BlockTiming:
    """The ``async`` counterpart of :func:`time_sync_block`; all calls run as one task on ``loop``."""
    clock = time.perf_counter_ns

    async def warm() -> None:
        for _ in range(warmup):
            await call()

    async def timed() -> tuple[list[int], int, int]:
        times = [0] * calls
        started = clock()
        for i in range(calls):
            before = clock()
            await call()
            times[i] = clock() - before
        return times, started, clock()

    loop.run_until_complete(warm())
    flush()
    gc.collect()
    times, started, loop_end = loop.run_until_complete(timed())
    return _finish(times, started, loop_end, flush)


def median_timing(blocks: Sequence[BlockTiming]) -> BlockTiming:
    """Median of each measure over the repetitions."""
    return BlockTiming(
        request_ns=statistics.median(b.request_ns for b in blocks),
        p50_ns=statistics.median(b.p50_ns for b in blocks),
        total_ns=statistics.median(b.total_ns for b in blocks),
    )


def alternate(runs: Sequence[tuple[Mode, Callable[[], BlockTiming]]], reps: int) -> dict[str, dict[str, Any]]:
    """Run each ``(mode, block)`` ``reps`` times, alternating modes; return the median timing of each mode.

    Returns:
        ``{mode name: {"request_ns", "p50_ns", "total_ns", "reps": [per-repetition timings]}}``.
    """
    samples: dict[str, list[BlockTiming]] = {mode.name: [] for mode, _ in runs}
    for _ in range(reps):
        for mode, block in runs:
            mode.enter()
            try:
                samples[mode.name].append(block())
            finally:
                mode.leave()
    return {
        name: {**median_timing(blocks).as_dict(), "reps": [b.as_dict() for b in blocks]}
        for name, blocks in samples.items()
    }
