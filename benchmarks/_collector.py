"""``make bench`` group 9: the local collector (``fallom-otel serve``): ingest rate and viewer latency.

1. Ingest: prebuilt ``ExportTraceServiceRequest`` bodies of 512 GenAI spans each, with content (system instructions,
   input and output messages, ~1.5 KB of JSON per span) and the full span contract (tokens, cost, TTFT, session), are
   POSTed one after another over one keep-alive connection to a collector running in its own process (``python -m
   fallom_otel serve``), until 100k calls are stored. The collector decodes, writes to SQLite (WAL) and answers each
   request before the next is sent, so spans/s is end to end: HTTP + decode + insert + commit.
2. Viewer: with those 100k calls stored (5,000 sessions of 20 calls), the p50/p95 of ``GET /`` (the sessions page,
   with its totals per model), of one session page and of one call page.

Run on its own (``python benchmarks/_collector.py [--quick]``) it prints the report; ``bench.py`` runs it as a worker
(``--json``) and prints :func:`report_lines`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
SPANS_PER_BATCH = 512
CALLS_PER_SESSION = 20
PAGE_RUNS = 40


def _batches(total_spans: int) -> list[bytes]:
    """Request bodies of ``SPANS_PER_BATCH`` spans; ids, sessions and times differ per span."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

    from fallom_otel_semconv import fallom, gen_ai

    system = json.dumps([{"type": "text", "content": "You are a helpful support assistant. " * 6}])
    question = "My order #48213 arrived damaged; the box was crushed and the mug inside is chipped. " * 4
    answer = "I'm sorry about that. I've started a replacement for order #48213; it ships within two days. " * 4
    inputs = json.dumps([{"role": "user", "parts": [{"type": "text", "content": question}]}])
    outputs = json.dumps(
        [{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]
    )
    models = ["gpt-4o-mini", "gpt-4o", "claude-haiku-4-5", "claude-sonnet-4-5"]

    def kv(key: str, value: Any) -> KeyValue:
        pair = KeyValue(key=key)
        if isinstance(value, bool):
            pair.value.bool_value = value
        elif isinstance(value, int):
            pair.value.int_value = value
        elif isinstance(value, float):
            pair.value.double_value = value
        else:
            pair.value.string_value = value
        return pair

    bodies = []
    now = time.time_ns() - total_spans * 50_000_000
    index = 0
    while index < total_spans:
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.append(kv("service.name", "bench-app"))
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = "fallom_otel_instrumentors.openai"
        for _ in range(min(SPANS_PER_BATCH, total_spans - index)):
            model = models[index % len(models)]
            session = index // CALLS_PER_SESSION
            start = now + index * 50_000_000
            span = scope_spans.spans.add()
            span.trace_id = (index + 1).to_bytes(16, "big")
            span.span_id = (index + 1).to_bytes(8, "big")
            span.name = f"chat {model}"
            span.kind = Span.SPAN_KIND_CLIENT
            span.start_time_unix_nano = start
            span.end_time_unix_nano = start + 800_000_000 + (index % 7) * 100_000_000
            failed = index % 50 == 49
            span.status.code = Status.STATUS_CODE_ERROR if failed else Status.STATUS_CODE_UNSET
            span.attributes.extend(
                [
                    kv(gen_ai.GEN_AI_OPERATION_NAME, "chat"),
                    kv(gen_ai.GEN_AI_PROVIDER_NAME, "anthropic" if model.startswith("claude") else "openai"),
                    kv(gen_ai.GEN_AI_REQUEST_MODEL, model),
                    kv(gen_ai.GEN_AI_RESPONSE_MODEL, model),
                    kv(gen_ai.GEN_AI_RESPONSE_ID, f"chatcmpl-{index:012d}"),
                    kv(gen_ai.GEN_AI_REQUEST_STREAM, index % 2 == 0),
                    kv(gen_ai.GEN_AI_USAGE_INPUT_TOKENS, 1200 + index % 300),
                    kv(gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS, 180 + index % 90),
                    kv(gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 1024 if index % 3 == 0 else 0),
                    kv(fallom.FALLOM_TIME_TO_FIRST_TOKEN_MS, 250.0 + index % 200),
                    kv(fallom.FALLOM_COST_USD, 0.00042 + (index % 10) * 1e-5),
                    kv(fallom.FALLOM_CONFIG_KEY, f"feature-{session % 5}"),
                    kv(fallom.FALLOM_SESSION_ID, f"session-{session:06d}"),
                    kv(fallom.FALLOM_CUSTOMER_ID, f"customer-{session % 997}"),
                    kv(gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS, system),
                    kv(gen_ai.GEN_AI_INPUT_MESSAGES, inputs),
                    kv(gen_ai.GEN_AI_OUTPUT_MESSAGES, outputs),
                    kv("server.address", "api.example"),
                ]
            )
            index += 1
        bodies.append(request.SerializeToString())
    return bodies


def _start_collector(db: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "fallom_otel", "serve", "--port", "0", "--db", str(db), "--max-body-mb", "256"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on" not in line:
        process.kill()
        raise RuntimeError(f"the collector did not start: {line!r}")
    return process, line.split()[-1]


def _get_times(conn: http.client.HTTPConnection, path: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        times.append((time.perf_counter() - started) * 1000)
        if response.status != 200 or not body:
            raise RuntimeError(f"GET {path} answered {response.status}")
    return times


def run(total_calls: int) -> dict[str, Any]:
    """Ingest ``total_calls`` spans into a fresh collector, then time the viewer pages."""
    started = time.perf_counter()
    bodies = _batches(total_calls)
    build_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="fallom-bench-collector-") as tmp:
        db = Path(tmp) / "bench.db"
        process, url = _start_collector(db)
        try:
            parts = urlsplit(url)
            conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
            headers = {"Content-Type": "application/x-protobuf"}
            batch_ms = []
            for body in bodies:
                t0 = time.perf_counter()
                conn.request("POST", "/v1/traces", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                batch_ms.append((time.perf_counter() - t0) * 1000)
                if response.status != 200:
                    raise RuntimeError(f"POST /v1/traces answered {response.status}")
            ingest_s = sum(batch_ms) / 1000
            conn.request("GET", "/healthz")
            health = json.loads(conn.getresponse().read())
            middle = total_calls // CALLS_PER_SESSION // 2
            session = quote(f"session-{middle:06d}")
            pages = {
                "sessions": _get_times(conn, "/", PAGE_RUNS),
                "sessions_filtered": _get_times(conn, "/?config_key=feature-3&status=error", PAGE_RUNS),
                "session": _get_times(conn, f"/session?config_key=feature-{middle % 5}&id={session}", PAGE_RUNS),
                "call": _get_times(conn, f"/calls/{total_calls // 2}", PAGE_RUNS),
                "calls": _get_times(conn, "/calls", PAGE_RUNS),
            }
            conn.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
        db_mib = sum(p.stat().st_size for p in Path(tmp).iterdir() if p.is_file()) / 1024 / 1024
    return {
        "calls": total_calls,
        "batches": len(bodies),
        "batch_bytes": statistics.mean(len(b) for b in bodies),
        "build_s": build_s,
        "ingest_s": ingest_s,
        "spans_per_s": total_calls / ingest_s,
        "batch_p50_ms": statistics.median(batch_ms),
        "batch_p95_ms": statistics.quantiles(batch_ms, n=20)[-1] if len(batch_ms) >= 2 else batch_ms[0],
        "stored": health,
        "db_mib": db_mib,
        "pages": {
            name: {"p50_ms": statistics.median(t), "p95_ms": statistics.quantiles(t, n=20)[-1]}
            for name, t in pages.items()
        },
    }


def report_lines(result: dict[str, Any]) -> list[str]:
    """The report of :func:`run`."""
    pages = result["pages"]
    stored = result["stored"]
    return [
        f"9. Local collector (fallom-otel serve, own process): {result['calls']:,} GenAI spans with content, "
        f"{result['batches']} requests of {SPANS_PER_BATCH} spans (~{result['batch_bytes'] / 1024:,.0f} KiB protobuf "
        "each), one keep-alive connection",
        f"  ingest into SQLite: {result['spans_per_s']:,.0f} spans/s end to end (HTTP + decode + insert + commit); "
        f"per request p50 {result['batch_p50_ms']:.0f} ms, p95 {result['batch_p95_ms']:.0f} ms",
        f"  stored: {stored['calls']:,} calls in {stored['sessions']:,} sessions; database {result['db_mib']:,.0f} MiB",
        f"  with {stored['calls']:,} calls stored (ms, p50 / p95 of {PAGE_RUNS} GETs):",
        *(
            f"    {label:<36} {pages[name]['p50_ms']:7.1f} / {pages[name]['p95_ms']:.1f}"
            for name, label in (
                ("sessions", "sessions page (/)"),
                ("sessions_filtered", "sessions page, 2 filters"),
                ("session", "session page (20 calls, timeline)"),
                ("call", "call page (chat + attributes)"),
                ("calls", "calls page (latest 50)"),
            )
        ),
    ]


def main() -> None:
    """Run and print (``--json``: print the result as JSON on the last line, for bench.py)."""
    parser = argparse.ArgumentParser(description="make bench, group 9: the local collector")
    parser.add_argument("--quick", action="store_true", help="10k calls instead of 100k")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    calls = 10_240 if args.quick else 100_352  # whole batches of 512
    result = run(calls)
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        sys.stdout.write("\n".join(report_lines(result)) + "\n")


if __name__ == "__main__":
    os.environ.pop("FALLOM_COLLECTOR_API_KEY", None)
    main()
