"""The opt-in ``stream_usage``: streams report token usage even when the caller did not ask for it, and the caller
still sees exactly the stream it would see uninstrumented."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from opentelemetry import trace

import fallom_otel
from fallom_otel_instrumentors.openai import OpenAIInstrumentor
from fallom_otel_semconv import gen_ai
from tests.instrumentors.openai.conftest import FakeOpenAI, Tracing, sdk_http, sse
from tests.otlp_receiver import OtlpReceiver

MODEL = "gpt-4o-mini"


def chunk(
    delta: dict[str, Any] | None, finish: str | None = None, usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-usage-1",
        "object": "chat.completion.chunk",
        "created": 1733400000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_0ba0d124f1",
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": usage,
    }


USAGE = {"prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 24}


def usage_aware_chat(request: Any, body: dict[str, Any]) -> Any:
    """Like the API: the final usage chunk is sent only when ``stream_options.include_usage`` is true."""
    events = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hi"}),
        chunk({"content": "!"}, finish="stop"),
    ]
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append(chunk(None, usage=USAGE))
    return sdk_http().Response(200, content=sse(events), headers={"content-type": "text/event-stream"})


def legacy_completion(request: Any, body: dict[str, Any]) -> Any:
    def piece(text: str, finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}
        return {"id": "cmpl-u1", "object": "text_completion", "created": 1733400000, "model": "gpt-3.5-turbo-instruct",
                "choices": [choice]}  # fmt: skip

    events = [piece("Hello"), piece(" there", "stop")]
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append({**piece(""), "choices": [], "usage": USAGE})
    return sdk_http().Response(200, content=sse(events), headers={"content-type": "text/event-stream"})


@pytest.fixture
def fake() -> FakeOpenAI:
    fake = FakeOpenAI()
    fake.routes["/v1/chat/completions"] = usage_aware_chat
    fake.routes["/v1/completions"] = legacy_completion
    return fake


@contextmanager
def traced(receiver: OtlpReceiver, stream_usage: bool) -> Iterator[Tracing]:
    fallom_otel.init(base_url=receiver.url, stream_usage=stream_usage)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(
        tracer_provider=trace.get_tracer_provider(), capture_content=True, stream_usage=stream_usage
    )
    try:
        yield Tracing(receiver)
    finally:
        instrumentor.uninstrument()


@pytest.fixture
def with_usage(receiver: OtlpReceiver) -> Iterator[Tracing]:
    with traced(receiver, stream_usage=True) as tracing:
        yield tracing


@pytest.fixture
def without_usage(receiver: OtlpReceiver) -> Iterator[Tracing]:
    with traced(receiver, stream_usage=False) as tracing:
        yield tracing


def caller_view(stream: Any) -> list[dict[str, Any]]:
    return [c.model_dump() for c in stream]


def bare_view(fake: FakeOpenAI, **kwargs: Any) -> list[dict[str, Any]]:
    """What an uninstrumented caller sees for the same request (computed before any patching)."""
    with fake.client() as client:
        return caller_view(client.chat.completions.create(**kwargs))


def test_usage_is_asked_for_and_hidden_from_the_caller(receiver: OtlpReceiver, fake: FakeOpenAI) -> None:
    kwargs: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    expected = bare_view(fake, **kwargs)
    assert all(c["choices"] for c in expected)  # the caller never asked for the usage-only chunk
    fake.requests.clear()
    with traced(receiver, stream_usage=True) as tracing:
        before = copy.deepcopy(kwargs)
        with fake.client() as client:
            seen = caller_view(client.chat.completions.create(**kwargs))
        assert seen == expected  # same chunks, no extra usage chunk
        assert kwargs == before  # the caller's arguments were not touched
        assert fake.requests[0]["stream_options"] == {"include_usage": True}  # a copy asked for it
        span = tracing.span()
        assert span.attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 21
        assert span.attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
        assert span.attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]


async def test_async_stream_gets_usage_too(with_usage: Tracing, fake: FakeOpenAI) -> None:
    async with fake.async_client() as client:
        stream = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        chunks = [c async for c in stream]
    assert [c.choices[0].delta.content for c in chunks] == ["", "Hi", "!"]
    span = with_usage.span()
    assert span.attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 21


def test_callers_explicit_choice_is_respected(with_usage: Tracing, fake: FakeOpenAI) -> None:
    with fake.client() as client:
        declined = list(
            client.chat.completions.create(
                model=MODEL, messages=[], stream=True, stream_options={"include_usage": False}
            )
        )
        asked = list(
            client.chat.completions.create(
                model=MODEL, messages=[], stream=True, stream_options={"include_usage": True}
            )
        )
    assert fake.requests[0]["stream_options"] == {"include_usage": False}
    assert len(declined) == 3
    assert len(asked) == 4 and asked[-1].usage is not None  # the caller asked: the caller gets it
    first, second = with_usage.spans(2)
    assert gen_ai.GEN_AI_USAGE_INPUT_TOKENS not in first.attributes  # declined: never guessed
    assert second.attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 21


def test_off_by_default(without_usage: Tracing, fake: FakeOpenAI) -> None:
    with fake.client() as client:
        list(client.chat.completions.create(model=MODEL, messages=[], stream=True))
    assert "stream_options" not in fake.requests[0]
    span = without_usage.span()
    assert gen_ai.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes


def test_stream_helper_keeps_its_own_final_completion(with_usage: Tracing, fake: FakeOpenAI) -> None:
    with fake.client() as client:
        with client.chat.completions.stream(model=MODEL, messages=[{"role": "user", "content": "Hi"}]) as stream:
            final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hi!"
    assert final.usage is None  # as uninstrumented: the caller did not ask for usage
    span = with_usage.span()
    assert span.attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 3


def test_non_streamed_calls_are_left_alone(with_usage: Tracing, fake: FakeOpenAI) -> None:
    fake.json(
        "/v1/chat/completions",
        {
            "id": "chatcmpl-plain",
            "object": "chat.completion",
            "created": 1733400000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": USAGE,
        },
    )
    with fake.client() as client:
        client.chat.completions.create(model=MODEL, messages=[])
    assert "stream_options" not in fake.requests[0]
    with_usage.span()


def test_legacy_completions_stream_gets_usage(with_usage: Tracing, fake: FakeOpenAI) -> None:
    with fake.client() as client:
        pieces = [
            c.choices[0].text
            for c in client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hi", stream=True)
        ]
    assert pieces == ["Hello", " there"]
    assert fake.requests[0]["stream_options"] == {"include_usage": True}
    span = with_usage.span()
    assert span.attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 21
