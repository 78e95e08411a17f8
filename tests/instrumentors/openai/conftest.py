"""Fixtures for the OpenAI instrumentor tests: real ``openai`` clients over the SDK's own MockTransport, and
tracing exported over OTLP/HTTP to the loopback receiver."""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import openai
import pytest
from opentelemetry import trace

import fallom_otel
from fallom_otel_instrumentors.openai import OpenAIInstrumentor
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

BASE_URL = "http://llm.test/v1"


def sdk_http() -> ModuleType:
    """The HTTP library the installed SDK sends through: ``httpx2`` for openai 3.x, ``httpx`` for older releases."""
    base = importlib.import_module("openai._base_client")
    return getattr(base, "httpx2", None) or importlib.import_module("httpx")


def sse(events: list[dict[str, Any]], *, named: bool = False, done: bool = True) -> bytes:
    """An SSE body: ``data: {json}`` per event (with ``event: <type>`` lines when ``named``), then ``[DONE]``."""
    out = []
    for event in events:
        prefix = f"event: {event['type']}\n" if named else ""
        out.append(f"{prefix}data: {json.dumps(event)}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


Responder = Callable[[Any, dict[str, Any]], Any]  # (request, json body) -> SDK http Response


@dataclass
class FakeOpenAI:
    """Routes requests by path to hand-written responders and records every request body."""

    routes: dict[str, Responder] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: Any) -> Any:
        body = json.loads(request.content or b"{}")
        with self._lock:
            self.requests.append(body)
        responder = self.routes.get(request.url.path)
        if responder is None:
            return sdk_http().Response(404, json={"error": {"message": "no route", "type": "invalid_request_error"}})
        return responder(request, body)

    def json(self, path: str, payload: dict[str, Any], status: int = 200) -> None:
        """Answer ``path`` with a JSON body."""
        self.routes[path] = lambda request, body: sdk_http().Response(status, json=payload)

    def stream(self, path: str, body: bytes) -> None:
        """Answer ``path`` with an SSE body."""
        self.routes[path] = lambda request, _: sdk_http().Response(
            200, content=body, headers={"content-type": "text/event-stream"}
        )

    def client(self, **kwargs: Any) -> openai.OpenAI:
        http = sdk_http()
        return openai.OpenAI(
            api_key="sk-test-secret",
            base_url=BASE_URL,
            max_retries=0,
            http_client=http.Client(transport=http.MockTransport(self)),
            **kwargs,
        )

    def async_client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        http = sdk_http()
        return openai.AsyncOpenAI(
            api_key="sk-test-secret",
            base_url=BASE_URL,
            max_retries=0,
            http_client=http.AsyncClient(transport=http.MockTransport(self)),
            **kwargs,
        )


@pytest.fixture
def fake_openai() -> FakeOpenAI:
    return FakeOpenAI()


@dataclass
class Tracing:
    """Process-wide OpenAI tracing exported to the loopback receiver."""

    receiver: OtlpReceiver

    def spans(self, count: int) -> list[ReceivedSpan]:
        """Flush and return exactly ``count`` spans (fails if more or fewer arrive)."""
        assert fallom_otel.flush(5_000)
        spans = self.receiver.wait_for_spans(count)
        assert len(spans) == count, [s.name for s in spans]
        return spans

    def span(self) -> ReceivedSpan:
        [span] = self.spans(1)
        return span


def _tracing(receiver: OtlpReceiver, capture_content: bool) -> Iterator[Tracing]:
    fallom_otel.init(base_url=receiver.url, capture_content=capture_content)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider(), capture_content=capture_content)
    try:
        yield Tracing(receiver)
    finally:
        instrumentor.uninstrument()


@pytest.fixture
def tracing(receiver: OtlpReceiver) -> Iterator[Tracing]:
    """Tracing with content capture on."""
    yield from _tracing(receiver, capture_content=True)


@pytest.fixture
def tracing_no_content(receiver: OtlpReceiver) -> Iterator[Tracing]:
    """Tracing with content capture off."""
    yield from _tracing(receiver, capture_content=False)
