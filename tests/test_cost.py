"""``fallom.cost.*`` on spans: real SDK clients over MockTransport, spans exported over OTLP/HTTP to the receiver.

Every expected cost is computed by hand below from the providers' published prices (USD per million tokens), written
out as constants, so a wrong rate, a missed cache discount or a double-counted token fails here whatever
genai-prices says.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from importlib.metadata import version as distribution_version
from pathlib import Path
from typing import Any

import openai
import pytest

import fallom_otel
from fallom_otel import _cost, _price_data
from fallom_otel_semconv import fallom as fallom_keys
from fallom_otel_semconv import gen_ai
from tests.instrumentors.anthropic.conftest import MESSAGES_PATH, FakeAnthropic, sse
from tests.instrumentors.openai.conftest import FakeOpenAI
from tests.instrumentors.openai.conftest import sdk_http as openai_http
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

M = 1_000_000

# Published prices, USD per million tokens (openai.com/api/pricing, anthropic.com/pricing, as of 2026-12).
GPT_4O = {"input": 2.50, "cached": 1.25, "output": 10.00}
GPT_4O_MINI = {"input": 0.15, "cached": 0.075, "output": 0.60}
O3 = {"input": 2.00, "cached": 0.50, "output": 8.00}  # reasoning tokens are billed as output tokens
O4_MINI = {"input": 1.10, "cached": 0.275, "output": 4.40}
O3_FLEX = {"input": 1.00, "cached": 0.25, "output": 4.00}  # service_tier="flex": half price
# Anthropic: cache reads 0.1x base input, 5-minute writes 1.25x, 1-hour writes 2x.
SONNET_4_5 = {"input": 3.00, "read": 0.30, "write_5m": 3.75, "write_1h": 6.00, "output": 15.00}
# Sonnet 4.5 past 200k prompt tokens (cache reads and writes included): every token of the call at these rates.
SONNET_4_5_LONG = {"input": 6.00, "read": 0.60, "write_5m": 7.50, "write_1h": 12.00, "output": 22.50}
HAIKU_4_5 = {"input": 1.00, "read": 0.10, "write_5m": 1.25, "write_1h": 2.00, "output": 5.00}

MESSAGES: Any = [{"role": "user", "content": "Hello!"}]
COST_KEYS = (
    fallom_keys.FALLOM_COST_USD,
    fallom_keys.FALLOM_COST_INPUT_USD,
    fallom_keys.FALLOM_COST_OUTPUT_USD,
    fallom_keys.FALLOM_COST_SOURCE,
)


def openai_usage(
    prompt: int, completion: int, *, cached: int | None = None, reasoning: int | None = None
) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cached is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
    if reasoning is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning, "audio_tokens": 0}
    return usage


def chat_completion(model: str, usage: dict[str, Any], *, service_tier: str = "default") -> dict[str, Any]:
    return {
        "id": "chatcmpl-cost",
        "object": "chat.completion",
        "created": 1733300000,
        "model": model,
        "service_tier": service_tier,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi!", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }


def anthropic_usage(
    uncached: int, output: int, *, read: int = 0, write_5m: int = 0, write_1h: int = 0, split: bool = True
) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "input_tokens": uncached,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": write_5m + write_1h,
        "output_tokens": output,
        "service_tier": "standard",
    }
    if split:
        usage["cache_creation"] = {"ephemeral_5m_input_tokens": write_5m, "ephemeral_1h_input_tokens": write_1h}
    return usage


def message(model: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_01Cost",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "Hi!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }


# (id, provider SDK, request model, response body, hand-computed input USD, hand-computed output USD)
CASES: list[tuple[str, str, str, dict[str, Any], float, float]] = [
    (
        "gpt-4o plain",
        "openai",
        "gpt-4o",
        chat_completion("gpt-4o-2024-08-06", openai_usage(1200, 300, cached=0)),
        1200 * GPT_4O["input"] / M,
        300 * GPT_4O["output"] / M,
    ),
    (
        "gpt-4o cached read",
        "openai",
        "gpt-4o",
        chat_completion("gpt-4o-2024-08-06", openai_usage(2000, 300, cached=1536)),
        (2000 - 1536) * GPT_4O["input"] / M + 1536 * GPT_4O["cached"] / M,
        300 * GPT_4O["output"] / M,
    ),
    (
        "gpt-4o-mini plain",
        "openai",
        "gpt-4o-mini",
        chat_completion("gpt-4o-mini-2024-07-18", openai_usage(5000, 800)),
        5000 * GPT_4O_MINI["input"] / M,
        800 * GPT_4O_MINI["output"] / M,
    ),
    (
        "gpt-4o-mini cached read",
        "openai",
        "gpt-4o-mini",
        chat_completion("gpt-4o-mini-2024-07-18", openai_usage(5000, 800, cached=4096)),
        (5000 - 4096) * GPT_4O_MINI["input"] / M + 4096 * GPT_4O_MINI["cached"] / M,
        800 * GPT_4O_MINI["output"] / M,
    ),
    (
        "o3 reasoning",
        "openai",
        "o3",
        chat_completion("o3-2025-04-16", openai_usage(1000, 2500, cached=0, reasoning=2000)),
        1000 * O3["input"] / M,
        2500 * O3["output"] / M,  # 2,000 reasoning + 500 visible, all at the output rate
    ),
    (
        "o3 reasoning cached read",
        "openai",
        "o3",
        chat_completion("o3-2025-04-16", openai_usage(3000, 2500, cached=2048, reasoning=2000)),
        (3000 - 2048) * O3["input"] / M + 2048 * O3["cached"] / M,
        2500 * O3["output"] / M,
    ),
    (
        "o4-mini reasoning cached read",
        "openai",
        "o4-mini",
        chat_completion("o4-mini-2025-04-16", openai_usage(1500, 900, cached=1024, reasoning=640)),
        (1500 - 1024) * O4_MINI["input"] / M + 1024 * O4_MINI["cached"] / M,
        900 * O4_MINI["output"] / M,
    ),
    (
        "o3 flex service tier",
        "openai",
        "o3",
        chat_completion("o3-2025-04-16", openai_usage(3000, 2500, cached=2048, reasoning=2000), service_tier="flex"),
        (3000 - 2048) * O3_FLEX["input"] / M + 2048 * O3_FLEX["cached"] / M,
        2500 * O3_FLEX["output"] / M,
    ),
    (
        "claude-sonnet-4-5 plain",
        "anthropic",
        "claude-sonnet-4-5",
        message("claude-sonnet-4-5-20250929", anthropic_usage(1200, 400)),
        1200 * SONNET_4_5["input"] / M,
        400 * SONNET_4_5["output"] / M,
    ),
    (
        "claude-sonnet-4-5 cached read",
        "anthropic",
        "claude-sonnet-4-5",
        message("claude-sonnet-4-5-20250929", anthropic_usage(200, 400, read=10_000)),
        200 * SONNET_4_5["input"] / M + 10_000 * SONNET_4_5["read"] / M,
        400 * SONNET_4_5["output"] / M,
    ),
    (
        "claude-sonnet-4-5 cache write 5m",
        "anthropic",
        "claude-sonnet-4-5",
        message("claude-sonnet-4-5-20250929", anthropic_usage(200, 400, write_5m=8_000)),
        200 * SONNET_4_5["input"] / M + 8_000 * SONNET_4_5["write_5m"] / M,
        400 * SONNET_4_5["output"] / M,
    ),
    (
        "claude-sonnet-4-5 cache write 5m+1h and read",
        "anthropic",
        "claude-sonnet-4-5",
        message("claude-sonnet-4-5-20250929", anthropic_usage(200, 400, read=3_000, write_5m=1_500, write_1h=6_000)),
        200 * SONNET_4_5["input"] / M
        + 3_000 * SONNET_4_5["read"] / M
        + 1_500 * SONNET_4_5["write_5m"] / M
        + 6_000 * SONNET_4_5["write_1h"] / M,
        400 * SONNET_4_5["output"] / M,
    ),
    (
        "claude-sonnet-4-5 cache write, no split reported",
        "anthropic",
        "claude-sonnet-4-5",
        message("claude-sonnet-4-5-20250929", anthropic_usage(200, 400, write_5m=8_000, split=False)),
        200 * SONNET_4_5["input"] / M + 8_000 * SONNET_4_5["write_5m"] / M,  # only 5-minute writes existed then
        400 * SONNET_4_5["output"] / M,
    ),
    (
        "claude-sonnet-4-5 long context over 200k",
        "anthropic",
        "claude-sonnet-4-5",
        # 150k cached + 60k written + 1k fresh = 211k prompt tokens > 200k: the whole call at the long-context rates
        message("claude-sonnet-4-5-20250929", anthropic_usage(1_000, 2_000, read=150_000, write_1h=60_000)),
        1_000 * SONNET_4_5_LONG["input"] / M
        + 150_000 * SONNET_4_5_LONG["read"] / M
        + 60_000 * SONNET_4_5_LONG["write_1h"] / M,
        2_000 * SONNET_4_5_LONG["output"] / M,
    ),
    (
        "claude-haiku-4-5 plain",
        "anthropic",
        "claude-haiku-4-5",
        message("claude-haiku-4-5-20251001", anthropic_usage(3000, 700)),
        3000 * HAIKU_4_5["input"] / M,
        700 * HAIKU_4_5["output"] / M,
    ),
    (
        "claude-haiku-4-5 cached read",
        "anthropic",
        "claude-haiku-4-5",
        message("claude-haiku-4-5-20251001", anthropic_usage(100, 700, read=20_000)),
        100 * HAIKU_4_5["input"] / M + 20_000 * HAIKU_4_5["read"] / M,
        700 * HAIKU_4_5["output"] / M,
    ),
    (
        "claude-haiku-4-5 cache write 5m+1h",
        "anthropic",
        "claude-haiku-4-5",
        message("claude-haiku-4-5-20251001", anthropic_usage(100, 700, write_5m=4_000, write_1h=2_500)),
        100 * HAIKU_4_5["input"] / M + 4_000 * HAIKU_4_5["write_5m"] / M + 2_500 * HAIKU_4_5["write_1h"] / M,
        700 * HAIKU_4_5["output"] / M,
    ),
]


@pytest.fixture
def traced(receiver: OtlpReceiver) -> Iterator[OtlpReceiver]:
    fallom_otel.init(base_url=receiver.url, capture_content=False)
    yield receiver


def spans(receiver: OtlpReceiver, count: int) -> list[ReceivedSpan]:
    assert fallom_otel.flush(5_000)
    received = receiver.wait_for_spans(count)
    assert len(received) == count, [s.name for s in received]
    return received


def call(sdk: str, model: str, body: dict[str, Any], **client_kwargs: Any) -> Any:
    session = fallom_otel.session(config_key="cost", session_id="s-1")
    if sdk == "openai":
        fake_openai = FakeOpenAI()
        fake_openai.json("/v1/chat/completions", body)
        client: Any = session.wrap_openai(fake_openai.client(**client_kwargs))
        return client.chat.completions.create(model=model, messages=MESSAGES)
    fake_anthropic = FakeAnthropic()
    fake_anthropic.json(MESSAGES_PATH, body)
    client = session.wrap_anthropic(fake_anthropic.client())
    return client.messages.create(model=model, max_tokens=1024, messages=MESSAGES)


@pytest.mark.parametrize(
    ("sdk", "model", "body", "input_usd", "output_usd"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_cost_equals_the_hand_computed_price(
    traced: OtlpReceiver, sdk: str, model: str, body: dict[str, Any], input_usd: float, output_usd: float
) -> None:
    call(sdk, model, body)
    [span] = spans(traced, 1)
    attributes = span.attributes
    assert attributes[fallom_keys.FALLOM_COST_INPUT_USD] == pytest.approx(input_usd, rel=1e-12)
    assert attributes[fallom_keys.FALLOM_COST_OUTPUT_USD] == pytest.approx(output_usd, rel=1e-12)
    assert attributes[fallom_keys.FALLOM_COST_USD] == pytest.approx(input_usd + output_usd, rel=1e-12)
    assert attributes[fallom_keys.FALLOM_COST_SOURCE] == f"genai-prices {_genai_prices_version()}"


def _genai_prices_version() -> str:
    """The installed distribution's version, read from its metadata (not from the module we report it from)."""
    return distribution_version("genai-prices")


def test_genai_prices_release_line_matches_the_interpreter() -> None:
    """The dependency's markers: genai-prices 0.2.x needs Python 3.11+, so 3.10 gets the 0.1 line (0.1.13+)."""
    installed = tuple(int(part) for part in _genai_prices_version().split(".")[:3])
    if sys.version_info >= (3, 11):
        assert (0, 2, 5) <= installed < (0, 3), installed
    else:
        assert (0, 1, 13) <= installed < (0, 2), installed
    # Whichever line it is, the prices it gives are the providers' published ones (the hand-computed cases above
    # run on both); here the rates the cases rely on come from its data, not from our fallback rules.
    hook = _cost.CostHook()
    sonnet = hook.price_of("anthropic", "claude-sonnet-4-5-20250929")
    assert sonnet.base is not None and sonnet.base[:5] == (3.0, 0.3, 3.75, 6.0, 15.0)
    assert [(start, band[:5]) for start, band in sonnet.tiers] == [(200_000, (6.0, 0.6, 7.5, 12.0, 22.5))]
    flex = hook.price_of("openai", "o3-2025-04-16", "flex")
    assert flex.base is not None and flex.base[:5] == (1.0, 0.25, None, None, 4.0)


async def test_streamed_anthropic_cache_write_split_is_priced(traced: OtlpReceiver) -> None:
    """The 5m/1h split arrives in ``message_start`` of a stream; the cost uses it."""
    usage = anthropic_usage(50, 1, read=2_000, write_5m=1_000, write_1h=3_000)
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {**message("claude-haiku-4-5-20251001", usage), "content": []}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi!"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 42},
        },
        {"type": "message_stop"},
    ]
    fake_anthropic = FakeAnthropic()
    fake_anthropic.stream(MESSAGES_PATH, sse(events))
    client: Any = fallom_otel.session(config_key="cost", session_id="s-1").wrap_anthropic(fake_anthropic.async_client())
    stream = await client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES, stream=True)
    async for _ in stream:
        pass
    [span] = spans(traced, 1)
    expected_input = (
        50 * HAIKU_4_5["input"]
        + 2_000 * HAIKU_4_5["read"]
        + 1_000 * HAIKU_4_5["write_5m"]
        + 3_000 * HAIKU_4_5["write_1h"]
    ) / M
    assert span.attributes[fallom_keys.FALLOM_COST_INPUT_USD] == pytest.approx(expected_input, rel=1e-12)
    assert span.attributes[fallom_keys.FALLOM_COST_OUTPUT_USD] == pytest.approx(42 * HAIKU_4_5["output"] / M)


def test_azure_deployment_name_is_priced_by_the_response_model(traced: OtlpReceiver) -> None:
    fake_openai = FakeOpenAI()
    body = chat_completion("gpt-4o-2024-08-06", openai_usage(1000, 100, cached=0))
    fake_openai.routes["/openai/deployments/my-prod-deployment/chat/completions"] = lambda request, _: (
        openai_http().Response(200, json=body)
    )
    http = openai_http()
    azure = openai.AzureOpenAI(
        api_key="azure-test-secret",
        api_version="2024-10-21",
        azure_endpoint="http://my-resource.openai.azure.test",
        azure_deployment="my-prod-deployment",
        max_retries=0,
        http_client=http.Client(transport=http.MockTransport(fake_openai)),
    )
    client = fallom_otel.session(config_key="cost", session_id="s-1").wrap_openai(azure)
    client.chat.completions.create(model="my-prod-deployment", messages=MESSAGES)
    [span] = spans(traced, 1)
    expected = (1000 * GPT_4O["input"] + 100 * GPT_4O["output"]) / M
    assert span.attributes[fallom_keys.FALLOM_COST_USD] == pytest.approx(expected, rel=1e-12)


def test_unknown_model_has_no_cost_and_logs_once(traced: OtlpReceiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="fallom_otel")
    body = chat_completion("acme-llm-unknown-7b", openai_usage(100, 20))
    results = [call("openai", "acme-llm-unknown-7b", body) for _ in range(100)]
    assert all(r.choices[0].message.content == "Hi!" for r in results)  # the calls are unaffected
    received = spans(traced, 100)
    assert all(key not in span.attributes for span in received for key in COST_KEYS)
    assert all(span.attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 100 for span in received)
    lines = [r for r in caplog.records if "no price known" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert "acme-llm-unknown-7b" in lines[0].getMessage()


def test_no_usage_means_no_cost(traced: OtlpReceiver) -> None:
    body = chat_completion("gpt-4o-2024-08-06", openai_usage(1, 1))
    del body["usage"]
    call("openai", "gpt-4o", body)
    [span] = spans(traced, 1)
    assert not any(key in span.attributes for key in COST_KEYS)


def test_failed_call_without_usage_has_no_cost(traced: OtlpReceiver) -> None:
    fake_openai = FakeOpenAI()
    fake_openai.json("/v1/chat/completions", {"error": {"message": "slow down", "type": "rate_limit"}}, status=429)
    client = fallom_otel.session(config_key="cost", session_id="s-1").wrap_openai(fake_openai.client())
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    [span] = spans(traced, 1)
    assert span.status_code == "ERROR"
    assert not any(key in span.attributes for key in COST_KEYS)


# --- user prices -----------------------------------------------------------------------------------------------------


def test_user_prices_override_and_add_models(receiver: OtlpReceiver) -> None:
    fallom_otel.init(
        base_url=receiver.url,
        prices={
            "gpt-4o": {"input_mtok": 2.0, "output_mtok": 8.0, "cache_read_mtok": 0.5},  # a negotiated rate
            "ft:gpt-4o-mini-2024-07-18:acme:*": {"input_mtok": 0.3, "output_mtok": 1.2},
            "anthropic": {"claude-haiku-4-5": {"input_mtok": 0.9, "output_mtok": 4.5}},
        },
    )
    call("openai", "gpt-4o", chat_completion("gpt-4o-2024-08-06", openai_usage(1000, 100, cached=400)))
    ft = "ft:gpt-4o-mini-2024-07-18:acme:support:abc123"
    call("openai", ft, chat_completion(ft, openai_usage(1000, 100)))
    call("anthropic", "claude-haiku-4-5", message("claude-haiku-4-5-20251001", anthropic_usage(1000, 100)))
    received = {s.attributes[gen_ai.GEN_AI_REQUEST_MODEL]: s.attributes for s in spans(receiver, 3)}
    gpt = received["gpt-4o"]
    assert gpt[fallom_keys.FALLOM_COST_USD] == pytest.approx((600 * 2.0 + 400 * 0.5 + 100 * 8.0) / M, rel=1e-12)
    assert gpt[fallom_keys.FALLOM_COST_SOURCE] == "user"
    assert received[ft][fallom_keys.FALLOM_COST_USD] == pytest.approx((1000 * 0.3 + 100 * 1.2) / M, rel=1e-12)
    haiku = received["claude-haiku-4-5"]
    # The entry is keyed by the request model; the response model (dated) has none, so the request model's is used.
    assert haiku[fallom_keys.FALLOM_COST_USD] == pytest.approx((1000 * 0.9 + 100 * 4.5) / M, rel=1e-12)


def test_self_hosted_model_priced_from_a_prices_file(
    receiver: OtlpReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"llama-3.3-70b-instruct": {"input_mtok": 0.6, "output_mtok": 0.6}}))
    monkeypatch.setenv("FALLOM_PRICES", str(prices))
    fallom_otel.init(base_url=receiver.url)
    call("openai", "llama-3.3-70b-instruct", chat_completion("llama-3.3-70b-instruct", openai_usage(2000, 500)))
    [span] = spans(receiver, 1)
    assert span.attributes[fallom_keys.FALLOM_COST_USD] == pytest.approx(2500 * 0.6 / M, rel=1e-12)
    assert span.attributes[fallom_keys.FALLOM_COST_SOURCE] == "user:prices.json"


def test_user_long_context_tier(receiver: OtlpReceiver) -> None:
    tiered = {"base": 1.0, "tiers": [{"start": 100_000, "price": 2.0}]}
    fallom_otel.init(base_url=receiver.url, prices={"my-model": {"input_mtok": tiered, "output_mtok": 4.0}})
    call("openai", "my-model", chat_completion("my-model", openai_usage(100_000, 10)))
    call("openai", "my-model", chat_completion("my-model", openai_usage(100_001, 10)))
    costs = sorted(s.attributes[fallom_keys.FALLOM_COST_INPUT_USD] for s in spans(receiver, 2))
    assert costs == [pytest.approx(100_000 * 1.0 / M), pytest.approx(100_001 * 2.0 / M)]


@pytest.mark.parametrize(
    ("prices", "error", "message"),
    [
        ({"m": {"input_mtok": -1, "output_mtok": 1}}, ValueError, "prices['m']['input_mtok'] must be a finite number"),
        ({"m": {"input_mtok": 1}}, ValueError, "prices['m'] misses output_mtok"),
        ({"m": {"input_mtok": 1, "output_mtok": 1, "cache_reads": 1}}, ValueError, "unknown key(s) 'cache_reads'"),
        ({"m": {"input_mtok": "3", "output_mtok": 1}}, TypeError, "prices['m']['input_mtok'] must be a number"),
        ({"m": {"input_mtok": float("nan"), "output_mtok": 1}}, ValueError, "finite number >= 0"),
        ({"m": {"input_mtok": True, "output_mtok": 1}}, TypeError, "must be a number"),
        ({"m": 3.0}, TypeError, "prices['m'] must be a mapping of prices"),
        ({"m": {}}, ValueError, "prices['m'] is empty"),
        ({"openai": {"gpt-x": {"input_mtok": 1}}}, ValueError, "prices['openai']['gpt-x'] misses output_mtok"),
        (
            {"m": {"input_mtok": {"base": 1, "tiers": [{"start": -5, "price": 2}]}, "output_mtok": 1}},
            ValueError,
            "['tiers'][0]['start'] must be an int >= 0",
        ),
        (["gpt-4o"], TypeError, "prices must be a mapping"),
    ],
)
def test_malformed_prices_fail_init_clearly(prices: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        fallom_otel.init(base_url="http://127.0.0.1:9", prices=prices)
    assert message in str(raised.value)


def test_bad_prices_file_fails_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "prices.json"
    bad.write_text("{not json")
    monkeypatch.setenv("FALLOM_PRICES", str(bad))
    with pytest.raises(ValueError, match=r"FALLOM_PRICES: price file .*prices\.json.* is not valid JSON"):
        fallom_otel.init(base_url="http://127.0.0.1:9")
    monkeypatch.setenv("FALLOM_PRICES", str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="FALLOM_PRICES: cannot read price file"):
        fallom_otel.init(base_url="http://127.0.0.1:9")


# --- the fast path agrees with genai-prices' own calculation ---------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "gpt-4o"),
        ("openai", "gpt-4o-mini"),
        ("openai", "o3"),
        ("openai", "o4-mini"),
        ("openai", "gpt-5"),
        ("azure.ai.openai", "gpt-4o"),
        ("anthropic", "claude-sonnet-4-5"),
        ("anthropic", "claude-haiku-4-5"),
        ("anthropic", "claude-3-5-haiku-latest"),
        ("aws.bedrock", "global.anthropic.claude-haiku-4-5-20251001-v1:0"),
        ("gcp.vertex_ai", "claude-sonnet-4-5@20250929"),
    ],
)
@pytest.mark.parametrize(
    "usage",
    [
        {"input_tokens": 1000, "output_tokens": 500},
        {"input_tokens": 9000, "output_tokens": 500, "cache_read_input_tokens": 6000},
        {"input_tokens": 9000, "output_tokens": 500, "cache_write_input_tokens": 7000},
        {
            "input_tokens": 9000,
            "output_tokens": 500,
            "cache_write_input_tokens": 7000,
            "cache_write_1h_input_tokens": 2000,
        },
        {"input_tokens": 300_000, "output_tokens": 5000, "cache_read_input_tokens": 250_000},
        {"input_tokens": 1000, "output_tokens": 5000, "reasoning_output_tokens": 4000},
    ],
    ids=["plain", "read", "write", "write-1h", "long", "reasoning"],
)
def test_fast_path_matches_genai_prices(provider: str, model: str, usage: dict[str, int]) -> None:
    from genai_prices import Usage as GenaiUsage
    from genai_prices import calc_price

    from fallom_otel_instrumentors._invocation import Usage

    hook = _cost.CostHook()
    ours = Usage()
    for name, value in usage.items():
        setattr(ours, name, value)
    invocation = _FakeInvocation(provider, model, ours)
    attributes: dict[str, Any] = {}
    hook(invocation, attributes)  # type: ignore[arg-type]
    theirs = GenaiUsage(
        input_tokens=usage["input_tokens"],
        output_tokens=usage["output_tokens"],
        cache_read_tokens=usage.get("cache_read_input_tokens"),
        cache_write_tokens=usage.get("cache_write_input_tokens"),
        cache_write_1h_tokens=usage.get("cache_write_1h_input_tokens"),
        output_reasoning_tokens=usage.get("reasoning_output_tokens"),
    )
    provider_id = {"azure.ai.openai": "azure", "aws.bedrock": "aws", "gcp.vertex_ai": "google"}.get(provider, provider)
    expected = calc_price(theirs, model, provider_id=provider_id)
    assert attributes[fallom_keys.FALLOM_COST_INPUT_USD] == pytest.approx(float(expected.input_price), rel=1e-12)
    assert attributes[fallom_keys.FALLOM_COST_OUTPUT_USD] == pytest.approx(float(expected.output_price), rel=1e-12)


class _FakeInvocation:
    """The fields of an invocation the cost hook reads (for the comparison with genai-prices only)."""

    def __init__(self, provider: str, model: str, usage: Any) -> None:
        self.provider = provider
        self.request_model = model
        self.response_model = model
        self.operation = "chat"
        self.usage = usage


def test_anthropic_one_hour_rule_when_the_data_has_no_one_hour_rate() -> None:
    """Bedrock's regional Claude 3.5 Sonnet has no 1-hour write price in the data: 2x base input (Anthropic's rule)."""
    price = _cost.CostHook().price_of("aws.bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0")
    assert price.base is not None
    rate_input, _, rate_write, rate_write_1h, _, _ = price.base
    assert (rate_input, rate_write, rate_write_1h) == (3.0, 3.75, 6.0)


def test_one_hour_rate_missing_from_the_data_model() -> None:
    """A ``ModelPrice`` without a 1-hour field at all (read by attribute, not by genai-prices version)."""
    from types import SimpleNamespace

    tiered = SimpleNamespace(base=3.0, tiers=[SimpleNamespace(start=200_000, price=6.0)])
    old_shape = SimpleNamespace(input_mtok=tiered, output_mtok=15.0, cache_read_mtok=0.3, cache_write_mtok=3.75)
    base, tiers = _price_data.bands(old_shape, claude=True)
    assert base == (3.0, 0.3, 3.75, 6.0, 15.0, None)  # Anthropic's rule: 1-hour writes at 2x base input
    assert tiers == ((200_000, (6.0, 0.3, 3.75, 12.0, 15.0, None)),)
    base, _ = _price_data.bands(old_shape, claude=False)
    assert base is not None and base[3] is None  # elsewhere no 1-hour rate is invented: writes at the write rate


def test_missing_genai_prices_never_breaks_a_call(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """genai-prices not importable (a --no-deps install): no cost attribute, one warning, the calls unaffected.

    The suite re-raises internal errors (FALLOM_OTEL_RERAISE_INTERNAL_ERRORS=1), so an ImportError escaping the
    hook would fail this test.
    """
    monkeypatch.setitem(sys.modules, "genai_prices", None)  # `import genai_prices` now raises ModuleNotFoundError
    monkeypatch.setattr(_price_data, "_unavailable_reported", False)
    monkeypatch.setattr(_cost, "_last_hook", None)  # a fresh hook: no price cached by earlier tests
    caplog.set_level(logging.DEBUG, logger="fallom_otel")
    assert _price_data.load_snapshot() is None  # what the warm-up thread runs: returns, does not raise
    fallom_otel.init(base_url=receiver.url, prices={"my-fine-tune": {"input_mtok": 1.0, "output_mtok": 2.0}})
    results = [
        call("openai", "gpt-4o", chat_completion("gpt-4o-2024-08-06", openai_usage(1000, 100))),
        call("openai", "o3", chat_completion("o3-2025-04-16", openai_usage(1000, 100))),
        call("anthropic", "claude-haiku-4-5", message("claude-haiku-4-5-20251001", anthropic_usage(1000, 100))),
        call("openai", "my-fine-tune", chat_completion("my-fine-tune", openai_usage(1000, 100))),
    ]
    assert [r.choices[0].message.content if hasattr(r, "choices") else r.content[0].text for r in results] == [
        "Hi!"
    ] * 4
    received = {s.attributes[gen_ai.GEN_AI_REQUEST_MODEL]: s.attributes for s in spans(receiver, 4)}
    for model in ("gpt-4o", "o3", "claude-haiku-4-5"):
        assert not any(key in received[model] for key in COST_KEYS), model
        assert received[model][gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 1000
    # The user's own prices still apply.
    assert received["my-fine-tune"][fallom_keys.FALLOM_COST_USD] == pytest.approx((1000 * 1.0 + 100 * 2.0) / M)
    assert received["my-fine-tune"][fallom_keys.FALLOM_COST_SOURCE] == "user"
    # One line says why, once for the process; no "no price known" line per model on top of it.
    lines = [r for r in caplog.records if "genai-prices" in r.getMessage() or "no price known" in r.getMessage()]
    assert [(r.levelno, "genai-prices cannot be imported" in r.getMessage()) for r in lines] == [
        (logging.WARNING, True)
    ], [r.getMessage() for r in lines]
