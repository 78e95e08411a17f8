"""The collector as the receiver of an end-to-end test: ``fallom_otel.init(base_url=collector.url)``, real SDK clients
over MockTransport, and the stored calls read back from the collector's store."""

from __future__ import annotations

import fallom_otel
from fallom_otel.collector import Collector
from tests.instrumentors.openai.conftest import FakeOpenAI, sse


def test_a_traced_session_lands_in_the_collector(collector: Collector) -> None:
    fake_openai = FakeOpenAI()
    chunk = {"id": "chatcmpl-e2e", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini-2024-07-18"}
    fake_openai.stream(
        "/v1/chat/completions",
        sse(
            [
                {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
                {**chunk, "choices": [{"index": 0, "delta": {"content": "Hello"}}]},
                {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                {
                    **chunk,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": 20,
                        "completion_tokens": 2,
                        "total_tokens": 22,
                        "prompt_tokens_details": {"cached_tokens": 0},
                        "completion_tokens_details": {"reasoning_tokens": 0},
                    },
                },
            ]
        ),
    )
    fallom_otel.init(base_url=collector.url)
    session = fallom_otel.session(config_key="e2e", session_id="e2e-1", customer_id="c")
    client = session.wrap_openai(fake_openai.client())
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Hello"
    assert fallom_otel.flush(5_000)

    assert collector.store is not None
    [call] = collector.store.session_calls("e2e", "e2e-1")
    assert (call["model"], call["input_tokens"], call["output_tokens"]) == ("gpt-4o-mini-2024-07-18", 20, 2)
    assert call["ttft_ms"] is not None and call["ttft_ms"] >= 0 and call["stream"] == 1
    assert call["status"] != "ERROR" and call["customer_id"] == "c"
    [summary] = collector.store.sessions()
    assert (summary["config_key"], summary["session_id"], summary["calls"]) == ("e2e", "e2e-1", 1)
