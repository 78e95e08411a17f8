"""Chat completions (``create`` / ``parse``), end to end.

Real ``openai`` clients send through the SDK's own MockTransport to hand-written ``chat.completion`` bodies; the
instrumented SDK exports over OTLP/HTTP to the loopback receiver, and the tests read what the receiver decoded.
Where a result is compared with "the bare client", the bare call runs on the same bytes *before* the instrumentor is
installed (the patches are class-level, so no client is bare while they are on).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import openai
import pydantic
import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace

import fallom_otel
from fallom_otel_instrumentors import activate_call_tracing
from fallom_otel_instrumentors._safety import RERAISE_ENV
from fallom_otel_instrumentors.openai import OpenAIInstrumentor, _chat
from fallom_otel_semconv import SCHEMA_URL, common, gen_ai
from fallom_otel_semconv import openai as openai_keys
from tests.instrumentors.openai.conftest import FakeOpenAI, Tracing, sdk_http, sse
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

CHAT_PATH = "/v1/chat/completions"
MODEL = "gpt-4o"
RESPONSE_MODEL = "gpt-4o-2024-08-06"
CREATED = 1_733_011_200
FINGERPRINT = "fp_f9f4fb6dbf"

CONTENT_KEYS = (
    gen_ai.GEN_AI_INPUT_MESSAGES,
    gen_ai.GEN_AI_OUTPUT_MESSAGES,
    gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS,
    gen_ai.GEN_AI_TOOL_DEFINITIONS,
)


# --- hand-written response bodies (the documented chat.completion shape) ----------------------------------------


def usage_body(prompt: int = 1_117, completion: int = 452, cached: int = 1_024, reasoning: int = 256) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def assistant_message(content: str | None, *, tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None, "annotations": []}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return message


def tool_call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def choice(index: int, message: dict[str, Any], finish_reason: str) -> dict[str, Any]:
    return {"index": index, "message": message, "logprobs": None, "finish_reason": finish_reason}


def completion_body(
    *choices: dict[str, Any],
    response_id: str = "chatcmpl-AZ3kq9Xw1TfYb7LmN2pQrS4uV6wX8",
    usage: dict[str, Any] | None = None,
    service_tier: str = "default",
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": CREATED,
        "model": RESPONSE_MODEL,
        "choices": list(choices),
        "usage": usage if usage is not None else usage_body(),
        "service_tier": service_tier,
        "system_fingerprint": FINGERPRINT,
    }


def chunk_body(*choices: dict[str, Any], usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-AZ4stream0Rr8Yy1Zz2Aa3Bb4Cc",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": RESPONSE_MODEL,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
        "choices": list(choices),
        "usage": usage,
    }


def delta_choice(finish_reason: str | None = None, **delta: Any) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


TEXT_STREAM = [
    chunk_body(delta_choice(role="assistant", content="", refusal=None)),
    chunk_body(delta_choice(content="Seven")),
    chunk_body(delta_choice(content=" is prime.")),
    chunk_body(delta_choice("stop")),
    chunk_body(usage=usage_body(prompt=19, completion=4, cached=0, reasoning=0)),
]

SERVER_ERROR = {
    "error": {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}


def respond_stream(fake: FakeOpenAI, events: list[dict[str, Any]], *, done: bool = True) -> None:
    fake.stream(CHAT_PATH, sse(events, done=done))


# --- helpers --------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def instrumented(receiver: OtlpReceiver, *, capture_content: bool = True) -> Iterator[Tracing]:
    """Process-wide tracing to ``receiver``, as the ``tracing`` fixture, but entered after the bare calls."""
    fallom_otel.init(base_url=receiver.url, capture_content=capture_content)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider(), capture_content=capture_content)
    try:
        yield Tracing(receiver)
    finally:
        instrumentor.uninstrument()


def messages_of(span: ReceivedSpan, key: str) -> Any:
    value = span.attributes[key]
    assert isinstance(value, str)
    # Compact JSON, UTF-8 kept as is.
    assert value == json.dumps(json.loads(value), separators=(",", ":"), ensure_ascii=False)
    return json.loads(value)


def dump(model: pydantic.BaseModel) -> dict[str, Any]:
    # ``ParsedChatCompletion[T]`` declares ``parsed`` loosely: pydantic warns when dumping the parsed object.
    return model.model_dump(warnings=False)


def span_id_hex(span_id: int) -> str:
    return format(span_id, "016x")


def make_client(fake: FakeOpenAI, is_async: bool) -> openai.OpenAI | openai.AsyncOpenAI:
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


WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


# --- the exact span of a plain call ----------------------------------------------------------------------------


@pytest.mark.parametrize("limit_kwarg", ["max_tokens", "max_completion_tokens"])
def test_create_records_exactly_the_span_contract(tracing: Tracing, fake_openai: FakeOpenAI, limit_kwarg: str) -> None:
    fake_openai.json(
        CHAT_PATH,
        completion_body(
            choice(0, assistant_message("Seven."), "stop"),
            choice(1, assistant_message("Eleven is a"), "length"),
            service_tier="priority",
        ),
    )
    messages: list[Any] = [{"role": "system", "content": "You are terse."}, user("Name a prime number.")]
    limit: dict[str, Any] = {limit_kwarg: 256}

    response = fake_openai.client().chat.completions.create(
        model=MODEL,
        messages=messages,
        temperature=0.2,
        top_p=0.9,
        seed=42,
        stop=["\n\n", "END"],
        frequency_penalty=0.5,
        presence_penalty=-0.25,
        n=2,
        service_tier="priority",
        **limit,
    )

    assert response.choices[1].message.content == "Eleven is a"
    span = tracing.span()
    assert span.name == "chat gpt-4o"
    assert span.kind == "CLIENT"
    assert span.status_code == "UNSET"
    assert span.scope_name == "fallom_otel_instrumentors.openai"
    assert span.scope_schema_url == SCHEMA_URL
    assert span.events == []
    attributes = dict(span.attributes)
    assert messages_of(span, gen_ai.GEN_AI_INPUT_MESSAGES) == [
        text_message("system", "You are terse."),
        text_message("user", "Name a prime number."),
    ]
    assert messages_of(span, gen_ai.GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Seven."}], "finish_reason": "stop"},
        {"role": "assistant", "parts": [{"type": "text", "content": "Eleven is a"}], "finish_reason": "length"},
    ]
    del attributes[gen_ai.GEN_AI_INPUT_MESSAGES], attributes[gen_ai.GEN_AI_OUTPUT_MESSAGES]
    assert attributes == {
        gen_ai.GEN_AI_OPERATION_NAME: gen_ai.GenAiOperationNameValues.CHAT.value,
        gen_ai.GEN_AI_PROVIDER_NAME: gen_ai.GenAiProviderNameValues.OPENAI.value,
        gen_ai.GEN_AI_REQUEST_MODEL: MODEL,
        common.SERVER_ADDRESS: "llm.test",
        common.SERVER_PORT: 80,
        gen_ai.GEN_AI_REQUEST_TEMPERATURE: 0.2,
        gen_ai.GEN_AI_REQUEST_TOP_P: 0.9,
        gen_ai.GEN_AI_REQUEST_MAX_TOKENS: 256,
        gen_ai.GEN_AI_REQUEST_SEED: 42,
        gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES: ["\n\n", "END"],
        gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY: 0.5,
        gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY: -0.25,
        gen_ai.GEN_AI_REQUEST_CHOICE_COUNT: 2,
        openai_keys.OPENAI_API_TYPE: openai_keys.OpenAiApiTypeValues.CHAT_COMPLETIONS.value,
        openai_keys.OPENAI_REQUEST_SERVICE_TIER: "priority",
        gen_ai.GEN_AI_RESPONSE_ID: "chatcmpl-AZ3kq9Xw1TfYb7LmN2pQrS4uV6wX8",
        gen_ai.GEN_AI_RESPONSE_MODEL: RESPONSE_MODEL,
        gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: ["stop", "length"],
        openai_keys.OPENAI_RESPONSE_SERVICE_TIER: "priority",
        openai_keys.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: FINGERPRINT,
        gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 1_117,
        gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: 452,
        gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1_024,
        gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 256,
    }


def test_defaults_leave_out_what_was_not_sent(tracing: Tracing, fake_openai: FakeOpenAI) -> None:
    body = completion_body(choice(0, assistant_message("Hi."), "stop"))
    body["usage"]["prompt_tokens_details"] = None  # a null details object is read defensively
    body["usage"]["completion_tokens_details"] = None
    fake_openai.json(CHAT_PATH, body)

    fake_openai.client().chat.completions.create(model=MODEL, messages=[user("Hi")], n=1, service_tier="auto")

    attributes = tracing.span().attributes
    for absent in (
        gen_ai.GEN_AI_REQUEST_TEMPERATURE,
        gen_ai.GEN_AI_REQUEST_TOP_P,
        gen_ai.GEN_AI_REQUEST_MAX_TOKENS,
        gen_ai.GEN_AI_REQUEST_SEED,
        gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES,
        gen_ai.GEN_AI_REQUEST_CHOICE_COUNT,  # n == 1
        gen_ai.GEN_AI_REQUEST_STREAM,
        gen_ai.GEN_AI_OUTPUT_TYPE,
        openai_keys.OPENAI_REQUEST_SERVICE_TIER,  # "auto" is the default
        gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    ):
        assert absent not in attributes, absent
    assert attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 1_117
    assert attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 452


# --- content shapes -------------------------------------------------------------------------------------------

# A small but real PNG (8x8, one colour) and a WAV header with a few samples: their base64 must never be exported.
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000080000000808020000004b6d29dc"
    "0000001649444154789c63fcfffe3f0309300a46c1281805a3000070a4c9a31e2b0000000049454e44ae426082"
) + bytes(range(256))
PNG_B64 = base64.b64encode(PNG_BYTES).decode()
WAV_BYTES = b"RIFF$\x01\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80>\x00\x00\x00}\x00\x00\x02\x00\x10\x00data"
WAV_BYTES += bytes((i * 37) % 256 for i in range(512))
WAV_B64 = base64.b64encode(WAV_BYTES).decode()


def test_content_shapes_are_recorded_in_the_semconv_schema(
    tracing: Tracing, fake_openai: FakeOpenAI, receiver: OtlpReceiver
) -> None:
    fake_openai.json(CHAT_PATH, completion_body(choice(0, assistant_message("It is 18 °C in Paris."), "stop")))
    messages: list[Any] = [
        {"role": "system", "content": "You are a weather assistant."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in Celsius."}]},
        {
            "role": "user",
            "name": "ana",
            "content": [
                {"type": "text", "text": "What is in these pictures?"},
                {"type": "image_url", "image_url": {"url": "https://images.example.com/cat.png", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}", "detail": "high"}},
            ],
        },
        {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": WAV_B64, "format": "wav"}}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [tool_call("call_kV3p", "get_weather", {"city": "Paris", "unit": "celsius"})],
        },
        {"role": "tool", "tool_call_id": "call_kV3p", "content": '{"temp_c": 18, "sky": "clear"}'},
    ]

    fake_openai.client().chat.completions.create(
        model=MODEL,
        messages=messages,
        tools=[WEATHER_TOOL],
    )

    span = tracing.span()
    assert messages_of(span, gen_ai.GEN_AI_INPUT_MESSAGES) == [
        text_message("system", "You are a weather assistant."),
        text_message("developer", "Answer in Celsius."),
        {
            "role": "user",
            "name": "ana",
            "parts": [
                {"type": "text", "content": "What is in these pictures?"},
                {"type": "uri", "modality": "image", "uri": "https://images.example.com/cat.png"},
                {
                    "type": "blob",
                    "modality": "image",
                    "mime_type": "image/png",
                    "size": len(PNG_BYTES),
                    "sha256": hashlib.sha256(PNG_BYTES).hexdigest(),
                },
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "type": "blob",
                    "modality": "audio",
                    "mime_type": "audio/wav",
                    "size": len(WAV_BYTES),
                    "sha256": hashlib.sha256(WAV_BYTES).hexdigest(),
                }
            ],
        },
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "name": "get_weather",
                    "id": "call_kV3p",
                    "arguments": {"city": "Paris", "unit": "celsius"},
                }
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "response": '{"temp_c": 18, "sky": "clear"}', "id": "call_kV3p"}],
        },
    ]
    assert messages_of(span, gen_ai.GEN_AI_TOOL_DEFINITIONS) == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": WEATHER_TOOL["function"]["parameters"],
        }
    ]
    assert messages_of(span, gen_ai.GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "It is 18 °C in Paris."}], "finish_reason": "stop"}
    ]
    exported = receiver.all_bytes()
    for payload in (PNG_B64, WAV_B64):
        for piece in (payload, payload[:48], payload[-48:]):
            assert piece.encode() not in exported
    # The request itself was sent untouched: the provider still got the image and the audio.
    sent = json.dumps(fake_openai.requests[0])
    assert PNG_B64 in sent
    assert WAV_B64 in sent


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_tool_loop_passing_back_the_sdk_message_object(
    tracing: Tracing, fake_openai: FakeOpenAI, is_async: bool
) -> None:
    answers = iter(
        [
            completion_body(
                choice(
                    0,
                    assistant_message(
                        None,
                        tool_calls=[
                            tool_call("call_Qm1", "get_weather", {"city": "Oslo", "unit": "celsius"}),
                            tool_call("call_Qm2", "get_weather", {"city": "Lima", "unit": "celsius"}),
                        ],
                    ),
                    "tool_calls",
                ),
                response_id="chatcmpl-loop1",
            ),
            completion_body(
                choice(0, assistant_message("Oslo is colder than Lima."), "stop"), response_id="chatcmpl-loop2"
            ),
        ]
    )
    fake_openai.routes[CHAT_PATH] = lambda request, body: sdk_http().Response(200, json=next(answers))
    client = make_client(fake_openai, is_async)
    history: list[Any] = [user("Which is colder, Oslo or Lima?")]

    first = await resolve(client.chat.completions.create(model=MODEL, messages=history, tools=[WEATHER_TOOL]))
    message = first.choices[0].message
    assert isinstance(message, pydantic.BaseModel)
    history.append(message)  # the pydantic object itself, as the OpenAI docs show
    history.append({"role": "tool", "tool_call_id": "call_Qm1", "content": "-3"})
    history.append({"role": "tool", "tool_call_id": "call_Qm2", "content": "19"})
    second = await resolve(client.chat.completions.create(model=MODEL, messages=history, tools=[WEATHER_TOOL]))

    assert second.choices[0].message.content == "Oslo is colder than Lima."
    first_span, second_span = sorted(tracing.spans(2), key=lambda s: s.start_time_unix_nano)
    calls = [
        {
            "type": "tool_call",
            "name": "get_weather",
            "id": "call_Qm1",
            "arguments": {"city": "Oslo", "unit": "celsius"},
        },
        {
            "type": "tool_call",
            "name": "get_weather",
            "id": "call_Qm2",
            "arguments": {"city": "Lima", "unit": "celsius"},
        },
    ]
    assert messages_of(first_span, gen_ai.GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": calls, "finish_reason": gen_ai.FinishReasonValues.TOOL_CALL.value}
    ]
    assert first_span.attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == [gen_ai.FinishReasonValues.TOOL_CALL.value]
    assert messages_of(second_span, gen_ai.GEN_AI_INPUT_MESSAGES) == [
        text_message("user", "Which is colder, Oslo or Lima?"),
        {"role": "assistant", "parts": calls},
        {"role": "tool", "parts": [{"type": "tool_call_response", "response": "-3", "id": "call_Qm1"}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "response": "19", "id": "call_Qm2"}]},
    ]
    assert second_span.attributes[gen_ai.GEN_AI_RESPONSE_ID] == "chatcmpl-loop2"


class Forecast(pydantic.BaseModel):
    city: str
    high_c: float
    conditions: list[str]


FORECAST_JSON = '{"city":"Lisbon","high_c":24.5,"conditions":["sunny","breezy"]}'


def forecast_body() -> dict[str, Any]:
    return completion_body(choice(0, assistant_message(FORECAST_JSON), "stop"), response_id="chatcmpl-parse1")


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_parse_with_a_pydantic_response_format(receiver: OtlpReceiver, is_async: bool) -> None:
    fake = FakeOpenAI()
    fake.json(CHAT_PATH, forecast_body())

    async def call() -> Any:
        client = make_client(fake, is_async)
        return await resolve(
            client.chat.completions.parse(model=MODEL, messages=[user("Forecast for Lisbon")], response_format=Forecast)
        )

    bare = await call()
    with instrumented(receiver) as tracing:
        traced = await call()
        span = tracing.span()

    assert type(traced) is type(bare)
    assert dump(traced) == dump(bare)
    assert isinstance(traced.choices[0].message.parsed, Forecast)
    assert traced.choices[0].message.parsed == Forecast(city="Lisbon", high_c=24.5, conditions=["sunny", "breezy"])
    assert fake.requests[0] == fake.requests[1]
    assert span.name == "chat gpt-4o"
    assert span.attributes[gen_ai.GEN_AI_OUTPUT_TYPE] == gen_ai.GenAiOutputTypeValues.JSON.value
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_ID] == "chatcmpl-parse1"
    assert messages_of(span, gen_ai.GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": FORECAST_JSON}], "finish_reason": "stop"}
    ]


@pytest.mark.parametrize(
    ("response_format", "expected"),
    [
        ({"type": "json_object"}, gen_ai.GenAiOutputTypeValues.JSON.value),
        (
            {"type": "json_schema", "json_schema": {"name": "forecast", "schema": Forecast.model_json_schema()}},
            gen_ai.GenAiOutputTypeValues.JSON.value,
        ),
        ({"type": "text"}, gen_ai.GenAiOutputTypeValues.TEXT.value),
    ],
    ids=["json_object", "json_schema", "text"],
)
def test_create_response_format_sets_the_output_type(
    tracing: Tracing, fake_openai: FakeOpenAI, response_format: Any, expected: str
) -> None:
    fake_openai.json(CHAT_PATH, forecast_body())
    fake_openai.client().chat.completions.create(
        model=MODEL,
        messages=[user("Forecast for Lisbon")],
        response_format=response_format,
    )
    assert tracing.span().attributes[gen_ai.GEN_AI_OUTPUT_TYPE] == expected


# --- the caller gets exactly what the bare client returns -------------------------------------------------------


def _tool_body() -> dict[str, Any]:
    return completion_body(
        choice(
            0,
            assistant_message(
                "Let me check.", tool_calls=[tool_call("call_Zz9", "get_weather", {"city": "Rome", "unit": "celsius"})]
            ),
            "tool_calls",
        )
    )


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("method", ["create", "parse"])
async def test_returned_objects_are_identical_to_the_bare_clients(
    receiver: OtlpReceiver, method: str, is_async: bool
) -> None:
    fake = FakeOpenAI()
    fake.json(CHAT_PATH, _tool_body())

    async def call() -> Any:
        client = make_client(fake, is_async)
        function = getattr(client.chat.completions, method)
        return await resolve(function(model=MODEL, messages=[user("Weather in Rome?")], tools=[WEATHER_TOOL]))

    bare = await call()
    with instrumented(receiver) as tracing:
        traced = await call()
        tracing.span()

    assert type(traced) is type(bare)  # the SDK's own class, not a proxy
    assert dump(traced) == dump(bare)
    assert traced.choices[0].message == bare.choices[0].message
    assert fake.requests[0] == fake.requests[1]


# --- content capture off ----------------------------------------------------------------------------------------

CANARY = "CANARY-q7Zx41-do-not-export"


def test_capture_off_exports_no_content_byte(tracing_no_content: Tracing, fake_openai: FakeOpenAI) -> None:
    fake_openai.json(
        CHAT_PATH,
        completion_body(
            choice(
                0,
                assistant_message(
                    f"Sure, {CANARY}.",
                    tool_calls=[tool_call("call_c1", "lookup", {"query": CANARY})],
                ),
                "tool_calls",
            )
        ),
    )
    tools: list[Any] = [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": f"Look things up ({CANARY})",
                "parameters": {"type": "object", "properties": {"query": {"type": "string", "description": CANARY}}},
            },
        }
    ]
    messages: list[Any] = [
        {"role": "system", "content": f"System prompt {CANARY}"},
        {"role": "user", "content": [{"type": "text", "text": f"User text {CANARY}"}]},
        {"role": "assistant", "content": None, "tool_calls": [tool_call("call_c0", "lookup", {"query": CANARY})]},
        {"role": "tool", "tool_call_id": "call_c0", "content": f"tool result {CANARY}"},
    ]

    fake_openai.client().chat.completions.create(model=MODEL, messages=messages, tools=tools)

    span = tracing_no_content.span()
    for key in CONTENT_KEYS:
        assert key not in span.attributes, key
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_MODEL] == RESPONSE_MODEL
    assert span.attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 1_117
    assert span.attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 452
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == [gen_ai.FinishReasonValues.TOOL_CALL.value]
    assert CANARY.encode() not in tracing_no_content.receiver.all_bytes()


def test_capture_off_keeps_error_messages_out(tracing_no_content: Tracing, fake_openai: FakeOpenAI) -> None:
    fake_openai.json(
        CHAT_PATH,
        {
            "error": {
                "message": f"Invalid 'messages[0].content': {CANARY} is not allowed.",
                "type": "invalid_request_error",
                "param": "messages",
                "code": None,
            }
        },
        status=400,
    )

    with pytest.raises(openai.BadRequestError):
        fake_openai.client().chat.completions.create(model=MODEL, messages=[user(CANARY)])

    span = tracing_no_content.span()
    assert span.status_code == "ERROR"
    assert span.attributes[common.ERROR_TYPE] == "openai.BadRequestError"
    assert CANARY.encode() not in tracing_no_content.receiver.all_bytes()


def test_capture_off_stream_exports_no_content_byte(tracing_no_content: Tracing, fake_openai: FakeOpenAI) -> None:
    respond_stream(
        fake_openai,
        [
            chunk_body(delta_choice(role="assistant", content="")),
            chunk_body(delta_choice(content=f"streamed {CANARY}")),
            chunk_body(
                delta_choice(
                    tool_calls=[
                        {
                            "index": 0,
                            "id": "call_s1",
                            "type": "function",
                            "function": {"name": "lookup", "arguments": json.dumps({"q": CANARY})},
                        }
                    ]
                )
            ),
            chunk_body(delta_choice("tool_calls")),
        ],
    )

    stream: Any = fake_openai.client().chat.completions.create(model=MODEL, messages=[user(CANARY)], stream=True)
    assert CANARY in "".join(c.choices[0].delta.content or "" for c in stream)

    span = tracing_no_content.span()
    for key in CONTENT_KEYS:
        assert key not in span.attributes, key
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == [gen_ai.FinishReasonValues.TOOL_CALL.value]
    assert CANARY.encode() not in tracing_no_content.receiver.all_bytes()


# --- the caller's arguments are never mutated --------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_caller_arguments_are_not_mutated(receiver: OtlpReceiver, stream: bool) -> None:
    fake = FakeOpenAI()
    if stream:
        respond_stream(fake, TEXT_STREAM)
    else:
        fake.json(CHAT_PATH, _tool_body())
    messages: list[Any] = [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Describe"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
            ],
        },
        {"role": "assistant", "content": None, "tool_calls": [tool_call("call_m1", "get_weather", {"city": "Bern"})]},
        {"role": "tool", "tool_call_id": "call_m1", "content": "12"},
    ]
    tools = [copy.deepcopy(WEATHER_TOOL)]
    extra_headers = {"X-Request-Tag": "abc-123"}
    stream_options = {"include_usage": True}
    kwargs: dict[str, Any] = {
        "model": MODEL,
        "messages": messages,
        "tools": tools,
        "temperature": 0.3,
        "extra_headers": extra_headers,
    }
    if stream:
        kwargs.update(stream=True, stream_options=stream_options)
    snapshot = copy.deepcopy(kwargs)

    def call() -> Any:
        result = fake.client().chat.completions.create(**kwargs)
        return [c.model_dump() for c in result] if stream else result.model_dump()

    bare = call()
    with instrumented(receiver) as tracing:
        traced = call()
        tracing.span()

    assert traced == bare
    assert kwargs == snapshot
    assert kwargs["messages"] is messages and messages == snapshot["messages"]
    assert kwargs["tools"] is tools and tools == snapshot["tools"]
    assert kwargs["extra_headers"] is extra_headers and extra_headers == {"X-Request-Tag": "abc-123"}
    assert stream_options == {"include_usage": True}
    # Both calls sent the same body: nothing was injected into the request.
    assert fake.requests[0] == fake.requests[1]


def test_caller_headers_reach_the_server_unchanged(tracing: Tracing, fake_openai: FakeOpenAI) -> None:
    seen: list[Any] = []

    def respond(request: Any, body: dict[str, Any]) -> Any:
        seen.append(request.headers)
        return sdk_http().Response(200, json=_tool_body())

    fake_openai.routes[CHAT_PATH] = respond
    extra_headers = {"X-Request-Tag": "abc-123"}
    fake_openai.client().chat.completions.create(model=MODEL, messages=[user("x")], extra_headers=extra_headers)

    tracing.span()
    assert seen[0]["x-request-tag"] == "abc-123"
    assert extra_headers == {"X-Request-Tag": "abc-123"}


# --- context: the span is current during the HTTP call; parents and siblings --------------------------------------


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_span_is_current_during_the_http_call(tracing: Tracing, fake_openai: FakeOpenAI, is_async: bool) -> None:
    current: list[trace.SpanContext] = []

    def respond(request: Any, body: dict[str, Any]) -> Any:
        current.append(trace.get_current_span().get_span_context())
        return sdk_http().Response(200, json=_tool_body())

    fake_openai.routes[CHAT_PATH] = respond
    client = make_client(fake_openai, is_async)
    await resolve(client.chat.completions.create(model=MODEL, messages=[user("x")]))

    span = tracing.span()
    [seen] = current
    assert seen.is_valid
    assert span_id_hex(seen.span_id) == span.span_id
    assert format(seen.trace_id, "032x") == span.trace_id
    # ... and no longer current once the call returned.
    assert not trace.get_current_span().get_span_context().is_valid


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_app_span_is_the_parent_and_sequential_calls_are_siblings(
    tracing: Tracing, fake_openai: FakeOpenAI, is_async: bool
) -> None:
    fake_openai.json(CHAT_PATH, _tool_body())
    client = make_client(fake_openai, is_async)
    tracer = trace.get_tracer("tests.app")

    with tracer.start_as_current_span("handle-request") as app:
        await resolve(client.chat.completions.create(model=MODEL, messages=[user("one")]))
        await resolve(client.chat.completions.create(model=MODEL, messages=[user("two")]))
    await resolve(client.chat.completions.create(model=MODEL, messages=[user("three")]))
    await resolve(client.chat.completions.create(model=MODEL, messages=[user("four")]))

    spans = [s for s in tracing.spans(5) if s.name == "chat gpt-4o"]  # fallom-owned provider: app span too
    app_id = span_id_hex(app.get_span_context().span_id)
    app_trace = format(app.get_span_context().trace_id, "032x")
    by_prompt = {messages_of(s, gen_ai.GEN_AI_INPUT_MESSAGES)[0]["parts"][0]["content"]: s for s in spans}
    one, two, three, four = (by_prompt[k] for k in ("one", "two", "three", "four"))
    assert one.parent_span_id == two.parent_span_id == app_id
    assert one.trace_id == two.trace_id == app_trace
    assert three.parent_span_id is None and four.parent_span_id is None
    assert three.trace_id != four.trace_id != app_trace


# --- fault injection: an instrumentation failure never changes what the caller gets -------------------------------

FAULTS: dict[str, tuple[Any, str]] = {
    "ChatEndpoint.start": (_chat.ChatEndpoint, "start"),
    "ChatEndpoint.finish": (_chat.ChatEndpoint, "finish"),
    "record_completion": (_chat, "record_completion"),
    "ChatStreamAccumulator.add": (_chat.ChatStreamAccumulator, "add"),
    "ChatStreamAccumulator.finish": (_chat.ChatStreamAccumulator, "finish"),
}


def _outcome_of_error(error: BaseException) -> tuple[Any, ...]:
    return (
        "raised",
        type(error),
        str(error),
        getattr(error, "status_code", None),
        getattr(error, "body", None),
    )


def _create(client: Any, **extra: Any) -> Any:
    return client.chat.completions.create(model=MODEL, messages=[user("Weather in Rome?")], **extra)


async def _surface_create(client: Any) -> tuple[Any, ...]:
    result = await resolve(_create(client, tools=[WEATHER_TOOL]))
    return ("ok", type(result), result.model_dump())


async def _surface_parse(client: Any) -> tuple[Any, ...]:
    result = await resolve(
        client.chat.completions.parse(model=MODEL, messages=[user("Forecast")], response_format=Forecast)
    )
    return ("ok", type(result), dump(result), result.choices[0].message.parsed)


async def _surface_stream(client: Any) -> tuple[Any, ...]:
    stream = await resolve(_create(client, stream=True, stream_options={"include_usage": True}))
    if isinstance(stream, openai.AsyncStream):
        chunks = [(type(c), c.model_dump()) async for c in stream]
    else:
        assert isinstance(stream, openai.Stream)
        chunks = [(type(c), c.model_dump()) for c in stream]
    return ("chunks", chunks)


async def _surface_stream_helper(client: Any) -> tuple[Any, ...]:
    manager = client.chat.completions.stream(model=MODEL, messages=[user("Prime?")])
    if isinstance(client, openai.AsyncOpenAI):
        async with manager as events:
            seen = [(e.type, e.model_dump()) async for e in events]
            final = await events.get_final_completion()
    else:
        with manager as events:
            seen = [(e.type, e.model_dump()) for e in events]
            final = events.get_final_completion()
    return ("events", seen, type(final), dump(final))


async def _surface_api_error(client: Any) -> tuple[Any, ...]:
    try:
        await resolve(_create(client))
    except openai.APIError as error:
        return _outcome_of_error(error)
    raise AssertionError("the API error was not raised")


async def _surface_stream_error(client: Any) -> tuple[Any, ...]:
    chunks: list[Any] = []
    try:
        stream = await resolve(_create(client, stream=True))
        if isinstance(stream, openai.AsyncStream):
            async for c in stream:
                chunks.append(c.model_dump())
        else:
            for c in stream:
                chunks.append(c.model_dump())
    except openai.APIError as error:
        return (*_outcome_of_error(error), chunks)
    raise AssertionError("the mid-stream error was not raised")


SURFACES: dict[str, tuple[Callable[[Any], Awaitable[tuple[Any, ...]]], Callable[[FakeOpenAI], None]]] = {
    "create": (_surface_create, lambda fake: fake.json(CHAT_PATH, _tool_body())),
    "parse": (_surface_parse, lambda fake: fake.json(CHAT_PATH, forecast_body())),
    "stream": (_surface_stream, lambda fake: respond_stream(fake, TEXT_STREAM)),
    "stream_helper": (_surface_stream_helper, lambda fake: respond_stream(fake, TEXT_STREAM)),
    "api_error": (
        _surface_api_error,
        lambda fake: fake.json(
            CHAT_PATH,
            {"error": {"message": "Rate limit reached", "type": "requests", "param": None, "code": "rate_limit"}},
            status=429,
        ),
    ),
    "stream_error": (
        _surface_stream_error,
        lambda fake: respond_stream(fake, [*TEXT_STREAM[:2], SERVER_ERROR], done=False),
    ),
}

# Which surfaces reach each fault point (a fault is only injected where it fires).
FAULT_SURFACES = {
    "ChatEndpoint.start": ["create", "parse", "stream", "stream_helper", "api_error", "stream_error"],
    "ChatEndpoint.finish": ["create", "parse", "stream", "stream_helper", "stream_error"],
    "record_completion": ["create", "parse"],
    "ChatStreamAccumulator.add": ["stream", "stream_helper", "stream_error"],
    "ChatStreamAccumulator.finish": ["stream", "stream_helper", "stream_error"],
}
FAULT_CASES = [
    pytest.param(fault, surface, is_async, id=f"{fault}-{surface}-{'async' if is_async else 'sync'}")
    for fault, surfaces in FAULT_SURFACES.items()
    for surface in surfaces
    for is_async in (False, True)
]


@pytest.mark.parametrize(("fault", "surface", "is_async"), FAULT_CASES)
async def test_fault_injection_leaves_the_caller_untouched(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch, fault: str, surface: str, is_async: bool
) -> None:
    monkeypatch.delenv(RERAISE_ENV)
    run, prepare = SURFACES[surface]
    fake = FakeOpenAI()
    prepare(fake)
    bare = await run(make_client(fake, is_async))

    fired: list[str] = []

    def broken(*args: Any, **kwargs: Any) -> Any:
        fired.append(fault)
        raise RuntimeError(f"injected fault in {fault}")

    owner, name = FAULTS[fault]
    with instrumented(receiver) as tracing:
        with monkeypatch.context() as patch:
            patch.setattr(owner, name, broken)
            traced = await run(make_client(fake, is_async))
        # Without a span there is nothing to end; with one, it still ends exactly once (with less data).
        spans = tracing.spans(0 if fault == "ChatEndpoint.start" else 1)

    assert fired, f"{fault} never ran on {surface}"
    assert traced == bare
    assert fake.requests[0] == fake.requests[1]
    for span in spans:
        assert span.name == "chat gpt-4o"
        # The error is on the span wherever the instrumentation still saw it (no proxy after a failed finish).
        sees_error = surface == "api_error" or (surface == "stream_error" and fault != "ChatEndpoint.finish")
        assert span.status_code == ("ERROR" if sees_error else "UNSET")


# --- session-only patches: no process-wide tracing ---------------------------------------------------------------


@pytest.fixture
def session_only_patches(receiver: OtlpReceiver) -> Iterator[OpenAIInstrumentor]:
    fallom_otel.init(base_url=receiver.url, capture_content=True)
    instrumentor = OpenAIInstrumentor()
    instrumentor.configure(tracer_provider=trace.get_tracer_provider(), capture_content=True)
    instrumentor.enable_for_sessions()
    try:
        yield instrumentor
    finally:
        instrumentor.disable_for_sessions()


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_session_only_patches_trace_only_flagged_calls(
    session_only_patches: OpenAIInstrumentor, receiver: OtlpReceiver, fake_openai: FakeOpenAI, is_async: bool
) -> None:
    fake_openai.json(CHAT_PATH, _tool_body())
    client = make_client(fake_openai, is_async)

    await resolve(client.chat.completions.create(model=MODEL, messages=[user("untraced")]))
    assert fallom_otel.flush(5_000)
    assert receiver.spans == []

    token = otel_context.attach(activate_call_tracing())
    try:
        await resolve(client.chat.completions.create(model=MODEL, messages=[user("traced")]))
    finally:
        otel_context.detach(token)
    await resolve(client.chat.completions.create(model=MODEL, messages=[user("untraced again")]))

    [span] = Tracing(receiver).spans(1)
    assert span.name == "chat gpt-4o"
    assert messages_of(span, gen_ai.GEN_AI_INPUT_MESSAGES) == [text_message("user", "traced")]


def test_prompt_cache_writes_are_recorded_when_reported(tracing: Tracing, fake_openai: FakeOpenAI) -> None:
    usage = usage_body(prompt=2_000, cached=0)
    usage["prompt_tokens_details"]["cache_write_tokens"] = 1_536
    fake_openai.json(CHAT_PATH, completion_body(choice(0, assistant_message("ok"), "stop"), usage=usage))
    with fake_openai.client() as client:
        client.chat.completions.create(model=MODEL, messages=[user("hi")])
    span = tracing.span()
    assert span.attributes[gen_ai.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 1_536
    assert span.attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 2_000  # writes are inside prompt_tokens already
    assert span.attributes[gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 0
