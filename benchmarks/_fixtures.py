"""Realistic OpenAI traffic for the benchmarks, served in-process through the SDK's own ``MockTransport``.

Every body is built once, up front, so the fake server costs the same few microseconds per request in the bare and
the instrumented runs and the difference between them is the instrumentation. Nothing here touches the network.

- :data:`CHAT_KWARGS`: the request of every workload (system + user message, temperature, max tokens).
- :func:`chat_completion_body`: a ~1 KB ``chat.completion`` JSON body (content, usage with details, tier,
  fingerprint), the size of a typical short answer.
- :func:`chat_stream_body`: an SSE body of ``n`` ``chat.completion.chunk`` events, one word of content each.
- :func:`chunk_objects`: the same chunks as prebuilt ``ChatCompletionChunk`` models (for the stream-proxy micro).
- :func:`sync_client` / :func:`async_client`: real ``openai`` clients whose HTTP goes to a fixed response.
"""

from __future__ import annotations

import importlib
import json
from types import ModuleType
from typing import Any

import openai

__all__ = [
    "CHAT_KWARGS",
    "async_client",
    "chat_completion_body",
    "chat_stream_body",
    "chunk_objects",
    "sdk_http",
    "sync_client",
]

BASE_URL = "http://llm.test/v1"
MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
COMPLETION_ID = "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"
FINGERPRINT = "fp_0ba0d124f1"
CREATED = 1_741_569_952

# A prompt of a realistic size: a short system instruction and a ~250-character user question.
CHAT_KWARGS: dict[str, Any] = {
    "model": MODEL,
    "messages": [
        {"role": "system", "content": "You are a concise assistant for a travel booking site. Answer in English."},
        {
            "role": "user",
            "content": (
                "I am flying from Lisbon to Tokyo next month with a stop in Frankfurt. How long should I allow for "
                "the connection, do I need to collect my checked bag in Frankfurt, and what should I know about "
                "arriving at Narita late in the evening?"
            ),
        },
    ],
    "temperature": 0.2,
    "max_tokens": 256,
}

# ~600 characters of answer: together with the envelope the JSON body is about 1 KB.
ANSWER = (
    "Allow at least 90 minutes in Frankfurt: the Schengen exit passport check can queue at peak times. On a single "
    "ticket your bag is checked through to Tokyo, so you do not collect it in Frankfurt; on separate tickets you "
    "must collect it, clear customs and check in again, which needs three hours or more. Narita's last trains to "
    "central Tokyo leave shortly after 22:30; after that, the limousine bus or a taxi are the options, and a taxi "
    "costs around 25,000 yen. Have some cash in yen, and keep the hotel address written in Japanese for the driver."
)


def sdk_http() -> ModuleType:
    """The HTTP library the installed SDK sends through: ``httpx2`` for openai 3.x, ``httpx`` for older releases."""
    base = importlib.import_module("openai._base_client")
    module: ModuleType = getattr(base, "httpx2", None) or importlib.import_module("httpx")
    return module


def chat_completion_body() -> bytes:
    """A ``chat.completion`` response of about 1 KB, with usage details, service tier and fingerprint."""
    payload = {
        "id": COMPLETION_ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": RESPONSE_MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 71,
            "completion_tokens": 128,
            "total_tokens": 199,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    return json.dumps(payload).encode()


def _chunk_payloads(count: int) -> list[dict[str, Any]]:
    """``count`` chunk payloads: a role chunk, ``count - 2`` one-word content chunks, a finish chunk."""
    words = ANSWER.split()
    envelope = {
        "id": COMPLETION_ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": RESPONSE_MODEL,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {**envelope, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    payloads = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    payloads += [chunk({"content": words[i % len(words)] + " "}, None) for i in range(count - 2)]
    payloads.append(chunk({}, "stop"))
    return payloads


def chat_stream_body(count: int) -> bytes:
    """An SSE body of ``count`` chunks followed by ``[DONE]``, as the API sends a streamed chat completion."""
    events = [f"data: {json.dumps(p)}\n\n" for p in _chunk_payloads(count)]
    return ("".join(events) + "data: [DONE]\n\n").encode()


def chunk_objects(count: int) -> list[Any]:
    """``count`` prebuilt ``ChatCompletionChunk`` models (validated once, outside any timed region)."""
    from openai.types.chat import ChatCompletionChunk

    return [ChatCompletionChunk.model_validate(p) for p in _chunk_payloads(count)]


def _responder(body: bytes, content_type: str) -> Any:
    http = sdk_http()
    headers = {"content-type": content_type}

    def respond(request: Any) -> Any:
        # The request is not parsed: the fake server's cost stays a constant few microseconds per call.
        return http.Response(200, content=body, headers=headers)

    return respond


def _content_type(stream_chunks: int | None) -> tuple[bytes, str]:
    if stream_chunks is None:
        return chat_completion_body(), "application/json"
    return chat_stream_body(stream_chunks), "text/event-stream"


def sync_client(stream_chunks: int | None = None) -> openai.OpenAI:
    """An ``OpenAI`` client answering every request with the 1 KB completion, or a stream of ``stream_chunks``."""
    http = sdk_http()
    body, content_type = _content_type(stream_chunks)
    return openai.OpenAI(
        api_key="sk-bench",
        base_url=BASE_URL,
        max_retries=0,
        http_client=http.Client(transport=http.MockTransport(_responder(body, content_type))),
    )


def async_client(stream_chunks: int | None = None) -> openai.AsyncOpenAI:
    """The ``AsyncOpenAI`` counterpart of :func:`sync_client`."""
    http = sdk_http()
    body, content_type = _content_type(stream_chunks)
    return openai.AsyncOpenAI(
        api_key="sk-bench",
        base_url=BASE_URL,
        max_retries=0,
        http_client=http.AsyncClient(transport=http.MockTransport(_responder(body, content_type))),
    )


# --- Anthropic Messages ------------------------------------------------------------------------------------------

ANTHROPIC_BASE_URL = "http://llm.test"
ANTHROPIC_MODEL = "claude-sonnet-4-5"
ANTHROPIC_RESPONSE_MODEL = "claude-sonnet-4-5-20250929"
MESSAGE_ID = "msg_01XFDUDYJgAACzvnptvVoYEL"

# The same conversation as :data:`CHAT_KWARGS`, in the Messages API's shape (the system prompt is its own field;
# anthropic 2.x's ``messages.create`` takes no ``temperature``).
MESSAGES_KWARGS: dict[str, Any] = {
    "model": ANTHROPIC_MODEL,
    "system": CHAT_KWARGS["messages"][0]["content"],
    "messages": [CHAT_KWARGS["messages"][1]],
    "max_tokens": 256,
}


def _anthropic_usage(output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": 71,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
        "server_tool_use": None,
    }


def message_body() -> bytes:
    """A ``Message`` response of about 1 KB: one text block, ``end_turn``, usage with cache fields and tier."""
    payload = {
        "id": MESSAGE_ID,
        "type": "message",
        "role": "assistant",
        "model": ANTHROPIC_RESPONSE_MODEL,
        "content": [{"type": "text", "text": ANSWER}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(128),
    }
    return json.dumps(payload).encode()


def _event_payloads(deltas: int) -> list[dict[str, Any]]:
    """A streamed message with ``deltas`` one-word ``content_block_delta`` events, framed as the API frames it.

    ``message_start``, ``content_block_start``, the deltas, ``content_block_stop``, ``message_delta`` (stop reason,
    cumulative output tokens), ``message_stop``: ``deltas + 5`` events.
    """
    words = ANSWER.split()
    start = {
        "type": "message_start",
        "message": {
            "id": MESSAGE_ID,
            "type": "message",
            "role": "assistant",
            "model": ANTHROPIC_RESPONSE_MODEL,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _anthropic_usage(1),
        },
    }
    payloads: list[dict[str, Any]] = [
        start,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    payloads += [
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": words[i % len(words)] + " "},
        }
        for i in range(deltas)
    ]
    payloads += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": deltas},
        },
        {"type": "message_stop"},
    ]
    return payloads


def message_stream_body(deltas: int) -> bytes:
    """The SSE body of a streamed message (named events, ``event:`` then ``data:``), as the API sends it."""
    return "".join(f"event: {p['type']}\ndata: {json.dumps(p)}\n\n" for p in _event_payloads(deltas)).encode()


def event_objects(deltas: int) -> list[Any]:
    """The events of :func:`message_stream_body` as prebuilt ``Raw*Event`` models (for the stream-proxy micro)."""
    from anthropic.types import (
        RawContentBlockDeltaEvent,
        RawContentBlockStartEvent,
        RawContentBlockStopEvent,
        RawMessageDeltaEvent,
        RawMessageStartEvent,
        RawMessageStopEvent,
    )

    models: dict[str, Any] = {
        "message_start": RawMessageStartEvent,
        "content_block_start": RawContentBlockStartEvent,
        "content_block_delta": RawContentBlockDeltaEvent,
        "content_block_stop": RawContentBlockStopEvent,
        "message_delta": RawMessageDeltaEvent,
        "message_stop": RawMessageStopEvent,
    }
    return [models[p["type"]].model_validate(p) for p in _event_payloads(deltas)]


def _anthropic_http() -> ModuleType:
    base = importlib.import_module("anthropic._base_client")
    module: ModuleType = getattr(base, "httpx2", None) or importlib.import_module("httpx")
    return module


def _anthropic_transport(stream_deltas: int | None) -> Any:
    http = _anthropic_http()
    if stream_deltas is None:
        body, content_type = message_body(), "application/json"
    else:
        body, content_type = message_stream_body(stream_deltas), "text/event-stream"
    headers = {"content-type": content_type}

    def respond(request: Any) -> Any:
        return http.Response(200, content=body, headers=headers)

    return http.MockTransport(respond)


def anthropic_sync_client(stream_deltas: int | None = None) -> Any:
    """An ``Anthropic`` client answering every request with the 1 KB message, or a stream of ``stream_deltas``."""
    import anthropic

    http = _anthropic_http()
    return anthropic.Anthropic(
        api_key="sk-ant-bench",
        base_url=ANTHROPIC_BASE_URL,
        max_retries=0,
        http_client=http.Client(transport=_anthropic_transport(stream_deltas)),
    )


def anthropic_async_client(stream_deltas: int | None = None) -> Any:
    """The ``AsyncAnthropic`` counterpart of :func:`anthropic_sync_client`."""
    import anthropic

    http = _anthropic_http()
    return anthropic.AsyncAnthropic(
        api_key="sk-ant-bench",
        base_url=ANTHROPIC_BASE_URL,
        max_retries=0,
        http_client=http.AsyncClient(transport=_anthropic_transport(stream_deltas)),
    )
