"""Embeddings and legacy completions, end to end: a real ``openai`` client over the SDK's MockTransport, spans
exported over OTLP/HTTP to the loopback receiver, each span's attributes compared exactly (sync and async)."""

from __future__ import annotations

import array
import base64
import inspect
import json
import math
from collections.abc import Callable
from typing import Any

import openai
import pytest

from fallom_otel_semconv import common, gen_ai
from fallom_otel_semconv import fallom as fallom_keys
from fallom_otel_semconv import openai as openai_keys
from fallom_otel_semconv.gen_ai import GenAiOperationNameValues, GenAiProviderNameValues
from tests.instrumentors.openai.conftest import FakeOpenAI, Tracing, sdk_http, sse
from tests.otlp_receiver import ReceivedSpan

MODES = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])

EMBEDDING_MODEL = "text-embedding-3-small"
INSTRUCT_MODEL = "gpt-3.5-turbo-instruct"
INSTRUCT_RESPONSE_MODEL = "gpt-3.5-turbo-instruct:20230824-v2"
EMBEDDINGS = GenAiOperationNameValues.EMBEDDINGS.value
TEXT_COMPLETION = GenAiOperationNameValues.TEXT_COMPLETION.value
CONTENT_KEYS = (gen_ai.GEN_AI_INPUT_MESSAGES, gen_ai.GEN_AI_OUTPUT_MESSAGES)
TIMING_KEYS = (gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, fallom_keys.FALLOM_TIME_TO_FIRST_TOKEN_MS)


# --- helpers --------------------------------------------------------------------------------------------------


def client_for(fake: FakeOpenAI, is_async: bool) -> Any:
    return fake.async_client() if is_async else fake.client()


async def call(client: Any, fn: Callable[[Any], Any]) -> Any:
    """Run ``fn(client)``, awaiting it for the async client."""
    result = fn(client)
    return await result if inspect.isawaitable(result) else result


async def drain(stream: Any) -> list[Any]:
    if hasattr(stream, "__aiter__"):
        return [chunk async for chunk in stream]
    return list(stream)


def request_attributes(operation: str, model: str, **extra: Any) -> dict[str, Any]:
    """The attributes every span of the fake client starts with, plus ``extra``."""
    return {
        gen_ai.GEN_AI_OPERATION_NAME: operation,
        gen_ai.GEN_AI_PROVIDER_NAME: GenAiProviderNameValues.OPENAI.value,
        gen_ai.GEN_AI_REQUEST_MODEL: model,
        common.SERVER_ADDRESS: "llm.test",
        common.SERVER_PORT: 80,
        **extra,
    }


def decoded(span: ReceivedSpan) -> dict[str, Any]:
    """The span's attributes with the JSON content attributes parsed (after checking they are compact JSON)."""
    attributes = dict(span.attributes)
    for key in CONTENT_KEYS:
        if key in attributes:
            value = attributes[key]
            assert value == json.dumps(json.loads(value), separators=(",", ":"), ensure_ascii=False)
            attributes[key] = json.loads(value)
    return attributes


def pop_timings(attributes: dict[str, Any]) -> None:
    """Remove the stream timings (non-deterministic) after checking they are sane."""
    ttfc = attributes.pop(gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
    ttft_ms = attributes.pop(fallom_keys.FALLOM_TIME_TO_FIRST_TOKEN_MS)
    assert isinstance(ttfc, float) and 0 < ttfc < 10
    assert isinstance(ttft_ms, float) and ttfc * 1000 <= ttft_ms < 10_000


def assert_client_span(span: ReceivedSpan, name: str) -> None:
    assert span.name == name
    assert span.kind == "CLIENT"
    assert span.status_code == "UNSET"
    assert span.events == []


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "parts": [{"type": "text", "content": text}]}


def assistant(text: str, finish_reason: str) -> dict[str, Any]:
    return {"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": finish_reason}


# --- embeddings -----------------------------------------------------------------------------------------------


def vector(index: int, dimensions: int) -> list[float]:
    # Exactly representable as float32, so base64 round trips compare equal.
    return [float(array.array("f", [math.sin(index * 7 + k) / 10])[0]) for k in range(dimensions)]


def embeddings_responder(request: Any, body: dict[str, Any]) -> Any:
    """Answers like OpenAI: one vector per input, ``dimensions`` honoured, float or base64 as asked."""
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    dimensions = body.get("dimensions", 1536)
    data = []
    for index in range(len(inputs)):
        values = vector(index, dimensions)
        embedding: Any = values
        if body.get("encoding_format") == "base64":
            embedding = base64.b64encode(array.array("f", values).tobytes()).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = 6 * len(inputs)
    return sdk_http().Response(
        200,
        json={
            "object": "list",
            "data": data,
            "model": EMBEDDING_MODEL,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
    )


EMBEDDING_CASES: dict[str, tuple[dict[str, Any], bool, dict[str, Any]]] = {
    # id: (create kwargs beyond model/input, list input?, expected extra attributes)
    "string-default-format": ({}, False, {gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: 1536}),
    "list-float": (
        {"encoding_format": "float"},
        True,
        {gen_ai.GEN_AI_REQUEST_ENCODING_FORMATS: ["float"], gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: 1536},
    ),
    "list-base64": (
        {"encoding_format": "base64"},
        True,
        {gen_ai.GEN_AI_REQUEST_ENCODING_FORMATS: ["base64"], gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: 1536},
    ),
    "string-dimensions": ({"dimensions": 256}, False, {gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: 256}),
    "list-base64-dimensions": (  # 64 float32s: a base64 payload with padding
        {"encoding_format": "base64", "dimensions": 64},
        True,
        {gen_ai.GEN_AI_REQUEST_ENCODING_FORMATS: ["base64"], gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: 64},
    ),
    "string-float-dimensions": (
        {"encoding_format": "float", "dimensions": 64},
        False,
        {gen_ai.GEN_AI_REQUEST_ENCODING_FORMATS: ["float"], gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: 64},
    ),
}


@MODES
@pytest.mark.parametrize("case", list(EMBEDDING_CASES))
async def test_embeddings_span(fake_openai: FakeOpenAI, tracing: Tracing, is_async: bool, case: str) -> None:
    params, list_input, expected_extra = EMBEDDING_CASES[case]
    fake_openai.routes["/v1/embeddings"] = embeddings_responder
    texts = ["CANARY-EMBED-first sentence to embed", "CANARY-EMBED-second sentence to embed"]
    embed_input: Any = texts if list_input else texts[0]

    result = await call(
        client_for(fake_openai, is_async),
        lambda c: c.embeddings.create(model=EMBEDDING_MODEL, input=embed_input, **params),
    )

    # The caller gets the SDK's own object, decoded exactly as without instrumentation.
    assert isinstance(result, openai.types.CreateEmbeddingResponse)
    dimensions = params.get("dimensions", 1536)
    for index, item in enumerate(result.data):
        embedding: Any = item.embedding  # a base64 string when asked for one, despite the SDK's annotation
        if params.get("encoding_format") == "base64":
            assert isinstance(embedding, str)
            assert array.array("f", base64.b64decode(embedding)).tolist() == vector(index, dimensions)
        else:
            assert embedding == vector(index, dimensions)
    span = tracing.span()
    assert_client_span(span, f"embeddings {EMBEDDING_MODEL}")
    count = len(texts) if list_input else 1
    assert span.attributes == request_attributes(
        EMBEDDINGS,
        EMBEDDING_MODEL,
        **{gen_ai.GEN_AI_RESPONSE_MODEL: EMBEDDING_MODEL, gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 6 * count},
        **expected_extra,
    )
    # Embeddings carry no content, even with capture on: neither the input text nor a vector value is exported.
    exported = tracing.receiver.all_bytes()
    assert b"CANARY-EMBED" not in exported
    assert repr(vector(0, 8)[3]).encode() not in exported


@MODES
async def test_embeddings_with_content_capture_off(
    fake_openai: FakeOpenAI, tracing_no_content: Tracing, is_async: bool
) -> None:
    fake_openai.routes["/v1/embeddings"] = embeddings_responder
    await call(
        client_for(fake_openai, is_async),
        lambda c: c.embeddings.create(model=EMBEDDING_MODEL, input=["CANARY-EMBED a", "CANARY-EMBED b"]),
    )
    span = tracing_no_content.span()
    assert span.attributes == request_attributes(
        EMBEDDINGS,
        EMBEDDING_MODEL,
        **{
            gen_ai.GEN_AI_RESPONSE_MODEL: EMBEDDING_MODEL,
            gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 12,
            gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: 1536,
        },
    )
    assert b"CANARY-EMBED" not in tracing_no_content.receiver.all_bytes()


# --- legacy completions ---------------------------------------------------------------------------------------

COMPLETION_BODY: dict[str, Any] = {
    "id": "cmpl-9zXg4Qh1qA7sTfLk2bVnW3eR",
    "object": "text_completion",
    "created": 1718200000,
    "model": INSTRUCT_RESPONSE_MODEL,
    "system_fingerprint": "fp_5a3b1c2d",
    "choices": [
        {"text": "\n\nRoses are red,\nviolets are blue.", "index": 0, "logprobs": None, "finish_reason": "stop"},
        {"text": "\n\nThe quick brown fox jumps over", "index": 1, "logprobs": None, "finish_reason": "length"},
    ],
    "usage": {"prompt_tokens": 11, "completion_tokens": 24, "total_tokens": 35},
}

PROMPTS = ["Write a two-line poem.", "Continue: The quick"]


@MODES
async def test_completion_span(fake_openai: FakeOpenAI, tracing: Tracing, is_async: bool) -> None:
    fake_openai.json("/v1/completions", COMPLETION_BODY)

    result = await call(
        client_for(fake_openai, is_async),
        lambda c: c.completions.create(
            model=INSTRUCT_MODEL, prompt=PROMPTS, max_tokens=16, temperature=0.2, stop=["\n\n\n"], seed=7
        ),
    )

    assert isinstance(result, openai.types.Completion)
    assert result.model_dump() == openai.types.Completion.model_validate(COMPLETION_BODY).model_dump()
    span = tracing.span()
    assert_client_span(span, f"text_completion {INSTRUCT_MODEL}")
    assert decoded(span) == request_attributes(
        TEXT_COMPLETION,
        INSTRUCT_MODEL,
        **{
            gen_ai.GEN_AI_REQUEST_MAX_TOKENS: 16,
            gen_ai.GEN_AI_REQUEST_TEMPERATURE: 0.2,
            gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES: ["\n\n\n"],
            gen_ai.GEN_AI_REQUEST_SEED: 7,
            gen_ai.GEN_AI_INPUT_MESSAGES: [user(p) for p in PROMPTS],
            gen_ai.GEN_AI_RESPONSE_ID: "cmpl-9zXg4Qh1qA7sTfLk2bVnW3eR",
            gen_ai.GEN_AI_RESPONSE_MODEL: INSTRUCT_RESPONSE_MODEL,
            openai_keys.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: "fp_5a3b1c2d",
            gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: ["stop", "length"],
            gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 11,
            gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: 24,
            gen_ai.GEN_AI_OUTPUT_MESSAGES: [
                assistant("\n\nRoses are red,\nviolets are blue.", "stop"),
                assistant("\n\nThe quick brown fox jumps over", "length"),
            ],
        },
    )


@MODES
async def test_completion_single_prompt_without_content(
    fake_openai: FakeOpenAI, tracing_no_content: Tracing, is_async: bool
) -> None:
    body = {**COMPLETION_BODY, "choices": [{**COMPLETION_BODY["choices"][0], "text": "CANARY-OUT poem"}]}
    body.pop("system_fingerprint")
    fake_openai.json("/v1/completions", body)

    await call(
        client_for(fake_openai, is_async),
        lambda c: c.completions.create(model=INSTRUCT_MODEL, prompt="CANARY-IN Write a poem.", n=1),
    )

    span = tracing_no_content.span()
    assert span.attributes == request_attributes(
        TEXT_COMPLETION,
        INSTRUCT_MODEL,
        **{
            gen_ai.GEN_AI_RESPONSE_ID: "cmpl-9zXg4Qh1qA7sTfLk2bVnW3eR",
            gen_ai.GEN_AI_RESPONSE_MODEL: INSTRUCT_RESPONSE_MODEL,
            gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"],
            gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 11,
            gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: 24,
        },
    )
    exported = tracing_no_content.receiver.all_bytes()
    assert b"CANARY-IN" not in exported
    assert b"CANARY-OUT" not in exported


def completion_chunk(text: str, finish_reason: str | None = None, index: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "id": "cmpl-stream-7Hq2",
        "object": "text_completion",
        "created": 1718200100,
        "model": INSTRUCT_RESPONSE_MODEL,
        "choices": [{"text": text, "index": index, "logprobs": None, "finish_reason": finish_reason}],
        **extra,
    }


def completion_stream(include_usage: bool) -> bytes:
    usage: dict[str, Any] = {"usage": None} if include_usage else {}
    chunks = [
        completion_chunk("Once", **usage),
        completion_chunk(" upon", **usage),
        completion_chunk(" a time", **usage),
        completion_chunk("", "length", **usage),
    ]
    if include_usage:
        final = completion_chunk("")
        final["choices"] = []
        final["usage"] = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
        chunks.append(final)
    return sse(chunks)


@MODES
@pytest.mark.parametrize("include_usage", [False, True], ids=["no-usage", "usage"])
async def test_completion_stream_span(
    fake_openai: FakeOpenAI, tracing: Tracing, is_async: bool, include_usage: bool
) -> None:
    fake_openai.stream("/v1/completions", completion_stream(include_usage))
    options = {"stream_options": {"include_usage": True}} if include_usage else {}

    stream = await call(
        client_for(fake_openai, is_async),
        lambda c: c.completions.create(
            model=INSTRUCT_MODEL, prompt="Tell a story.", max_tokens=3, stream=True, **options
        ),
    )
    assert isinstance(stream, openai.AsyncStream if is_async else openai.Stream)
    chunks = await drain(stream)

    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Once upon a time"
    span = tracing.span()
    assert_client_span(span, f"text_completion {INSTRUCT_MODEL}")
    attributes = decoded(span)
    pop_timings(attributes)
    usage = {gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 5, gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: 3} if include_usage else {}
    assert attributes == request_attributes(
        TEXT_COMPLETION,
        INSTRUCT_MODEL,
        **{
            gen_ai.GEN_AI_REQUEST_MAX_TOKENS: 3,
            gen_ai.GEN_AI_REQUEST_STREAM: True,
            gen_ai.GEN_AI_INPUT_MESSAGES: [user("Tell a story.")],
            gen_ai.GEN_AI_RESPONSE_ID: "cmpl-stream-7Hq2",
            gen_ai.GEN_AI_RESPONSE_MODEL: INSTRUCT_RESPONSE_MODEL,
            gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: ["length"],
            gen_ai.GEN_AI_OUTPUT_MESSAGES: [assistant("Once upon a time", "length")],
            **usage,
        },
    )


@MODES
async def test_completion_stream_two_choices_without_content(
    fake_openai: FakeOpenAI, tracing_no_content: Tracing, is_async: bool
) -> None:
    fake_openai.stream(
        "/v1/completions",
        sse(
            [
                completion_chunk("CANARY-OUT a", index=0),
                completion_chunk("CANARY-OUT b", index=1),
                completion_chunk("", "stop", index=1),
                completion_chunk("", "length", index=0),
            ]
        ),
    )
    stream = await call(
        client_for(fake_openai, is_async),
        lambda c: c.completions.create(model=INSTRUCT_MODEL, prompt="CANARY-IN x", n=2, stream=True),
    )
    await drain(stream)

    span = tracing_no_content.span()
    attributes = dict(span.attributes)
    pop_timings(attributes)
    assert attributes == request_attributes(
        TEXT_COMPLETION,
        INSTRUCT_MODEL,
        **{
            gen_ai.GEN_AI_REQUEST_CHOICE_COUNT: 2,
            gen_ai.GEN_AI_REQUEST_STREAM: True,
            gen_ai.GEN_AI_RESPONSE_ID: "cmpl-stream-7Hq2",
            gen_ai.GEN_AI_RESPONSE_MODEL: INSTRUCT_RESPONSE_MODEL,
            gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: ["length", "stop"],
        },
    )
    exported = tracing_no_content.receiver.all_bytes()
    assert b"CANARY-IN" not in exported
    assert b"CANARY-OUT" not in exported
