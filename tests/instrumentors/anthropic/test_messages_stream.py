"""Streamed Anthropic messages, end to end: ``messages.create(stream=True)`` and the ``messages.stream()`` helper.

Every way a stream can be consumed or left yields exactly one span with the right status. Hand-written SSE streams
(named events ``message_start`` ... ``message_stop``) go through the SDK's MockTransport; the caller must see exactly
what the bare (uninstrumented, same bytes) client yields, from an object that still is an ``anthropic.Stream`` /
``anthropic.AsyncStream``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import pytest

from fallom_otel_instrumentors._stream import ABANDONED
from fallom_otel_semconv import common, gen_ai
from fallom_otel_semconv import fallom as fallom_keys
from tests.instrumentors.anthropic.conftest import (
    MESSAGES_PATH,
    SCOPE_NAME,
    FakeAnthropic,
    Tracing,
    instrumented,
    sdk_http,
    sse,
    sse_frame,
)
from tests.instrumentors.anthropic.test_messages import (
    CANARY,
    CONTENT_KEYS,
    MODEL,
    RESPONSE_MODEL,
    SPAN_NAME,
    STOP,
    TOOL_CALL,
    WEATHER_TOOL,
    canary_request,
    messages_of,
    text_output,
    user,
)
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

STREAM_ID = "msg_01StreamQ4xW7nR2kLp9TzVb"
TEXT = ["Light", " scatters", " off", " air", " molecules", ",", " blue", " most."]
TRUNCATED = gen_ai.FinishReasonValues.ERROR.value  # output that ended before the message finished
USAGE_KEYS = (
    gen_ai.GEN_AI_USAGE_INPUT_TOKENS,
    gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS,
    gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    gen_ai.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
)


# --- hand-written event streams (the documented SSE event shapes) ---------------------------------------------------


def message_start(*, input_tokens: int = 310, cache_read: int = 1_536, cache_write: int = 96) -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {
            "id": STREAM_ID,
            "type": "message",
            "role": "assistant",
            "model": RESPONSE_MODEL,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": cache_write,
                "cache_read_input_tokens": cache_read,
                "cache_creation": {"ephemeral_5m_input_tokens": cache_write, "ephemeral_1h_input_tokens": 0},
                # A placeholder: the real count comes, cumulative, in message_delta.
                "output_tokens": 1,
                "service_tier": "standard",
            },
        },
    }


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def block_delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def text_delta(index: int, text: str) -> dict[str, Any]:
    return block_delta(index, {"type": "text_delta", "text": text})


def block_stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def message_delta(stop_reason: str, output_tokens: int, **cumulative: int) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens, **cumulative},
    }


PING = {"type": "ping"}
MESSAGE_STOP = {"type": "message_stop"}
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def text_stream(*, delta_usage: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """message_start, a ping, one text block in pieces, message_delta (42 output tokens), message_stop."""
    return [
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        PING,
        *[text_delta(0, piece) for piece in TEXT],
        block_stop(0),
        message_delta("end_turn", 42, **(delta_usage or {})),
        MESSAGE_STOP,
    ]


TEXT_STREAM = text_stream()
FULL_TEXT = "".join(TEXT)
# Events the caller sees up to the second text piece: message_start, the block start, "Light", " scatters" (the SDK
# drops the ping).
AFTER_TWO_PIECES = 4


def thinking_tool_stream() -> list[dict[str, Any]]:
    """Thinking, then text, then a tool call whose JSON input arrives in pieces."""
    return [
        message_start(input_tokens=520, cache_read=0, cache_write=0),
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        block_delta(0, {"type": "thinking_delta", "thinking": "The user wants Lyon's weather;"}),
        block_delta(0, {"type": "thinking_delta", "thinking": " call the tool."}),
        block_delta(0, {"type": "signature_delta", "signature": "EqQBCgIYAhIMsig0stream"}),
        block_stop(0),
        block_start(1, {"type": "text", "text": ""}),
        text_delta(1, "Checking the weather."),
        block_stop(1),
        block_start(2, {"type": "tool_use", "id": "toolu_01StrmT00l5", "name": "get_weather", "input": {}}),
        block_delta(2, {"type": "input_json_delta", "partial_json": ""}),
        block_delta(2, {"type": "input_json_delta", "partial_json": '{"location": "Ly'}),
        block_delta(2, {"type": "input_json_delta", "partial_json": 'on, France", "unit": "cel'}),
        block_delta(2, {"type": "input_json_delta", "partial_json": 'sius"}'}),
        block_stop(2),
        message_delta("tool_use", 118),
        MESSAGE_STOP,
    ]


def error_stream() -> list[dict[str, Any]]:
    """Two text pieces, then an SSE ``error`` event (the connection then ends)."""
    return [*TEXT_STREAM[: TEXT_STREAM.index(text_delta(0, " scatters")) + 1], OVERLOADED]


def delayed(events: list[dict[str, Any]], pause_after: int, seconds: float, is_async: bool) -> Any:
    """A responder sending ``events`` as SSE, pausing ``seconds`` after the first ``pause_after`` events."""
    frames = [sse_frame(event) for event in events]

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


def respond_stream(fake: FakeAnthropic, events: list[dict[str, Any]]) -> None:
    fake.stream(MESSAGES_PATH, sse(events))


def open_stream(fake: FakeAnthropic, *, is_async: bool = False, **extra: Any) -> Any:
    """``create(stream=True)``: the stream (sync) or the coroutine returning it (async)."""
    client = fake.async_client() if is_async else fake.client()
    return client.messages.create(
        model=MODEL, max_tokens=1_024, messages=[user("Why is the sky blue?")], stream=True, **extra
    )


def dumps(events: list[Any]) -> list[tuple[type, dict[str, Any]]]:
    return [(e.__class__, e.model_dump()) for e in events]


def bare_events(fake: FakeAnthropic, **extra: Any) -> list[tuple[type, dict[str, Any]]]:
    """What the uninstrumented client yields on the same bytes (run before the instrumentor is installed)."""
    return dumps(list(open_stream(fake, **extra)))


def settle(tracing: Tracing) -> ReceivedSpan:
    """Collect garbage (a stream object must not end its span a second time) and return the one span."""
    gc.collect()
    return tracing.span()


def output_of(span: ReceivedSpan) -> list[dict[str, Any]]:
    return messages_of(span, gen_ai.GEN_AI_OUTPUT_MESSAGES)  # type: ignore[no-any-return]


def assert_ttft(span: ReceivedSpan) -> tuple[float, float]:
    ttfc = span.attributes[gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    ttft_ms = span.attributes[fallom_keys.FALLOM_TIME_TO_FIRST_TOKEN_MS]
    assert isinstance(ttfc, float) and ttfc > 0
    assert isinstance(ttft_ms, float) and ttft_ms > 0
    assert ttft_ms >= ttfc * 1000 - 1e-6
    duration = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e9
    assert ttfc <= duration
    return ttfc, ttft_ms


def assert_one_span_of_ours(tracing: Tracing) -> ReceivedSpan:
    span = settle(tracing)
    assert span.scope_name == SCOPE_NAME
    assert span.name == SPAN_NAME
    return span


class CallerAbort(Exception):
    """The application's own exception, raised while it reads the stream."""


CALLER_ABORT_TYPE = f"{CallerAbort.__module__}.{CallerAbort.__qualname__}"
FULL_USAGE = {
    gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 310 + 1_536 + 96,
    gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: 42,
    gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1_536,
    gen_ai.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 96,
}


# --- full iteration of create(stream=True) ---------------------------------------------------------------------


def test_full_iteration_records_the_whole_answer(receiver: OtlpReceiver) -> None:
    fake = FakeAnthropic()
    respond_stream(fake, TEXT_STREAM)
    bare = bare_events(fake)

    with instrumented(receiver) as tracing:
        stream = open_stream(fake)
        assert isinstance(stream, anthropic.Stream)
        traced = dumps(list(stream))
        span = assert_one_span_of_ours(tracing)

    assert traced == bare
    assert span.kind == "CLIENT"
    assert span.status_code == "UNSET"
    assert_ttft(span)
    assert output_of(span) == text_output(FULL_TEXT, STOP)
    assert messages_of(span, gen_ai.GEN_AI_INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": "Why is the sky blue?"}]}
    ]
    attributes = dict(span.attributes)
    for key in (
        gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
        fallom_keys.FALLOM_TIME_TO_FIRST_TOKEN_MS,
        gen_ai.GEN_AI_INPUT_MESSAGES,
        gen_ai.GEN_AI_OUTPUT_MESSAGES,
    ):
        del attributes[key]
    assert attributes == {
        gen_ai.GEN_AI_OPERATION_NAME: gen_ai.GenAiOperationNameValues.CHAT.value,
        gen_ai.GEN_AI_PROVIDER_NAME: gen_ai.GenAiProviderNameValues.ANTHROPIC.value,
        gen_ai.GEN_AI_REQUEST_MODEL: MODEL,
        gen_ai.GEN_AI_REQUEST_MAX_TOKENS: 1_024,
        gen_ai.GEN_AI_REQUEST_STREAM: True,
        common.SERVER_ADDRESS: "llm.test",
        common.SERVER_PORT: 80,
        gen_ai.GEN_AI_RESPONSE_ID: STREAM_ID,
        gen_ai.GEN_AI_RESPONSE_MODEL: RESPONSE_MODEL,
        gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: [STOP],
        **FULL_USAGE,
    }


async def test_full_iteration_async(receiver: OtlpReceiver) -> None:
    fake = FakeAnthropic()
    respond_stream(fake, TEXT_STREAM)
    bare = bare_events(fake)

    with instrumented(receiver) as tracing:
        stream = await open_stream(fake, is_async=True)
        assert isinstance(stream, anthropic.AsyncStream)
        traced = dumps([e async for e in stream])
        span = assert_one_span_of_ours(tracing)

    assert traced == bare
    assert span.status_code == "UNSET"
    assert_ttft(span)
    assert output_of(span) == text_output(FULL_TEXT, STOP)
    assert span.attributes[gen_ai.GEN_AI_REQUEST_STREAM] is True
    for key, value in FULL_USAGE.items():
        assert span.attributes[key] == value, key
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == [STOP]


@pytest.mark.parametrize(
    "delta_usage",
    [
        {},
        # Newer API versions repeat the (cumulative) input counts in message_delta: never counted twice.
        {"input_tokens": 310, "cache_creation_input_tokens": 96, "cache_read_input_tokens": 1_536},
    ],
    ids=["output_only", "cumulative_input_repeated"],
)
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_streamed_output_tokens_are_the_cumulative_count_not_a_sum(
    tracing: Tracing, fake_anthropic: FakeAnthropic, is_async: bool, delta_usage: dict[str, int]
) -> None:
    # message_start says output_tokens=1 (a placeholder), message_delta says 42 (the total): 42, never 43.
    respond_stream(fake_anthropic, text_stream(delta_usage=delta_usage))

    if is_async:
        [e async for e in await open_stream(fake_anthropic, is_async=True)]
    else:
        list(open_stream(fake_anthropic))

    span = assert_one_span_of_ours(tracing)
    for key, value in FULL_USAGE.items():
        assert span.attributes[key] == value, key


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_thinking_and_tool_use_deltas_are_assembled(receiver: OtlpReceiver, is_async: bool) -> None:
    fake = FakeAnthropic()
    respond_stream(fake, thinking_tool_stream())
    bare = bare_events(fake, tools=[WEATHER_TOOL])

    with instrumented(receiver) as tracing:
        if is_async:
            traced = dumps([e async for e in await open_stream(fake, is_async=True, tools=[WEATHER_TOOL])])
        else:
            traced = dumps(list(open_stream(fake, tools=[WEATHER_TOOL])))
        span = assert_one_span_of_ours(tracing)

    assert traced == bare
    assert output_of(span) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "The user wants Lyon's weather; call the tool."},
                {"type": "text", "content": "Checking the weather."},
                {
                    "type": "tool_call",
                    "name": "get_weather",
                    "id": "toolu_01StrmT00l5",
                    "arguments": {"location": "Lyon, France", "unit": "celsius"},
                },
            ],
            "finish_reason": TOOL_CALL,
        }
    ]
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == [TOOL_CALL]
    assert span.attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 118
    assert span.attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 520
    assert_ttft(span)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_ttft_is_measured_at_the_first_content_event(
    tracing: Tracing, fake_anthropic: FakeAnthropic, is_async: bool
) -> None:
    pause = 0.25
    # message_start, the block start and a ping arrive at once; the first text only after a pause.
    fake_anthropic.routes[MESSAGES_PATH] = delayed(TEXT_STREAM, 3, pause, is_async)

    if is_async:
        events = [e async for e in await open_stream(fake_anthropic, is_async=True)]
    else:
        events = list(open_stream(fake_anthropic))

    assert events[0].type == "message_start"
    span = assert_one_span_of_ours(tracing)
    ttfc, ttft_ms = assert_ttft(span)
    # The first event (message_start) came before the pause, the first token only after it.
    assert ttft_ms - ttfc * 1000 >= pause * 1000 * 0.8


# --- ending early: break, close, the caller's exception, the server's error, garbage collection ------------------


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_break_inside_with_keeps_partial_output(receiver: OtlpReceiver, is_async: bool) -> None:
    fake = FakeAnthropic()
    respond_stream(fake, TEXT_STREAM)
    bare = bare_events(fake)

    stream: Any
    entered: Any
    with instrumented(receiver) as tracing:
        seen = []
        if is_async:
            stream = await open_stream(fake, is_async=True)
            assert isinstance(stream, anthropic.AsyncStream)
            async with stream as entered:
                assert entered is stream
                async for event in stream:
                    seen.append(event)
                    if len(seen) == AFTER_TWO_PIECES:
                        break
        else:
            stream = open_stream(fake)
            assert isinstance(stream, anthropic.Stream)
            with stream as entered:
                assert entered is stream
                for event in stream:
                    seen.append(event)
                    if len(seen) == AFTER_TWO_PIECES:
                        break
        del stream, entered
        span = assert_one_span_of_ours(tracing)

    assert dumps(seen) == bare[:AFTER_TWO_PIECES]
    assert span.status_code == "UNSET"
    assert output_of(span) == text_output("Light scatters", TRUNCATED)
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == [TRUNCATED]
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_ID] == STREAM_ID
    # Left before message_delta: message_start's output count is a placeholder, so no output usage (never guessed).
    assert gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS not in span.attributes
    assert gen_ai.GEN_AI_USAGE_INPUT_TOKENS in span.attributes
    assert_ttft(span)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_close_after_a_few_events(receiver: OtlpReceiver, is_async: bool) -> None:
    fake = FakeAnthropic()
    respond_stream(fake, TEXT_STREAM)
    bare = bare_events(fake)

    with instrumented(receiver) as tracing:
        seen = []
        if is_async:
            stream = await open_stream(fake, is_async=True)
            for _ in range(3):
                seen.append(await stream.__anext__())
            await stream.close()
            await stream.close()  # a second close changes nothing
        else:
            stream = open_stream(fake)
            for _ in range(3):
                seen.append(next(stream))
            stream.close()
            stream.close()
        assert stream.response.is_closed
        del stream
        span = assert_one_span_of_ours(tracing)

    assert dumps(seen) == bare[:3]
    assert span.status_code == "UNSET"
    assert output_of(span) == text_output("Light", TRUNCATED)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_caller_exception_inside_with(tracing: Tracing, fake_anthropic: FakeAnthropic, is_async: bool) -> None:
    respond_stream(fake_anthropic, TEXT_STREAM)
    abort = CallerAbort("the user went away")

    def is_second_piece(event: Any) -> bool:
        return bool(event.type == "content_block_delta" and event.delta.text == " scatters")

    with pytest.raises(CallerAbort) as raised:
        if is_async:
            async with await open_stream(fake_anthropic, is_async=True) as stream:
                async for event in stream:
                    if is_second_piece(event):
                        raise abort
        else:
            with open_stream(fake_anthropic) as stream:
                for event in stream:
                    if is_second_piece(event):
                        raise abort

    assert raised.value is abort
    del stream
    span = assert_one_span_of_ours(tracing)
    assert span.status_code == "ERROR"
    assert span.attributes[common.ERROR_TYPE] == CALLER_ABORT_TYPE
    assert output_of(span) == text_output("Light scatters", TRUNCATED)


@pytest.mark.parametrize("use_with", [False, True], ids=["loop", "with"])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_sse_error_event_mid_stream(receiver: OtlpReceiver, is_async: bool, use_with: bool) -> None:
    fake = FakeAnthropic()
    respond_stream(fake, error_stream())
    bare_seen: list[Any] = []
    with pytest.raises(anthropic.APIStatusError) as bare_error:
        for event in open_stream(fake):
            bare_seen.append(event)

    with instrumented(receiver) as tracing:
        seen: list[Any] = []
        with pytest.raises(anthropic.APIStatusError) as traced_error:
            if is_async:
                stream = await open_stream(fake, is_async=True)
                if use_with:
                    async with stream:
                        async for event in stream:
                            seen.append(event)
                else:
                    async for event in stream:
                        seen.append(event)
            else:
                stream = open_stream(fake)
                if use_with:
                    with stream:
                        for event in stream:
                            seen.append(event)
                else:
                    for event in stream:
                        seen.append(event)
        del stream
        span = assert_one_span_of_ours(tracing)

    error_class = type(bare_error.value)
    assert type(traced_error.value) is error_class
    assert str(traced_error.value) == str(bare_error.value)
    assert traced_error.value.status_code == bare_error.value.status_code
    assert traced_error.value.body == bare_error.value.body == OVERLOADED
    assert dumps(seen) == dumps(bare_seen)
    assert span.status_code == "ERROR"
    assert getattr(anthropic, error_class.__name__) is error_class
    assert span.attributes[common.ERROR_TYPE] == f"anthropic.{error_class.__name__}"
    assert output_of(span) == text_output("Light scatters", TRUNCATED)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_never_iterated_then_dropped(tracing: Tracing, fake_anthropic: FakeAnthropic, is_async: bool) -> None:
    respond_stream(fake_anthropic, TEXT_STREAM)

    stream = await open_stream(fake_anthropic, is_async=True) if is_async else open_stream(fake_anthropic)
    assert isinstance(stream, anthropic.AsyncStream if is_async else anthropic.Stream)
    del stream
    span = assert_one_span_of_ours(tracing)

    assert span.status_code == "ERROR"
    assert span.status_message == ABANDONED
    assert span.attributes[common.ERROR_TYPE] == common.ERROR_TYPE_OTHER
    assert gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in span.attributes
    assert gen_ai.GEN_AI_RESPONSE_ID not in span.attributes


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_partially_read_then_dropped_keeps_partial_output(
    tracing: Tracing, fake_anthropic: FakeAnthropic, is_async: bool
) -> None:
    respond_stream(fake_anthropic, TEXT_STREAM)

    if is_async:
        stream = await open_stream(fake_anthropic, is_async=True)
        for _ in range(AFTER_TWO_PIECES):
            await stream.__anext__()
    else:
        stream = open_stream(fake_anthropic)
        for _ in range(AFTER_TWO_PIECES):
            next(stream)
    del stream
    span = assert_one_span_of_ours(tracing)

    assert span.status_code == "ERROR"
    assert span.attributes[common.ERROR_TYPE] == common.ERROR_TYPE_OTHER
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_ID] == STREAM_ID
    assert output_of(span) == text_output("Light scatters", TRUNCATED)


def test_exhausted_then_closed_and_dropped_ends_once(tracing: Tracing, fake_anthropic: FakeAnthropic) -> None:
    respond_stream(fake_anthropic, TEXT_STREAM)

    with open_stream(fake_anthropic) as stream:
        list(stream)
        assert list(stream) == []
        stream.close()
    del stream

    span = assert_one_span_of_ours(tracing)
    assert span.status_code == "UNSET"
    assert output_of(span) == text_output(FULL_TEXT, STOP)


async def test_cancelled_task_mid_stream(tracing: Tracing, fake_anthropic: FakeAnthropic) -> None:
    # The third event never comes in time: the application cancels the task that reads the stream.
    fake_anthropic.routes[MESSAGES_PATH] = delayed(TEXT_STREAM, 4, 30.0, is_async=True)
    got_text = asyncio.Event()
    seen: list[Any] = []

    async def read() -> None:
        async for event in await open_stream(fake_anthropic, is_async=True):
            seen.append(event)
            if event.type == "content_block_delta":
                got_text.set()

    task = asyncio.create_task(read())
    await asyncio.wait_for(got_text.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    span = assert_one_span_of_ours(tracing)
    assert span.status_code == "ERROR"
    assert span.attributes[common.ERROR_TYPE] == "asyncio.CancelledError"
    assert output_of(span) == text_output("Light", TRUNCATED)


def test_response_and_headers_are_reachable(tracing: Tracing, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.routes[MESSAGES_PATH] = lambda request, _: sdk_http().Response(
        200,
        content=sse(TEXT_STREAM),
        headers={"content-type": "text/event-stream", "request-id": "req_011CStreamHdr", "x-should-retry": "false"},
    )

    stream = open_stream(fake_anthropic)

    assert isinstance(stream.response, sdk_http().Response)
    assert stream.response.status_code == 200
    assert stream.response.headers["request-id"] == "req_011CStreamHdr"
    text = "".join(e.delta.text for e in stream if e.type == "content_block_delta")
    assert text == FULL_TEXT
    del stream
    assert assert_one_span_of_ours(tracing).status_code == "UNSET"


# --- the messages.stream() helper ---------------------------------------------------------------------------------


def helper(fake: FakeAnthropic, *, is_async: bool = False, **extra: Any) -> Any:
    client = fake.async_client() if is_async else fake.client()
    return client.messages.stream(model=MODEL, max_tokens=1_024, messages=[user("Why is the sky blue?")], **extra)


def _consume_sync(stream: Any, way: str) -> Any:
    if way == "text_stream":
        return "".join(stream.text_stream)
    if way == "get_final_message":
        return stream.get_final_message().model_dump()
    if way == "get_final_text":
        return stream.get_final_text()
    if way == "until_done":
        stream.until_done()
        return stream.current_message_snapshot.model_dump()
    if way == "events":
        return [(e.__class__, e.model_dump()) for e in stream]
    raise AssertionError(way)


async def _consume_async(stream: Any, way: str) -> Any:
    if way == "text_stream":
        return "".join([t async for t in stream.text_stream])
    if way == "get_final_message":
        return (await stream.get_final_message()).model_dump()
    if way == "get_final_text":
        return await stream.get_final_text()
    if way == "until_done":
        await stream.until_done()
        return stream.current_message_snapshot.model_dump()
    if way == "events":
        return [(e.__class__, e.model_dump()) async for e in stream]
    raise AssertionError(way)


HELPER_WAYS = ["text_stream", "get_final_message", "get_final_text", "until_done", "events"]


@pytest.mark.parametrize("way", HELPER_WAYS)
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_helper_every_way_of_consuming(receiver: OtlpReceiver, is_async: bool, way: str) -> None:
    fake = FakeAnthropic()
    respond_stream(fake, TEXT_STREAM)
    with helper(fake) as bare_stream:
        bare = _consume_sync(bare_stream, way)

    with instrumented(receiver) as tracing:
        if is_async:
            async with helper(fake, is_async=True) as stream:
                assert isinstance(stream, anthropic.AsyncMessageStream)
                traced = await _consume_async(stream, way)
        else:
            with helper(fake) as stream:
                assert isinstance(stream, anthropic.MessageStream)
                traced = _consume_sync(stream, way)
        del stream
        span = assert_one_span_of_ours(tracing)

    assert traced == bare
    assert fake.requests[0] == fake.requests[1]
    assert span.status_code == "UNSET"
    assert output_of(span) == text_output(FULL_TEXT, STOP)
    assert span.attributes[gen_ai.GEN_AI_REQUEST_STREAM] is True
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_ID] == STREAM_ID
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == [STOP]
    for key, value in FULL_USAGE.items():
        assert span.attributes[key] == value, key
    assert_ttft(span)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_helper_break_ends_the_span_at_exit(
    tracing: Tracing, fake_anthropic: FakeAnthropic, is_async: bool
) -> None:
    respond_stream(fake_anthropic, TEXT_STREAM)
    deltas: list[str] = []
    snapshot_text: str | None = None

    if is_async:
        async with helper(fake_anthropic, is_async=True) as stream:
            async for event in stream:
                if event.type == "text":
                    deltas.append(event.text)
                    if len(deltas) == 2:
                        snapshot_text = stream.current_message_snapshot.content[0].text
                        break
    else:
        with helper(fake_anthropic) as stream:
            for event in stream:
                if event.type == "text":
                    deltas.append(event.text)
                    if len(deltas) == 2:
                        snapshot_text = stream.current_message_snapshot.content[0].text
                        break

    # The helper's exit closed the response: the span is over now, not whenever the stream object is collected.
    span = tracing.span()
    assert deltas == ["Light", " scatters"]
    assert snapshot_text == "Light scatters"
    assert span.scope_name == SCOPE_NAME
    assert span.status_code == "UNSET"
    assert output_of(span) == text_output("Light scatters", TRUNCATED)
    del stream
    assert settle(tracing) == span


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_helper_close_inside_with(tracing: Tracing, fake_anthropic: FakeAnthropic, is_async: bool) -> None:
    respond_stream(fake_anthropic, TEXT_STREAM)

    texts: list[str] = []
    if is_async:
        async with helper(fake_anthropic, is_async=True) as stream:
            while len(texts) < 2:
                event = await stream.__anext__()
                if event.type == "text":
                    texts.append(event.text)
            await stream.close()
    else:
        with helper(fake_anthropic) as stream:
            while len(texts) < 2:
                event = next(stream)
                if event.type == "text":
                    texts.append(event.text)
            stream.close()
    del stream

    span = assert_one_span_of_ours(tracing)
    assert span.status_code == "UNSET"
    assert output_of(span) == text_output("Light scatters", TRUNCATED)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_helper_sse_error(receiver: OtlpReceiver, is_async: bool) -> None:
    fake = FakeAnthropic()
    respond_stream(fake, error_stream())
    with pytest.raises(anthropic.APIStatusError) as bare_error:
        with helper(fake) as bare_stream:
            bare_stream.get_final_message()

    with instrumented(receiver) as tracing:
        with pytest.raises(anthropic.APIStatusError) as traced_error:
            if is_async:
                async with helper(fake, is_async=True) as stream:
                    await stream.get_final_message()
            else:
                with helper(fake) as stream:
                    stream.get_final_message()
        del stream
        span = assert_one_span_of_ours(tracing)

    assert type(traced_error.value) is type(bare_error.value)
    assert str(traced_error.value) == str(bare_error.value)
    assert traced_error.value.body == bare_error.value.body
    assert span.status_code == "ERROR"
    assert span.attributes[common.ERROR_TYPE] == f"anthropic.{type(bare_error.value).__name__}"
    assert output_of(span) == text_output("Light scatters", TRUNCATED)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_helper_thinking_and_tool_use(
    tracing: Tracing, fake_anthropic: FakeAnthropic, is_async: bool
) -> None:
    respond_stream(fake_anthropic, thinking_tool_stream())

    if is_async:
        async with helper(fake_anthropic, is_async=True, tools=[WEATHER_TOOL]) as stream:
            final = await stream.get_final_message()
    else:
        with helper(fake_anthropic, tools=[WEATHER_TOOL]) as stream:
            final = stream.get_final_message()

    assert final.content[2].input == {"location": "Lyon, France", "unit": "celsius"}
    span = assert_one_span_of_ours(tracing)
    [output] = output_of(span)
    assert output["finish_reason"] == TOOL_CALL
    assert output["parts"][2] == {
        "type": "tool_call",
        "name": "get_weather",
        "id": "toolu_01StrmT00l5",
        "arguments": {"location": "Lyon, France", "unit": "celsius"},
    }
    assert span.attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 118


# --- content capture off ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("surface", ["create", "helper"])
def test_capture_off_stream_exports_no_content_byte(
    tracing_no_content: Tracing, fake_anthropic: FakeAnthropic, surface: str
) -> None:
    respond_stream(
        fake_anthropic,
        [
            message_start(),
            block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
            block_delta(0, {"type": "thinking_delta", "thinking": f"reasoning {CANARY}"}),
            block_stop(0),
            block_start(1, {"type": "text", "text": ""}),
            text_delta(1, f"streamed {CANARY}"),
            block_stop(1),
            block_start(2, {"type": "tool_use", "id": "toolu_01CanaryS", "name": "lookup", "input": {}}),
            block_delta(2, {"type": "input_json_delta", "partial_json": json.dumps({"query": CANARY})}),
            block_stop(2),
            message_delta("tool_use", 42),
            MESSAGE_STOP,
        ],
    )
    client = fake_anthropic.client()

    if surface == "create":
        events = list(client.messages.create(**canary_request(), stream=True))
        assert any(CANARY in json.dumps(e.model_dump()) for e in events)
    else:
        with client.messages.stream(**canary_request()) as stream:
            assert CANARY in stream.get_final_text()

    span = assert_one_span_of_ours(tracing_no_content)
    for key in CONTENT_KEYS:
        assert key not in span.attributes, key
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == [TOOL_CALL]
    assert span.attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 42
    assert CANARY.encode() not in tracing_no_content.receiver.all_bytes()


def test_an_open_stream_is_not_the_parent_of_the_next_call(tracing: Tracing, fake_anthropic: FakeAnthropic) -> None:
    respond_stream(fake_anthropic, TEXT_STREAM)
    client = fake_anthropic.client()

    first = client.messages.create(model=MODEL, max_tokens=64, messages=[user("first")], stream=True)
    next(first)
    second = client.messages.create(model=MODEL, max_tokens=64, messages=[user("second")], stream=True)
    list(second)
    list(first)
    del first, second

    spans = tracing.spans(2)
    assert all(s.scope_name == SCOPE_NAME for s in spans)
    assert all(s.parent_span_id is None for s in spans)
    assert spans[0].trace_id != spans[1].trace_id
