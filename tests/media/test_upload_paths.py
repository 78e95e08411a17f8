"""The upload worker's failure paths, the uploaders (Fallom HTTP, local directory, none), the size cap and fork."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

import fallom_otel
from fallom_otel import _media
from fallom_otel._media import stats
from fallom_otel._media._queue import QUEUE
from tests.instrumentors.anthropic.conftest import FakeAnthropic
from tests.instrumentors.openai.conftest import FakeOpenAI
from tests.media._wire import send_image
from tests.media.conftest import Media, media_of, media_parts, png, start_tracing
from tests.otlp_receiver import OtlpReceiver


@pytest.fixture
def images() -> list[Media]:
    return [media_of(png(16, 16, seed=i)) for i in range(4)]


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QUEUE, "backoff_base", 0.01)
    monkeypatch.setattr(QUEUE, "backoff_cap", 0.05)


def test_a_full_queue_drops_the_bytes_and_records_metadata(
    receiver: OtlpReceiver,
    images: list[Media],
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(QUEUE, "max_items", 1)
    tracing = start_tracing(receiver)
    receiver.media_delay = 1.0  # the first upload holds the worker while the others arrive

    for image in images:
        send_image("chat", image.b64, fake_openai, fake_anthropic)

    spans = tracing.spans(len(images))  # every span is exported, dropped media or not
    parts = [p for span in spans for p in media_parts(span)]
    dropped = [p for p in parts if p["type"] == "blob"]
    counters = stats()
    assert counters["dropped_queue_full"] == len(dropped) >= 2
    assert counters["uploaded"] == len(images) - len(dropped) == len(receiver.media_puts)
    by_hash = {image.sha256: image for image in images}
    for part in dropped:  # metadata only: never the bytes, never a URI that will not exist
        image = by_hash[part["sha256"]]
        assert part == {
            "type": "blob",
            "modality": "image",
            "mime_type": "image/png",
            "size": len(image.data),
            "sha256": image.sha256,
        }
        assert image.sha256 not in receiver.media
    assert [r.message for r in caplog.records if "queue is full" in r.message][:1]
    assert sum("queue is full" in r.message for r in caplog.records) == 1  # rate-limited: one line


@pytest.mark.parametrize("status", [500, 503, 429])
def test_retryable_failures_are_retried_then_dropped(
    status: int,
    receiver: OtlpReceiver,
    images: list[Media],
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    fast_retries: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracing = start_tracing(receiver)
    receiver.media_status = status
    send_image("responses", images[0].b64, fake_openai, fake_anthropic)

    span = tracing.span()  # the span is exported with the URI it was promised
    assert media_parts(span)[0]["uri"].endswith(images[0].sha256)
    counters = stats()
    assert (counters["dropped_failed"], counters["retries"], counters["uploaded"]) == (1, QUEUE.max_attempts - 1, 0)
    assert len(receiver.media_puts) == QUEUE.max_attempts
    assert sum("could not upload media" in r.message for r in caplog.records) == 1
    assert all("fallom-test-key" not in r.getMessage() for r in caplog.records)


def test_a_client_error_is_not_retried(
    receiver: OtlpReceiver, images: list[Media], fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    tracing = start_tracing(receiver)
    receiver.media_status = 403
    send_image("anthropic", images[0].b64, fake_openai, fake_anthropic)
    tracing.span()
    assert len(receiver.media_puts) == 1
    assert (stats()["dropped_failed"], stats()["retries"]) == (1, 0)


def test_retry_after_is_honoured_and_the_retry_succeeds(
    receiver: OtlpReceiver, images: list[Media], fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    tracing = start_tracing(receiver)
    receiver.media_status = 429
    receiver.media_retry_after = "1"
    recovered = threading.Timer(0.3, lambda: setattr(receiver, "media_status", 0))
    recovered.start()
    send_image("chat", images[0].b64, fake_openai, fake_anthropic)
    tracing.span()
    recovered.join()

    first, second = receiver.media_puts
    assert (first.status, second.status) == (429, 201)
    assert receiver.media[images[0].sha256][0] == images[0].data
    assert (stats()["retries"], stats()["uploaded"], stats()["dropped_failed"]) == (1, 1, 0)


def test_a_failed_image_is_uploaded_when_it_is_sent_again(
    receiver: OtlpReceiver,
    images: list[Media],
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    fast_retries: None,
) -> None:
    tracing = start_tracing(receiver)
    receiver.media_status = 500
    send_image("chat", images[0].b64, fake_openai, fake_anthropic)
    assert fallom_otel.flush(10_000)
    receiver.media_status = 0
    send_image("chat", images[0].b64, fake_openai, fake_anthropic)
    tracing.spans(2)
    assert receiver.media[images[0].sha256][0] == images[0].data


def test_directory_uploader_writes_files_with_file_uris(
    receiver: OtlpReceiver,
    images: list[Media],
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    tmp_path: Path,
) -> None:
    target = tmp_path / "media" / "store"
    tracing = start_tracing(receiver, media=target.as_uri())
    for provider in ("chat", "responses", "anthropic"):
        send_image(provider, images[1].b64, fake_openai, fake_anthropic)

    spans = tracing.spans(3)
    expected = (target / images[1].sha256).as_uri()
    assert [p["uri"] for s in spans for p in media_parts(s)] == [expected] * 3
    assert (target / images[1].sha256).read_bytes() == images[1].data
    assert sorted(p.name for p in target.iterdir()) == [images[1].sha256]  # no temporary file left behind
    assert receiver.media_puts == []


def test_a_media_url_uploads_there_while_spans_go_elsewhere(
    receiver: OtlpReceiver, images: list[Media], fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    # The scaling recipe: spans to a local collector (here `receiver`), media straight to a media server (`media`).
    media = OtlpReceiver()
    media.start()
    try:
        tracing = start_tracing(receiver, api_key="fk-media", media=media.url + "/")
        send_image("chat", images[0].b64, fake_openai, fake_anthropic)
        expected = f"{media.url}/v1/media/{images[0].sha256}"
        assert [p["uri"] for p in media_parts(tracing.span())] == [expected]
        assert _media.flush(10.0)
        assert receiver.media_puts == []
        [put] = media.media_puts
        assert put.body == images[0].data and put.headers["authorization"] == "Bearer fk-media"
    finally:
        media.stop()


@pytest.mark.parametrize("bad", ["ftp://media.example.com", "https://", "https://host/path?q=1"])
def test_a_bad_media_url_fails_init(receiver: OtlpReceiver, bad: str) -> None:
    with pytest.raises(ValueError, match="media"):
        fallom_otel.init(base_url=receiver.url, media=bad)


def test_a_plain_directory_path_is_accepted(receiver: OtlpReceiver, tmp_path: Path) -> None:
    start_tracing(receiver, media=str(tmp_path))
    handler = _media.handler()
    assert handler is not None and handler.sink is not None
    assert handler.sink.uri("ab") == (tmp_path / "ab").as_uri()


def test_none_records_metadata_only(
    receiver: OtlpReceiver, images: list[Media], fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    tracing = start_tracing(receiver, media="none")
    send_image("anthropic", images[2].b64, fake_openai, fake_anthropic)
    assert media_parts(tracing.span()) == [
        {
            "type": "blob",
            "modality": "image",
            "mime_type": "image/png",
            "size": len(images[2].data),
            "sha256": images[2].sha256,
        }
    ]
    assert receiver.media_puts == []
    assert stats()["submitted"] == 0


def test_the_environment_selects_the_uploader(receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FALLOM_MEDIA", "none")
    monkeypatch.setenv("FALLOM_MEDIA_MAX_BYTES", "1234")
    start_tracing(receiver)
    handler = _media.handler()
    assert handler is not None and handler.sink is None and handler.max_bytes == 1234


def test_no_upload_without_an_export_destination(monkeypatch: pytest.MonkeyPatch) -> None:
    fallom_otel.init(base_url="https://traces.example.com")  # remote, no key: nothing is exported
    handler = _media.handler()
    assert handler is not None and handler.sink is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/custom/traces")
    fallom_otel.init()  # spans go to an endpoint given verbatim: no Fallom base URL to upload to
    handler = _media.handler()
    assert handler is not None and handler.sink is None


def test_above_the_size_cap_only_metadata_is_recorded(
    receiver: OtlpReceiver, big_png: Media, fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    tracing = start_tracing(receiver, media_max_bytes=1_000_000)
    send_image("chat", big_png.b64, fake_openai, fake_anthropic)
    assert media_parts(tracing.span()) == [
        {"type": "blob", "modality": "image", "mime_type": "image/png", "size": len(big_png.data)}
    ]
    assert receiver.media_puts == []
    assert stats()["submitted"] == 0


def test_a_new_init_retires_the_previous_uploader(receiver: OtlpReceiver, tmp_path: Path) -> None:
    start_tracing(receiver)
    first = _media.handler()
    start_tracing(receiver, media=str(tmp_path))
    assert _media.handler() is not first
    assert first is not None
    assert first(b"\x89PNG\r\n\x1a\n", "image/png", "image")["type"] == "blob"  # queues nothing any more
    fallom_otel.shutdown()
    assert _media.handler() is None


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"media": 3}, TypeError),
        ({"media": "s3://bucket"}, ValueError),
        ({"media": "file://host/dir"}, ValueError),
        ({"media": "file:relative"}, ValueError),
        ({"media_max_bytes": "10"}, TypeError),
        ({"media_max_bytes": True}, TypeError),
        ({"media_max_bytes": -1}, ValueError),
    ],
)
def test_bad_settings_are_refused_clearly(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error, match="media"):
        fallom_otel.init(base_url="http://127.0.0.1:9", **kwargs)  # type: ignore[arg-type]


def test_bad_environment_is_refused_clearly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FALLOM_MEDIA_MAX_BYTES", "20MB")
    with pytest.raises(ValueError, match="FALLOM_MEDIA_MAX_BYTES"):
        fallom_otel.init(base_url="http://127.0.0.1:9")
    monkeypatch.delenv("FALLOM_MEDIA_MAX_BYTES")
    a_file = tmp_path / "file"
    a_file.write_bytes(b"")
    monkeypatch.setenv("FALLOM_MEDIA", str(a_file))
    with pytest.raises(ValueError, match="FALLOM_MEDIA"):
        fallom_otel.init(base_url="http://127.0.0.1:9")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_a_forked_child_uploads_with_its_own_worker(
    receiver: OtlpReceiver, images: list[Media], fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    tracing = start_tracing(receiver)
    send_image("chat", images[0].b64, fake_openai, fake_anthropic)  # the parent's worker is running
    assert fallom_otel.flush(5_000)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            send_image("chat", images[3].b64, fake_openai, fake_anthropic)
            code = 0 if fallom_otel.flush(10_000) and stats()["uploaded"] >= 1 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    deadline = time.monotonic() + 5
    while images[3].sha256 not in receiver.media and time.monotonic() < deadline:
        time.sleep(0.02)
    assert receiver.media[images[3].sha256][0] == images[3].data
    assert tracing.receiver.media[images[0].sha256][0] == images[0].data


def test_a_failing_sink_costs_one_item_not_the_worker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from fallom_otel._media._queue import MediaQueue
    from fallom_otel._media._sinks import DirectorySink, PutResult
    from fallom_otel_instrumentors._safety import RERAISE_ENV

    monkeypatch.delenv(RERAISE_ENV)  # production behaviour: internal errors are logged, not raised

    class BrokenSink:
        def uri(self, media_id: str) -> str:
            return f"broken:{media_id}"

        def put(self, media_id: str, data: bytes, mime_type: str) -> PutResult:
            raise RuntimeError("a bug")

    queue = MediaQueue()
    assert queue.submit(BrokenSink(), "a", "broken:a", b"1", "")
    assert queue.flush(5.0)
    good = DirectorySink(str(tmp_path))
    assert queue.submit(good, "b", good.uri("b"), b"2", "")
    assert queue.flush(5.0)
    counters = queue.stats()
    assert (counters["dropped_failed"], counters["uploaded"], counters["queued"]) == (1, 1, 0)
    assert (tmp_path / "b").read_bytes() == b"2"
    assert queue.shutdown(1.0)


def test_shutdown_drops_what_it_cannot_deliver_in_time(receiver: OtlpReceiver) -> None:
    from fallom_otel._media._queue import MediaQueue
    from fallom_otel._media._sinks import HttpSink

    receiver.media_delay = 2.0
    queue = MediaQueue()
    sink = HttpSink(receiver.url, None)
    for name in ("a", "b", "c"):
        assert queue.submit(sink, name, sink.uri(name), name.encode(), "text/plain")
    started = time.monotonic()
    assert not queue.shutdown(0.2)  # bounded: it does not wait for the slow endpoint
    assert time.monotonic() - started < 1.0
    assert queue.stats()["dropped_shutdown"] == 2  # "a" is in flight; "b" and "c" never left
    receiver.media_delay = 0.0
