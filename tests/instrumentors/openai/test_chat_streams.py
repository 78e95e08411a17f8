"""Streamed chat completions, end to end: every way a stream can end yields exactly one span with the right status.

Hand-written ``chat.completion.chunk`` SSE streams go through the SDK's MockTransport; the caller must see exactly the
chunks the bare (uninstrumented, same bytes) client yields, from an object that still is an ``openai.Stream`` /
``openai.AsyncStream``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest

from fallom_otel_instrumentors._stream import ABANDONED
from fallom_otel_semconv import common, gen_ai
from fallom_otel_semconv import fallom as fallom_keys
from fallom_otel_semconv import openai as openai_keys
from tests.instrumentors.openai.conftest import FakeOpenAI, Tracing, sdk_http
from tests.instrumentors.openai.test_chat import (
    CHAT_PATH,
    FINGERPRINT,
    MODEL,
    RESPONSE_MODEL,
    SERVER_ERROR,
    chunk_body,
    delta_choice,
    instrumented,
    messages_of,
    respond_stream,
    usage_body,
    user,
)
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

STREAM_ID = "chatcmpl-AZ4stream0Rr8Yy1Zz2Aa3Bb4Cc"
USAGE = usage_body(prompt=2_048, completion=96, cached=1_920, reasoning=64)
USAGE_KEYS = (
    gen_ai.GEN_AI_USAGE_INPUT_TOKENS,
    gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS,
    gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    gen_ai.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
    gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
)
TEXT = ["The", " sky", " is", " blue", " because", " of", " Rayleigh", " scattering."]


TRUNCATED = gen_ai.FinishReasonValues.ERROR.value  # a stream that ended before its choice finished


def text_stream(*, include_usage: bool) -> list[dict[str, Any]]:
    """A streamed answer: role chunk, one chunk per text piece, the finish chunk, and the usage chunk if asked."""
    events = [chunk_body(delta_choice(role="assistant", content="", refusal=None))]
    events += [chunk_body(delta_choice(content=piece)) for piece in TEXT]
    events.append(chunk_body(delta_choice("stop")))
    if include_usage:
        events.append(chunk_body(usage=USAGE))  # OpenAI's last chunk: no choices, the usage
    else:
        for event in events:
            del event["usage"]  # without stream_options.include_usage the field is not sent at all
    return events


def tool_call_stream() -> list[dict[str, Any]]:
    """Two parallel tool calls whose arguments arrive in pieces, interleaved by index."""

    def call_delta(index: int, arguments: str, *, call_id: str | None = None, name: str | None = None) -> Any:
        call: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
        if call_id is not None:
            call.update(id=call_id, type="function")
            call["function"]["name"] = name
        return chunk_body(delta_choice(tool_calls=[call]))

    return [
        chunk_body(delta_choice(role="assistant", content=None, refusal=None)),
        call_delta(0, "", call_id="call_W1x", name="get_weather"),
        call_delta(0, '{"ci'),
        call_delta(0, 'ty": "Par'),
        call_delta(1, "", call_id="call_T2y", name="get_time"),
        call_delta(1, '{"tz": '),
        call_delta(0, 'is", "unit": "celsius"}'),
        call_delta(1, '"Europe/Paris"}'),
        chunk_body(delta_choice("tool_calls")),
        chunk_body(usage=USAGE),
    ]


def choices_stream() -> list[dict[str, Any]]:
    """``n=2``: two choices interleaved, each with its own finish reason."""

    def piece(index: int, finish: str | None = None, **delta: Any) -> dict[str, Any]:
        return chunk_body({**delta_choice(finish, **delta), "index": index})

    return [
        piece(0, role="assistant", content=""),
        piece(1, role="assistant", content=""),
        piece(0, content="Red"),
        piece(1, content="Blue"),
        piece(1, content=" and green"),
        piece(0, "stop"),
        piece(1, "length"),
        chunk_body(usage=USAGE),
    ]


def delayed(events: list[dict[str, Any]], pause_after: int, seconds: float, is_async: bool) -> Any:
    """A responder sending ``events`` as SSE, pausing ``seconds`` after the first ``pause_after`` events."""
    frames = [f"data: {json.dumps(event)}\n\n".encode() for event in events] + [b"data: [DONE]\n\n"]

    def sync_body() -> Iterator[bytes]:
        for i, frame in enumerate(frames):
            if i == pause_after:
                time.sleep(seconds)
            yield frame

    async def async_body() -> AsyncIterator[bytes]:
        for i, frame in enumerate(frames):
            if i == pause_after:
                await asyncio.sleep(seconds)
            yield frame

    def respond(request: Any, body: dict[str, Any]) -> Any:
        content = async_body() if is_async else sync_body()
        return sdk_http().Response(200, content=content, headers={"content-type": "text/event-stream"})

    return respond


def open_stream(fake: FakeOpenAI, *, is_async: bool = False, **extra: Any) -> Any:
    """``create(stream=True)``: the stream (sync) or the coroutine returning it (async)."""
    client = fake.async_client() if is_async else fake.client()
    return client.chat.completions.create(model=MODEL, messages=[user("Why is the sky blue?")], stream=True, **extra)


def dumps(chunks: list[Any]) -> list[tuple[type, dict[str, Any]]]:
    return [(type(c), c.model_dump()) for c in chunks]


def bare_chunks(fake: FakeOpenAI, **extra: Any) -> list[tuple[type, dict[str, Any]]]:
    """What the uninstrumented client yields on the same bytes (run before the instrumentor is installed)."""
    return dumps(list(open_stream(fake, **extra)))


def settle(tracing: Tracing) -> ReceivedSpan:
    """Collect garbage (a stream object must not end its span a second time) and return the one span."""
    gc.collect()
    return tracing.span()


def output_text(span: ReceivedSpan) -> list[dict[str, Any]]:
    return messages_of(span, gen_ai.GEN_AI_OUTPUT_MESSAGES)  # type: ignore[no-any-return]


def text_output(text: str, finish_reason: str) -> list[dict[str, Any]]:
    return [{"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": finish_reason}]


def assert_ttft(span: ReceivedSpan) -> tuple[float, float]:
    ttfc = span.attributes[gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    ttft_ms = span.attributes[fallom_keys.FALLOM_TIME_TO_FIRST_TOKEN_MS]
    assert isinstance(ttfc, float) and ttfc > 0
    assert isinstance(ttft_ms, float) and ttft_ms > 0
    assert ttft_ms >= ttfc * 1000 - 1e-6
    duration = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e9
    assert ttfc <= duration
    return ttfc, ttft_ms


class CallerAbort(Exception):
    """The application's own exception, raised while it reads the stream."""


CALLER_ABORT_TYPE = f"{CallerAbort.__module__}.{CallerAbort.__qualname__}"


# --- full iteration -----------------------------------------------------------------------------------------------


def test_full_iteration_records_the_whole_answer(receiver: OtlpReceiver) -> None:
    fake = FakeOpenAI()
    respond_stream(fake, text_stream(include_usage=True))
    options = {"include_usage": True}
    bare = bare_chunks(fake, stream_options=options)

    with instrumented(receiver) as tracing:
        stream = open_stream(fake, stream_options=options)
        assert isinstance(stream, openai.Stream)
        traced = dumps(list(stream))
        span = settle(tracing)

    assert traced == bare
    assert span.name == "chat gpt-4o"
    assert span.kind == "CLIENT"
    assert span.status_code == "UNSET"
    attributes = dict(span.attributes)
    assert_ttft(span)
    assert output_text(span) == text_output("".join(TEXT), "stop")
    assert messages_of(span, gen_ai.GEN_AI_INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": "Why is the sky blue?"}]}
    ]
    for key in (
        gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
        fallom_keys.FALLOM_TIME_TO_FIRST_TOKEN_MS,
        gen_ai.GEN_AI_INPUT_MESSAGES,
        gen_ai.GEN_AI_OUTPUT_MESSAGES,
    ):
        del attributes[key]
    assert attributes == {
        gen_ai.GEN_AI_OPERATION_NAME: gen_ai.GenAiOperationNameValues.CHAT.value,
        gen_ai.GEN_AI_PROVIDER_NAME: gen_ai.GenAiProviderNameValues.OPENAI.value,
        gen_ai.GEN_AI_REQUEST_MODEL: MODEL,
        gen_ai.GEN_AI_REQUEST_STREAM: True,
        common.SERVER_ADDRESS: "llm.test",
        common.SERVER_PORT: 80,
        openai_keys.OPENAI_API_TYPE: openai_keys.OpenAiApiTypeValues.CHAT_COMPLETIONS.value,
        gen_ai.GEN_AI_RESPONSE_ID: STREAM_ID,
        gen_ai.GEN_AI_RESPONSE_MODEL: RESPONSE_MODEL,
        gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"],
        openai_keys.OPENAI_RESPONSE_SERVICE_TIER: "default",
        openai_keys.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: FINGERPRINT,
        gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 2_048,
        gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: 96,
        gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1_920,
        gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 64,
    }


async def test_full_iteration_async(receiver: OtlpReceiver) -> None:
    fake = FakeOpenAI()
    respond_stream(fake, text_stream(include_usage=True))
    options = {"include_usage": True}
    bare = bare_chunks(fake, stream_options=options)

    with instrumented(receiver) as tracing:
        stream = await open_stream(fake, is_async=True, stream_options=options)
        assert isinstance(stream, openai.AsyncStream)
        traced = dumps([c async for c in stream])
        span = settle(tracing)

    assert traced == bare
    assert span.status_code == "UNSET"
    assert_ttft(span)
    assert output_text(span) == text_output("".join(TEXT), "stop")
    assert span.attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 2_048
    assert span.attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 96
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_usage_is_absent_without_a_usage_chunk(tracing: Tracing, fake_openai: FakeOpenAI, is_async: bool) -> None:
    respond_stream(fake_openai, text_stream(include_usage=False))

    if is_async:
        chunks = [c async for c in await open_stream(fake_openai, is_async=True)]
    else:
        chunks = list(open_stream(fake_openai))

    assert all(c.usage is None for c in chunks)
    span = settle(tracing)
    for key in USAGE_KEYS:
        assert key not in span.attributes, key  # never guessed
    assert output_text(span) == text_output("".join(TEXT), "stop")
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_tool_call_deltas_are_assembled(receiver: OtlpReceiver, is_async: bool) -> None:
    fake = FakeOpenAI()
    respond_stream(fake, tool_call_stream())
    bare = bare_chunks(fake)

    with instrumented(receiver) as tracing:
        if is_async:
            traced = dumps([c async for c in await open_stream(fake, is_async=True)])
        else:
            traced = dumps(list(open_stream(fake)))
        span = settle(tracing)

    assert traced == bare
    assert output_text(span) == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "name": "get_weather",
                    "id": "call_W1x",
                    "arguments": {"city": "Paris", "unit": "celsius"},
                },
                {"type": "tool_call", "name": "get_time", "id": "call_T2y", "arguments": {"tz": "Europe/Paris"}},
            ],
            "finish_reason": gen_ai.FinishReasonValues.TOOL_CALL.value,
        }
    ]
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == [gen_ai.FinishReasonValues.TOOL_CALL.value]
    assert span.attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 96
    assert_ttft(span)


def test_each_choice_is_accumulated_on_its_own(tracing: Tracing, fake_openai: FakeOpenAI) -> None:
    respond_stream(fake_openai, choices_stream())

    list(open_stream(fake_openai, n=2, stream_options={"include_usage": True}))

    span = settle(tracing)
    assert span.attributes[gen_ai.GEN_AI_REQUEST_CHOICE_COUNT] == 2
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop", "length"]
    assert output_text(span) == [*text_output("Red", "stop"), *text_output("Blue and green", "length")]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_ttft_is_measured_at_the_first_content_chunk(
    tracing: Tracing, fake_openai: FakeOpenAI, is_async: bool
) -> None:
    pause = 0.25
    # The role-only chunk arrives at once; the first text only after a pause.
    fake_openai.routes[CHAT_PATH] = delayed(text_stream(include_usage=False), 1, pause, is_async)

    if is_async:
        chunks = [c async for c in await open_stream(fake_openai, is_async=True)]
    else:
        chunks = list(open_stream(fake_openai))

    assert chunks[0].choices[0].delta.role == "assistant" and not chunks[0].choices[0].delta.content
    span = settle(tracing)
    ttfc, ttft_ms = assert_ttft(span)
    # The first chunk (role only) came before the pause, the first token only after it.
    assert ttft_ms - ttfc * 1000 >= pause * 1000 * 0.8


# --- ending early: break, close, the caller's exception, the server's error, garbage collection ------------------


def test_break_inside_with_keeps_partial_output(receiver: OtlpReceiver) -> None:
    fake = FakeOpenAI()
    respond_stream(fake, text_stream(include_usage=True))
    bare = bare_chunks(fake)

    with instrumented(receiver) as tracing:
        stream = open_stream(fake)
        assert isinstance(stream, openai.Stream)
        seen = []
        with stream as entered:
            assert entered is stream
            for chunk in stream:
                seen.append(chunk)
                if len(seen) == 3:
                    break
        del stream, entered
        span = settle(tracing)

    assert dumps(seen) == bare[:3]
    assert span.status_code == "UNSET"
    assert output_text(span) == text_output("The sky", TRUNCATED)
    # The choice never finished: semconv's ``error`` finish reason marks the truncated output.
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == [TRUNCATED]
    assert gen_ai.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_ID] == STREAM_ID
    assert_ttft(span)


async def test_break_inside_async_with_keeps_partial_output(receiver: OtlpReceiver) -> None:
    fake = FakeOpenAI()
    respond_stream(fake, text_stream(include_usage=True))
    bare = bare_chunks(fake)

    with instrumented(receiver) as tracing:
        stream = await open_stream(fake, is_async=True)
        assert isinstance(stream, openai.AsyncStream)
        seen = []
        async with stream as entered:
            assert entered is stream
            async for chunk in stream:
                seen.append(chunk)
                if len(seen) == 3:
                    break
        del stream, entered
        span = settle(tracing)

    assert dumps(seen) == bare[:3]
    assert span.status_code == "UNSET"
    assert output_text(span) == text_output("The sky", TRUNCATED)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_close_after_a_few_chunks(receiver: OtlpReceiver, is_async: bool) -> None:
    fake = FakeOpenAI()
    respond_stream(fake, text_stream(include_usage=True))
    bare = bare_chunks(fake)

    with instrumented(receiver) as tracing:
        seen = []
        if is_async:
            stream = await open_stream(fake, is_async=True)
            seen.append(await stream.__anext__())
            seen.append(await stream.__anext__())
            await stream.close()
            await stream.close()  # a second close changes nothing
        else:
            stream = open_stream(fake)
            seen.append(next(stream))
            seen.append(next(stream))
            stream.close()
            stream.close()
        assert stream.response.is_closed
        del stream
        span = settle(tracing)

    assert dumps(seen) == bare[:2]
    assert span.status_code == "UNSET"
    assert output_text(span) == text_output("The", TRUNCATED)


def test_caller_exception_inside_with(tracing: Tracing, fake_openai: FakeOpenAI) -> None:
    respond_stream(fake_openai, text_stream(include_usage=True))
    abort = CallerAbort("the user went away")

    with pytest.raises(CallerAbort) as raised:
        with open_stream(fake_openai) as stream:
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content == " sky":
                    raise abort

    assert raised.value is abort
    span = settle(tracing)
    assert span.status_code == "ERROR"
    assert span.attributes[common.ERROR_TYPE] == CALLER_ABORT_TYPE
    assert output_text(span) == text_output("The sky", TRUNCATED)


async def test_caller_exception_inside_async_with(tracing: Tracing, fake_openai: FakeOpenAI) -> None:
    respond_stream(fake_openai, text_stream(include_usage=True))
    abort = CallerAbort("the user went away")

    with pytest.raises(CallerAbort) as raised:
        async with await open_stream(fake_openai, is_async=True) as stream:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content == " sky":
                    raise abort

    assert raised.value is abort
    span = settle(tracing)
    assert span.status_code == "ERROR"
    assert span.attributes[common.ERROR_TYPE] == CALLER_ABORT_TYPE
    assert output_text(span) == text_output("The sky", TRUNCATED)


def server_error_stream() -> list[dict[str, Any]]:
    return [*text_stream(include_usage=True)[:3], SERVER_ERROR]


@pytest.mark.parametrize("use_with", [False, True], ids=["loop", "with"])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_server_error_mid_stream(receiver: OtlpReceiver, is_async: bool, use_with: bool) -> None:
    fake = FakeOpenAI()
    respond_stream(fake, server_error_stream(), done=False)
    bare_seen: list[Any] = []
    with pytest.raises(openai.APIError) as bare_error:
        for chunk in open_stream(fake):
            bare_seen.append(chunk)

    with instrumented(receiver) as tracing:
        seen: list[Any] = []
        with pytest.raises(openai.APIError) as traced_error:
            if is_async:
                stream = await open_stream(fake, is_async=True)
                if use_with:
                    async with stream:
                        async for chunk in stream:
                            seen.append(chunk)
                else:
                    async for chunk in stream:
                        seen.append(chunk)
            else:
                stream = open_stream(fake)
                if use_with:
                    with stream:
                        for chunk in stream:
                            seen.append(chunk)
                else:
                    for chunk in stream:
                        seen.append(chunk)
        del stream
        span = settle(tracing)

    assert type(traced_error.value) is type(bare_error.value) is openai.APIError
    assert str(traced_error.value) == str(bare_error.value)
    assert traced_error.value.body == bare_error.value.body == SERVER_ERROR["error"]
    assert dumps(seen) == dumps(bare_seen)
    assert span.status_code == "ERROR"
    assert span.attributes[common.ERROR_TYPE] == "openai.APIError"
    assert output_text(span) == text_output("The sky", TRUNCATED)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_never_iterated_then_dropped(tracing: Tracing, fake_openai: FakeOpenAI, is_async: bool) -> None:
    respond_stream(fake_openai, text_stream(include_usage=True))

    stream = await open_stream(fake_openai, is_async=True) if is_async else open_stream(fake_openai)
    assert isinstance(stream, openai.AsyncStream if is_async else openai.Stream)
    del stream
    span = settle(tracing)

    assert span.status_code == "ERROR"
    assert span.status_message == ABANDONED
    assert span.attributes[common.ERROR_TYPE] == common.ERROR_TYPE_OTHER
    assert gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in span.attributes
    assert gen_ai.GEN_AI_RESPONSE_ID not in span.attributes


def test_partially_read_then_dropped_keeps_partial_output(tracing: Tracing, fake_openai: FakeOpenAI) -> None:
    respond_stream(fake_openai, text_stream(include_usage=True))

    stream = open_stream(fake_openai)
    next(stream), next(stream), next(stream)
    del stream
    span = settle(tracing)

    assert span.status_code == "ERROR"
    assert span.attributes[common.ERROR_TYPE] == common.ERROR_TYPE_OTHER
    assert output_text(span) == text_output("The sky", TRUNCATED)


def test_exhausted_then_closed_and_dropped_ends_once(tracing: Tracing, fake_openai: FakeOpenAI) -> None:
    respond_stream(fake_openai, text_stream(include_usage=True))

    with open_stream(fake_openai) as stream:
        list(stream)
        assert list(stream) == []
        stream.close()
    del stream

    span = settle(tracing)
    assert span.status_code == "UNSET"
    assert output_text(span) == text_output("".join(TEXT), "stop")


# --- the stream() helper -----------------------------------------------------------------------------------------


def helper(fake: FakeOpenAI, *, is_async: bool = False, include_usage: bool = True) -> Any:
    client = fake.async_client() if is_async else fake.client()
    extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if include_usage else {}
    return client.chat.completions.stream(model=MODEL, messages=[user("Why is the sky blue?")], **extra)


def bare_helper(fake: FakeOpenAI, *, include_usage: bool = True) -> tuple[list[Any], dict[str, Any]]:
    with helper(fake, include_usage=include_usage) as stream:
        events = [(e.type, e.model_dump()) for e in stream]
        return events, stream.get_final_completion().model_dump(warnings=False)


@pytest.mark.parametrize("include_usage", [True, False], ids=["usage", "no_usage"])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_helper_get_final_completion(receiver: OtlpReceiver, is_async: bool, include_usage: bool) -> None:
    fake = FakeOpenAI()
    respond_stream(fake, text_stream(include_usage=include_usage))
    _, bare_final = bare_helper(fake, include_usage=include_usage)

    with instrumented(receiver) as tracing:
        if is_async:
            async with helper(fake, is_async=True, include_usage=include_usage) as stream:
                final = await stream.get_final_completion()
        else:
            with helper(fake, include_usage=include_usage) as stream:
                final = stream.get_final_completion()
        span = settle(tracing)

    assert final.model_dump(warnings=False) == bare_final
    assert final.choices[0].message.content == "".join(TEXT)
    assert span.status_code == "UNSET"
    assert output_text(span) == text_output("".join(TEXT), "stop")
    assert span.attributes[gen_ai.GEN_AI_REQUEST_STREAM] is True
    if include_usage:
        assert span.attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 2_048
        assert span.attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 96
    else:
        for key in USAGE_KEYS:
            assert key not in span.attributes, key


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_helper_events(receiver: OtlpReceiver, is_async: bool) -> None:
    fake = FakeOpenAI()
    respond_stream(fake, text_stream(include_usage=True))
    bare_events, _ = bare_helper(fake)

    with instrumented(receiver) as tracing:
        if is_async:
            async with helper(fake, is_async=True) as stream:
                events = [(e.type, e.model_dump()) async for e in stream]
        else:
            with helper(fake) as stream:
                events = [(e.type, e.model_dump()) for e in stream]
        span = settle(tracing)

    assert events == bare_events
    assert "".join(event["delta"] for kind, event in events if kind == "content.delta") == "".join(TEXT)
    assert [kind for kind, _ in events].count("content.done") == 1
    assert span.status_code == "UNSET"
    assert output_text(span) == text_output("".join(TEXT), "stop")
    assert span.attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 96
    assert_ttft(span)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_helper_break_ends_the_span_at_exit(
    tracing: Tracing, fake_openai: FakeOpenAI, is_async: bool
) -> None:
    respond_stream(fake_openai, text_stream(include_usage=True))
    deltas: list[str] = []

    if is_async:
        async with helper(fake_openai, is_async=True) as stream:
            async for event in stream:
                if event.type == "content.delta" and event.delta:
                    deltas.append(event.delta)
                    if len(deltas) == 2:
                        break
    else:
        with helper(fake_openai) as stream:
            for event in stream:
                if event.type == "content.delta" and event.delta:
                    deltas.append(event.delta)
                    if len(deltas) == 2:
                        break

    # The helper's exit closed the response: the span is over now, not whenever the stream object is collected.
    span = tracing.span()
    assert deltas == ["The", " sky"]
    assert span.status_code == "UNSET"
    assert output_text(span) == text_output("The sky", TRUNCATED)
    del stream
    assert settle(tracing) == span


# --- the proxy keeps the SDK object's surface -----------------------------------------------------------------------


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_response_and_headers_are_reachable(tracing: Tracing, fake_openai: FakeOpenAI, is_async: bool) -> None:
    body = b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in text_stream(include_usage=False))
    fake_openai.routes[CHAT_PATH] = lambda request, _: sdk_http().Response(
        200,
        content=body + b"data: [DONE]\n\n",
        headers={"content-type": "text/event-stream", "x-request-id": "req_7c1e", "openai-processing-ms": "212"},
    )

    stream = await open_stream(fake_openai, is_async=True) if is_async else open_stream(fake_openai)

    assert isinstance(stream.response, sdk_http().Response)
    assert stream.response.status_code == 200
    assert stream.response.headers["x-request-id"] == "req_7c1e"
    assert stream.response.headers["openai-processing-ms"] == "212"
    if is_async:
        assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == "".join(TEXT)
    else:
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "".join(TEXT)
    del stream
    assert settle(tracing).status_code == "UNSET"


async def test_cancelled_task_mid_stream(tracing: Tracing, fake_openai: FakeOpenAI) -> None:
    # The second chunk never comes in time: the application cancels the task that reads the stream.
    fake_openai.routes[CHAT_PATH] = delayed(text_stream(include_usage=False), 2, 30.0, is_async=True)
    got_first = asyncio.Event()
    seen: list[Any] = []

    async def read() -> None:
        async for chunk in await open_stream(fake_openai, is_async=True):
            seen.append(chunk)
            got_first.set()

    task = asyncio.create_task(read())
    await asyncio.wait_for(got_first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    span = settle(tracing)
    assert span.status_code == "ERROR"
    assert span.attributes[common.ERROR_TYPE] == "asyncio.CancelledError"
    assert output_text(span) == text_output("The", TRUNCATED)


def test_an_open_stream_is_not_the_parent_of_the_next_call(tracing: Tracing, fake_openai: FakeOpenAI) -> None:
    respond_stream(fake_openai, text_stream(include_usage=False))
    client = fake_openai.client()

    first = client.chat.completions.create(model=MODEL, messages=[user("first")], stream=True)
    next(first)
    second = client.chat.completions.create(model=MODEL, messages=[user("second")], stream=True)
    list(second)
    list(first)
    del first, second

    spans = tracing.spans(2)
    assert all(s.parent_span_id is None for s in spans)
    assert spans[0].trace_id != spans[1].trace_id
