"""Token numbers on the span equal the provider's usage, for every accounting case Anthropic reports; the wire
includes ``ping`` keep-alives as the API sends them."""

from __future__ import annotations

from typing import Any

import pytest

from fallom_otel_semconv import gen_ai
from tests.instrumentors.anthropic.conftest import MESSAGES_PATH, FakeAnthropic, Tracing, instrumented, sse
from tests.instrumentors.anthropic.test_messages import (
    MODEL,
    RESPONSE_MODEL,
    message_body,
    text_block,
    thinking_block,
    usage_body,
)
from tests.otlp_receiver import OtlpReceiver

USAGE_KEYS = (
    gen_ai.GEN_AI_USAGE_INPUT_TOKENS,
    gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS,
    gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    gen_ai.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
)


def usage_of(attributes: dict[str, Any]) -> dict[str, Any]:
    return {key: attributes[key] for key in USAGE_KEYS if key in attributes}


# (provider usage) -> what the span must say, computed by hand: semconv input = input + cache reads + cache writes.
CASES = {
    "plain": (
        usage_body(400, 25, cache_read=None, cache_write=None),
        {gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 400, gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: 25},
    ),
    "cache-read": (
        usage_body(12, 30, cache_read=3_000, cache_write=0),
        {
            gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 3_012,
            gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: 30,
            gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 3_000,
            gen_ai.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 0,
        },
    ),
    "cache-write": (
        usage_body(9, 41, cache_read=0, cache_write=2_500),
        {
            gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 2_509,
            gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: 41,
            gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 0,
            gen_ai.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 2_500,
        },
    ),
    "both": (
        usage_body(7, 55, cache_read=1_800, cache_write=640),
        {
            gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 2_447,
            gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: 55,
            gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1_800,
            gen_ai.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 640,
        },
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_non_streamed_usage(case: str, tracing: Tracing, fake_anthropic: FakeAnthropic) -> None:
    provider_usage, expected = CASES[case]
    fake_anthropic.json(MESSAGES_PATH, message_body(text_block("ok"), usage=provider_usage))
    with fake_anthropic.client() as client:
        response = client.messages.create(model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "hi"}])
    assert response.usage.input_tokens == provider_usage["input_tokens"]  # the caller sees the provider's own view
    assert usage_of(tracing.span().attributes) == expected


def test_thinking_tokens_are_inside_the_output_count(tracing: Tracing, fake_anthropic: FakeAnthropic) -> None:
    # Anthropic bills thinking as output: output_tokens already includes it, and no separate count is sent.
    body = message_body(
        thinking_block("The user greets me; a short greeting back is right."),
        text_block("Hello!"),
        usage=usage_body(20, 180, cache_read=None, cache_write=None),
    )
    fake_anthropic.json(MESSAGES_PATH, body)
    with fake_anthropic.client() as client:
        client.messages.create(
            model=MODEL,
            max_tokens=2_048,
            thinking={"type": "enabled", "budget_tokens": 1_024},
            messages=[{"role": "user", "content": "hi"}],
        )
    span = tracing.span()
    assert usage_of(span.attributes) == {
        gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 20,
        gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: 180,
    }
    assert gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS not in span.attributes  # not reported: never guessed


def streamed_events() -> list[dict[str, Any]]:
    start_usage = {**usage_body(15, 1, cache_read=900, cache_write=300), "output_tokens": 1}
    message = {**message_body(usage=start_usage), "content": [], "stop_reason": None}
    return [
        {"type": "message_start", "message": message},
        {"type": "ping"},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Counting "}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "tokens."}},
        {"type": "content_block_stop", "index": 0},
        {"type": "ping"},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 37},  # cumulative: the final count, not an increment
        },
        {"type": "message_stop"},
    ]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_streamed_usage_is_cumulative_and_pings_are_harmless(
    is_async: bool, fake_anthropic: FakeAnthropic, receiver: OtlpReceiver
) -> None:
    fake_anthropic.stream(MESSAGES_PATH, sse(streamed_events()))
    kwargs: dict[str, Any] = {"model": MODEL, "max_tokens": 256, "messages": [{"role": "user", "content": "hi"}]}

    async def events() -> list[str]:
        if is_async:
            async with fake_anthropic.async_client() as client:
                return [e.type async for e in await client.messages.create(**kwargs, stream=True)]
        with fake_anthropic.client() as client:
            return [e.type for e in client.messages.create(**kwargs, stream=True)]

    bare = await events()
    assert "ping" not in bare  # the SDK drops keep-alives itself
    with instrumented(receiver) as tracing:
        seen = await events()
        span = tracing.span()
    assert seen == bare
    assert span.attributes[gen_ai.GEN_AI_RESPONSE_MODEL] == RESPONSE_MODEL
    assert usage_of(span.attributes) == {
        gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 1_215,  # 15 + 900 + 300
        gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: 37,  # assigned from message_delta, never 1 + 37
        gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 900,
        gen_ai.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 300,
    }
