"""With an HTTP client instrumentor on, the HTTP span of an SDK call is a child of its GenAI span.

``make test-peers`` installs ``opentelemetry-instrumentation-httpx`` with an ``openai`` release that sends through
``httpx`` (2.x); with ``openai`` 3.x (``httpx2``) the same package's ``HTTPX2ClientInstrumentor`` is used.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from typing import Any

import pytest

import fallom_otel
from fallom_otel_semconv import gen_ai
from tests.otlp_receiver import OtlpReceiver
from tests.peers.conftest import require
from tests.zero_code.fake_llm import FakeLLM

# Outside `make test-peers` the packages are absent: skip the module at collection (there: fail).
require("opentelemetry.instrumentation.httpx")


@pytest.fixture
def http_instrumentor() -> Iterator[Any]:
    httpx_instrumentation = require("opentelemetry.instrumentation.httpx")
    base = importlib.import_module("openai._base_client")
    uses_httpx2 = getattr(base, "httpx2", None) is not None
    name = "HTTPX2ClientInstrumentor" if uses_httpx2 else "HTTPXClientInstrumentor"
    instrumentor = getattr(httpx_instrumentation, name)()
    yield instrumentor
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_http_span_is_a_child_of_the_genai_span(
    mode: str, http_instrumentor: Any, receiver: OtlpReceiver, llm: FakeLLM
) -> None:
    openai = require("openai")
    fallom_otel.init(api_key="k", base_url=receiver.url, instrument=True)
    http_instrumentor.instrument()
    messages = [{"role": "user", "content": "hi"}]
    if mode == "sync":
        client = openai.OpenAI(base_url=llm.openai_base_url, api_key="sk-test", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    else:

        async def call() -> None:
            client = openai.AsyncOpenAI(base_url=llm.openai_base_url, api_key="sk-test", max_retries=0)
            await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
            await client.close()

        asyncio.run(call())
    assert fallom_otel.flush(5_000)
    spans = receiver.spans
    [genai] = [s for s in spans if gen_ai.GEN_AI_OPERATION_NAME in s.attributes]
    [http] = [s for s in spans if s is not genai]
    assert http.scope_name == "opentelemetry.instrumentation.httpx"
    assert http.parent_span_id == genai.span_id
    assert http.trace_id == genai.trace_id
    # The request carried the HTTP span's context, so the provider side joins the same trace.
    [request] = llm.requests
    assert request.headers["traceparent"].startswith(f"00-{http.trace_id}-{http.span_id}-")
