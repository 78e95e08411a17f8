"""``make bench``: the overhead of fallom-otel's OpenAI instrumentation, against the bare SDK, a floor and peers.

Runs (DESIGN §9 says what must be shown and the budgets):

1. non-streamed ``chat.completions.create``, sync and async, ~1 KB JSON response, content capture on;
2. streamed chat with 50 and 500 chunks, and a micro-benchmark of the stream proxy over prebuilt chunks;
3. the physical floor: one hand-made span with the same attributes through the same provider and exporter;
4. ``import fallom_otel`` + ``init()`` + ``instrument()`` in fresh interpreters;
5. RSS over up to 100k instrumented calls;
6. the peers (OpenTelemetry's own GenAI OpenAI instrumentor, OpenLLMetry's) on the same workload, from a separate
   venv (``.venv-bench-peers``, created on first use from PyPI; a peer that does not install or import is skipped).

Every LLM request is answered in-process by the SDK's own ``MockTransport``; spans go over real OTLP/HTTP to a
loopback receiver in its own process, which decodes them. Each group runs in a fresh interpreter (``_worker.py``).

Usage: ``python benchmarks/bench.py [--quick] [--no-peers]``.
"""

from __future__ import annotations

import argparse
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
PEER_VENV = ROOT / ".venv-bench-peers"
PEER_STAMP = PEER_VENV / ".bench-peers.json"
PEER_LOG = PEER_VENV / "bench-install.log"
# name -> (distribution on PyPI, module holding its OpenAIInstrumentor); _worker.PEERS says how each captures content.
PEERS: dict[str, tuple[str, str]] = {
    "otel-genai": ("opentelemetry-instrumentation-genai-openai", "opentelemetry.instrumentation.genai.openai"),
    "openllmetry": ("opentelemetry-instrumentation-openai", "opentelemetry.instrumentation.openai"),
}
STARTUP_RUNS = 5
INSTALL_TIMEOUT_S = 900

# DESIGN §9 budgets.
REQUEST_PATH_BUDGET_US = 100.0
FLOOR_MARGIN_US = 40.0
CHUNK_BUDGET_NS = 1000.0
STARTUP_BUDGET_MS = 100.0


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
    """The workers' environment: without ``FALLOM_*``/``OTEL_*`` settings, which would change what is measured."""
    removed = sorted(k for k in os.environ if k.startswith(("FALLOM_", "OTEL_")))
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


def print_environment(removed: list[str]) -> None:
    """Python, platform, CPUs and the versions that shape the numbers."""
    from google.protobuf.internal import api_implementation

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    out("Environment")
    out(f"  python          {platform.python_implementation()} {platform.python_version()} ({sys.executable})")
    out(f"  platform        {platform.platform()}")
    out(f"  CPUs            {os.cpu_count()} ({usable} usable), {_cpu_model()}")
    out(f"  openai          {_version('openai')} over httpx2 {_version('httpx2')}; pydantic {_version('pydantic')}")
    out(
        f"  opentelemetry   sdk {_version('opentelemetry-sdk')}, "
        f"otlp-proto-http exporter {_version('opentelemetry-exporter-otlp-proto-http')}, "
        f"protobuf {_version('protobuf')} ({api_implementation.Type()})"
    )
    out(f"  fallom-otel     {_version('fallom-otel')} (instrumentors {_version('fallom-otel-instrumentors')})")
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
    fails does not take the other down. A stamp records what was installed; it is reused while it matches.
    """
    python = PEER_VENV / "bin" / "python"
    wanted = {"openai": _version("openai"), "peers": {name: dist for name, (dist, _) in PEERS.items()}}
    stamp: dict[str, Any] = {}
    if PEER_STAMP.exists() and python.exists():
        stamp = json.loads(PEER_STAMP.read_text())
    if stamp.get("wanted") != wanted:
        note(f"creating {PEER_VENV.name} (pip install from PyPI; log in {PEER_LOG.relative_to(ROOT)})")
        started = time.monotonic()
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True, env=env)
        failures: dict[str, str] = {}
        with PEER_LOG.open("w") as log:
            base = [
                f"openai=={wanted['openai']}",
                "opentelemetry-proto",
                *("-e", str(ROOT / "semconv"), "-e", str(ROOT / "instrumentors"), "-e", str(ROOT)),
            ]
            if not _pip(python, base, log, env):
                return None, {name: f"base install failed (see {PEER_LOG})" for name in PEERS}
            for name, (dist, _) in PEERS.items():
                if not _pip(python, [dist], log, env):
                    failures[name] = f"pip install {dist} failed (see {PEER_LOG})"
        stamp = {"wanted": wanted, "failures": failures}
        PEER_STAMP.write_text(json.dumps(stamp))
        note(f"{PEER_VENV.name} ready in {time.monotonic() - started:.0f} s")
    unavailable: dict[str, str] = dict(stamp.get("failures", {}))
    for name, (dist, module) in PEERS.items():
        if name in unavailable:
            continue
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
    log.write(f"$ pip install {' '.join(requirements)}\n")
    log.flush()
    completed = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", *requirements],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )
    return completed.returncode == 0


# --- the report -----------------------------------------------------------------------------------------------------

ROW = "  {:<26} {:<24} {:>10} {:>13} {:>10} {:>7}   {}"


def _us(ns: float) -> str:
    return f"{ns / 1000:,.1f}"


def _overhead_range(bare: dict[str, Any], inst: dict[str, Any], key: str) -> str:
    """Range over the repetitions of (instrumented - bare) for one measure, paired by repetition: the noise."""
    deltas = [(i[key] - b[key]) / 1000 for b, i in zip(bare["reps"], inst["reps"], strict=True)]
    return f"[{min(deltas):+.0f} .. {max(deltas):+.0f}]"


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


def overhead(pair: dict[str, Any], key: str) -> float:
    """Instrumented minus bare, in µs."""
    return float(pair["instrumented"][key] - pair["bare"][key]) / 1000


def report(
    ours: dict[str, Any],
    startup: list[dict[str, Any]],
    rss: dict[str, Any],
    peers: dict[str, dict[str, Any]],
    unavailable: dict[str, str],
    peer_versions: dict[str, str],
) -> None:
    """Print every table and the budget checks."""
    header = ROW.format("workload", "measure", "bare", "instrumented", "overhead", "ratio", "overhead range/reps")
    out("1. Non-streamed chat.completions.create: ~1.2 KB JSON response, content capture on      (µs per call)")
    out(header)
    workload_rows("sync", ours["nonstream_sync"])
    workload_rows("async", ours["nonstream_async"])
    attrs = ours["span_attributes"]
    out(f"  span: {len(attrs)} attributes ({', '.join(attrs)})")
    out()

    out("2. Streamed chat.completions.create (sync, whole stream read)                               (µs per call)")
    out(header)
    workload_rows("stream, 50 chunks", ours["stream50"])
    workload_rows("stream, 500 chunks", ours["stream500"])
    micro = ours["micro"]
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
    # Two stream lengths give the marginal cost of a chunk and the fixed cost of a stream's end.
    per_chunk = (deltas[500] * 500 - deltas[50] * 50) / 450
    per_stream = deltas[50] * 50 - per_chunk * 50
    out(f"  => per chunk (marginal): {per_chunk:,.0f} ns; per stream end (fixed): {per_stream / 1000:,.1f} µs")
    out()

    floor = ours["floor"]
    out(f"3. Physical floor: one hand-made span, the same {len(attrs)} attributes, same provider/processor/exporter")
    out(
        f"  request path (mean) {_us(floor['request_ns'])} µs/span, p50 {_us(floor['p50_ns'])} µs/span, "
        f"total incl. export {_us(floor['total_ns'])} µs/span"
    )
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

    checkpoints = rss["checkpoints"]
    first_calls, first_kib = checkpoints[0]
    last_calls, last_kib = checkpoints[-1]
    mid_calls, mid_kib = checkpoints[len(checkpoints) // 2]
    out(
        f"5. RSS over {rss['calls']:,} instrumented non-streamed calls ({rss['seconds']:.0f} s, after "
        f"{rss['warmup_calls']:,} warm-up calls; flush + gc.collect() before each reading)"
    )
    out(
        f"  VmRSS {first_kib / 1024:.1f} MiB -> {last_kib / 1024:.1f} MiB: {(last_kib - first_kib) / 1024:+.2f} MiB "
        f"overall; second half ({mid_calls:,} -> {last_calls:,} calls): {(last_kib - mid_kib) / 1024:+.2f} MiB; "
        f"ru_maxrss {rss['maxrss_kib'] / 1024:.1f} MiB; spans received {rss['spans_received']:,} of "
        f"{rss['spans_expected']:,}"
    )
    out("  checkpoints (calls: MiB): " + ", ".join(f"{c:,}: {k / 1024:.1f}" for c, k in checkpoints))
    out()

    out("6. Peers on the same non-streamed workload, same provider and exporter (fallom_otel.init), content on")
    peer_row = "  {:<30} {:<6} {:>6} {:>10} {:>10} {:>7}   {:>10} {:>10} {:>7}"
    out(
        peer_row.format("instrumentor", "", "attrs", "req bare", "req +µs", "ratio", "total bare", "total +µs", "ratio")
    )
    rows: list[tuple[str, dict[str, Any], int]] = [(f"fallom-otel {_version('fallom-otel')}", ours, len(attrs))]
    rows += [
        (f"{name} {peer_versions.get(name, result.get('version', '?'))}", result, len(result["span_attributes"]))
        for name, result in peers.items()
    ]
    for label, result, count in rows:
        for kind in ("sync", "async"):
            pair = result[f"nonstream_{kind}"]
            out(
                peer_row.format(
                    label,
                    kind,
                    count,
                    _us(pair["bare"]["request_ns"]),
                    f"{overhead(pair, 'request_ns'):+,.1f}",
                    f"{pair['instrumented']['request_ns'] / pair['bare']['request_ns']:.3f}",
                    _us(pair["bare"]["total_ns"]),
                    f"{overhead(pair, 'total_ns'):+,.1f}",
                    f"{pair['instrumented']['total_ns'] / pair['bare']['total_ns']:.3f}",
                )
            )
            label = ""
    for name, result in peers.items():
        out(
            f"  {name}: content via {result['content_env']}; spans received {result['spans_received']:,} of "
            f"{result['spans_expected']:,}; span keys: {', '.join(result['span_attributes'])}"
        )
    for name, reason in unavailable.items():
        out(f"  {name} ({PEERS[name][0]}): skipped: {reason}")
    out()

    budgets(ours, medians["total_ms"], rss, per_chunk, peers)


def budgets(
    ours: dict[str, Any], startup_ms: float, rss: dict[str, Any], per_chunk: float, peers: dict[str, dict[str, Any]]
) -> None:
    """DESIGN §9 budgets, checked against this run's numbers (sync non-streamed unless stated)."""
    out("Budgets (DESIGN §9), this run")
    sync = ours["nonstream_sync"]
    request = overhead(sync, "request_ns")
    p50 = overhead(sync, "p50_ns")
    total = overhead(sync, "total_ns")
    floor_total = ours["floor"]["total_ns"] / 1000
    request_budget = REQUEST_PATH_BUDGET_US
    basis = f"~{REQUEST_PATH_BUDGET_US:.0f} µs"
    if peers:
        cheapest = min(overhead(p["nonstream_sync"], "request_ns") for p in peers.values())
        request_budget = cheapest / 2
        basis = f"half the cheapest peer's +{cheapest:.0f} µs"

    def line(ok: bool, text: str) -> None:
        out(f"  [{'ok' if ok else 'OVER'}] {text}")

    line(
        request <= request_budget,
        f"request path: +{request:.0f} µs (mean), +{p50:.0f} µs (p50 call); budget {request_budget:.0f} µs ({basis})",
    )
    line(
        total <= floor_total + FLOOR_MARGIN_US,
        f"total incl. export: +{total:.0f} µs vs floor {floor_total:.0f} µs + {FLOOR_MARGIN_US:.0f} µs "
        f"= {floor_total + FLOOR_MARGIN_US:.0f} µs",
    )
    line(per_chunk <= CHUNK_BUDGET_NS, f"per streamed chunk: {per_chunk:,.0f} ns; budget {CHUNK_BUDGET_NS:,.0f} ns")
    line(startup_ms <= STARTUP_BUDGET_MS, f"import + init + instrument: {startup_ms:.0f} ms; budget 100 ms")
    checkpoints = rss["checkpoints"]
    mid_kib, last_kib = checkpoints[len(checkpoints) // 2][1], checkpoints[-1][1]
    # "No growth": allow 1 MiB of allocator noise over the second half of the run.
    line(last_kib - mid_kib <= 1024, f"RSS growth, second half of the run: {(last_kib - mid_kib) / 1024:+.2f} MiB")


# --- main -------------------------------------------------------------------------------------------------------------


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
        peer_versions: dict[str, str] = {}
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
                peer_versions[name] = peers[name]["version"]

    report(ours, startup, rss, peers, unavailable, peer_versions)
    out()
    out(f"(make bench took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
