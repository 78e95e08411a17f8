"""``make bench``: the overhead of fallom-otel's OpenAI instrumentation, against the bare SDK, a floor and peers.

Runs (DESIGN §9 says what must be shown and the budgets):

1. non-streamed ``chat.completions.create``, sync and async, ~1 KB JSON response, content capture on;
2. streamed chat with 50 and 500 chunks, and a micro-benchmark of the stream proxy over prebuilt chunks;
3. the physical floor: one hand-made span with the same attributes through the same provider and exporter;
4. ``import fallom_otel`` + ``init()`` + ``instrument()`` in fresh interpreters;
5. RSS over up to 100k instrumented calls;
6. the peers (OpenTelemetry's own GenAI OpenAI instrumentor, OpenLLMetry's) on the same workload, from a separate
   venv (``.venv-bench-peers``, created on first use from PyPI; a peer that does not install or import is skipped);
7. Anthropic: non-streamed ``messages.create`` (sync, async, ~1 KB Message JSON), streamed with 50 and 500
   ``content_block_delta`` events, and the stream-proxy micro-benchmark over prebuilt events, bare SDK vs
   ``AnthropicInstrumentor``. Run twice: bare with the SDK's own native span (its default once ``init()`` has set a
   global provider; our instrumentor replaces that span) and bare with ``ANTHROPIC_OPEN_TELEMETRY=false``.
8. inline media (``_media.py``): a 5 MB PNG as a base64 data URL; the calling thread's decode, sha256 and whole
   media handler, and the chat call bare vs traced with and without the image (uploads to a local directory).
9. the local collector (``_collector.py``): spans/s ingested into SQLite (requests of 512 spans with content, to
   ``fallom-otel serve`` in its own process) and the p50 of the sessions page and others with 100k stored calls.
10. the cost hook (``_cost.py``): µs per call with the model's price cached, the first lookup of a model, and
    genai-prices' own per-call calculation for reference.

Every LLM request is answered in-process by the SDK's own ``MockTransport``; spans go over real OTLP/HTTP to a
loopback receiver in its own process, which decodes them. Each group runs in a fresh interpreter (``_worker.py``).

Usage: ``python benchmarks/bench.py [--quick] [--no-peers]``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKER = HERE / "_worker.py"
RECEIVER = HERE / "_receiver.py"
STARTUP = HERE / "_startup.py"
MEDIA = HERE / "_media.py"
COLLECTOR = HERE / "_collector.py"
COST = HERE / "_cost.py"
PEER_VENV = ROOT / ".venv-bench-peers"
PEER_STAMP = PEER_VENV / ".bench-peers.json"
PEER_LOG = PEER_VENV / "bench-install.log"
# name -> (distribution on PyPI, module holding its OpenAIInstrumentor); _worker.PEERS says how each captures content.
PEERS: dict[str, tuple[str, str]] = {
    "otel-genai": ("opentelemetry-instrumentation-genai-openai", "opentelemetry.instrumentation.genai.openai"),
    "openllmetry": ("opentelemetry-instrumentation-openai", "opentelemetry.instrumentation.openai"),
}
STARTUP_RUNS = 5
INSTALL_TIMEOUT_S = 300  # per pip command; an unreachable index must not stall make bench

# DESIGN §9 budgets.
REQUEST_PATH_BUDGET_US = 100.0
FLOOR_MARGIN_US = 40.0
CHUNK_BUDGET_NS = 1000.0
STARTUP_BUDGET_MS = 100.0
# "No memory growth", read over the second half of the RSS run: RSS moves by a MiB or two with allocator
# fragmentation and the export batches in flight; a leak of even 40 B per call would exceed this over 50k calls.
RSS_SLACK_KIB = 2048
# Above this spread of the paired per-repetition request-path overheads, the report says the run was noisy.
NOISE_WARNING_US = 100.0
RSS_OBJECT_SLACK = 100


def out(line: str = "") -> None:
    """Write one line of the report to stdout (the report is the product of this script)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def note(line: str) -> None:
    """Write a progress line to stderr."""
    sys.stderr.write(f"[bench] {line}\n")
    sys.stderr.flush()


# --- environment ------------------------------------------------------------------------------------------------


def clean_env() -> tuple[dict[str, str], list[str]]:
    """The workers' environment, without settings that would change what is measured.

    Those are ``FALLOM_*``, ``OTEL_*`` and ``ANTHROPIC_OPEN_TELEMETRY*`` (group 7 sets the last itself).
    """
    removed = sorted(k for k in os.environ if k.startswith(("FALLOM_", "OTEL_", "ANTHROPIC_OPEN_TELEMETRY")))
    env = {k: v for k, v in os.environ.items() if k not in removed}
    return env, removed


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _source_state() -> str:
    """The commit measured and whether the work tree differs from it (read-only git queries)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"{commit}" + (f" + uncommitted changes in {len(changed)} tracked file(s)" if changed else "")


def print_environment(removed: list[str]) -> None:
    """Python, platform, CPUs and the versions that shape the numbers."""
    from google.protobuf.internal import api_implementation

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    out("Environment")
    out(f"  python          {platform.python_implementation()} {platform.python_version()} ({sys.executable})")
    out(f"  platform        {platform.platform()}")
    out(f"  CPUs            {os.cpu_count()} ({usable} usable), {_cpu_model()}")
    out(f"  openai          {_version('openai')} over httpx2 {_version('httpx2')}; pydantic {_version('pydantic')}")
    out(f"  anthropic       {_version('anthropic')}")
    out(
        f"  opentelemetry   sdk {_version('opentelemetry-sdk')}, "
        f"otlp-proto-http exporter {_version('opentelemetry-exporter-otlp-proto-http')}, "
        f"protobuf {_version('protobuf')} ({api_implementation.Type()})"
    )
    out(
        f"  fallom-otel     {_version('fallom-otel')} (instrumentors {_version('fallom-otel-instrumentors')}), "
        f"source {_source_state()}"
    )
    if removed:
        out(f"  ignored env     {', '.join(removed)} (unset for the measurements)")
    out()


# --- processes ---------------------------------------------------------------------------------------------------


@contextmanager
def receiver_process(env: dict[str, str]) -> Iterator[str]:
    """Start the loopback OTLP receiver in its own process; yield its base URL; stop it (by closing its stdin)."""
    process = subprocess.Popen(
        [sys.executable, str(RECEIVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(timeout=10)


def run_worker(
    python: Path | str, args: Sequence[str], env: dict[str, str], script: Path = WORKER, timeout: float = 600
) -> dict[str, Any]:
    """Run ``script`` (``_worker.py``) with ``python`` in a fresh interpreter and return the JSON it prints last."""
    completed = subprocess.run(
        [str(python), str(script), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        timeout=timeout,
        check=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


# --- the peers' venv ------------------------------------------------------------------------------------------------


def ensure_peer_venv(env: dict[str, str]) -> tuple[Path | None, dict[str, str]]:
    """Create or reuse ``.venv-bench-peers``; return its python and, per peer, why it is unavailable (if so).

    The venv gets the same ``openai`` release as the main one, the three fallom-otel distributions (editable, so
    the peers run on exactly our ``init()`` export pipeline) and the peers, each installed on its own so one that
    fails does not take the other down. A stamp records the base (``openai`` release, our ``pyproject.toml`` files)
    and the peers installed: the base is reinstalled when it changes, and a peer that failed is retried next run.
    """
    python = PEER_VENV / "bin" / "python"
    projects = [ROOT / "pyproject.toml", ROOT / "instrumentors" / "pyproject.toml", ROOT / "semconv" / "pyproject.toml"]
    base_key = {
        "openai": _version("openai"),
        "pyprojects": [hashlib.sha256(p.read_bytes()).hexdigest() for p in projects],
    }
    stamp: dict[str, Any] = {}
    if PEER_STAMP.exists() and python.exists():
        stamp = json.loads(PEER_STAMP.read_text())
    installed: list[str] = list(stamp.get("installed", [])) if stamp.get("base") == base_key else []
    missing = [name for name in PEERS if name not in installed]
    unavailable: dict[str, str] = {}
    if stamp.get("base") != base_key or missing:
        note(f"preparing {PEER_VENV.name} (pip install from PyPI; log in {PEER_LOG.relative_to(ROOT)})")
        started = time.monotonic()
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True, env=env)
        with PEER_LOG.open("w") as log:
            if stamp.get("base") != base_key:
                base = [
                    f"openai=={base_key['openai']}",
                    "opentelemetry-proto",
                    *("-e", str(ROOT / "semconv"), "-e", str(ROOT / "instrumentors"), "-e", str(ROOT)),
                ]
                if not _pip(python, base, log, env):
                    return None, {name: f"the peers' venv could not be set up (see {PEER_LOG})" for name in PEERS}
            for name in missing:
                dist = PEERS[name][0]
                if _pip(python, [dist], log, env):
                    installed.append(name)
                else:
                    unavailable[name] = f"pip install {dist} failed (see {PEER_LOG})"
        PEER_STAMP.write_text(json.dumps({"base": base_key, "installed": installed}))
        note(f"{PEER_VENV.name} ready in {time.monotonic() - started:.0f} s")
    for name in installed:
        dist, module = PEERS[name]
        check = subprocess.run(
            [str(python), "-c", f"import {module} as m; m.OpenAIInstrumentor"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if check.returncode != 0:
            last = (check.stderr.strip().splitlines() or ["unknown error"])[-1]
            unavailable[name] = f"{dist} installed but does not import: {last}"
    return python, unavailable


def _pip(python: Path, requirements: list[str], log: Any, env: dict[str, str]) -> bool:
    """``pip install`` into the peers' venv, output to ``log``; False on failure or time-out (never raises)."""
    log.write(f"$ pip install {' '.join(requirements)}\n")
    log.flush()
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--retries", "1", *requirements]
    try:
        completed = subprocess.run(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=INSTALL_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        log.write(f"timed out after {INSTALL_TIMEOUT_S} s\n")
        return False
    return completed.returncode == 0


# --- the report -----------------------------------------------------------------------------------------------------

ROW = "  {:<26} {:<24} {:>10} {:>13} {:>10} {:>7}   {}"


def _us(ns: float) -> str:
    return f"{ns / 1000:,.1f}"


def _paired_extremes(bare: dict[str, Any], inst: dict[str, Any], key: str) -> tuple[float, float]:
    """Smallest and largest (instrumented - bare) over the repetitions, paired by repetition, in µs: the noise."""
    deltas = [(i[key] - b[key]) / 1000 for b, i in zip(bare["reps"], inst["reps"], strict=True)]
    return min(deltas), max(deltas)


def _overhead_range(bare: dict[str, Any], inst: dict[str, Any], key: str) -> str:
    low, high = _paired_extremes(bare, inst, key)
    return f"[{low:+.0f} .. {high:+.0f}]"


def workload_rows(label: str, pair: dict[str, Any]) -> None:
    """Three rows (request path mean, p50 call, total with export) for one bare/instrumented pair."""
    bare, inst = pair["bare"], pair["instrumented"]
    for key, measure in (
        ("request_ns", "request path (mean)"),
        ("p50_ns", "request path (p50 call)"),
        ("total_ns", "total incl. export"),
    ):
        out(
            ROW.format(
                label,
                measure,
                _us(bare[key]),
                _us(inst[key]),
                f"{(inst[key] - bare[key]) / 1000:+,.1f}",
                f"{inst[key] / bare[key]:.3f}",
                _overhead_range(bare, inst, key),
            )
        )
        label = ""


def overhead(pair: dict[str, Any], key: str, mode: str = "instrumented") -> float:
    """``mode`` (instrumented, or the in-situ floor) minus bare, in µs."""
    return float(pair[mode][key] - pair["bare"][key]) / 1000


def _stream_micro(micro: dict[str, Any]) -> float:
    """Print the stream-proxy micro-benchmark; return the marginal ns per chunk."""
    out("  Stream-proxy micro-benchmark: SyncStreamProxy + ChatStreamAccumulator over prebuilt ChatCompletionChunk")
    out("  objects vs the bare list iterator (no-op span; the end of each stream amortized over its chunks):")
    out("  {:<26} {:>14} {:>14} {:>14}".format("stream length", "bare ns/chunk", "proxy ns/chunk", "overhead ns"))
    deltas: dict[int, float] = {}
    for count in (50, 500):
        entry = micro[str(count)]
        deltas[count] = entry["proxy_ns_per_chunk"] - entry["bare_ns_per_chunk"]
        out(
            "  {:<26} {:>14.1f} {:>14.1f} {:>+14.1f}".format(
                f"{count} chunks", entry["bare_ns_per_chunk"], entry["proxy_ns_per_chunk"], deltas[count]
            )
        )
    # Two stream lengths give the marginal cost of a chunk (slope) and the fixed cost of a stream's end (intercept).
    per_chunk = (deltas[500] * 500 - deltas[50] * 50) / 450
    per_stream = deltas[50] * 50 - per_chunk * 50
    out(f"  => per chunk (marginal): {per_chunk:,.0f} ns; per stream end (fixed): {per_stream / 1000:,.1f} µs")
    return per_chunk


def _rss_section(rss: dict[str, Any]) -> tuple[int, int]:
    """Print the RSS group; return (RSS KiB, tracked objects) gained over the second half of the run."""
    checkpoints = rss["checkpoints"]
    first_calls, first_kib, first_objects = checkpoints[0]
    mid_calls, mid_kib, mid_objects = checkpoints[len(checkpoints) // 2]
    last_calls, last_kib, last_objects = checkpoints[-1]
    stopped = "" if rss["calls"] >= rss["max_calls"] else f", stopped by the time limit before {rss['max_calls']:,}"
    out(
        f"5. Memory over {rss['calls']:,} instrumented non-streamed calls ({rss['seconds']:.0f} s{stopped}; after "
        f"{rss['warmup_calls']:,} warm-up calls; flush + gc.collect() before each reading)"
    )
    out(
        f"  VmRSS {first_kib / 1024:.1f} -> {last_kib / 1024:.1f} MiB ({(last_kib - first_kib) / 1024:+.2f} MiB); "
        f"second half ({mid_calls:,} -> {last_calls:,} calls): {(last_kib - mid_kib) / 1024:+.2f} MiB, "
        f"{last_objects - mid_objects:+,} gc-tracked objects ({first_objects:,} -> {last_objects:,} overall); "
        f"ru_maxrss {rss['maxrss_kib'] / 1024:.1f} MiB"
    )
    out("  checkpoints (calls: MiB): " + ", ".join(f"{c:,}: {k / 1024:.1f}" for c, k, _ in checkpoints))
    out(f"  spans decoded by the receiver: {rss['spans_received']:,} of {rss['spans_expected']:,}")
    return last_kib - mid_kib, last_objects - mid_objects


def _peers_section(
    ours: dict[str, Any], peers: dict[str, dict[str, Any]], unavailable: dict[str, str], attrs: int
) -> None:
    out("6. Peers: the same non-streamed workload, same provider/processor/exporter (fallom_otel.init), content on")
    peer_row = "  {:<30} {:<6} {:>6} {:>10} {:>10} {:>7}   {:>10} {:>10} {:>7}"
    columns = ("instrumentor", "", "attrs", "req bare", "req +µs", "ratio", "total bare", "total +µs", "ratio")
    out(peer_row.format(*columns))
    rows: list[tuple[str, dict[str, Any], int]] = [(f"fallom-otel {_version('fallom-otel')}", ours, attrs)]
    rows += [(f"{name} {r['version']}", r, len(r["span_attributes"])) for name, r in peers.items()]
    for label, result, count in rows:
        for kind in ("sync", "async"):
            pair = result[f"nonstream_{kind}"]
            bare, inst = pair["bare"], pair["instrumented"]
            out(
                peer_row.format(
                    label,
                    kind,
                    count,
                    _us(bare["request_ns"]),
                    f"{overhead(pair, 'request_ns'):+,.1f}",
                    f"{inst['request_ns'] / bare['request_ns']:.3f}",
                    _us(bare["total_ns"]),
                    f"{overhead(pair, 'total_ns'):+,.1f}",
                    f"{inst['total_ns'] / bare['total_ns']:.3f}",
                )
            )
            label = ""
    out("  (each row's bare is measured in the same process as its instrumented run; request path = mean per call)")
    for name, result in peers.items():
        content = ", ".join(f"{k}={v}" for k, v in result["content_env"].items())
        out(
            f"  {name}: {PEERS[name][0]}, content via {content}; spans decoded {result['spans_received']:,} of "
            f"{result['spans_expected']:,}; span keys: {', '.join(result['span_attributes'])}"
        )
    for name, reason in unavailable.items():
        out(f"  {name} ({PEERS[name][0]}): skipped: {reason}")


def _event_micro(micro: dict[str, Any]) -> float:
    """Print the Anthropic stream-proxy micro-benchmark; return the marginal ns per event."""
    out("  Stream-proxy micro-benchmark: SyncStreamProxy + AnthropicStreamAccumulator over prebuilt Raw*Event objects")
    out("  vs the bare list iterator (no-op span; the end of each stream amortized over its events):")
    out("  {:<26} {:>14} {:>14} {:>14}".format("stream length", "bare ns/event", "proxy ns/event", "overhead ns"))
    totals: dict[str, tuple[int, float]] = {}
    for deltas, entry in micro.items():
        delta_ns = entry["proxy_ns_per_chunk"] - entry["bare_ns_per_chunk"]
        totals[deltas] = (entry["items"], delta_ns * entry["items"])
        out(
            "  {:<26} {:>14.1f} {:>14.1f} {:>+14.1f}".format(
                f"{deltas} deltas ({entry['items']} events)",
                entry["bare_ns_per_chunk"],
                entry["proxy_ns_per_chunk"],
                delta_ns,
            )
        )
    (short_n, short_ns), (long_n, long_ns) = totals["50"], totals["500"]
    per_event = (long_ns - short_ns) / (long_n - short_n)
    per_stream = short_ns - per_event * short_n
    out(f"  => per event (marginal): {per_event:,.0f} ns; per stream end (fixed): {per_stream / 1000:,.1f} µs")
    return per_event


def _anthropic_section(runs: dict[str, dict[str, Any]]) -> float | None:
    """Print group 7 (both bare variants); return the marginal ns per streamed event (None without a micro)."""
    header = ROW.format("workload", "measure", "bare", "instrumented", "overhead", "ratio", "overhead range/reps")
    native, plain = runs.get("native"), runs.get("plain")
    any_run = native or plain
    if any_run is None:
        return None
    out(
        f"7. Anthropic messages.create (anthropic {any_run['anthropic']}): ~1 KB Message JSON, content capture on"
        "      (µs per call)"
    )
    for name, run, title in (
        ("native", native, "bare = SDK default: its native span on (global provider from init()), exported"),
        ("plain", plain, "bare = ANTHROPIC_OPEN_TELEMETRY=false: no span at all"),
    ):
        if run is None:
            continue
        out(f"  7{'a' if name == 'native' else 'b'}. {title}")
        out(header)
        workload_rows("sync", run["nonstream_sync"])
        workload_rows("async", run["nonstream_async"])
        workload_rows("stream, 50 deltas", run["stream50"])
        workload_rows("stream, 500 deltas", run["stream500"])
        out(
            f"  spans per call: bare {run['bare_spans_per_call']}, instrumented {run['instrumented_spans_per_call']}; "
            f"decoded by the receiver {run['spans_received']:,} of {run['spans_expected']:,} expected"
        )
    if native is not None:
        native_attrs = native["bare_span_attributes"]
        out(f"  native span: {len(native_attrs)} attributes ({', '.join(native_attrs)})")
    inst_attrs = any_run["instrumented_span_attributes"]
    out(f"  our span: {len(inst_attrs)} attributes ({', '.join(inst_attrs)})")
    out("  (streams: 50/500 content_block_delta events + 5 framing events, sync, whole stream read; 7a is what a user")
    out("   of init() sees change when adding the instrumentor, 7b the cost of our span over the span-less SDK)")
    micro = any_run.get("micro")
    return _event_micro(micro) if micro else None


def report(
    ours: dict[str, Any],
    startup: list[dict[str, Any]],
    rss: dict[str, Any],
    peers: dict[str, dict[str, Any]],
    unavailable: dict[str, str],
    anthropic: dict[str, dict[str, Any]],
) -> None:
    """Print every table and the budget checks."""
    header = ROW.format("workload", "measure", "bare", "instrumented", "overhead", "ratio", "overhead range/reps")
    sync = ours["nonstream_sync"]
    out("1. Non-streamed chat.completions.create: ~1.2 KB JSON response, content capture on      (µs per call)")
    out(header)
    workload_rows("sync", sync)
    workload_rows("async", ours["nonstream_async"])
    workload_rows("sync, floor in situ (*)", {"bare": sync["bare"], "instrumented": sync["floor"]})
    attrs = ours["span_attributes"]
    out(f"  span: {len(attrs)} attributes ({', '.join(attrs)})")
    out("  (*) bare call + one hand-made span with the same attributes, no patching: the physical floor, interleaved")
    out("      with the SDK's work as the instrumentation is (see 3.)")
    out()

    out("2. Streamed chat.completions.create (sync, whole stream read)                               (µs per call)")
    out(header)
    workload_rows("stream, 50 chunks", ours["stream50"])
    workload_rows("stream, 500 chunks", ours["stream500"])
    per_chunk = _stream_micro(ours["micro"])
    out()

    floor = ours["floor"]
    out(f"3. Physical floor: one hand-made span, the same {len(attrs)} attributes, same provider/processor/exporter")
    out(
        f"  tight loop:  request path (mean) {_us(floor['request_ns'])} µs/span, p50 {_us(floor['p50_ns'])} µs/span, "
        f"total incl. export {_us(floor['total_ns'])} µs/span"
    )
    out(
        f"  in situ (*): request path (mean) +{overhead(sync, 'request_ns', 'floor'):.1f} µs/call, "
        f"p50 +{overhead(sync, 'p50_ns', 'floor'):.1f} µs/call, total incl. export "
        f"+{overhead(sync, 'total_ns', 'floor'):.1f} µs/call"
    )
    out("  (the same span work costs more between two SDK calls than in a tight loop, where caches stay warm)")
    out(
        f"  spans decoded by the loopback receiver during groups 1-3: {ours['spans_received']:,} "
        f"of {ours['spans_expected']:,} expected"
    )
    out()

    out(f"4. Startup in a fresh interpreter (ms, median of {len(startup)}; openai already imported, untimed)")
    phases = ("import_ms", "init_ms", "instrument_ms", "total_ms")
    medians = {p: statistics.median(s[p] for s in startup) for p in phases}
    out(
        f"  import fallom_otel {medians['import_ms']:.1f} + init() {medians['init_ms']:.1f} + "
        f"instrument() {medians['instrument_ms']:.1f} = {medians['total_ms']:.1f} ms "
        f"(for reference, import openai itself: {statistics.median(s['openai_import_ms'] for s in startup):.0f} ms)"
    )
    out()

    rss_growth, object_growth = _rss_section(rss)
    out()
    _peers_section(ours, peers, unavailable, len(attrs))
    out()
    per_event = _anthropic_section(anthropic)
    out()
    budgets(ours, medians["total_ms"], (rss_growth, object_growth), per_chunk, peers, per_event)


def budgets(
    ours: dict[str, Any],
    startup_ms: float,
    growth: tuple[int, int],
    per_chunk: float,
    peers: dict[str, dict[str, Any]],
    per_event: float | None = None,
) -> None:
    """DESIGN §9 budgets, checked against this run's numbers (sync non-streamed unless stated)."""
    out("Budgets (DESIGN §9), this run")
    sync = ours["nonstream_sync"]
    request, p50, total = (overhead(sync, key) for key in ("request_ns", "p50_ns", "total_ns"))
    floor_total = overhead(sync, "total_ns", "floor")
    request_budget = REQUEST_PATH_BUDGET_US
    basis = f"~{REQUEST_PATH_BUDGET_US:.0f} µs, no peer ran"
    if peers:
        cheapest = min(overhead(p["nonstream_sync"], "request_ns") for p in peers.values())
        request_budget = cheapest / 2
        basis = f"half the cheapest peer's +{cheapest:.0f} µs"

    def line(ok: bool, text: str) -> None:
        out(f"  [{'ok' if ok else 'OVER'}] {text}")

    line(
        request <= request_budget,
        f"request path: +{request:.0f} µs (mean; p50 call +{p50:.0f} µs); budget {request_budget:.0f} µs ({basis})",
    )
    line(
        total <= floor_total + FLOOR_MARGIN_US,
        f"total incl. export: +{total:.0f} µs; budget: floor in situ +{floor_total:.0f} µs + {FLOOR_MARGIN_US:.0f} "
        f"= {floor_total + FLOOR_MARGIN_US:.0f} µs (tight-loop floor: {ours['floor']['total_ns'] / 1000:.0f} µs/span)",
    )
    low, high = _paired_extremes(sync["bare"], sync["instrumented"], "request_ns")
    if high - low > NOISE_WARNING_US:
        out(
            f"  note: a noisy run (per-repetition request-path overheads ranged +{low:.0f} .. +{high:.0f} µs): "
            "rerun on a quiet machine before acting on a difference of a few tens of µs"
        )
    line(per_chunk <= CHUNK_BUDGET_NS, f"per streamed chunk: {per_chunk:,.0f} ns; budget {CHUNK_BUDGET_NS:,.0f} ns")
    if per_event is not None:
        line(
            per_event <= CHUNK_BUDGET_NS,
            f"per streamed Anthropic event: {per_event:,.0f} ns; budget {CHUNK_BUDGET_NS:,.0f} ns",
        )
    line(startup_ms <= STARTUP_BUDGET_MS, f"import + init + instrument: {startup_ms:.0f} ms; budget 100 ms")
    rss_kib, objects = growth
    # No growth: no more gc-tracked objects, and RSS within allocator noise (2 MiB) over the second half.
    line(
        objects <= RSS_OBJECT_SLACK and rss_kib <= RSS_SLACK_KIB,
        f"memory, second half of the run: {objects:+,} gc-tracked objects, {rss_kib / 1024:+.2f} MiB RSS "
        f"(allowed: {RSS_OBJECT_SLACK} objects, {RSS_SLACK_KIB // 1024} MiB of allocator noise)",
    )


# --- main -------------------------------------------------------------------------------------------------------------


def report_media(media: dict[str, Any]) -> None:
    """Group 8: what a base64 image costs the calling thread (issue #6); the upload itself is the worker's."""
    out()
    out(f"8. Inline media: one {media['image_bytes'] / 1e6:.1f} MB PNG as a base64 data URL (median ms)")
    out(f"  calling thread, base64 decode            {media['decode_ms']:9.2f}")
    out(f"  calling thread, sha256 (the media id)    {media['sha256_ms']:9.2f}")
    out(f"  calling thread, whole media handler      {media['handler_ms']:9.2f}   (decode + hash + queue hand-off)")
    out(f"  chat call, bare SDK, text / image        {media['bare_text_ms']:9.2f} / {media['bare_image_ms']:.2f}")
    out(f"  chat call, traced,   text / image        {media['traced_text_ms']:9.2f} / {media['traced_image_ms']:.2f}")
    stats = media["stats"]
    out(f"  uploads: {stats['uploaded']} stored, {stats['deduplicated']} repeats de-duplicated, files {media['files']}")


def main() -> None:
    """Run every group and print the report."""
    parser = argparse.ArgumentParser(description="fallom-otel benchmarks (make bench)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not a measurement")
    parser.add_argument("--no-peers", action="store_true", help="skip the peers (and their venv)")
    args = parser.parse_args()
    quick = ["--quick"] if args.quick else []
    env, removed = clean_env()
    started = time.monotonic()
    out("fallom-otel benchmarks" + (" (--quick: smoke-test sizes, not a measurement)" if args.quick else ""))
    out()
    print_environment(removed)

    peer_python: Path | None = None
    unavailable: dict[str, str] = {}
    if args.no_peers:
        unavailable = {name: "--no-peers" for name in PEERS}
    else:
        peer_python, unavailable = ensure_peer_venv(env)

    with receiver_process(env) as receiver:
        note("group 1-3: fallom-otel workloads")
        ours = run_worker(sys.executable, ["ours", "--receiver", receiver, *quick], env)
        note(f"group 4: startup x {STARTUP_RUNS}")
        startup = [run_worker(sys.executable, [receiver], env, script=STARTUP) for _ in range(STARTUP_RUNS)]
        note("group 5: RSS")
        limits = ["--max-calls", "10000", "--max-seconds", "10"] if args.quick else []
        rss = run_worker(sys.executable, ["rss", "--receiver", receiver, *limits], env)
        peers: dict[str, dict[str, Any]] = {}
        if peer_python is not None:
            for name in PEERS:
                if name in unavailable:
                    continue
                note(f"group 6: peer {name}")
                try:
                    peers[name] = run_worker(peer_python, ["peer", name, "--receiver", receiver, *quick], env)
                except subprocess.CalledProcessError as error:
                    unavailable[name] = f"the peer's run failed (exit {error.returncode}; its stderr is above)"
                    continue
        anthropic: dict[str, dict[str, Any]] = {}
        note("group 7: anthropic, SDK native span on (bare = SDK default)")
        anthropic["native"] = run_worker(sys.executable, ["anthropic", "--receiver", receiver, *quick], env)
        note("group 7: anthropic, ANTHROPIC_OPEN_TELEMETRY=false")
        plain_env = {**env, "ANTHROPIC_OPEN_TELEMETRY": "false"}
        anthropic["plain"] = run_worker(
            sys.executable, ["anthropic", "--no-micro", "--receiver", receiver, *quick], plain_env
        )

        note("group 8: inline media (5 MB PNG)")
        media = run_worker(sys.executable, ["--receiver", receiver, *quick], env, script=MEDIA)

    note("group 9: local collector (100k calls into SQLite, then the viewer's pages)")
    collector = run_worker(sys.executable, ["--json", *quick], env, script=COLLECTOR)
    note("group 10: cost hook")
    cost = run_worker(sys.executable, quick, env, script=COST)

    report(ours, startup, rss, peers, unavailable, anthropic)
    report_media(media)
    from _collector import report_lines  # benchmarks/ is the script's folder, so it is on sys.path

    out()
    for line in report_lines(collector):
        out(line)
    from _cost import report_lines as cost_lines

    out()
    for line in cost_lines(cost):
        out(line)
    out()
    out(f"(benchmarks took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
