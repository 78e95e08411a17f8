"""Acceptance of issue #6 end to end: real SDK clients, real OTLP/HTTP export, real PUTs to the loopback receiver."""

from __future__ import annotations

import time

import pytest

import fallom_otel
from fallom_otel import _media
from fallom_otel._media import stats
from fallom_otel_semconv import gen_ai
from tests.instrumentors.anthropic.conftest import FakeAnthropic
from tests.instrumentors.openai.conftest import FakeOpenAI
from tests.media._wire import CHAT_PATH, chat_completion, send_image
from tests.media.conftest import API_KEY, Media, MediaTracing, media_parts, start_tracing
from tests.otlp_receiver import OtlpReceiver

PROVIDERS = ["chat", "responses", "anthropic"]


def assert_no_base64_exported(receiver: OtlpReceiver, image: Media) -> None:
    exported = receiver.all_bytes()
    for piece in image.slices():
        assert piece not in exported
    # Belt and braces: the trace requests together are far smaller than the image's base64 text.
    trace_bytes = sum(len(r.body) for r in receiver.trace_requests)
    assert 0 < trace_bytes < len(image.b64) // 50


@pytest.mark.parametrize("provider", PROVIDERS)
def test_inline_image_becomes_an_uploaded_uri(
    provider: str,
    media_tracing: MediaTracing,
    receiver: OtlpReceiver,
    big_png: Media,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
) -> None:
    send_image(provider, big_png.b64, fake_openai, fake_anthropic)

    span = media_tracing.span()
    uri = f"{receiver.url}/v1/media/{big_png.sha256}"
    assert media_parts(span) == [{"type": "uri", "modality": "image", "uri": uri, "mime_type": "image/png"}]
    assert uri.encode() in receiver.all_bytes()
    assert_no_base64_exported(receiver, big_png)

    [put] = receiver.media_puts
    assert put.path == f"/v1/media/{big_png.sha256}"
    assert put.body == big_png.data
    assert put.headers["content-type"] == "image/png"
    assert put.headers["authorization"] == f"Bearer {API_KEY}"
    assert receiver.media == {big_png.sha256: (big_png.data, "image/png")}
    assert stats()["uploaded"] == 1
    # The provider still received the image exactly as the caller sent it.
    sent = (fake_anthropic if provider == "anthropic" else fake_openai).requests[0]
    assert big_png.b64 in str(sent)


def test_the_same_image_sent_twice_is_uploaded_once(
    media_tracing: MediaTracing,
    receiver: OtlpReceiver,
    big_png: Media,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
) -> None:
    for provider in ("chat", "chat", "responses", "anthropic"):
        send_image(provider, big_png.b64, fake_openai, fake_anthropic)

    spans = media_tracing.spans(4)
    uri = f"{receiver.url}/v1/media/{big_png.sha256}"
    assert [p["uri"] for s in spans for p in media_parts(s)] == [uri] * 4
    assert len(receiver.media_puts) == 1
    counters = stats()
    assert (counters["submitted"], counters["deduplicated"], counters["uploaded"]) == (1, 3, 1)


def test_url_images_are_recorded_unchanged(
    media_tracing: MediaTracing, receiver: OtlpReceiver, fake_openai: FakeOpenAI
) -> None:
    fake_openai.json(CHAT_PATH, chat_completion())
    url = "https://images.example.com/photos/cat.png?size=large&v=2"
    fake_openai.client().chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url, "detail": "low"}}]}],
    )
    span = media_tracing.span()
    assert media_parts(span) == [{"type": "uri", "modality": "image", "uri": url}]
    assert receiver.media_puts == []
    assert stats()["submitted"] == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_capture_off_detects_and_uploads_nothing(
    provider: str, receiver: OtlpReceiver, big_png: Media, fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    tracing = start_tracing(receiver, capture_content=False)
    send_image(provider, big_png.b64, fake_openai, fake_anthropic)

    span = tracing.span()
    assert gen_ai.GEN_AI_INPUT_MESSAGES not in span.attributes
    assert not any(isinstance(v, str) and "media" in v for v in span.attributes.values())
    assert_no_base64_exported(receiver, big_png)
    assert fallom_otel.flush(5_000)
    assert receiver.media_puts == []
    assert all(value == 0 for value in stats().values())


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_slow_media_endpoint_adds_no_latency(
    provider: str,
    media_tracing: MediaTracing,
    receiver: OtlpReceiver,
    big_png: Media,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
) -> None:
    # Warm the SDK (first-call imports and client set-up) with a URL image, so the timed call measures the media path.
    send_image(provider, "aGVsbG8=", fake_openai, fake_anthropic)
    assert fallom_otel.flush(5_000)
    receiver.media_delay = 3.0  # every PUT hangs for 3 s

    started = time.perf_counter()
    send_image(provider, big_png.b64, fake_openai, fake_anthropic)
    elapsed = time.perf_counter() - started

    assert elapsed < 1.0, f"the call took {elapsed:.3f} s with a 3 s media endpoint"
    spans = media_tracing.spans(2)
    assert f"/v1/media/{big_png.sha256}" in str(media_parts(spans[1]))
    receiver.media_delay = 0.0


def test_a_dead_media_endpoint_adds_no_latency_and_raises_nothing(
    receiver: OtlpReceiver, big_png: Media, fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, monkeypatch
) -> None:
    from fallom_otel._media._queue import QUEUE

    monkeypatch.setattr(QUEUE, "backoff_base", 0.01)
    monkeypatch.setattr(QUEUE, "backoff_cap", 0.02)
    start_tracing(receiver)
    send_image("chat", "aGVsbG8=", fake_openai, fake_anthropic)  # warm up
    assert fallom_otel.flush(5_000)
    QUEUE.reset_stats()
    receiver.stop()  # spans and media: connection refused

    started = time.perf_counter()
    for provider in PROVIDERS:
        send_image(provider, big_png.b64, fake_openai, fake_anthropic)
    elapsed = time.perf_counter() - started

    assert elapsed < 2.0, f"three calls took {elapsed:.3f} s with the media endpoint down"
    assert _media.flush(10.0)  # spans have their own (dead) backend: wait for the uploads alone
    counters = stats()
    # Every upload failed for good after its retries. A repeat sent while the first was still being retried is
    # de-duplicated; one sent after the final failure tries again (a failed id is forgotten).
    assert counters["submitted"] + counters["deduplicated"] == len(PROVIDERS)
    assert counters["dropped_failed"] == counters["submitted"] >= 1, counters
    assert counters["retries"] == counters["submitted"] * (QUEUE.max_attempts - 1)
    assert counters["uploaded"] == 0
