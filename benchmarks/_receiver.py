"""A loopback OTLP/HTTP traces receiver that runs in its own process, for the benchmarks.

Why a separate process: a backend never lives inside the application. Decoding protobuf and answering HTTP in the
benchmarked process would compete with it for the GIL and charge the backend's work to the instrumentation. Here
the exporter pays for what it really pays for (encoding, the HTTP round trip) and nothing else.

The receiver really decodes every ``POST /v1/traces`` body (``ExportTraceServiceRequest``, gzip honoured) before it
answers, so a ``flush()`` that returns has been through a full decode. It keeps only counters and the attribute
keys of the last span it saw (bounded memory, so it does not distort the RSS workload of its clients).

``GET /stats`` answers ``{"spans": n, "requests": n, "last_span_attributes": [...]}`` as JSON.

Run as ``python _receiver.py``: it prints its port on the first line of stdout and serves until its stdin closes
(the benchmark that started it ends, or closes the pipe) or it is terminated.
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ReceiverStats", "fetch_stats"]


class ReceiverStats:
    """Thread-safe counters of what the receiver decoded."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans = 0
        self.requests = 0
        self.last_span_attributes: list[str] = []

    def snapshot(self) -> dict[str, Any]:
        """The counters as a JSON-ready dict."""
        with self.lock:
            return {
                "spans": self.spans,
                "requests": self.requests,
                "last_span_attributes": list(self.last_span_attributes),
            }


def _make_handler(stats: ReceiverStats) -> type[BaseHTTPRequestHandler]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    ok_body = ExportTraceServiceResponse().SerializeToString()

    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 keeps the exporter's pooled connection alive, as a real collector does.
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the per-request access log."""

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            """Decode an ``ExportTraceServiceRequest`` and count its spans."""
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.split("?", 1)[0] != "/v1/traces":
                self._answer(404, "text/plain", b"not found\n")
                return
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                raw = gzip.decompress(raw)
            request = ExportTraceServiceRequest.FromString(raw)
            count = 0
            last: list[str] | None = None
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    count += len(scope_spans.spans)
                    if scope_spans.spans:
                        last = [kv.key for kv in scope_spans.spans[-1].attributes]
            with stats.lock:
                stats.spans += count
                stats.requests += 1
                if last is not None:
                    stats.last_span_attributes = last
            self._answer(200, "application/x-protobuf", ok_body)

        def do_GET(self) -> None:
            """Report the counters."""
            if self.path != "/stats":
                self._answer(404, "text/plain", b"not found\n")
                return
            self._answer(200, "application/json", json.dumps(stats.snapshot()).encode())

    return Handler


def fetch_stats(base_url: str) -> dict[str, Any]:
    """Read ``GET /stats`` of a running receiver at ``base_url`` (``http://127.0.0.1:PORT``)."""
    with urllib.request.urlopen(f"{base_url}/stats", timeout=10) as response:
        result: dict[str, Any] = json.load(response)
    return result


def _serve() -> None:
    stats = ReceiverStats()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(stats))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True).start()
    sys.stdout.write(f"{server.server_address[1]}\n")
    sys.stdout.flush()
    # Serve until the parent closes our stdin (or dies, which closes it too): never outlive the benchmark.
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    _serve()
