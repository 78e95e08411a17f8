"""The viewer's HTML over real HTTP: filters, paging, the chat rendering of tool calls, images and media tiles,
escaping of recorded content, and the session timeline."""

from __future__ import annotations

import hashlib
import html
import json
import re
import time

from opentelemetry.trace import Status, StatusCode

from fallom_otel.collector import Collector
from fallom_otel_semconv import common, fallom, gen_ai
from tests.collector.conftest import request, sdk_tracer


def _span(tracer, name: str, **attributes) -> None:
    error = attributes.pop("error", None)
    with tracer.start_as_current_span(name, attributes=attributes) as span:
        time.sleep(0.001)
        if error:
            span.set_attribute(common.ERROR_TYPE, error)
            span.set_status(Status(StatusCode.ERROR, "boom <b>"))


def _call(config_key: str, session: str, model: str, **extra: object) -> dict[str, object]:
    return {
        gen_ai.GEN_AI_OPERATION_NAME: "chat",
        gen_ai.GEN_AI_PROVIDER_NAME: "openai",
        gen_ai.GEN_AI_REQUEST_MODEL: model,
        gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 10,
        gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
        fallom.FALLOM_CONFIG_KEY: config_key,
        fallom.FALLOM_SESSION_ID: session,
        **extra,
    }


def _page(collector: Collector, path: str) -> str:
    answer = request(collector.url, "GET", path)
    assert answer.status == 200, (path, answer.status)
    assert answer.headers["content-type"].startswith("text/html")
    return answer.body.decode()


def test_filters_and_totals(collector: Collector) -> None:
    provider = sdk_tracer(collector.url)
    tracer = provider.get_tracer("t")
    _span(tracer, "chat a", **_call("alpha", "s1", "gpt-4o-mini"))
    _span(tracer, "chat b", **_call("alpha", "s2", "gpt-4o", error="openai.RateLimitError"))
    _span(tracer, "chat c", **_call("beta", "s3", "gpt-4o-mini"))
    provider.shutdown()

    def session_ids(page: str) -> list[str]:
        return re.findall(r'class="session-link"[^>]*>([^<]+)<', page)

    assert sorted(session_ids(_page(collector, "/"))) == ["s1", "s2", "s3"]
    assert sorted(session_ids(_page(collector, "/?config_key=alpha"))) == ["s1", "s2"]
    assert session_ids(_page(collector, "/?status=error")) == ["s2"]
    assert sorted(session_ids(_page(collector, "/?model=gpt-4o-mini"))) == ["s1", "s3"]
    assert session_ids(_page(collector, "/?config_key=beta&model=gpt-4o")) == []
    calls = _page(collector, "/calls?status=error")
    assert calls.count('class="call-link"') == 1 and "openai.RateLimitError" in calls
    models = _page(collector, "/models?config_key=alpha")
    totals = re.findall(r'href="/calls\?model=([^"]+)"', models)
    assert sorted(totals) == ["gpt-4o", "gpt-4o-mini"]
    assert "(filtered)" in _page(collector, "/?config_key=alpha")


def test_paging_of_sessions_and_calls(collector: Collector) -> None:
    provider = sdk_tracer(collector.url)
    tracer = provider.get_tracer("t")
    for index in range(55):
        _span(tracer, "chat", **_call("paged", f"s{index:02d}", "gpt-4o-mini"))
    provider.shutdown()
    first = _page(collector, "/")
    assert first.count('class="session-link"') == 50 and "s54" in first and "older" in first
    second = _page(collector, "/?offset=50")
    assert second.count('class="session-link"') == 5 and "s00" in second and "newer" in second
    calls = _page(collector, "/calls")
    match = re.search(r"before=(\d+)", calls)
    assert calls.count('class="call-link"') == 50 and match
    assert _page(collector, f"/calls?before={match.group(1)}").count('class="call-link"') == 5


def test_call_page_renders_the_chat(collector: Collector) -> None:
    image = b"\x89PNG\r\n\x1a\n" + b"fake image bytes"
    digest = hashlib.sha256(image).hexdigest()
    assert request(collector.url, "PUT", f"/v1/media/{digest}", image, {"Content-Type": "image/png"}).status == 201
    unknown = "ab" * 32
    inputs = [
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "Look <script>alert(1)</script>"},
                {"type": "blob", "modality": "image", "mime_type": "image/png", "size": 24, "sha256": digest},
                {"type": "blob", "modality": "image", "mime_type": "image/jpeg", "size": 999, "sha256": unknown},
                {
                    "type": "uri",
                    "modality": "image",
                    "mime_type": "image/png",
                    "uri": f"http://up.example/v1/media/{digest}",
                },
            ],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": {"temp": 14}}]},
    ]
    outputs = [
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_2", "name": "get_weather", "arguments": {"city": "Paris"}}],
            "finish_reason": "tool_call",
        }
    ]
    provider = sdk_tracer(collector.url)
    _span(
        provider.get_tracer("t"),
        "chat gpt-4o-mini",
        **_call(
            "k",
            "s",
            "gpt-4o-mini",
            **{
                gen_ai.GEN_AI_INPUT_MESSAGES: json.dumps(inputs),
                gen_ai.GEN_AI_OUTPUT_MESSAGES: json.dumps(outputs),
                gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS: json.dumps([{"type": "text", "content": "Be brief."}]),
                gen_ai.GEN_AI_TOOL_DEFINITIONS: json.dumps([{"name": "get_weather", "description": "Weather."}]),
            },
        ),
    )
    provider.shutdown()
    assert collector.store is not None
    [call] = collector.store.calls()
    page = _page(collector, f"/calls/{call['id']}")
    assert "<script>alert(1)</script>" not in page and html.escape("<script>alert(1)</script>") in page
    # Both references to the stored bytes render from this collector's own media path; the unknown one is a tile.
    assert page.count(f'src="/v1/media/{digest}"') == 2
    assert "content not recorded" in page and unknown[:16] in page
    assert "tool call" in page and "get_weather" in page and "&#34;city&#34;: &#34;Paris&#34;" in page
    assert "tool result" in page and "&#34;temp&#34;: 14" in page
    assert "Be brief." in page and "Tool definitions (1)" in page


def test_error_call_and_timeline(collector: Collector) -> None:
    provider = sdk_tracer(collector.url)
    tracer = provider.get_tracer("t")
    _span(tracer, "chat ok", **_call("k", "s", "gpt-4o-mini", **{fallom.FALLOM_TIME_TO_FIRST_TOKEN_MS: 0.5}))
    _span(tracer, "chat failing", **_call("k", "s", "gpt-4o-mini", error="openai.InternalServerError"))
    provider.shutdown()
    session = _page(collector, "/session?config_key=k&id=s")
    assert session.count('<li class="ok">') == 1 and session.count('<li class="error">') == 1
    assert session.count('class="ttft"') == 1
    widths = [float(w) for w in re.findall(r'class="bar" style="left: [\d.]+%; width: ([\d.]+)%', session)]
    assert len(widths) == 2 and all(0 < w <= 100 for w in widths)
    assert collector.store is not None
    failing = next(c for c in collector.store.calls() if c["status"] == "ERROR")
    page = _page(collector, f"/calls/{failing['id']}")
    assert 'id="error"' in page and "openai.InternalServerError" in page and "boom &lt;b&gt;" in page
