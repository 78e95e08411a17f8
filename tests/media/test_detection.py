"""Every place inline media can appear, requests and responses, through the real SDK clients: each becomes an
uploaded ``uri`` part (or, for what is not base64, stays as it was), and no base64 byte is exported."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from fallom_otel._media import stats
from fallom_otel_instrumentors._content import _decode_base64, _decoded_size, sniff_mime_type
from fallom_otel_semconv import gen_ai
from tests.instrumentors.anthropic.conftest import FakeAnthropic
from tests.instrumentors.anthropic.conftest import sse as anthropic_sse
from tests.instrumentors.openai.conftest import FakeOpenAI, sse
from tests.media._wire import CHAT_PATH, MESSAGES_PATH, RESPONSES_PATH, chat_completion, message, response
from tests.media.conftest import Media, MediaTracing, media_of, media_parts, png
from tests.otlp_receiver import OtlpReceiver

PDF = media_of(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" + bytes(range(256)) * 8 + b"%%EOF\n")
WAV = media_of(b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00" + bytes(2048))


@pytest.fixture
def image() -> Media:
    return media_of(png(24, 24, seed=42))


def source(mime_type: str, item: Media) -> dict[str, Any]:
    return {"type": "base64", "media_type": mime_type, "data": item.b64}


def uploaded(receiver: OtlpReceiver, *media: Media) -> None:
    for item in media:
        assert receiver.media[item.sha256][0] == item.data
    exported = b"".join(r.body for r in receiver.trace_requests)
    for item in media:
        assert item.b64[:64].encode() not in exported and item.b64[-64:].encode() not in exported


def uri_of(receiver: OtlpReceiver, item: Media) -> str:
    return f"{receiver.url}/v1/media/{item.sha256}"


def test_chat_request_image_audio_and_files(
    media_tracing: MediaTracing, receiver: OtlpReceiver, fake_openai: FakeOpenAI, image: Media
) -> None:
    fake_openai.json(CHAT_PATH, chat_completion())
    urlsafe_unpadded = base64.urlsafe_b64encode(image.data).decode().rstrip("=")
    content: Any = [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{urlsafe_unpadded}"}},
        {"type": "input_audio", "input_audio": {"data": WAV.b64, "format": "wav"}},
        {"type": "file", "file": {"filename": "a.pdf", "file_data": f"data:application/pdf;base64,{PDF.b64}"}},
        {"type": "file", "file": {"filename": "b.pdf", "file_data": PDF.b64}},  # bare base64: type sniffed
    ]
    fake_openai.client().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": content}])

    assert media_parts(media_tracing.span()) == [
        {"type": "uri", "modality": "image", "uri": uri_of(receiver, image), "mime_type": "image/png"},
        {"type": "uri", "modality": "audio", "uri": uri_of(receiver, WAV), "mime_type": "audio/wav"},
        {"type": "uri", "modality": "document", "uri": uri_of(receiver, PDF), "mime_type": "application/pdf"},
        {"type": "uri", "modality": "document", "uri": uri_of(receiver, PDF), "mime_type": "application/pdf"},
    ]
    uploaded(receiver, image, WAV, PDF)
    assert len(receiver.media_puts) == 3


def test_chat_response_audio(media_tracing: MediaTracing, receiver: OtlpReceiver, fake_openai: FakeOpenAI) -> None:
    audio = {"id": "audio_abc123", "data": WAV.b64, "expires_at": 1729018505, "transcript": "Hello there."}
    fake_openai.json(CHAT_PATH, chat_completion({"role": "assistant", "content": None, "audio": audio}))
    fake_openai.client().chat.completions.create(
        model="gpt-4o-audio-preview",
        modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "wav"},
        messages=[{"role": "user", "content": "Say hello."}],
    )
    span = media_tracing.span()
    assert json.loads(span.attributes[gen_ai.GEN_AI_OUTPUT_MESSAGES])[0]["parts"] == [
        {"type": "uri", "modality": "audio", "uri": uri_of(receiver, WAV), "mime_type": "audio/wav"},
        {"type": "text", "content": "Hello there."},
    ]
    uploaded(receiver, WAV)


def test_responses_request_and_tool_output_and_generated_image(
    media_tracing: MediaTracing, receiver: OtlpReceiver, fake_openai: FakeOpenAI, image: Media
) -> None:
    generated = media_of(png(20, 20, seed=7))
    fake_openai.json(
        RESPONSES_PATH,
        response(
            [
                {
                    "type": "image_generation_call",
                    "id": "ig_68a1c2f9d0f0819ba0b4d3c6a1d6a7b1",
                    "status": "completed",
                    "result": generated.b64,
                    "output_format": "png",
                }
            ]
        ),
    )
    fake_openai.client().responses.create(
        model="gpt-4.1",
        tools=[{"type": "image_generation"}],
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_image", "image_url": f"data:image/png;base64,{image.b64}", "detail": "auto"},
                    {"type": "input_file", "filename": "c.pdf", "file_data": f"data:application/pdf;base64,{PDF.b64}"},
                ],
            },
            {"type": "function_call", "call_id": "call_1", "name": "screenshot", "arguments": "{}"},
            {
                "type": "function_call_output",
                "call_id": "call_1",
                "output": [{"type": "input_image", "image_url": f"data:image/png;base64,{generated.b64}"}],
            },
        ],
    )
    span = media_tracing.span()
    assert media_parts(span) == [
        {"type": "uri", "modality": "image", "uri": uri_of(receiver, image), "mime_type": "image/png"},
        {"type": "uri", "modality": "document", "uri": uri_of(receiver, PDF), "mime_type": "application/pdf"},
        {"type": "uri", "modality": "image", "uri": uri_of(receiver, generated), "mime_type": "image/png"},
    ]
    assert media_parts(span, gen_ai.GEN_AI_OUTPUT_MESSAGES) == [
        {"type": "uri", "modality": "image", "uri": uri_of(receiver, generated), "mime_type": "image/png"}
    ]
    uploaded(receiver, image, PDF, generated)
    assert stats()["deduplicated"] == 1  # the generated image: once in the tool output, once in the response


def test_anthropic_images_documents_and_tool_results(
    media_tracing: MediaTracing, receiver: OtlpReceiver, fake_anthropic: FakeAnthropic, image: Media
) -> None:
    fetched = media_of(b"%PDF-1.4\n" + bytes(range(200)) + b"\n%%EOF")
    fake_anthropic.json(
        MESSAGES_PATH,
        message(
            {
                "type": "web_fetch_tool_result",
                "tool_use_id": "srvtoolu_01",
                "content": {
                    "type": "web_fetch_result",
                    "url": "https://example.com/paper.pdf",
                    "content": {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": fetched.b64},
                    },
                },
            },
            {"type": "text", "text": "Both show noise."},
        ),
    )
    conversation: Any = [
        {
            "role": "user",
            "content": [
                {"type": "document", "source": source("application/pdf", PDF)},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            ],
        },
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "shot", "input": {}}]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [
                        {"type": "text", "text": "screenshot:"},
                        {"type": "image", "source": source("image/png", image)},
                    ],
                }
            ],
        },
    ]
    fake_anthropic.client().messages.create(model="claude-sonnet-4-5", max_tokens=256, messages=conversation)
    span = media_tracing.span()
    assert media_parts(span) == [
        {"type": "uri", "modality": "document", "uri": uri_of(receiver, PDF), "mime_type": "application/pdf"},
        {"type": "uri", "modality": "image", "uri": "https://example.com/cat.jpg"},
        {"type": "uri", "modality": "image", "uri": uri_of(receiver, image), "mime_type": "image/png"},
    ]
    assert media_parts(span, gen_ai.GEN_AI_OUTPUT_MESSAGES) == [
        {"type": "uri", "modality": "document", "uri": uri_of(receiver, fetched), "mime_type": "application/pdf"}
    ]
    uploaded(receiver, PDF, image, fetched)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 1000, 1001, 1002])
def test_base64_is_decoded_tolerantly(size: int) -> None:
    data = bytes((i * 7 + 3) % 256 for i in range(size))
    standard = base64.b64encode(data).decode()
    urlsafe = base64.urlsafe_b64encode(data).decode()
    wrapped = "\n".join(standard[i : i + 76] for i in range(0, len(standard), 76))
    for text in (standard, standard.rstrip("="), urlsafe, urlsafe.rstrip("="), wrapped, f"  {standard}\r\n"):
        assert _decode_base64(text) == data
    assert _decoded_size(standard) == _decoded_size(standard.rstrip("=")) == size
    assert _decode_base64("not*base64!") is None


def test_mime_types_are_sniffed_when_not_declared(image: Media) -> None:
    assert [sniff_mime_type(x.data) for x in (image, PDF, WAV)] == ["image/png", "application/pdf", "audio/wav"]
    assert sniff_mime_type(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert sniff_mime_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_mime_type(b"plain text") == ""


def test_responses_stream_generated_image(
    media_tracing: MediaTracing, receiver: OtlpReceiver, fake_openai: FakeOpenAI
) -> None:
    generated = media_of(png(18, 18, seed=9))
    item = {
        "type": "image_generation_call",
        "id": "ig_68a1c2f9d0f0819ba0b4d3c6a1d6a7b2",
        "status": "completed",
        "result": generated.b64,
        "output_format": "png",
    }
    started = {**response([]), "status": "in_progress"}
    events = [
        {"type": "response.created", "sequence_number": 0, "response": started},
        {"type": "response.output_item.done", "sequence_number": 1, "output_index": 0, "item": item},
        {"type": "response.completed", "sequence_number": 2, "response": response([item])},
    ]
    fake_openai.stream(RESPONSES_PATH, sse(events, done=False))
    stream = fake_openai.client().responses.create(
        model="gpt-4.1", tools=[{"type": "image_generation"}], input="Draw noise.", stream=True
    )
    assert [event.type for event in stream][-1] == "response.completed"

    span = media_tracing.span()
    assert media_parts(span, gen_ai.GEN_AI_OUTPUT_MESSAGES) == [
        {"type": "uri", "modality": "image", "uri": uri_of(receiver, generated), "mime_type": "image/png"}
    ]
    uploaded(receiver, generated)


def test_anthropic_stream_server_tool_result_document(
    media_tracing: MediaTracing, receiver: OtlpReceiver, fake_anthropic: FakeAnthropic
) -> None:
    fetched = media_of(b"%PDF-1.5\n" + bytes(range(255, 0, -1)) + b"\n%%EOF")
    start = {**message(), "content": [], "stop_reason": None, "usage": {"input_tokens": 12, "output_tokens": 1}}
    block = {
        "type": "web_fetch_tool_result",
        "tool_use_id": "srvtoolu_02",
        "content": {
            "type": "web_fetch_result",
            "url": "https://example.com/a.pdf",
            "content": {"type": "document", "source": source("application/pdf", fetched)},
        },
    }
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": block},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 5}},
        {"type": "message_stop"},
    ]
    fake_anthropic.stream(MESSAGES_PATH, anthropic_sse(events))
    with fake_anthropic.client().messages.stream(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "Fetch it."}]
    ) as stream:
        stream.until_done()

    span = media_tracing.span()
    assert media_parts(span, gen_ai.GEN_AI_OUTPUT_MESSAGES) == [
        {"type": "uri", "modality": "document", "uri": uri_of(receiver, fetched), "mime_type": "application/pdf"}
    ]
    uploaded(receiver, fetched)
