"""Fixtures for the Anthropic instrumentor tests: real ``anthropic`` clients over the SDK's own MockTransport, and
tracing exported over OTLP/HTTP to the loopback receiver.

The bodies are hand-written from the documented shapes of the Messages API (``Message`` objects, and named SSE events
``message_start`` ... ``message_stop``).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import anthropic
import pytest
from opentelemetry import trace

import fallom_otel
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

BASE_URL = "http://llm.test"
MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
SCOPE_NAME = "fallom_otel_instrumentors.anthropic"
NATIVE_SCOPE_NAME = "com.anthropic.sdk.python"


# The SDK makes its own GenAI spans (and sends their traceparent) only from anthropic 1.14.0 (``anthropic._tracing``).
NATIVE_TRACING = importlib.util.find_spec("anthropic._tracing") is not None
NO_NATIVE_TRACING_REASON = (
    f"anthropic {anthropic.__version__} has no anthropic._tracing (the SDK's native spans, from 1.14.0)"
)


def sdk_http() -> ModuleType:
    """The HTTP library the installed SDK sends through: ``httpx2`` for anthropic >= 1.0, ``httpx`` for 0.x."""
    base = importlib.import_module("anthropic._base_client")
    return getattr(base, "httpx2", None) or importlib.import_module("httpx")


def sse_frame(event: dict[str, Any]) -> bytes:
    """One named SSE frame, as Anthropic sends it: ``event: <type>`` then ``data: {json}``."""
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def sse(events: list[dict[str, Any]]) -> bytes:
    """An Anthropic SSE body: one named frame per event (no ``[DONE]`` sentinel: the stream ends after the last)."""
    return b"".join(sse_frame(event) for event in events)


Responder = Callable[[Any, dict[str, Any]], Any]  # (request, json body) -> SDK http Response


@dataclass
class FakeAnthropic:
    """Routes requests by path to hand-written responders; records every request body and its headers."""

    routes: dict[str, Responder] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[Any] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: Any) -> Any:
        body = json.loads(request.content or b"{}")
        with self._lock:
            self.requests.append(body)
            self.headers.append(request.headers)
        responder = self.routes.get(request.url.path)
        if responder is None:
            return sdk_http().Response(
                404, json={"type": "error", "error": {"type": "not_found_error", "message": "no route"}}
            )
        return responder(request, body)

    def json(self, path: str, payload: dict[str, Any], status: int = 200) -> None:
        """Answer ``path`` with a JSON body."""
        self.routes[path] = lambda request, body: sdk_http().Response(
            status, json=payload, headers={"request-id": "req_011CTestRequest0001"}
        )

    def stream(self, path: str, body: bytes) -> None:
        """Answer ``path`` with an SSE body."""
        self.routes[path] = lambda request, _: sdk_http().Response(
            200, content=body, headers={"content-type": "text/event-stream", "request-id": "req_011CTestStream0001"}
        )

    def client(self, **kwargs: Any) -> anthropic.Anthropic:
        http = sdk_http()
        return anthropic.Anthropic(
            api_key="sk-ant-test-secret",
            base_url=BASE_URL,
            max_retries=0,
            http_client=http.Client(transport=http.MockTransport(self)),
            **kwargs,
        )

    def async_client(self, **kwargs: Any) -> anthropic.AsyncAnthropic:
        http = sdk_http()
        return anthropic.AsyncAnthropic(
            api_key="sk-ant-test-secret",
            base_url=BASE_URL,
            max_retries=0,
            http_client=http.AsyncClient(transport=http.MockTransport(self)),
            **kwargs,
        )


@pytest.fixture
def fake_anthropic() -> FakeAnthropic:
    return FakeAnthropic()


@dataclass
class Tracing:
    """Process-wide Anthropic tracing exported to the loopback receiver."""

    receiver: OtlpReceiver

    def spans(self, count: int) -> list[ReceivedSpan]:
        """Flush and return exactly ``count`` spans (fails if more or fewer arrive)."""
        assert fallom_otel.flush(5_000)
        spans = self.receiver.wait_for_spans(count)
        assert len(spans) == count, [(s.name, s.scope_name) for s in spans]
        return spans

    def span(self) -> ReceivedSpan:
        [span] = self.spans(1)
        return span


def _uninstrument() -> None:
    """Leave no Anthropic patches behind (the shared cleanup only knows the OpenAI instrumentor)."""
    from fallom_otel_instrumentors.anthropic import AnthropicInstrumentor

    instrumentor = AnthropicInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    instrumentor.disable_for_sessions()


@contextlib.contextmanager
def instrumented(receiver: OtlpReceiver, *, capture_content: bool = True) -> Iterator[Tracing]:
    """Process-wide tracing to ``receiver``; entered after any bare calls (the patches are class-level)."""
    from fallom_otel_instrumentors.anthropic import AnthropicInstrumentor

    fallom_otel.init(base_url=receiver.url, capture_content=capture_content)
    instrumentor = AnthropicInstrumentor()
    try:
        instrumentor.instrument(tracer_provider=trace.get_tracer_provider(), capture_content=capture_content)
        yield Tracing(receiver)
    finally:
        _uninstrument()


@pytest.fixture
def tracing(receiver: OtlpReceiver) -> Iterator[Tracing]:
    """Tracing with content capture on."""
    with instrumented(receiver, capture_content=True) as active:
        yield active


@pytest.fixture
def tracing_no_content(receiver: OtlpReceiver) -> Iterator[Tracing]:
    """Tracing with content capture off."""
    with instrumented(receiver, capture_content=False) as active:
        yield active


@pytest.fixture(autouse=True)
def _no_anthropic_patches_left() -> Iterator[None]:
    """Also after tests that instrument on their own (and fail half-way)."""
    yield
    with contextlib.suppress(ImportError):
        _uninstrument()
