"""Tests of the loopback OTLP/HTTP receiver, driven by the real OpenTelemetry SDK export pipeline."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.error import HTTPError, URLError

import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

SCOPE_NAME = "fallom-tests.receiver"
SCOPE_VERSION = "9.9.9"
SCOPE_SCHEMA = "https://opentelemetry.io/schemas/1.26.0"
RESOURCE_SCHEMA = "https://opentelemetry.io/schemas/1.25.0"
RESOURCE = Resource({"service.name": "receiver-test", "deployment.environment": "ci"}, schema_url=RESOURCE_SCHEMA)
SECRET = "sk-receiver-test-secret-4242"


@pytest.fixture
def rx() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


def _exporter(endpoint: str, compression: Compression | None = None) -> OTLPSpanExporter:
    return OTLPSpanExporter(
        endpoint=endpoint, headers={"authorization": "Bearer t0k"}, timeout=2, compression=compression
    )


def _shutdown(exporter: SpanExporter) -> None:
    exporter.shutdown()


@contextmanager
def _provider(exporter: OTLPSpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider(resource=RESOURCE)  # deliberately not set as the global provider
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield provider
    finally:
        provider.shutdown()


def _emit_parent_child(provider: TracerProvider, secret: str = SECRET) -> None:
    tracer = provider.get_tracer(SCOPE_NAME, SCOPE_VERSION, schema_url=SCOPE_SCHEMA)
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER):
        with tracer.start_as_current_span(
            "child",
            kind=SpanKind.CLIENT,
            attributes={
                "str.attr": secret,
                "bool.attr": True,
                "int.attr": 42,
                "float.attr": 2.5,
                "list.attr": ["a", "b", "c"],
            },
        ) as child:
            child.add_event("retry", {"attempt": 2, "reason": "timeout"})
            child.set_status(Status(StatusCode.ERROR, "upstream failed"))


def _sdk_spans() -> list[ReadableSpan]:
    """Finished SDK spans (parent + child), captured in memory so a test can hand them to an exporter itself."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    try:
        _emit_parent_child(provider)
        return list(memory.get_finished_spans())
    finally:
        provider.shutdown()


def _by_name(spans: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    return {span.name: span for span in spans}


def _post(url: str, data: bytes, headers: dict[str, str], method: str = "POST") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except HTTPError as error:
        with error:
            return error.code, error.headers.get("Content-Type", ""), error.read()


def _get(url: str) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except HTTPError as error:
        with error:
            return error.code, error.headers.get("Content-Type", ""), error.read()


def _check_parent_child(spans: list[ReceivedSpan]) -> None:
    by_name = _by_name(spans)
    assert set(by_name) == {"parent", "child"}
    parent, child = by_name["parent"], by_name["child"]

    assert parent.kind == "SERVER"
    assert child.kind == "CLIENT"
    assert len(parent.trace_id) == 32 and len(parent.span_id) == 16
    assert parent.trace_id == parent.trace_id.lower()
    assert int(parent.trace_id, 16) and int(child.span_id, 16)
    assert child.trace_id == parent.trace_id
    assert child.span_id != parent.span_id
    assert child.parent_span_id == parent.span_id
    assert parent.parent_span_id is None

    assert child.attributes == {
        "str.attr": SECRET,
        "bool.attr": True,
        "int.attr": 42,
        "float.attr": 2.5,
        "list.attr": ["a", "b", "c"],
    }
    assert type(child.attributes["int.attr"]) is int
    assert type(child.attributes["float.attr"]) is float
    assert child.events == [("retry", {"attempt": 2, "reason": "timeout"})]
    assert child.status_code == "ERROR"
    assert child.status_message == "upstream failed"
    assert parent.status_code == "UNSET"
    assert parent.attributes == {}

    for span in (parent, child):
        assert span.scope_name == SCOPE_NAME
        assert span.scope_version == SCOPE_VERSION
        assert span.scope_schema_url == SCOPE_SCHEMA
        assert span.resource_schema_url == RESOURCE_SCHEMA
        assert span.resource_attributes == {"service.name": "receiver-test", "deployment.environment": "ci"}
        assert 0 < span.start_time_unix_nano <= span.end_time_unix_nano
    assert parent.start_time_unix_nano <= child.start_time_unix_nano
    assert child.end_time_unix_nano <= parent.end_time_unix_nano


def test_sdk_protobuf_export_is_decoded(rx: OtlpReceiver) -> None:
    assert rx.url.startswith("http://127.0.0.1:")
    assert rx.traces_endpoint == rx.url + "/v1/traces"

    with _provider(_exporter(rx.traces_endpoint)) as provider:
        _emit_parent_child(provider)

    spans = rx.wait_for_spans(2, timeout=5)
    _check_parent_child(spans)
    assert [s.name for s in spans] == ["child", "parent"]  # arrival order: SimpleSpanProcessor exports on end
    assert rx.rejected == 0

    requests = rx.trace_requests
    assert len(requests) == 2 and requests == rx.requests
    for request in requests:
        assert request.method == "POST" and request.path == "/v1/traces"
        assert request.status == 200 and request.error is None
        assert request.headers["authorization"] == "Bearer t0k"
        assert request.headers["content-type"] == "application/x-protobuf"
        assert "content-encoding" not in request.headers
        assert request.raw_body == request.body
        assert int(request.headers["content-length"]) == len(request.raw_body)
        ExportTraceServiceRequest.FromString(request.body)
    assert SECRET.encode() in rx.all_bytes()
    assert b"never-exported-value" not in rx.all_bytes()


def test_batch_span_processor_and_success_response(rx: OtlpReceiver) -> None:
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(BatchSpanProcessor(_exporter(rx.traces_endpoint), schedule_delay_millis=50))
    try:
        _emit_parent_child(provider)
        assert provider.force_flush(5000)
    finally:
        provider.shutdown()
    _check_parent_child(rx.wait_for_spans(2, timeout=5))
    assert len(rx.trace_requests) == 1  # one batch with both spans


def test_gzip_compressed_export(rx: OtlpReceiver) -> None:
    with _provider(_exporter(rx.traces_endpoint, compression=Compression.Gzip)) as provider:
        _emit_parent_child(provider)

    _check_parent_child(rx.wait_for_spans(2, timeout=5))
    for request in rx.trace_requests:
        assert request.headers["content-encoding"] == "gzip"
        assert request.raw_body[:2] == b"\x1f\x8b"
        assert request.raw_body != request.body
        assert gzip.decompress(request.raw_body) == request.body
        assert SECRET.encode() not in request.raw_body
    assert SECRET.encode() in rx.all_bytes()  # scanned in the decompressed bodies too


def test_deflate_compressed_export(rx: OtlpReceiver) -> None:
    with _provider(_exporter(rx.traces_endpoint, compression=Compression.Deflate)) as provider:
        _emit_parent_child(provider)

    _check_parent_child(rx.wait_for_spans(2, timeout=5))
    for request in rx.trace_requests:
        assert request.headers["content-encoding"] == "deflate"
        assert zlib.decompress(request.raw_body) == request.body


def test_raw_deflate_stream_is_accepted(rx: OtlpReceiver) -> None:
    payload = encode_spans(_sdk_spans()).SerializeToString()
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflate = compressor.compress(payload) + compressor.flush()
    status, _, _ = _post(
        rx.traces_endpoint,
        raw_deflate,
        {"Content-Type": "application/x-protobuf", "Content-Encoding": "deflate"},
    )
    assert status == 200
    _check_parent_child(rx.spans)


def test_json_export(rx: OtlpReceiver) -> None:
    body = json_format.MessageToJson(encode_spans(_sdk_spans())).encode()
    status, content_type, answer = _post(
        rx.traces_endpoint, body, {"Content-Type": "application/json; charset=utf-8", "Authorization": "Bearer t0k"}
    )
    assert status == 200
    assert content_type == "application/x-protobuf"
    assert ExportTraceServiceResponse.FromString(answer) == ExportTraceServiceResponse()
    _check_parent_child(rx.wait_for_spans(2, timeout=5))
    [request] = rx.trace_requests
    assert request.raw_body == body == request.body
    assert request.headers["authorization"] == "Bearer t0k"


@pytest.mark.parametrize(
    ("body", "headers", "expected_status"),
    [
        (b"\xff\xff\xff\xffnot protobuf", {"Content-Type": "application/x-protobuf"}, 400),
        (b'{"resourceSpans": [', {"Content-Type": "application/json"}, 400),
        (b'{"noSuchField": 1}', {"Content-Type": "application/json"}, 400),
        (b"not gzip at all", {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, 400),
        (b"not deflate", {"Content-Type": "application/x-protobuf", "Content-Encoding": "deflate"}, 400),
        (b"", {"Content-Type": "application/x-protobuf", "Content-Encoding": "br"}, 415),
        (b"", {"Content-Type": "text/plain"}, 415),
    ],
)
def test_malformed_body_is_refused_and_server_keeps_serving(
    rx: OtlpReceiver, body: bytes, headers: dict[str, str], expected_status: int
) -> None:
    status, content_type, answer = _post(rx.traces_endpoint, body, headers)
    assert status == expected_status
    assert content_type.startswith("text/plain")
    assert answer.strip()

    [request] = rx.requests
    assert request.status == expected_status
    assert request.error is not None and request.error in answer.decode()
    assert request.raw_body == body
    assert rx.spans == [] and rx.rejected == 0

    with _provider(_exporter(rx.traces_endpoint)) as provider:
        _emit_parent_child(provider)
    _check_parent_child(rx.wait_for_spans(2, timeout=5))


def test_empty_request_is_accepted(rx: OtlpReceiver) -> None:
    status, _, answer = _post(rx.traces_endpoint, b"", {"Content-Type": "application/x-protobuf"})
    assert status == 200
    assert ExportTraceServiceResponse.FromString(answer) == ExportTraceServiceResponse()
    assert rx.spans == [] and len(rx.trace_requests) == 1


def test_error_status_fails_export_and_keeps_spans_out(rx: OtlpReceiver) -> None:
    rx.status = 500
    exporter = _exporter(rx.traces_endpoint)
    try:
        assert exporter.export(_sdk_spans()) == SpanExportResult.FAILURE
    finally:
        _shutdown(exporter)

    assert rx.spans == []
    assert rx.rejected == 2
    assert {s.name for s in rx.rejected_spans} == {"parent", "child"}
    [request] = rx.trace_requests
    assert request.status == 500 and request.error is None

    rx.status = 200  # changeable at any time
    with _provider(_exporter(rx.traces_endpoint)) as provider:
        _emit_parent_child(provider)
    _check_parent_child(rx.wait_for_spans(2, timeout=5))
    assert rx.rejected == 2


def _wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def _post_in_thread(url: str, body: bytes) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(_post(url, body, {"Content-Type": "application/x-protobuf"}))
        except (URLError, OSError) as error:  # connection dropped by stop()
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_stop_interrupts_delay_promptly() -> None:
    body = encode_spans(_sdk_spans()).SerializeToString()
    rx = OtlpReceiver(delay=30.0).start()
    try:
        thread, outcome = _post_in_thread(rx.traces_endpoint, body)
        _wait_until(lambda: rx.in_flight == 1)
        time.sleep(0.1)
        assert rx.requests == []  # still delaying
    finally:
        started = time.monotonic()
        rx.stop()
        elapsed = time.monotonic() - started
    assert elapsed < 2.0
    thread.join(5)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], (URLError, OSError))  # dropped, not answered
    [request] = rx.requests
    assert request.status == 0 and request.error is not None
    assert rx.spans == [] and rx.rejected == 2
    assert rx.in_flight == 0


def test_delay_is_applied_and_can_be_lowered_while_waiting(rx: OtlpReceiver) -> None:
    body = encode_spans(_sdk_spans()).SerializeToString()
    rx.delay = 0.3
    started = time.monotonic()
    assert _post(rx.traces_endpoint, body, {"Content-Type": "application/x-protobuf"})[0] == 200
    assert time.monotonic() - started >= 0.3

    rx.delay = 30.0
    thread, outcome = _post_in_thread(rx.traces_endpoint, body)
    _wait_until(lambda: rx.in_flight == 1)
    rx.delay = 0.0
    thread.join(5)
    assert not thread.is_alive()
    assert isinstance(outcome[0], tuple) and outcome[0][0] == 200
    assert len(rx.wait_for_spans(4, timeout=5)) == 4


def test_exporter_timeout_against_slow_backend(rx: OtlpReceiver) -> None:
    rx.delay = 5.0
    exporter = OTLPSpanExporter(endpoint=rx.traces_endpoint, timeout=0.5)
    try:
        started = time.monotonic()
        assert exporter.export(_sdk_spans()) == SpanExportResult.FAILURE
        assert time.monotonic() - started < 4.0
    finally:
        _shutdown(exporter)


def test_stopped_receiver_refuses_connections_and_can_restart() -> None:
    rx = OtlpReceiver()
    with pytest.raises(RuntimeError):
        _ = rx.url
    rx.start()
    with pytest.raises(RuntimeError):
        rx.start()
    url = rx.url
    port = int(url.rsplit(":", 1)[1])
    rx.stop()
    rx.stop()  # idempotent
    assert not rx.running

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()

    exporter = OTLPSpanExporter(endpoint=rx.traces_endpoint, timeout=0.5)
    try:
        assert exporter.export(_sdk_spans()) == SpanExportResult.FAILURE
    finally:
        _shutdown(exporter)
    assert rx.requests == []

    with rx:  # "backend back": same port again
        assert rx.url == url
        with _provider(_exporter(rx.traces_endpoint)) as provider:
            _emit_parent_child(provider)
        _check_parent_child(rx.wait_for_spans(2, timeout=5))


def test_media_put_and_get(rx: OtlpReceiver) -> None:
    media_url = rx.url + "/v1/media/img-1"
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    assert _post(media_url, png, {"Content-Type": "image/png"}, method="PUT")[0] == 201
    assert rx.media == {"img-1": (png, "image/png")}

    status, content_type, body = _get(media_url)
    assert (status, content_type, body) == (200, "image/png", png)

    replacement = b"new bytes"
    assert _post(media_url, replacement, {"Content-Type": "application/octet-stream"}, method="PUT")[0] == 200
    assert _get(media_url)[2] == replacement

    assert _get(rx.url + "/v1/media/missing")[0] == 404
    assert png in rx.all_bytes()
    assert rx.trace_requests == []
    assert [(r.method, r.status) for r in rx.requests] == [
        ("PUT", 201),
        ("GET", 200),
        ("PUT", 200),
        ("GET", 200),
        ("GET", 404),
    ]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/traces"),
        ("POST", "/v1/logs"),
        ("GET", "/v1/metrics"),
        ("GET", "/"),
        ("DELETE", "/v1/media/x"),
        ("PUT", "/v1/media/"),
    ],
)
def test_unknown_routes_are_404(rx: OtlpReceiver, method: str, path: str) -> None:
    data = b"x" if method in ("POST", "PUT") else None
    request = urllib.request.Request(rx.url + path, data=data, method=method)
    with pytest.raises(HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=5).close()
    with excinfo.value as error:
        assert error.code == 404
    [recorded] = rx.requests
    assert (recorded.method, recorded.status) == (method, 404)
    assert rx.trace_requests == []


def test_wait_for_spans_timeout_lists_what_was_received(rx: OtlpReceiver) -> None:
    with pytest.raises(AssertionError, match="expected at least 1 accepted span"):
        rx.wait_for_spans(1, timeout=0.1)

    with _provider(_exporter(rx.traces_endpoint)) as provider:
        _emit_parent_child(provider)
    with pytest.raises(AssertionError, match=r"received 2 accepted span\(s\): 'child' \(CLIENT\), 'parent'"):
        rx.wait_for_spans(3, timeout=0.1)
    with pytest.raises(AssertionError, match="POST /v1/traces -> 200"):
        rx.wait_for_requests(3, timeout=0.1)
    assert len(rx.wait_for_requests(2, timeout=0.1)) == 2


def test_wait_for_spans_wakes_on_arrival(rx: OtlpReceiver) -> None:
    def export_later() -> None:
        time.sleep(0.2)
        with _provider(_exporter(rx.traces_endpoint)) as provider:
            _emit_parent_child(provider)

    thread = threading.Thread(target=export_later)
    thread.start()
    try:
        assert len(rx.wait_for_spans(2, timeout=5)) >= 2
    finally:
        thread.join(5)


def test_clear_and_snapshots(rx: OtlpReceiver) -> None:
    with _provider(_exporter(rx.traces_endpoint)) as provider:
        _emit_parent_child(provider)
    snapshot = rx.spans
    rx.status = 503
    rx.clear()
    assert len(snapshot) == 2  # snapshots are copies
    assert rx.spans == [] and rx.requests == [] and rx.media == {} and rx.rejected == 0
    assert rx.all_bytes() == b""
    assert rx.status == 503  # behaviour controls survive clear()
