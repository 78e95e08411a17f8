"""The OTLP exporter is built on the first export, not in ``init()``: its imports stay off the start-up path.

``import fallom_otel`` + ``init()`` + ``instrument()`` has a budget of 100 ms (DESIGN §9); the OTLP/HTTP exporter's
modules (protobuf encoder, ``requests``, ``urllib3``) alone cost ~40 ms. Delivery must be unchanged: same endpoint,
same headers, and one exporter however many threads export.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from fallom_otel._export import ReportingExporter
from tests.otlp_receiver import OtlpReceiver

_EXPORTER_MODULE = "opentelemetry.exporter.otlp.proto.http.trace_exporter"


def test_init_imports_no_exporter_until_the_first_export(receiver: OtlpReceiver) -> None:
    script = f"""
        import sys
        from opentelemetry import trace
        import fallom_otel

        fallom_otel.init(api_key="secret-key", base_url=sys.argv[1])
        loaded = [m for m in ({_EXPORTER_MODULE!r}, "requests", "urllib3") if m in sys.modules]
        assert not loaded, loaded
        with trace.get_tracer("script").start_as_current_span("first-span"):
            pass
        assert fallom_otel.flush(10_000)
        assert {_EXPORTER_MODULE!r} in sys.modules
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("FALLOM_", "OTEL_"))}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), receiver.url],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [s.name for s in receiver.wait_for_spans(1)] == ["first-span"]
    posts = [r for r in receiver.requests if r.method == "POST"]
    assert posts and posts[0].headers["authorization"] == "Bearer secret-key"


class _CountingExporter(SpanExporter):
    def __init__(self) -> None:
        self.exported = 0
        self.shut_down = False

    def export(self, spans: object) -> SpanExportResult:
        if self.shut_down:
            return SpanExportResult.FAILURE
        self.exported += 1
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.shut_down = True


def test_one_exporter_built_once_for_concurrent_exports() -> None:
    built: list[_CountingExporter] = []
    gate = threading.Barrier(8)

    def factory() -> SpanExporter:
        exporter = _CountingExporter()
        built.append(exporter)
        return exporter

    reporting = ReportingExporter(factory, "http://unused.invalid/v1/traces")
    assert reporting.force_flush() is True and built == []  # nothing to flush before the first export

    def export() -> None:
        gate.wait()
        reporting.export([])

    threads = [threading.Thread(target=export) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and built[0].exported == 8
    reporting.shutdown()
    assert built[0].shut_down


def test_shutdown_before_any_export_builds_nothing_and_later_exports_fail() -> None:
    built: list[_CountingExporter] = []

    def factory() -> SpanExporter:
        built.append(_CountingExporter())
        return built[-1]

    reporting = ReportingExporter(factory, "http://unused.invalid/v1/traces")
    reporting.shutdown()
    assert built == []
    assert reporting.export([]) is SpanExportResult.FAILURE
    assert built[0].shut_down and reporting.dropped == 0
