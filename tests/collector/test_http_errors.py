"""Bad input never crashes the collector: each refusal has the right 4xx and a message, and it keeps serving."""

from __future__ import annotations

import gzip
import hashlib
import json
import socket
import zlib
from urllib.parse import urlsplit

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from fallom_otel.collector import Collector
from tests.collector.conftest import request, sdk_tracer

PROTOBUF = {"Content-Type": "application/x-protobuf"}
AUTH = {"Authorization": "Bearer s3cret"}


def _valid_body() -> bytes:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    span.span_id = bytes.fromhex("b7ad6b7169203331")
    span.name = "chat gpt-4o-mini"
    span.start_time_unix_nano, span.end_time_unix_nano = 1_700_000_000_000_000_000, 1_700_000_000_500_000_000
    return request.SerializeToString()


def _still_serving(collector: Collector, headers: dict[str, str] | None = None) -> None:
    health = request(collector.url, "GET", "/healthz")
    assert health.status == 200 and json.loads(health.body)["status"] == "ok"
    ok = request(collector.url, "POST", "/v1/traces", _valid_body(), {**PROTOBUF, **(headers or {})})
    assert ok.status == 200, ok.body
    assert request(collector.url, "GET", "/").status == 200


CASES = [
    pytest.param(b"\xff\xff\xff\xff\x0f", PROTOBUF, 400, "malformed protobuf", id="malformed-protobuf"),
    pytest.param(b"\x0a\x05\x12\x03", PROTOBUF, 400, "malformed protobuf", id="truncated-protobuf"),
    pytest.param(b"{not json", {"Content-Type": "application/json"}, 400, "malformed JSON", id="malformed-json"),
    pytest.param(b"[1, 2]", {"Content-Type": "application/json"}, 400, "must be an object", id="json-not-an-object"),
    pytest.param(
        b'{"resourceSpans": 5}', {"Content-Type": "application/json"}, 400, "malformed JSON", id="json-wrong-shape"
    ),
    pytest.param(b"hello", {"Content-Type": "text/plain"}, 415, "unsupported Content-Type", id="wrong-content-type"),
    pytest.param(b"hello", {}, 415, "missing Content-Type", id="no-content-type"),
    pytest.param(
        b"this is not gzip", {**PROTOBUF, "Content-Encoding": "gzip"}, 400, "cannot decode gzip", id="bad-gzip"
    ),
    pytest.param(
        gzip.compress(b"x" * 1000)[:-12],
        {**PROTOBUF, "Content-Encoding": "gzip"},
        400,
        "truncated gzip",
        id="truncated-gzip",
    ),
    pytest.param(b"abc", {**PROTOBUF, "Content-Encoding": "br"}, 415, "unsupported Content-Encoding", id="brotli"),
]


@pytest.mark.parametrize(("body", "headers", "status", "message"), CASES)
def test_bad_export_requests_are_refused_with_a_message(
    collector: Collector, body: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    answer = request(collector.url, "POST", "/v1/traces", body, headers)
    assert answer.status == status
    assert message in answer.body.decode()
    assert answer.headers["content-type"].startswith("text/plain")
    _still_serving(collector)
    assert collector.store is not None
    assert collector.store.counts()["spans"] == 1  # only the valid export of _still_serving


def test_oversized_body_is_refused_with_413(small_collector: Collector) -> None:
    answer = request(small_collector.url, "POST", "/v1/traces", b"\x0a" * (200 * 1024), {**PROTOBUF, **AUTH})
    assert answer.status == 413 and "exceeds the limit" in answer.body.decode()
    _still_serving(small_collector, AUTH)


def test_oversized_chunked_body_is_refused_with_413(small_collector: Collector) -> None:
    """Without Content-Length the limit applies while streaming."""
    parts = urlsplit(small_collector.url)
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=10) as sock:
        head = (
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            b"Authorization: Bearer s3cret\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"\x0a" * 16384
        sock.sendall(head)
        try:
            for _ in range(8):
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer and close before the whole body is sent
        reply = sock.recv(4096).decode("latin-1")
    assert reply.startswith("HTTP/1.1 413"), reply
    _still_serving(small_collector, AUTH)


def test_gzip_bomb_stops_at_the_decompressed_limit(small_collector: Collector) -> None:
    bomb = gzip.compress(b"\x00" * (8 * 1024 * 1024))  # ~8 KiB on the wire, 8 MiB inflated
    assert len(bomb) < 64 * 1024
    answer = request(small_collector.url, "POST", "/v1/traces", bomb, {**PROTOBUF, **AUTH, "Content-Encoding": "gzip"})
    assert answer.status == 413 and "inflates past the limit" in answer.body.decode()
    _still_serving(small_collector, AUTH)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}, {"Authorization": "Bearer s3cret2"}],
    ids=["missing", "wrong", "no-scheme", "longer"],
)
def test_wrong_api_key_is_refused_with_401(small_collector: Collector, headers: dict[str, str]) -> None:
    answer = request(small_collector.url, "POST", "/v1/traces", _valid_body(), {**PROTOBUF, **headers})
    assert answer.status == 401 and answer.headers["www-authenticate"] == "Bearer"
    put = request(small_collector.url, "PUT", "/v1/media/abc", b"data", {"Content-Type": "image/png", **headers})
    assert put.status == 401
    assert small_collector.store is not None and small_collector.store.counts()["spans"] == 0
    _still_serving(small_collector, AUTH)


def test_the_sdk_exporter_with_the_right_key_is_accepted(small_collector: Collector) -> None:
    provider = sdk_tracer(small_collector.url, headers=AUTH)
    with provider.get_tracer("t").start_as_current_span("work"):
        pass
    provider.shutdown()
    assert small_collector.store is not None and small_collector.store.counts()["spans"] == 1


def test_unknown_paths_and_methods(collector: Collector) -> None:
    assert request(collector.url, "GET", "/v1/traces").status == 405
    assert request(collector.url, "POST", "/v1/metrics", b"", PROTOBUF).status == 404
    assert request(collector.url, "GET", "/calls/999999").status == 404
    assert request(collector.url, "GET", "/calls/not-a-number").status == 404
    assert request(collector.url, "GET", "/session?config_key=x&id=nope").status == 404
    assert request(collector.url, "GET", "/?offset=banana&status=weird").status == 200
    _still_serving(collector)


# --- media ------------------------------------------------------------------------------------------------------


def _png(size: int = 1) -> bytes:
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = size.to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_media_put_then_get(collector: Collector) -> None:
    data = _png(4)
    media_id = hashlib.sha256(data).hexdigest()
    first = request(collector.url, "PUT", f"/v1/media/{media_id}", data, {"Content-Type": "image/png"})
    again = request(collector.url, "PUT", f"/v1/media/{media_id}", data, {"Content-Type": "image/png"})
    assert (first.status, again.status) == (201, 200)
    got = request(collector.url, "GET", f"/v1/media/{media_id}")
    assert got.status == 200 and got.body == data
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in got.headers["content-security-policy"]
    assert collector.store is not None
    assert collector.store.media_ids_by_sha256([media_id]) == {media_id: media_id}
    assert request(collector.url, "GET", "/v1/media/" + "0" * 64).status == 404


@pytest.mark.parametrize(
    ("media_id", "status", "message"),
    [
        ("0" * 64, 400, "is not the sha256 of the body"),
        (".hidden", 400, "invalid media id"),
        ("a" * 129, 400, "invalid media id"),
    ],
)
def test_media_refusals(collector: Collector, media_id: str, status: int, message: str) -> None:
    answer = request(collector.url, "PUT", f"/v1/media/{media_id}", b"bytes", {"Content-Type": "image/png"})
    assert answer.status == status and message in answer.body.decode()
    assert collector.store is not None and collector.store.counts()["media"] == 0
    _still_serving(collector)


def test_media_path_traversal_is_not_a_path(collector: Collector) -> None:
    for target in ("/v1/media/..%2F..%2Fetc%2Fpasswd", "/v1/media/../../etc/passwd"):
        assert request(collector.url, "GET", target).status == 404
    _still_serving(collector)


def test_media_size_limit(small_collector: Collector) -> None:
    data = b"\x00" * (40 * 1024)
    media_id = hashlib.sha256(data).hexdigest()
    answer = request(small_collector.url, "PUT", f"/v1/media/{media_id}", data, {"Content-Type": "image/png", **AUTH})
    assert answer.status == 413
    assert small_collector.store is not None and small_collector.store.counts()["media"] == 0
    small = _png(2)
    ok = request(
        small_collector.url,
        "PUT",
        f"/v1/media/{hashlib.sha256(small).hexdigest()}",
        small,
        {"Content-Type": "image/png", **AUTH},
    )
    assert ok.status == 201
