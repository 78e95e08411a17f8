"""The two sinks on their own: HTTP PUT (status handling, Retry-After, proxies) and the local directory."""

from __future__ import annotations

import email.utils
import hashlib
import os
import time
from pathlib import Path

import pytest

from fallom_otel._media._sinks import DirectorySink, HttpSink, _retry_after
from tests.otlp_receiver import OtlpReceiver

DATA = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
MEDIA_ID = hashlib.sha256(DATA).hexdigest()


def test_put_stores_the_bytes_with_type_and_key(receiver: OtlpReceiver) -> None:
    sink = HttpSink(receiver.url, "secret-key")
    assert sink.uri(MEDIA_ID) == f"{receiver.url}/v1/media/{MEDIA_ID}"
    assert sink.put(MEDIA_ID, DATA, "image/png").ok
    assert sink.put(MEDIA_ID, DATA, "").ok  # a second PUT of the same id is fine (200)
    first, second = receiver.media_puts
    assert (first.status, second.status) == (201, 200)
    assert first.headers["authorization"] == "Bearer secret-key"
    assert (first.headers["content-type"], second.headers["content-type"]) == ("image/png", "application/octet-stream")
    assert receiver.media[MEDIA_ID][0] == DATA
    assert "secret-key" not in repr(sink)


def test_no_authorization_header_without_a_key(receiver: OtlpReceiver) -> None:
    assert HttpSink(receiver.url + "/", None).put(MEDIA_ID, DATA, "image/png").ok
    assert "authorization" not in receiver.media_puts[0].headers


@pytest.mark.parametrize(("status", "retry"), [(500, True), (502, True), (429, True), (400, False), (401, False)])
def test_statuses_are_classified(receiver: OtlpReceiver, status: int, retry: bool) -> None:
    receiver.media_status = status
    result = HttpSink(receiver.url, "k").put(MEDIA_ID, DATA, "image/png")
    assert (result.ok, result.retry, result.detail) == (False, retry, f"HTTP {status}")


def test_retry_after_is_read(receiver: OtlpReceiver) -> None:
    receiver.media_status = 503
    receiver.media_retry_after = "7"
    assert HttpSink(receiver.url, "k").put(MEDIA_ID, DATA, "image/png").retry_after == 7.0
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (_retry_after(later) or 0) <= 30
    assert _retry_after("soon") is None and _retry_after(None) is None


def test_a_refused_connection_is_retryable_and_never_raises() -> None:
    rx = OtlpReceiver().start()
    url = rx.url
    rx.stop()
    result = HttpSink(url, "k").put(MEDIA_ID, DATA, "image/png")
    assert (result.ok, result.retry) == (False, True)
    assert "ConnectionRefusedError" in result.detail


def test_http_proxy_from_the_environment_is_used(receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    # The receiver stands in for the proxy: it is sent the absolute URI of the real destination.
    for name in ("no_proxy", "NO_PROXY", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", receiver.url)
    assert HttpSink("http://media.example.test", "k").put(MEDIA_ID, DATA, "image/png").ok
    [put] = receiver.media_puts
    assert put.path == f"http://media.example.test/v1/media/{MEDIA_ID}"
    assert put.headers["host"] == "media.example.test"
    assert receiver.media[MEDIA_ID][0] == DATA


def test_directory_sink_writes_atomically_and_once(tmp_path: Path) -> None:
    sink = DirectorySink(str(tmp_path / "a" / "b"))
    assert sink.uri(MEDIA_ID) == (tmp_path / "a" / "b" / MEDIA_ID).as_uri()
    assert sink.put(MEDIA_ID, DATA, "image/png").ok
    target = tmp_path / "a" / "b" / MEDIA_ID
    assert target.read_bytes() == DATA
    mtime = target.stat().st_mtime_ns
    assert sink.put(MEDIA_ID, DATA, "image/png").ok  # already there: not rewritten
    assert target.stat().st_mtime_ns == mtime
    assert os.listdir(tmp_path / "a" / "b") == [MEDIA_ID]


def test_directory_sink_failure_is_reported_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    result = DirectorySink(str(blocker / "sub")).put(MEDIA_ID, DATA, "image/png")
    assert (result.ok, result.retry) == (False, False)
    assert result.detail
