"""``Session.wrap_openai`` / ``wrap_anthropic``: proxies of the real SDK clients, driven through a mock transport.

Every request lands in :class:`Recorder`, which notes, at request time, the session and the call-tracing flag of
the context the SDK sent it from. Each call is made once through the bare client and once through a proxy on the
same canned bytes: the proxy's request must carry the session and the flag, the bare one neither, and both must
return objects of the same type that dump equal. Nothing leaves the process.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import anthropic
import openai
import pydantic
import pytest
from anthropic import _base_client as anthropic_base_client
from openai import _base_client as openai_base_client

import fallom_otel
from fallom_otel import Session
from fallom_otel_instrumentors import call_tracing_active

if TYPE_CHECKING:
    import httpx2 as anthropic_http
    import httpx2 as http  # annotations only: at run time a request is of its client's library, either one
    import httpx2 as openai_http
else:
    # The HTTP library each installed SDK sends through: ``httpx2`` today, plain ``httpx`` in older releases. The two
    # SDKs may differ (openai 1.x on ``httpx``, anthropic on ``httpx2``): each client gets its own SDK's transport.
    openai_http = getattr(openai_base_client, "httpx2", None) or openai_base_client.httpx
    anthropic_http = getattr(anthropic_base_client, "httpx2", None) or anthropic_base_client.httpx

OPENAI_BASE_URL = VERTEX_BASE_URL = "http://llm.test/v1"
ANTHROPIC_BASE_URL = "http://llm.test"
CHAT: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hi"}]}
RESPONSES: dict[str, Any] = {"model": "gpt-4o-mini", "input": "Say hi"}
EMBEDDINGS: dict[str, Any] = {"model": "text-embedding-3-small", "input": "hello"}
MESSAGES: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Say hi"}],
}


# --- canned provider responses, written from the providers' documented shapes -----------------------------------------

CHAT_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-test1",
    "object": "chat.completion",
    "created": 1_735_689_600,
    "model": "gpt-4o-mini-2024-07-18",
    "system_fingerprint": "fp_test",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hi there!", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 9,
        "completion_tokens": 3,
        "total_tokens": 12,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
}


def _chat_chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test2",
        "object": "chat.completion.chunk",
        "created": 1_735_689_601,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_test",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


CHAT_CHUNKS = [
    _chat_chunk({"role": "assistant", "content": ""}),
    _chat_chunk({"content": "Hi"}),
    _chat_chunk({"content": " there!"}),
    _chat_chunk({}, "stop"),
]

_MESSAGE_ITEM: dict[str, Any] = {
    "id": "msg_resp_test",
    "type": "message",
    "status": "completed",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "Hi there!", "annotations": []}],
}


def _response(status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": "resp_test1",
        "object": "response",
        "created_at": 1_735_689_602,
        "status": status,
        "model": "gpt-4o-mini-2024-07-18",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "temperature": 1.0,
        "top_p": 1.0,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "usage": usage,
    }


RESPONSE_USAGE = {
    "input_tokens": 8,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 3,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 11,
}
RESPONSE = _response("completed", [_MESSAGE_ITEM], RESPONSE_USAGE)
_TEXT_AT = {"item_id": "msg_resp_test", "output_index": 0, "content_index": 0}
RESPONSE_EVENTS: list[dict[str, Any]] = [
    {"type": "response.created", "response": _response("in_progress", [], None)},
    {
        "type": "response.output_item.added",
        "output_index": 0,
        "item": {**_MESSAGE_ITEM, "status": "in_progress", "content": []},
    },
    {"type": "response.content_part.added", **_TEXT_AT, "part": {"type": "output_text", "text": "", "annotations": []}},
    {"type": "response.output_text.delta", **_TEXT_AT, "delta": "Hi", "logprobs": []},
    {"type": "response.output_text.delta", **_TEXT_AT, "delta": " there!", "logprobs": []},
    {"type": "response.output_text.done", **_TEXT_AT, "text": "Hi there!", "logprobs": []},
    {"type": "response.content_part.done", **_TEXT_AT, "part": _MESSAGE_ITEM["content"][0]},
    {"type": "response.output_item.done", "output_index": 0, "item": _MESSAGE_ITEM},
    {"type": "response.completed", "response": RESPONSE},
]

EMBEDDING = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.0023, -0.0093, 0.0158]}],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 1, "total_tokens": 1},
}

MODELS = {
    "object": "list",
    "data": [
        {"id": "gpt-4o-mini", "object": "model", "created": 1_721_172_741, "owned_by": "system"},
        {"id": "text-embedding-3-small", "object": "model", "created": 1_705_948_997, "owned_by": "system"},
    ],
}

ANTHROPIC_MESSAGE = {
    "id": "msg_01TestMessage",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Hi there!"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 4, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
}
ANTHROPIC_EVENTS: list[dict[str, Any]] = [
    {
        "type": "message_start",
        "message": {
            **ANTHROPIC_MESSAGE,
            "id": "msg_01TestStream",
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 10, "output_tokens": 1},
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " there!"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 4},
    },
    {"type": "message_stop"},
]


def _openai_sse(events: list[dict[str, Any]], *, named: bool) -> bytes:
    # Chat completions send bare ``data:`` lines; the Responses API names each event after its ``type``.
    frames = [(f"event: {e['type']}\n" if named else "") + f"data: {json.dumps(e)}\n\n" for e in events]
    return ("".join(frames) + ("" if named else "data: [DONE]\n\n")).encode()


def _anthropic_sse(events: list[dict[str, Any]]) -> bytes:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


# Per endpoint: the JSON answer, and the SSE body sent instead when the request asks for ``stream``.
ANSWERS: dict[str, tuple[dict[str, Any], bytes | None]] = {
    "/v1/chat/completions": (CHAT_COMPLETION, _openai_sse(CHAT_CHUNKS, named=False)),
    "/v1/responses": (RESPONSE, _openai_sse(RESPONSE_EVENTS, named=True)),
    "/v1/embeddings": (EMBEDDING, None),
    "/v1/models": (MODELS, None),
    "/v1/messages": (ANTHROPIC_MESSAGE, _anthropic_sse(ANTHROPIC_EVENTS)),
}


# --- the transport ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """What one request found in the context it was sent from."""

    path: str
    session: Session | None
    tracing: bool
    marker: str | None = None


class Recorder:
    """A mock transport handler: answers like the providers and records the context of each request."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self.barrier: threading.Barrier | None = None

    def transport(self, lib: ModuleType) -> http.MockTransport:
        """A mock transport of ``lib`` (the HTTP library of the client's SDK) answering through this recorder."""
        mock: http.MockTransport = lib.MockTransport(lambda request: self.handle(lib, request))
        return mock

    def handle(self, lib: ModuleType, request: http.Request) -> http.Response:
        seen = Seen(
            request.url.path, fallom_otel.current_session(), call_tracing_active(), request.headers.get("x-marker")
        )
        with self._lock:
            self.seen.append(seen)
        barrier = self.barrier
        if barrier is not None and request.url.path == "/v1/chat/completions":
            # Hold every thread's chat request here until all are in flight, so their contexts overlap.
            barrier.wait()
        return self._answer(lib, request)

    def _answer(self, lib: ModuleType, request: http.Request) -> http.Response:
        path = request.url.path
        if path.endswith(":rawPredict"):  # Vertex AI's endpoint for Anthropic messages
            path = "/v1/messages"
        reply: dict[str, Any]
        if path not in ANSWERS:
            reply = {"status_code": 404, "json": {"error": {"type": "not_found_error", "message": path}}}
        elif (events := ANSWERS[path][1]) is not None and json.loads(request.content or b"{}").get("stream"):
            reply = {"status_code": 200, "headers": {"content-type": "text/event-stream"}, "content": events}
        else:
            reply = {"status_code": 200, "json": ANSWERS[path][0]}
        response: http.Response = lib.Response(**reply)
        return response

    def take(self) -> list[Seen]:
        with self._lock:
            seen, self.seen = self.seen, []
        return seen

    def expect(self, session: Session | None, *, requests: int | None = None) -> None:
        """Every request since the last check ran in ``session`` (tracing on) or, for None, in no session."""
        seen = self.take()
        assert seen, "no request reached the transport"
        if requests is not None:
            assert len(seen) == requests, seen
        assert [(s.session, s.tracing) for s in seen] == [(session, session is not None)] * len(seen), seen
        assert_outside()


def assert_outside() -> None:
    """The proxy restored the caller's context: no session, no call-tracing flag."""
    assert fallom_otel.current_session() is None
    assert not call_tracing_active()


def make_openai(recorder: Recorder) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="test-key",
        base_url=OPENAI_BASE_URL,
        max_retries=0,
        http_client=openai_http.Client(transport=recorder.transport(openai_http)),
    )


def make_async_openai(recorder: Recorder) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key="test-key",
        base_url=OPENAI_BASE_URL,
        max_retries=0,
        http_client=openai_http.AsyncClient(transport=recorder.transport(openai_http)),
    )


def make_anthropic(recorder: Recorder) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="test-key",
        base_url=ANTHROPIC_BASE_URL,
        max_retries=0,
        http_client=anthropic_http.Client(transport=recorder.transport(anthropic_http)),
    )


def make_async_anthropic(recorder: Recorder) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        api_key="test-key",
        base_url=ANTHROPIC_BASE_URL,
        max_retries=0,
        http_client=anthropic_http.AsyncClient(transport=recorder.transport(anthropic_http)),
    )


def wrap(session: Session, client: Any) -> Any:
    sdk = type(client).__module__.partition(".")[0]
    return session.wrap_openai(client) if sdk == "openai" else session.wrap_anthropic(client)


def dump(value: object) -> object:
    """A comparable form of a result: models by type and ``model_dump()``, containers element-wise."""
    if isinstance(value, pydantic.BaseModel):
        return (value.__class__, value.model_dump())
    if isinstance(value, (list, tuple)):
        return [dump(v) for v in value]
    return value


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def sync_clients(recorder: Recorder) -> Iterator[dict[str, Any]]:
    with make_openai(recorder) as oai, make_anthropic(recorder) as ant:
        yield {"openai": oai, "anthropic": ant}


@pytest.fixture
async def async_clients(recorder: Recorder) -> AsyncIterator[dict[str, Any]]:
    async with make_async_openai(recorder) as oai, make_async_anthropic(recorder) as ant:
        yield {"openai": oai, "anthropic": ant}


@pytest.fixture
def session() -> Session:
    return fallom_otel.session(config_key="proxy-tests", session_id="session-1", customer_id="user-1")


# --- every kind of call, sync and async: the same result, inside the session ------------------------------------------
# Each op makes its call(s) and returns what the caller would look at; streams are consumed inside. Classes are
# compared through ``__class__``, which is what ``isinstance`` sees: a traced stream is a transparent proxy.


def _chat_stream(c: Any) -> object:
    stream = c.chat.completions.create(**CHAT, stream=True)
    return [stream.__class__, *stream]


def _chat_stream_manager(c: Any) -> object:
    with c.chat.completions.stream(**CHAT) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_completion()
        assert final.choices[0].message.content == "Hi there!"
        return [stream.__class__, events, final]


def _responses_stream(c: Any) -> object:
    stream = c.responses.create(**RESPONSES, stream=True)
    return [stream.__class__, *stream]


def _responses_stream_manager(c: Any) -> object:
    with c.responses.stream(**RESPONSES) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_response()
        assert final.output_text == "Hi there!"
        return [stream.__class__, events, final]


def _raw_response(c: Any) -> object:
    raw = c.chat.completions.with_raw_response.create(**CHAT)
    return [raw.__class__, raw.http_request.url, raw.parse()]


def _client_raw_response(c: Any) -> object:
    raw = c.with_raw_response.embeddings.create(**EMBEDDINGS)
    return [raw.__class__, raw.parse()]


def _streaming_response(c: Any) -> object:
    with c.chat.completions.with_streaming_response.create(**CHAT) as response:
        return [response.__class__, response.parse()]


def _anthropic_stream(c: Any) -> object:
    stream = c.messages.create(**MESSAGES, stream=True)
    return [stream.__class__, *stream]


def _anthropic_stream_manager(c: Any) -> object:
    with c.messages.stream(**MESSAGES) as stream:
        text = list(stream.text_stream)
        assert text == ["Hi", " there!"]
        return [stream.__class__, text, stream.get_final_message()]


def _anthropic_raw_response(c: Any) -> object:
    raw = c.messages.with_raw_response.create(**MESSAGES)
    return [raw.__class__, raw.parse()]


def _anthropic_streaming_response(c: Any) -> object:
    with c.messages.with_streaming_response.create(**MESSAGES) as response:
        return [response.__class__, response.parse()]


SYNC_OPS: dict[str, tuple[str, Callable[[Any], object]]] = {
    "chat": ("openai", lambda c: c.chat.completions.create(**CHAT)),
    "chat-stream": ("openai", _chat_stream),
    "chat-stream-manager": ("openai", _chat_stream_manager),
    "responses": ("openai", lambda c: c.responses.create(**RESPONSES)),
    "responses-stream": ("openai", _responses_stream),
    "responses-stream-manager": ("openai", _responses_stream_manager),
    "embeddings": ("openai", lambda c: c.embeddings.create(**EMBEDDINGS)),
    "models-list": ("openai", lambda c: list(c.models.list())),
    "with-raw-response": ("openai", _raw_response),
    "client-with-raw-response": ("openai", _client_raw_response),
    "with-streaming-response": ("openai", _streaming_response),
    "with-options": ("openai", lambda c: c.with_options(timeout=12.5).chat.completions.create(**CHAT)),
    "copy": ("openai", lambda c: c.copy(max_retries=1).embeddings.create(**EMBEDDINGS)),
    "anthropic-messages": ("anthropic", lambda c: c.messages.create(**MESSAGES)),
    "anthropic-stream": ("anthropic", _anthropic_stream),
    "anthropic-stream-manager": ("anthropic", _anthropic_stream_manager),
    "anthropic-with-raw-response": ("anthropic", _anthropic_raw_response),
    "anthropic-with-streaming-response": ("anthropic", _anthropic_streaming_response),
    "anthropic-with-options": ("anthropic", lambda c: c.with_options(timeout=12.5).messages.create(**MESSAGES)),
    "anthropic-copy": ("anthropic", lambda c: c.copy(max_retries=1).messages.create(**MESSAGES)),
}


@pytest.mark.parametrize("name", list(SYNC_OPS))
def test_sync_call_runs_in_session(
    name: str, recorder: Recorder, sync_clients: dict[str, Any], session: Session
) -> None:
    sdk, op = SYNC_OPS[name]
    client = sync_clients[sdk]
    bare = op(client)
    recorder.expect(None)
    # The bare run filled the SDK's own cached properties; the proxy must add nothing to the client after it.
    before = dict(vars(client))

    proxied = op(wrap(session, client))

    recorder.expect(session, requests=1)
    assert dump(proxied) == dump(bare)
    assert vars(client).keys() == before.keys()
    assert all(vars(client)[key] is value for key, value in before.items())


async def _async_chat_stream(c: Any) -> object:
    stream = await c.chat.completions.create(**CHAT, stream=True)
    return [stream.__class__, *[chunk async for chunk in stream]]


async def _async_chat_stream_manager(c: Any) -> object:
    async with c.chat.completions.stream(**CHAT) as stream:
        events = [event.type async for event in stream]
        final = await stream.get_final_completion()
        assert final.choices[0].message.content == "Hi there!"
        return [stream.__class__, events, final]


async def _async_responses_stream_manager(c: Any) -> object:
    async with c.responses.stream(**RESPONSES) as stream:
        events = [event.type async for event in stream]
        final = await stream.get_final_response()
        assert final.output_text == "Hi there!"
        return [stream.__class__, events, final]


async def _async_raw_response(c: Any) -> object:
    raw = await c.chat.completions.with_raw_response.create(**CHAT)
    return [raw.__class__, raw.parse()]


async def _async_streaming_response(c: Any) -> object:
    async with c.chat.completions.with_streaming_response.create(**CHAT) as response:
        return [response.__class__, await response.parse()]


async def _async_models_iterated(c: Any) -> object:
    return [model async for model in c.models.list()]


async def _async_anthropic_stream(c: Any) -> object:
    stream = await c.messages.create(**MESSAGES, stream=True)
    return [stream.__class__, *[event async for event in stream]]


async def _async_anthropic_stream_manager(c: Any) -> object:
    async with c.messages.stream(**MESSAGES) as stream:
        text = [delta async for delta in stream.text_stream]
        assert text == ["Hi", " there!"]
        return [stream.__class__, text, await stream.get_final_message()]


async def _async_anthropic_streaming_response(c: Any) -> object:
    async with c.messages.with_streaming_response.create(**MESSAGES) as response:
        return [type(response), await response.parse()]


async def _async_anthropic_raw_response(c: Any) -> object:
    raw = await c.messages.with_raw_response.create(**MESSAGES)
    return [type(raw), await raw.parse()]


ASYNC_OPS: dict[str, tuple[str, Callable[[Any], Awaitable[object]]]] = {
    "chat": ("openai", lambda c: c.chat.completions.create(**CHAT)),
    "chat-stream": ("openai", _async_chat_stream),
    "chat-stream-manager": ("openai", _async_chat_stream_manager),
    "responses": ("openai", lambda c: c.responses.create(**RESPONSES)),
    "responses-stream-manager": ("openai", _async_responses_stream_manager),
    "embeddings": ("openai", lambda c: c.embeddings.create(**EMBEDDINGS)),
    "models-list-awaited": ("openai", lambda c: c.models.list()),
    "models-list-iterated": ("openai", _async_models_iterated),
    "with-raw-response": ("openai", _async_raw_response),
    "with-streaming-response": ("openai", _async_streaming_response),
    "with-options": ("openai", lambda c: c.with_options(timeout=12.5).chat.completions.create(**CHAT)),
    "copy": ("openai", lambda c: c.copy(max_retries=1).embeddings.create(**EMBEDDINGS)),
    "anthropic-messages": ("anthropic", lambda c: c.messages.create(**MESSAGES)),
    "anthropic-stream": ("anthropic", _async_anthropic_stream),
    "anthropic-stream-manager": ("anthropic", _async_anthropic_stream_manager),
    "anthropic-with-raw-response": ("anthropic", _async_anthropic_raw_response),
    "anthropic-with-streaming-response": ("anthropic", _async_anthropic_streaming_response),
    "anthropic-with-options": ("anthropic", lambda c: c.with_options(timeout=12.5).messages.create(**MESSAGES)),
    "anthropic-copy": ("anthropic", lambda c: c.copy(max_retries=1).messages.create(**MESSAGES)),
}


@pytest.mark.parametrize("name", list(ASYNC_OPS))
async def test_async_call_runs_in_session(
    name: str, recorder: Recorder, async_clients: dict[str, Any], session: Session
) -> None:
    sdk, op = ASYNC_OPS[name]
    client = async_clients[sdk]
    bare = await op(client)
    recorder.expect(None)
    before = dict(vars(client))

    proxied = await op(wrap(session, client))

    recorder.expect(session, requests=1)
    assert dump(proxied) == dump(bare)
    assert vars(client).keys() == before.keys()
    assert all(vars(client)[key] is value for key, value in before.items())


# --- when the request happens -----------------------------------------------------------------------------------------


def test_deferred_requests_happen_on_enter_inside_the_session(
    recorder: Recorder, sync_clients: dict[str, Any], session: Session
) -> None:
    oai = wrap(session, sync_clients["openai"])
    ant = wrap(session, sync_clients["anthropic"])
    managers = [
        oai.chat.completions.stream(**CHAT),
        oai.responses.stream(**RESPONSES),
        oai.chat.completions.with_streaming_response.create(**CHAT),
        ant.messages.stream(**MESSAGES),
        ant.messages.with_streaming_response.create(**MESSAGES),
    ]
    assert recorder.take() == []  # nothing sent yet: the request is made on __enter__
    for manager in managers:
        with manager:
            recorder.expect(session, requests=1)
        assert_outside()


async def test_async_requests_happen_when_awaited_inside_the_session(
    recorder: Recorder, async_clients: dict[str, Any], session: Session
) -> None:
    oai = wrap(session, async_clients["openai"])
    ant = wrap(session, async_clients["anthropic"])
    pending = [oai.chat.completions.create(**CHAT), ant.messages.create(**MESSAGES), oai.models.list()]
    managers = [
        oai.chat.completions.stream(**CHAT),
        oai.chat.completions.with_streaming_response.create(**CHAT),
        ant.messages.stream(**MESSAGES),
        ant.messages.with_streaming_response.create(**MESSAGES),
    ]
    assert recorder.take() == []  # calling an async method sends nothing
    assert_outside()
    for awaitable in pending:
        await awaitable
        recorder.expect(session, requests=1)
    for manager in managers:
        async with manager:
            recorder.expect(session, requests=1)
        assert_outside()


# --- the proxy is the client ------------------------------------------------------------------------------------------


def test_proxy_passes_isinstance_and_forwards_attributes(sync_clients: dict[str, Any], session: Session) -> None:
    oai: openai.OpenAI = sync_clients["openai"]
    proxy = session.wrap_openai(oai)
    assert isinstance(proxy, openai.OpenAI)
    assert proxy is not oai
    assert proxy.__wrapped__ is oai  # type: ignore[attr-defined]
    assert proxy.api_key == "test-key"
    assert str(proxy.base_url) == OPENAI_BASE_URL + "/"
    assert proxy.max_retries == 0

    copy = proxy.with_options(timeout=12.5)
    assert isinstance(copy, openai.OpenAI)
    assert copy.timeout == 12.5
    assert oai.timeout != 12.5  # the copy is new; the wrapped client is untouched
    assert isinstance(proxy.copy(), openai.OpenAI)

    ant: anthropic.Anthropic = sync_clients["anthropic"]
    anthropic_proxy = session.wrap_anthropic(ant)
    assert isinstance(anthropic_proxy, anthropic.Anthropic)
    assert isinstance(anthropic_proxy.with_options(max_retries=1), anthropic.Anthropic)


def test_sdk_resources_outside_the_resources_package_run_in_session(recorder: Recorder, session: Session) -> None:
    # AnthropicVertex's ``beta`` is defined in ``anthropic.lib.vertex``, not under ``anthropic.resources``.
    with anthropic.AnthropicVertex(
        region="us-east5",
        project_id="test-project",
        access_token="test-token",
        base_url=VERTEX_BASE_URL,
        max_retries=0,
        http_client=anthropic_http.Client(transport=recorder.transport(anthropic_http)),
    ) as client:
        proxy = session.wrap_anthropic(client)
        assert isinstance(proxy, anthropic.AnthropicVertex)
        # Any: the SDK types Vertex's ``beta.messages.create`` as a first-party method, which mypy rejects.
        bare_beta: Any = client.beta
        proxy_beta: Any = proxy.beta
        bare = bare_beta.messages.create(**MESSAGES)
        recorder.expect(None, requests=1)
        proxied = proxy_beta.messages.create(**MESSAGES)
        recorder.expect(session, requests=1)
        assert dump(proxied) == dump(bare)
        proxy.messages.create(**MESSAGES)
        recorder.expect(session, requests=1)


async def test_async_proxy_passes_isinstance(async_clients: dict[str, Any], session: Session) -> None:
    proxy = session.wrap_openai(async_clients["openai"])
    assert isinstance(proxy, openai.AsyncOpenAI)
    assert isinstance(proxy.with_options(timeout=3.0), openai.AsyncOpenAI)
    anthropic_proxy = session.wrap_anthropic(async_clients["anthropic"])
    assert isinstance(anthropic_proxy, anthropic.AsyncAnthropic)
    assert isinstance(anthropic_proxy.copy(), anthropic.AsyncAnthropic)


def test_copies_stay_in_the_session(recorder: Recorder, sync_clients: dict[str, Any], session: Session) -> None:
    proxy = session.wrap_openai(sync_clients["openai"])
    copy = proxy.with_options(timeout=5.0).copy(max_retries=0).with_options(default_headers={"x-app": "tests"})
    copy.chat.completions.create(**CHAT)
    recorder.expect(session, requests=1)


# --- several sessions, one client -------------------------------------------------------------------------------------


def test_two_sessions_share_one_client(recorder: Recorder, sync_clients: dict[str, Any]) -> None:
    client: openai.OpenAI = sync_clients["openai"]
    first = fallom_otel.session(config_key="proxy-tests", session_id="first")
    second = fallom_otel.session(config_key="proxy-tests", session_id="second")
    first_proxy, second_proxy = first.wrap_openai(client), second.wrap_openai(client)

    first_proxy.chat.completions.create(**CHAT)
    recorder.expect(first, requests=1)
    second_proxy.chat.completions.create(**CHAT)
    recorder.expect(second, requests=1)
    client.chat.completions.create(**CHAT)
    recorder.expect(None, requests=1)
    first_proxy.embeddings.create(**EMBEDDINGS)
    recorder.expect(first, requests=1)


def test_rewrapping_moves_the_proxy_to_the_new_session(recorder: Recorder, sync_clients: dict[str, Any]) -> None:
    client: anthropic.Anthropic = sync_clients["anthropic"]
    first = fallom_otel.session(config_key="proxy-tests", session_id="first")
    second = fallom_otel.session(config_key="proxy-tests", session_id="second")
    first_proxy = first.wrap_anthropic(client)
    moved = second.wrap_anthropic(first_proxy)
    assert moved.__wrapped__ is client  # type: ignore[attr-defined]  # not a proxy of a proxy

    moved.messages.create(**MESSAGES)
    recorder.expect(second, requests=1)
    first_proxy.messages.create(**MESSAGES)
    recorder.expect(first, requests=1)

    copy_moved = second.wrap_anthropic(first_proxy.with_options(timeout=4.0))
    assert type(copy_moved.__wrapped__) is anthropic.Anthropic  # type: ignore[attr-defined]
    copy_moved.messages.create(**MESSAGES)
    recorder.expect(second, requests=1)


def test_a_session_entered_around_a_proxy_call_is_overridden_then_restored(
    recorder: Recorder, sync_clients: dict[str, Any], session: Session
) -> None:
    outer = fallom_otel.session(config_key="proxy-tests", session_id="outer")
    proxy = session.wrap_openai(sync_clients["openai"])
    with outer:
        proxy.chat.completions.create(**CHAT)
        assert fallom_otel.current_session() is outer
        assert not call_tracing_active()
    recorder.expect(session, requests=1)


@pytest.mark.parametrize(
    ("wrapper", "target", "package"),
    [
        ("wrap_openai", "object", "openai"),
        ("wrap_openai", "string", "openai"),
        ("wrap_openai", "anthropic-client", "openai"),
        ("wrap_anthropic", "openai-client", "anthropic"),
        ("wrap_anthropic", "openai-resource", "anthropic"),
        ("wrap_openai", "openai-resource", "openai"),
    ],
)
def test_non_clients_are_rejected(
    wrapper: str, target: str, package: str, sync_clients: dict[str, Any], session: Session
) -> None:
    targets: dict[str, object] = {
        "object": object(),
        "string": "sk-not-a-client",
        "anthropic-client": sync_clients["anthropic"],
        "openai-client": sync_clients["openai"],
        "openai-resource": sync_clients["openai"].chat.completions,
    }
    with pytest.raises(TypeError, match=f"'{package}' package"):
        getattr(session, wrapper)(targets[target])


# --- concurrency ------------------------------------------------------------------------------------------------------


def test_threads_wrapping_one_client_do_not_cross_talk(recorder: Recorder) -> None:
    threads_count, calls_each = 20, 3
    sessions = [fallom_otel.session(config_key="proxy-tests", session_id=f"thread-{i}") for i in range(threads_count)]
    errors: list[BaseException] = []
    # Each thread's chat request waits for the others inside the transport, so all 20 contexts are live at once.
    recorder.barrier = threading.Barrier(threads_count, timeout=30)
    with make_openai(recorder) as client:

        def work(session: Session) -> None:
            try:
                proxy = session.wrap_openai(client)
                headers = {"x-marker": session.session_id}
                proxy.chat.completions.create(**CHAT, extra_headers=headers)
                for _ in range(calls_each - 1):
                    proxy.embeddings.create(**EMBEDDINGS, extra_headers=headers)
                assert_outside()
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(s,)) for s in sessions]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)

    assert not errors, errors
    seen = recorder.take()
    assert len(seen) == threads_count * calls_each
    assert all(s.session is not None and s.session.session_id == s.marker and s.tracing for s in seen), seen
    assert {s.marker for s in seen} == {s.session_id for s in sessions}
    assert_outside()


async def test_tasks_wrapping_one_async_client_do_not_cross_talk(
    recorder: Recorder, async_clients: dict[str, Any]
) -> None:
    client: openai.AsyncOpenAI = async_clients["openai"]
    sessions = [fallom_otel.session(config_key="proxy-tests", session_id=f"task-{i}") for i in range(20)]

    async def work(session: Session) -> None:
        proxy = session.wrap_openai(client)
        headers = {"x-marker": session.session_id}
        await proxy.chat.completions.create(**CHAT, extra_headers=headers)
        await asyncio.sleep(0)
        stream = await proxy.chat.completions.create(**CHAT, stream=True, extra_headers=headers)
        async for _ in stream:
            await asyncio.sleep(0)
        assert_outside()

    await asyncio.gather(*(work(s) for s in sessions))

    seen = recorder.take()
    assert len(seen) == 40
    assert all(s.session is not None and s.session.session_id == s.marker and s.tracing for s in seen), seen
    assert_outside()
