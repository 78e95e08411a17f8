"""A dead, failing or slow backend never slows or breaks the traced code, and memory stays bounded."""

from __future__ import annotations

import gc
import logging
import time
import tracemalloc
from collections.abc import Iterator

import pytest
from opentelemetry import trace

import fallom_otel
from tests.otlp_receiver import OtlpReceiver

SPANS = 500
# Generous: the traced path costs tens of microseconds per span; a blocking export would cost seconds.
TRACED_PATH_BOUND_S = 2.0


def traced_work(count: int = SPANS, payload: str = "") -> float:
    """Start and end ``count`` spans inside a session, the way instrumented calls do; return the seconds spent."""
    tracer = trace.get_tracer("tests.work")
    started = time.perf_counter()
    with fallom_otel.session("cfg", "s-1", "c-1"):
        for i in range(count):
            with tracer.start_as_current_span("chat gpt-4o", attributes={"i": i, "payload": payload}):
                pass
    return time.perf_counter() - started


def wait_for_drop_warning(caplog: pytest.LogCaptureFixture, timeout: float = 15.0) -> logging.LogRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in caplog.records:
            if record.name == "fallom_otel" and record.levelno == logging.WARNING and "dropped" in record.getMessage():
                return record
        time.sleep(0.05)
    raise AssertionError(f"no drop warning logged; got {[r.getMessage() for r in caplog.records]}")


@pytest.fixture(autouse=True)
def short_export_deadline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # One export (retries included) gives up after 1 s, so the failure paths are observed quickly.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1")
    yield


@pytest.fixture
def down_url() -> str:
    rx = OtlpReceiver().start()
    url = rx.url
    rx.stop()  # the port now refuses connections
    return url


def test_backend_down(down_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    fallom_otel.init(api_key="k", base_url=down_url)
    assert traced_work() < TRACED_PATH_BOUND_S
    started = time.monotonic()
    assert fallom_otel.flush(300) is False  # bounded, reports that it could not deliver
    assert time.monotonic() - started < 2.0
    record = wait_for_drop_warning(caplog)
    assert down_url in record.getMessage()


def test_backend_returns_500(receiver: OtlpReceiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    receiver.status = 500
    fallom_otel.init(api_key="k", base_url=receiver.url)
    assert traced_work() < TRACED_PATH_BOUND_S
    fallom_otel.flush(5_000)
    wait_for_drop_warning(caplog)
    assert receiver.spans == []
    assert receiver.rejected > 0  # it did try, and was refused


def test_backend_answers_after_5_seconds(receiver: OtlpReceiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    receiver.delay = 5.0
    fallom_otel.init(api_key="k", base_url=receiver.url)
    assert traced_work() < TRACED_PATH_BOUND_S
    deadline = time.monotonic() + 5
    while receiver.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert receiver.in_flight >= 1  # the exporter is stuck waiting on the backend, not the application
    wait_for_drop_warning(caplog)  # the export timed out and the batch was dropped
    started = time.monotonic()
    fallom_otel.shutdown(timeout_millis=500)
    assert time.monotonic() - started < 3.0


def test_no_exception_reaches_the_caller_when_export_breaks(down_url: str) -> None:
    fallom_otel.init(api_key="k", base_url=down_url)
    result = []
    with fallom_otel.session("cfg", "s"):
        for i in range(50):
            with trace.get_tracer("t").start_as_current_span("x"):
                result.append(i)
    assert result == list(range(50))


def test_memory_stays_bounded_while_backend_is_down(down_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "256")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "128")
    fallom_otel.init(api_key="k", base_url=down_url)
    payload = "p" * 4096
    traced_work(300, payload)  # warm up: imports, caches, a full queue
    gc.collect()
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        traced_work(10_000, payload)
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Kept, 10,000 spans with 4 KiB each would be over 40 MB (measured: ~2.7 MB); the bounded queue drops the
    # oldest instead.
    assert after - baseline < 8_000_000, f"grew by {after - baseline} bytes"


def test_a_burst_of_spans_is_delivered_whole(receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    # The defaults fallom-otel picks when OTEL_BSP_* are unset (the suite sets a short delay; undo it here).
    monkeypatch.delenv("OTEL_BSP_SCHEDULE_DELAY")
    fallom_otel.init(api_key="k", base_url=receiver.url)
    tracer = trace.get_tracer("tests.burst")
    for i in range(6_000):
        with tracer.start_as_current_span("chat gpt-4o", attributes={"i": i, "payload": "x" * 200}):
            pass
    assert fallom_otel.flush(20_000)
    spans = receiver.wait_for_spans(6_000, timeout=20)
    assert len({s.attributes["i"] for s in spans}) == 6_000  # none dropped, none twice
