"""Anthropic ``messages.create`` (non-streamed), end to end.

Real ``anthropic`` clients send through the SDK's own MockTransport to hand-written ``Message`` bodies; the
instrumented SDK exports over OTLP/HTTP to the loopback receiver, and the tests read what the receiver decoded.
Where a result is compared with "the bare client", the bare call runs on the same bytes *before* the instrumentor is
installed (the patches are class-level, so no client is bare while they are on).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Awaitable
from typing import Any

import anthropic
import pytest
from opentelemetry import trace

import fallom_otel
from fallom_otel_semconv import SCHEMA_URL, common, gen_ai
from tests.instrumentors.anthropic.conftest import (
    BASE_URL,
    COUNT_TOKENS_PATH,
    MESSAGES_PATH,
    NATIVE_SCOPE_NAME,
    NATIVE_TRACING,
    NO_NATIVE_TRACING_REASON,
    SCOPE_NAME,
    FakeAnthropic,
    Tracing,
    instrumented,
    sdk_http,
    sse,
)
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

MODEL = "claude-sonnet-4-5"
RESPONSE_MODEL = "claude-sonnet-4-5-20250929"
MESSAGE_ID = "msg_01HcYq7pTnW3vBm8Ke2RzXaD"
SPAN_NAME = f"{gen_ai.GenAiOperationNameValues.CHAT.value} {MODEL}"

CONTENT_KEYS = (
    gen_ai.GEN_AI_INPUT_MESSAGES,
    gen_ai.GEN_AI_OUTPUT_MESSAGES,
    gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS,
    gen_ai.GEN_AI_TOOL_DEFINITIONS,
)
STOP = gen_ai.FinishReasonValues.STOP.value
LENGTH = gen_ai.FinishReasonValues.LENGTH.value
TOOL_CALL = gen_ai.FinishReasonValues.TOOL_CALL.value


# --- hand-written bodies (the documented Message shape) -----------------------------------------------------------


def usage_body(
    input_tokens: int = 1_210,
    output_tokens: int = 87,
    *,
    cache_read: int | None = 2_048,
    cache_write: int | None = 512,
) -> dict[str, Any]:
    """``usage`` of a Message: ``input_tokens`` excludes the cache reads and writes, reported on their own."""
    usage: dict[str, Any] = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        "cache_creation": None
        if cache_write is None
        else {"ephemeral_5m_input_tokens": cache_write, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }
    return usage


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def tool_use_block(block_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": block_id, "name": name, "input": arguments}


def thinking_block(thinking: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": thinking, "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pk"}


def message_body(
    *content: dict[str, Any],
    stop_reason: str | None = "end_turn",
    stop_sequence: str | None = None,
    message_id: str = MESSAGE_ID,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": RESPONSE_MODEL,
        "content": list(content),
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage if usage is not None else usage_body(),
    }


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


WEATHER_TOOL: Any = {
    "name": "get_weather",
    "description": "Get the current weather in a given location.",
    "input_schema": {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city and country, e.g. Lyon, France"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location"],
    },
}


def tool_body() -> dict[str, Any]:
    return message_body(
        text_block("I'll look up the weather in Lyon."),
        tool_use_block(
            "toolu_01Gq4rLwE1kxyF5bNcx8Uo2T", "get_weather", {"location": "Lyon, France", "unit": "celsius"}
        ),
        stop_reason="tool_use",
    )


# --- helpers --------------------------------------------------------------------------------------------------


def messages_of(span: ReceivedSpan, key: str) -> Any:
    value = span.attributes[key]
    assert isinstance(value, str)
    # Compact JSON, UTF-8 kept as is.
    assert value == json.dumps(json.loads(value), separators=(",", ":"), ensure_ascii=False)
    return json.loads(value)


def span_id_hex(span_id: int) -> str:
    return format(span_id, "016x")


def make_client(fake: FakeAnthropic, is_async: bool) -> anthropic.Anthropic | anthropic.AsyncAnthropic:
    return fake.async_client() if is_async else fake.client()


async def resolve(value: Any) -> Any:
    """Await ``value`` when the async client returned an awaitable."""
    if isinstance(value, Awaitable):
        return await value
    return value


def user(text: str) -> Any:  # Any: the SDK types messages as TypedDict unions
    return {"role": "user", "content": text}


def text_message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def text_output(text: str, finish_reason: str) -> list[dict[str, Any]]:
    return [{"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": finish_reason}]


def traceparent_span_id(headers: Any) -> str:
    version, _trace_id, span_id, _flags = headers["traceparent"].split("-")
    assert version == "00"
    return str(span_id)


def exported_genai_spans(receiver: OtlpReceiver) -> list[ReceivedSpan]:
    return [s for s in receiver.spans if gen_ai.GEN_AI_PROVIDER_NAME in s.attributes]


# --- the exact span of a plain call ----------------------------------------------------------------------------


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_create_records_exactly_the_span_contract(
    tracing: Tracing, fake_anthropic: FakeAnthropic, is_async: bool
) -> None:
    fake_anthropic.json(MESSAGES_PATH, message_body(text_block("Eleven is prime."), stop_reason="end_turn"))
    client = make_client(fake_anthropic, is_async)

    response = await resolve(
        client.messages.create(
            model=MODEL,
            max_tokens=1_024,
            system="You are terse.",
            messages=[user("Name a prime number above ten.")],
            stop_sequences=["\n\nHuman:", "END"],
        )
    )

    assert response.content[0].text == "Eleven is prime."
    span = tracing.span()
    assert span.name == SPAN_NAME
    assert span.kind == "CLIENT"
    assert span.status_code == "UNSET"
    assert span.scope_name == SCOPE_NAME
    assert span.scope_schema_url == SCHEMA_URL
    assert span.events == []
    attributes = dict(span.attributes)
    assert messages_of(span, gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS) == [{"type": "text", "content": "You are terse."}]
    assert messages_of(span, gen_ai.GEN_AI_INPUT_MESSAGES) == [text_message("user", "Name a prime number above ten.")]
    assert messages_of(span, gen_ai.GEN_AI_OUTPUT_MESSAGES) == text_output("Eleven is prime.", STOP)
    for key in (gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS, gen_ai.GEN_AI_INPUT_MESSAGES, gen_ai.GEN_AI_OUTPUT_MESSAGES):
        del attributes[key]
    assert attributes == {
        gen_ai.GEN_AI_OPERATION_NAME: gen_ai.GenAiOperationNameValues.CHAT.value,
        gen_ai.GEN_AI_PROVIDER_NAME: gen_ai.GenAiProviderNameValues.ANTHROPIC.value,
        gen_ai.GEN_AI_REQUEST_MODEL: MODEL,
        common.SERVER_ADDRESS: "llm.test",
        common.SERVER_PORT: 80,
        gen_ai.GEN_AI_REQUEST_MAX_TOKENS: 1_024,
        gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES: ["\n\nHuman:", "END"],
        gen_ai.GEN_AI_RESPONSE_ID: MESSAGE_ID,
        gen_ai.GEN_AI_RESPONSE_MODEL: RESPONSE_MODEL,
        gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: [STOP],
        # Billed input: 1_210 uncached + 2_048 cache reads + 512 cache writes.
        gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 1_210 + 2_048 + 512,
        gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: 87,
        gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 2_048,
        gen_ai.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 512,
    }


def test_server_address_and_port_come_from_the_base_url(tracing: Tracing, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.json(MESSAGES_PATH, message_body(text_block("ok")))
    http = sdk_http()
    client = anthropic.Anthropic(
        api_key="sk-ant-test-secret",
        base_url="https://gateway.example.com:8443/anthropic",
        max_retries=0,
        http_client=http.Client(
            transport=http.MockTransport(lambda request: fake_anthropic.routes[MESSAGES_PATH](request, {}))
        ),
    )

    client.messages.create(model=MODEL, max_tokens=16, messages=[user("hi")])

    span = tracing.span()
    assert span.attributes[common.SERVER_ADDRESS] == "gateway.example.com"
    assert span.attributes[common.SERVER_PORT] == 8443


def test_sampling_parameters_sent_in_the_body_are_recorded(tracing: Tracing, fake_anthropic: FakeAnthropic) -> None:
    # anthropic 2.x dropped the typed ``temperature`` / ``top_p`` / ``top_k`` keywords; applications still send
    # them in the request body, and what was sent is what the span describes.
    fake_anthropic.json(MESSAGES_PATH, message_body(text_block("ok")))

    fake_anthropic.client().messages.create(
        model=MODEL,
        max_tokens=64,
        messages=[user("hi")],
        extra_body={"temperature": 0.3, "top_p": 0.85, "top_k": 40},
    )

    assert fake_anthropic.requests[0]["temperature"] == 0.3
    attributes = tracing.span().attributes
    assert attributes[gen_ai.GEN_AI_REQUEST_TEMPERATURE] == 0.3
    assert attributes[gen_ai.GEN_AI_REQUEST_TOP_P] == 0.85
    assert attributes[gen_ai.GEN_AI_REQUEST_TOP_K] == 40


def test_defaults_leave_out_what_was_not_sent(tracing: Tracing, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.json(
        MESSAGES_PATH,
        message_body(text_block("Hi."), usage=usage_body(25, 4, cache_read=None, cache_write=None)),
    )

    fake_anthropic.client().messages.create(model=MODEL, max_tokens=32, messages=[user("Hi")])

    attributes = tracing.span().attributes
    for absent in (
        gen_ai.GEN_AI_REQUEST_TEMPERATURE,
        gen_ai.GEN_AI_REQUEST_TOP_P,
        gen_ai.GEN_AI_REQUEST_TOP_K,
        gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES,
        gen_ai.GEN_AI_REQUEST_STREAM,
        gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS,
        gen_ai.GEN_AI_TOOL_DEFINITIONS,
        gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,  # null: not reported, never guessed
        gen_ai.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
    ):
        assert absent not in attributes, absent
    assert attributes[gen_ai.GEN_AI_REQUEST_MAX_TOKENS] == 32
    assert attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 25
    assert attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 4


@pytest.mark.parametrize(
    ("stop_reason", "stop_sequence", "expected"),
    [
        ("end_turn", None, STOP),
        ("max_tokens", None, LENGTH),
        ("tool_use", None, TOOL_CALL),
        ("stop_sequence", "END", STOP),
    ],
    ids=["end_turn", "max_tokens", "tool_use", "stop_sequence"],
)
def test_finish_reasons_are_mapped(
    tracing: Tracing, fake_anthropic: FakeAnthropic, stop_reason: str, stop_sequence: str | None, expected: str
) -> None:
    content = [text_block("The answer is")]
    if stop_reason == "tool_use":
        content.append(tool_use_block("toolu_01A09q90qw90lq917835lq9", "get_weather", {"location": "Oslo"}))
    fake_anthropic.json(MESSAGES_PATH, message_body(*content, stop_reason=stop_reason, stop_sequence=stop_sequence))

    fake_anthropic.client().messages.create(
        model=MODEL, max_tokens=8, messages=[user("Say something")], stop_sequences=["END"], tools=[WEATHER_TOOL]
    )

    span = tracing.span()
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == [expected]
    [output] = messages_of(span, gen_ai.GEN_AI_OUTPUT_MESSAGES)
    assert output["role"] == "assistant"
    assert output["finish_reason"] == expected


def test_usage_counts_cache_reads_and_writes_into_the_input(tracing: Tracing, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.json(
        MESSAGES_PATH, message_body(text_block("cached"), usage=usage_body(3, 120, cache_read=0, cache_write=48_000))
    )

    fake_anthropic.client().messages.create(model=MODEL, max_tokens=256, messages=[user("Summarise the book.")])

    attributes = tracing.span().attributes
    assert attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 3 + 48_000
    assert attributes[gen_ai.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 48_000
    assert attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 120
    assert gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS not in attributes  # the renamed key only


# --- content shapes -------------------------------------------------------------------------------------------

# A small but real PNG (8x8, one colour) plus padding, and a minimal PDF: their base64 must never be exported.
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000080000000808020000004b6d29dc"
    "0000001649444154789c63fcfffe3f0309300a46c1281805a3000070a4c9a31e2b0000000049454e44ae426082"
) + bytes((i * 7) % 256 for i in range(300))
PNG_B64 = base64.b64encode(PNG_BYTES).decode()
PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
) + bytes((i * 13) % 256 for i in range(400))
PDF_B64 = base64.b64encode(PDF_BYTES).decode()


def test_content_shapes_are_recorded_in_the_semconv_schema(
    tracing: Tracing, fake_anthropic: FakeAnthropic, receiver: OtlpReceiver
) -> None:
    fake_anthropic.json(
        MESSAGES_PATH,
        message_body(
            thinking_block("Lyon was 14 °C; compare with the image."),
            text_block("It is 14 °C and cloudy in Lyon."),
            stop_reason="end_turn",
        ),
    )
    system: Any = [
        {"type": "text", "text": "You are a weather assistant."},
        {"type": "text", "text": "Answer in Celsius.", "cache_control": {"type": "ephemeral"}},
    ]
    messages: list[Any] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these pictures, and the weather in Lyon?"},
                {"type": "image", "source": {"type": "url", "url": "https://images.example.com/lyon.png"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_B64},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {
                    "type": "thinking",
                    "thinking": "I need the weather tool.",
                    "signature": "EqQBCgIYAhIMzLoky3dl1pkQnQ7",
                },
                {
                    "type": "tool_use",
                    "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                    "name": "get_weather",
                    "input": {"location": "Lyon, France", "unit": "celsius"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                    "content": '{"temp_c": 14, "sky": "cloudy"}',
                }
            ],
        },
    ]

    fake_anthropic.client().messages.create(
        model=MODEL, max_tokens=2_048, system=system, messages=messages, tools=[WEATHER_TOOL]
    )

    span = tracing.span()
    assert messages_of(span, gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS) == [
        {"type": "text", "content": "You are a weather assistant."},
        {"type": "text", "content": "Answer in Celsius."},
    ]
    recorded = messages_of(span, gen_ai.GEN_AI_INPUT_MESSAGES)
    assert [m["role"] for m in recorded[:2]] == ["user", "assistant"]
    assert recorded[0]["parts"] == [
        {"type": "text", "content": "What is in these pictures, and the weather in Lyon?"},
        {"type": "uri", "modality": "image", "uri": "https://images.example.com/lyon.png"},
        {
            "type": "blob",
            "modality": "image",
            "mime_type": "image/png",
            "size": len(PNG_BYTES),
            "sha256": hashlib.sha256(PNG_BYTES).hexdigest(),
        },
        {
            "type": "blob",
            "modality": "document",
            "mime_type": "application/pdf",
            "size": len(PDF_BYTES),
            "sha256": hashlib.sha256(PDF_BYTES).hexdigest(),
        },
    ]
    assert recorded[1]["parts"] == [
        {"type": "reasoning", "content": "I need the weather tool."},
        {
            "type": "tool_call",
            "name": "get_weather",
            "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
            "arguments": {"location": "Lyon, France", "unit": "celsius"},
        },
    ]
    assert len(recorded) == 3
    # A tool result travels in a user turn; the semconv history may call that turn ``user`` or ``tool``.
    assert recorded[2]["role"] in (gen_ai.RoleValues.USER.value, gen_ai.RoleValues.TOOL.value)
    assert recorded[2]["parts"] == [
        {
            "type": "tool_call_response",
            "response": '{"temp_c": 14, "sky": "cloudy"}',
            "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
        }
    ]
    assert messages_of(span, gen_ai.GEN_AI_TOOL_DEFINITIONS) == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Get the current weather in a given location.",
            "parameters": WEATHER_TOOL["input_schema"],
        }
    ]
    assert messages_of(span, gen_ai.GEN_AI_OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "Lyon was 14 °C; compare with the image."},
                {"type": "text", "content": "It is 14 °C and cloudy in Lyon."},
            ],
            "finish_reason": STOP,
        }
    ]
    exported = receiver.all_bytes()
    for payload in (PNG_B64, PDF_B64):
        for piece in (payload, payload[:48], payload[-48:], payload[len(payload) // 2 : len(payload) // 2 + 48]):
            assert piece.encode() not in exported
    # The request itself was sent untouched: the provider still got the image and the document.
    sent = json.dumps(fake_anthropic.requests[0])
    assert PNG_B64 in sent
    assert PDF_B64 in sent


def test_tool_use_output_is_a_tool_call_with_an_arguments_object(
    tracing: Tracing, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.json(MESSAGES_PATH, tool_body())

    fake_anthropic.client().messages.create(
        model=MODEL, max_tokens=512, messages=[user("Weather in Lyon?")], tools=[WEATHER_TOOL]
    )

    span = tracing.span()
    assert messages_of(span, gen_ai.GEN_AI_OUTPUT_MESSAGES) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "I'll look up the weather in Lyon."},
                {
                    "type": "tool_call",
                    "name": "get_weather",
                    "id": "toolu_01Gq4rLwE1kxyF5bNcx8Uo2T",
                    "arguments": {"location": "Lyon, France", "unit": "celsius"},
                },
            ],
            "finish_reason": TOOL_CALL,
        }
    ]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_tool_loop_passing_back_the_sdk_content_blocks(
    tracing: Tracing, fake_anthropic: FakeAnthropic, is_async: bool
) -> None:
    answers = iter([tool_body(), message_body(text_block("Lyon: 14 °C."), message_id="msg_01LoopSecondTurn0000001")])
    fake_anthropic.routes[MESSAGES_PATH] = lambda request, body: sdk_http().Response(200, json=next(answers))
    client = make_client(fake_anthropic, is_async)
    history: list[Any] = [user("Weather in Lyon?")]

    first = await resolve(client.messages.create(model=MODEL, max_tokens=512, messages=history, tools=[WEATHER_TOOL]))
    # The SDK's own content block objects, as Anthropic's docs show.
    history.append({"role": "assistant", "content": first.content})
    history.append(
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_01Gq4rLwE1kxyF5bNcx8Uo2T", "content": "14"}],
        }
    )
    second = await resolve(client.messages.create(model=MODEL, max_tokens=512, messages=history, tools=[WEATHER_TOOL]))

    assert second.content[0].text == "Lyon: 14 °C."
    first_span, second_span = sorted(tracing.spans(2), key=lambda s: s.start_time_unix_nano)
    assert first_span.attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == [TOOL_CALL]
    recorded = messages_of(second_span, gen_ai.GEN_AI_INPUT_MESSAGES)
    assert recorded[0] == text_message("user", "Weather in Lyon?")
    assert recorded[1] == {
        "role": "assistant",
        "parts": [
            {"type": "text", "content": "I'll look up the weather in Lyon."},
            {
                "type": "tool_call",
                "name": "get_weather",
                "id": "toolu_01Gq4rLwE1kxyF5bNcx8Uo2T",
                "arguments": {"location": "Lyon, France", "unit": "celsius"},
            },
        ],
    }
    assert recorded[2]["parts"] == [
        {"type": "tool_call_response", "response": "14", "id": "toolu_01Gq4rLwE1kxyF5bNcx8Uo2T"}
    ]
    assert second_span.attributes[gen_ai.GEN_AI_RESPONSE_ID] == "msg_01LoopSecondTurn0000001"


# --- the caller gets exactly what the bare client returns -------------------------------------------------------


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_returned_objects_are_identical_to_the_bare_clients(receiver: OtlpReceiver, is_async: bool) -> None:
    fake = FakeAnthropic()
    fake.json(
        MESSAGES_PATH,
        message_body(thinking_block("Check the tool."), *tool_body()["content"], stop_reason="tool_use"),
    )

    async def call() -> Any:
        client = make_client(fake, is_async)
        return await resolve(
            client.messages.create(
                model=MODEL,
                max_tokens=2_048,
                messages=[user("Weather in Lyon?")],
                tools=[WEATHER_TOOL],
                thinking={"type": "enabled", "budget_tokens": 1_024},
            )
        )

    bare = await call()
    with instrumented(receiver) as tracing:
        traced = await call()
        tracing.span()

    assert traced.__class__ is bare.__class__ is anthropic.types.Message  # the SDK's own class, not a proxy
    assert traced.model_dump() == bare.model_dump()
    assert [block.__class__ for block in traced.content] == [block.__class__ for block in bare.content]
    assert traced == bare
    assert fake.requests[0] == fake.requests[1]


# --- the caller's arguments are never mutated --------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_caller_arguments_are_not_mutated(receiver: OtlpReceiver, stream: bool) -> None:
    from tests.instrumentors.anthropic.test_messages_stream import TEXT_STREAM

    fake = FakeAnthropic()
    if stream:
        fake.stream(MESSAGES_PATH, sse(TEXT_STREAM))
    else:
        fake.json(MESSAGES_PATH, tool_body())
    system: list[Any] = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    messages: list[Any] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Describe"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
            ],
        },
        {
            "role": "assistant",
            "content": [tool_use_block("toolu_01Mut8", "get_weather", {"location": "Bern"})],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01Mut8", "content": "12"}]},
    ]
    tools = [copy.deepcopy(WEATHER_TOOL)]
    extra_headers = {"X-Request-Tag": "abc-123"}
    kwargs: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 300,
        "system": system,
        "messages": messages,
        "tools": tools,
        "extra_headers": extra_headers,
    }
    if stream:
        kwargs["stream"] = True
    snapshot = copy.deepcopy(kwargs)

    def call() -> Any:
        result = fake.client().messages.create(**kwargs)
        return [(e.__class__, e.model_dump()) for e in result] if stream else (result.__class__, result.model_dump())

    bare = call()
    with instrumented(receiver) as tracing:
        traced = call()
        tracing.span()

    assert traced == bare
    assert kwargs == snapshot
    assert kwargs["messages"] is messages and messages == snapshot["messages"]
    assert kwargs["system"] is system and system == snapshot["system"]
    assert kwargs["tools"] is tools and tools == snapshot["tools"]
    assert kwargs["extra_headers"] is extra_headers and extra_headers == {"X-Request-Tag": "abc-123"}
    # Both calls sent the same body: nothing was injected into the request.
    assert fake.requests[0] == fake.requests[1]
    assert fake.headers[1]["x-request-tag"] == "abc-123"


# --- errors -------------------------------------------------------------------------------------------------------

ERROR_CASES = [
    pytest.param(
        400,
        error_body("invalid_request_error", 'messages: roles must alternate between "user" and "assistant"'),
        anthropic.BadRequestError,
        id="400",
    ),
    pytest.param(
        429,
        error_body("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
        anthropic.RateLimitError,
        id="429",
    ),
    pytest.param(500, error_body("api_error", "Internal server error"), anthropic.InternalServerError, id="500"),
    pytest.param(529, error_body("overloaded_error", "Overloaded"), anthropic.OverloadedError, id="529"),
]


def _outcome_of_error(error: BaseException) -> tuple[Any, ...]:
    return (type(error), str(error), getattr(error, "status_code", None), getattr(error, "body", None))


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(("status", "body", "error_class"), ERROR_CASES)
async def test_api_status_errors_mark_the_span_and_reach_the_caller_unchanged(
    receiver: OtlpReceiver, status: int, body: dict[str, Any], error_class: type[Exception], is_async: bool
) -> None:
    fake = FakeAnthropic()
    fake.json(MESSAGES_PATH, body, status=status)

    async def call() -> BaseException:
        client = make_client(fake, is_async)
        with pytest.raises(anthropic.APIStatusError) as raised:
            await resolve(client.messages.create(model=MODEL, max_tokens=64, messages=[user("Hello")]))
        return raised.value

    bare = await call()
    with instrumented(receiver) as tracing:
        traced = await call()
        span = tracing.span()

    assert type(bare) is error_class
    assert _outcome_of_error(traced) == _outcome_of_error(bare)
    assert span.name == SPAN_NAME
    assert span.status_code == "ERROR"
    assert span.attributes[common.ERROR_TYPE] == f"anthropic.{error_class.__name__}"
    assert span.attributes[gen_ai.GEN_AI_REQUEST_MODEL] == MODEL
    assert gen_ai.GEN_AI_OUTPUT_MESSAGES not in span.attributes
    assert gen_ai.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes


def test_connection_error_marks_the_span(tracing: Tracing) -> None:
    def refuse(request: Any) -> Any:
        raise sdk_http().ConnectError("connection refused", request=request)

    http = sdk_http()
    client = anthropic.Anthropic(
        api_key="sk-ant-test-secret",
        base_url=BASE_URL,
        max_retries=0,
        http_client=http.Client(transport=http.MockTransport(refuse)),
    )

    with pytest.raises(anthropic.APIConnectionError):
        client.messages.create(model=MODEL, max_tokens=64, messages=[user("Hello")])

    span = tracing.span()
    assert span.status_code == "ERROR"
    assert span.attributes[common.ERROR_TYPE] == "anthropic.APIConnectionError"


# --- content capture off ----------------------------------------------------------------------------------------

CANARY = "CANARY-a9Kp03-do-not-export"


def canary_request() -> dict[str, Any]:
    tools: list[Any] = [
        {
            "name": "lookup",
            "description": f"Look things up ({CANARY})",
            "input_schema": {"type": "object", "properties": {"query": {"type": "string", "description": CANARY}}},
        }
    ]
    messages: list[Any] = [
        {"role": "user", "content": [{"type": "text", "text": f"User text {CANARY}"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": f"thinking {CANARY}", "signature": "EqQBCgIYAhIMcanary"},
                tool_use_block("toolu_01Canary0", "lookup", {"query": CANARY}),
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01Canary0",
                    "content": [{"type": "text", "text": f"tool result {CANARY}"}],
                }
            ],
        },
    ]
    return {
        "model": MODEL,
        "max_tokens": 1_024,
        "system": [{"type": "text", "text": f"System prompt {CANARY}"}],
        "messages": messages,
        "tools": tools,
    }


def test_capture_off_exports_no_content_byte(tracing_no_content: Tracing, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.json(
        MESSAGES_PATH,
        message_body(
            thinking_block(f"Reasoning {CANARY}"),
            text_block(f"Sure, {CANARY}."),
            tool_use_block("toolu_01Canary1", "lookup", {"query": CANARY}),
            stop_reason="tool_use",
        ),
    )

    fake_anthropic.client().messages.create(**canary_request())

    span = tracing_no_content.span()
    for key in CONTENT_KEYS:
        assert key not in span.attributes, key
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_MODEL] == RESPONSE_MODEL
    assert span.attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 1_210 + 2_048 + 512
    assert span.attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 87
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == [TOOL_CALL]
    assert CANARY.encode() not in tracing_no_content.receiver.all_bytes()
    assert CANARY in json.dumps(fake_anthropic.requests[0])  # the request itself carried it


def test_capture_off_keeps_error_messages_out(tracing_no_content: Tracing, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.json(
        MESSAGES_PATH, error_body("invalid_request_error", f"messages.0.content: {CANARY} is not allowed"), status=400
    )

    with pytest.raises(anthropic.BadRequestError):
        fake_anthropic.client().messages.create(model=MODEL, max_tokens=64, messages=[user(CANARY)])

    span = tracing_no_content.span()
    assert span.status_code == "ERROR"
    assert span.attributes[common.ERROR_TYPE] == "anthropic.BadRequestError"
    assert CANARY.encode() not in tracing_no_content.receiver.all_bytes()


# --- exactly one GenAI span per call: the SDK's native span -------------------------------------------------------


@pytest.mark.skipif(not NATIVE_TRACING, reason=NO_NATIVE_TRACING_REASON)
def test_without_our_instrumentor_the_sdks_native_span_is_exported(
    receiver: OtlpReceiver, fake_anthropic: FakeAnthropic
) -> None:
    # Negative control: proves these tests can see a duplicate span when there is one.
    fake_anthropic.json(MESSAGES_PATH, message_body(text_block("ok")))
    fallom_otel.init(base_url=receiver.url, capture_content=True)

    fake_anthropic.client().messages.create(model=MODEL, max_tokens=16, messages=[user("hi")])

    [span] = Tracing(receiver).spans(1)
    assert span.scope_name == NATIVE_SCOPE_NAME
    assert span.kind == "CLIENT"
    assert span.attributes[gen_ai.GEN_AI_PROVIDER_NAME] == gen_ai.GenAiProviderNameValues.ANTHROPIC.value
    assert traceparent_span_id(fake_anthropic.headers[0]) == span.span_id


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_exactly_one_genai_span_and_the_traceparent_is_ours(
    tracing: Tracing, fake_anthropic: FakeAnthropic, is_async: bool, stream: bool
) -> None:
    from tests.instrumentors.anthropic.test_messages_stream import TEXT_STREAM

    if stream:
        fake_anthropic.stream(MESSAGES_PATH, sse(TEXT_STREAM))
    else:
        fake_anthropic.json(MESSAGES_PATH, message_body(text_block("ok")))
    client = make_client(fake_anthropic, is_async)

    result = await resolve(client.messages.create(model=MODEL, max_tokens=16, messages=[user("hi")], stream=stream))
    if stream:
        if is_async:
            [event async for event in result]
        else:
            list(result)

    # Exactly one span in total: ours, and no native SDK span beside it.
    span = tracing.span()
    assert span.scope_name == SCOPE_NAME
    assert span.name == SPAN_NAME
    assert exported_genai_spans(tracing.receiver) == [span]
    [headers] = fake_anthropic.headers
    if NATIVE_TRACING:
        assert traceparent_span_id(headers) == span.span_id
        assert headers["traceparent"].split("-")[1] == span.trace_id
    else:
        # Before anthropic 1.14 the SDK sends no traceparent of its own, and we inject none.
        assert "traceparent" not in headers


def test_app_span_is_the_parent(tracing: Tracing, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.json(MESSAGES_PATH, message_body(text_block("ok")))
    tracer = trace.get_tracer("tests.app")

    with tracer.start_as_current_span("handle-request") as app:
        fake_anthropic.client().messages.create(model=MODEL, max_tokens=16, messages=[user("hi")])
    fake_anthropic.client().messages.create(model=MODEL, max_tokens=16, messages=[user("hi again")])

    spans = [s for s in tracing.spans(3) if s.scope_name == SCOPE_NAME]
    assert len(spans) == 2
    inside, outside = sorted(spans, key=lambda s: s.start_time_unix_nano)
    assert inside.parent_span_id == span_id_hex(app.get_span_context().span_id)
    assert outside.parent_span_id is None
    assert not trace.get_current_span().get_span_context().is_valid


# --- other endpoints pass through -----------------------------------------------------------------------------------


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_count_tokens_passes_through_without_a_span(receiver: OtlpReceiver, is_async: bool) -> None:
    fake = FakeAnthropic()
    fake.json(COUNT_TOKENS_PATH, {"input_tokens": 2_095})

    async def call() -> Any:
        client = make_client(fake, is_async)
        return await resolve(
            client.messages.count_tokens(
                model=MODEL, system="You are terse.", messages=[user("Count me")], tools=[WEATHER_TOOL]
            )
        )

    bare = await call()
    with instrumented(receiver):
        traced = await call()
        assert fallom_otel.flush(5_000)

    assert traced.__class__ is bare.__class__
    assert traced.model_dump() == bare.model_dump() == {"input_tokens": 2_095}
    assert fake.requests[0] == fake.requests[1]
    assert [s for s in receiver.spans if s.scope_name == SCOPE_NAME] == []
    assert all(gen_ai.GEN_AI_OPERATION_NAME not in s.attributes for s in receiver.spans)
