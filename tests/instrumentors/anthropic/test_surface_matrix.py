"""Every traced Anthropic SDK surface, sync and async, against the acceptance checks (DESIGN §3, §5).

(a) An extractor that raises (each one on the surface's path, one at a time) leaves what the caller observes (the
    object, the events, the text, the exception) exactly as the bare SDK's on the same bytes; the fault fired; our
    span still ends exactly once (none when ``start`` raised).
(b) Without faults the caller gets the bare SDK's objects: same class, equal ``model_dump()``.
(c) With content capture off, no canary placed in a content field (system, user text, tool input, tool result,
    thinking, completion, tool definitions, error text) is in any byte the receiver got. With capture on the same
    canaries do arrive, so the check cannot pass vacuously.
(d) The caller's keyword arguments (system, messages, tools, extra_headers) are not mutated.
(e) With the global SDK TracerProvider ``fallom_otel.init()`` sets (the SDK then starts its own call span), exactly one
    span is exported per call, from our scope, and the request's ``traceparent`` carries its id.

Every test makes its bare call first: the patches are class-level, so no client is bare while they are installed.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import pkgutil
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, NoReturn

import anthropic
import pydantic
import pytest

import fallom_otel
from fallom_otel_instrumentors._safety import RERAISE_ENV
from fallom_otel_instrumentors.anthropic import AnthropicInstrumentor
from tests.instrumentors.anthropic.conftest import (
    MESSAGES_PATH,
    NATIVE_SCOPE_NAME,
    SCOPE_NAME,
    FakeAnthropic,
    instrumented,
    sdk_http,
    sse,
)
from tests.instrumentors.anthropic.test_messages import (
    MODEL,
    error_body,
    message_body,
    text_block,
    thinking_block,
    tool_use_block,
    traceparent_span_id,
)
from tests.instrumentors.anthropic.test_messages_stream import (
    MESSAGE_STOP,
    PING,
    block_delta,
    block_start,
    block_stop,
    message_delta,
    message_start,
    text_delta,
)
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

PKG = "fallom_otel_instrumentors.anthropic"
# The SDK starts its own call span (and sends its ``traceparent``) from anthropic 1.14, in ``anthropic._tracing``.
NATIVE_TRACING = importlib.util.find_spec("anthropic._tracing") is not None
MODES = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])

Observation = tuple[Any, ...]
Outcome = Literal["model", "stream", "helper", "error"]

# --- the fault points: every extractor of the instrumentor, as dotted paths under PKG ----------------------------

MESSAGES = "_messages.MessagesEndpoint"
HELPER = "_stream_helper.StreamHelperEndpoint"
RECORD = "_messages.record_message"
ACCUMULATOR = "_messages.AnthropicStreamAccumulator"

FAULT_POINTS = (
    f"{MESSAGES}.start",
    f"{MESSAGES}.finish",
    RECORD,
    f"{ACCUMULATOR}.add",
    f"{ACCUMULATOR}.finish",
    f"{HELPER}.start",
    f"{HELPER}.finish",
)


def fault_path(outcome: Outcome) -> tuple[str, ...]:
    """The extractors a call with this outcome runs through (checked exactly by the no-fault test)."""
    if outcome == "error":
        return (f"{MESSAGES}.start",)  # the SDK raised: nothing is extracted after the call
    if outcome == "model":
        return (f"{MESSAGES}.start", f"{MESSAGES}.finish", RECORD)
    endpoint = MESSAGES if outcome == "stream" else HELPER
    return (f"{endpoint}.start", f"{endpoint}.finish", f"{ACCUMULATOR}.add", f"{ACCUMULATOR}.finish")


# --- requests and replies: a distinct canary in every content field --------------------------------------------

CANARY = "CNRY-7c2d"
CANARY_BYTES = re.compile(rb"CNRY-7c2d-[a-z-]+")


def canary(field: str) -> str:
    return f"{CANARY}-{field}"


def caller_headers() -> dict[str, str]:
    return {"X-Caller-Tag": "matrix"}


def request(**extra: Any) -> dict[str, Any]:
    """The caller's kwargs: system, user text, a prior thinking + tool_use turn, a tool_result, a tool definition."""
    return {
        "model": MODEL,
        "max_tokens": 1_024,
        "system": [{"type": "text", "text": canary("system")}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": canary("user-text")}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": canary("thinking-in"), "signature": "EqQBCgIYAhIMmatrix"},
                    tool_use_block("toolu_01MatrixIn", "lookup", {"q": canary("tool-input")}),
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_01MatrixIn",
                        "content": [{"type": "text", "text": canary("tool-result")}],
                    }
                ],
            },
        ],
        "tools": [
            {
                "name": "lookup",
                "description": canary("tool-description"),
                "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
            }
        ],
        "extra_headers": caller_headers(),
        **extra,
    }


class Forecast(pydantic.BaseModel):
    city: str
    high_c: float


TOOL_OUT = tool_use_block("toolu_01MatrixOut", "lookup", {"q": canary("tool-output")})
REPLY = message_body(
    thinking_block(canary("thinking")), text_block(canary("completion")), TOOL_OUT, stop_reason="tool_use"
)
PARSE_REPLY = message_body(
    thinking_block(canary("thinking")),
    text_block(json.dumps({"city": canary("completion"), "high_c": 24.5})),
    TOOL_OUT,
    stop_reason="tool_use",
)
STREAM_REPLY = sse(
    [
        message_start(),
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        block_delta(0, {"type": "thinking_delta", "thinking": canary("thinking")}),
        block_delta(0, {"type": "signature_delta", "signature": "EqQBCgIYAhIMsigmatrix"}),
        block_stop(0),
        block_start(1, {"type": "text", "text": ""}),
        PING,
        *(text_delta(1, piece) for piece in ("Found ", canary("completion"), ".")),
        block_stop(1),
        block_start(2, {**TOOL_OUT, "input": {}}),
        *(
            block_delta(2, {"type": "input_json_delta", "partial_json": piece})
            for piece in ('{"q": "', canary("tool-output"), '"}')
        ),
        block_stop(2),
        message_delta("tool_use", 57),
        MESSAGE_STOP,
    ]
)
RATE_LIMITED = error_body("rate_limit_error", f"Number of request tokens exceeded ({canary('error-message')})")

# --- how a caller uses each kind of surface, sync and async (what it returns is what the caller observes) ---------


def model(obj: Any) -> tuple[type, dict[str, Any]]:
    # warnings=False: ParsedMessage declares `parsed_output` loosely and pydantic warns when dumping it.
    return type(obj), obj.model_dump(warnings=False)


class Caller(NamedTuple):
    """Uses the SDK method (already looked up on a client) with the caller's kwargs; the async twin awaits."""

    sync: Callable[[Any, dict[str, Any]], Observation]
    async_: Callable[[Any, dict[str, Any]], Awaitable[Observation]]


async def _async_model(method: Any, kwargs: dict[str, Any]) -> Observation:
    return model(await method(**kwargs))


def _stream(method: Any, kwargs: dict[str, Any]) -> Observation:
    stream = method(**kwargs)
    return stream.__class__, [model(event) for event in stream]  # __class__: the proxy reports the SDK's


async def _async_stream(method: Any, kwargs: dict[str, Any]) -> Observation:
    stream = await method(**kwargs)
    return stream.__class__, [model(event) async for event in stream]


def helper(way: str) -> Caller:
    """A ``stream()`` helper used in its ``with`` block, consumed one way."""

    def sync(method: Any, kwargs: dict[str, Any]) -> Observation:
        with method(**kwargs) as stream:
            if way == "get_final_message":
                return stream.__class__, model(stream.get_final_message())
            if way == "get_final_text":
                return stream.__class__, stream.get_final_text()
            if way == "until_done":
                stream.until_done()
                return stream.__class__, model(stream.current_message_snapshot)
            events = [model(event) for event in stream]
            return stream.__class__, events, model(stream.get_final_message())

    async def async_(method: Any, kwargs: dict[str, Any]) -> Observation:
        async with method(**kwargs) as stream:
            if way == "get_final_message":
                return stream.__class__, model(await stream.get_final_message())
            if way == "get_final_text":
                return stream.__class__, await stream.get_final_text()
            if way == "until_done":
                await stream.until_done()
                return stream.__class__, model(stream.current_message_snapshot)
            events = [model(event) async for event in stream]
            return stream.__class__, events, model(await stream.get_final_message())

    return Caller(sync, async_)


def _raw(method: Any, kwargs: dict[str, Any]) -> Observation:
    raw = method(**kwargs)
    return raw.__class__, raw.status_code, dict(raw.headers), model(raw.parse())


async def _async_raw(method: Any, kwargs: dict[str, Any]) -> Observation:
    raw = await method(**kwargs)  # a LegacyAPIResponse for the async client too, whose parse() is a coroutine
    return raw.__class__, raw.status_code, dict(raw.headers), model(await raw.parse())


def _streamed_response(method: Any, kwargs: dict[str, Any]) -> Observation:
    with method(**kwargs) as response:
        return response.__class__, response.status_code, model(response.parse())


async def _async_streamed_response(method: Any, kwargs: dict[str, Any]) -> Observation:
    async with method(**kwargs) as response:
        return response.__class__, response.status_code, model(await response.parse())


RETURNS_MODEL = Caller(lambda method, kwargs: model(method(**kwargs)), _async_model)
RETURNS_STREAM = Caller(_stream, _async_stream)
RAW_RESPONSE = Caller(_raw, _async_raw)
STREAMING_RESPONSE = Caller(_streamed_response, _async_streamed_response)

# --- the surfaces -----------------------------------------------------------------------------------------------

VERTEX_BASE_URL = "http://vertex.test/v1"


@dataclass(frozen=True)
class Surface:
    method: str  # dotted path from the client to the SDK method the caller calls
    caller: Caller
    outcome: Outcome
    request: Callable[[], dict[str, Any]]  # a fresh copy of the caller's kwargs
    reply: dict[str, Any] | bytes  # JSON body or SSE body
    status: int = 200
    vertex: bool = False  # an AnthropicVertex client (request path :rawPredict / :streamRawPredict)

    @property
    def faults(self) -> tuple[str, ...]:
        return fault_path(self.outcome)


def streaming() -> dict[str, Any]:
    return request(stream=True)


SURFACES: dict[str, Surface] = {
    "messages.create": Surface("messages.create", RETURNS_MODEL, "model", request, REPLY),
    "messages.create-stream": Surface("messages.create", RETURNS_STREAM, "stream", streaming, STREAM_REPLY),
    "messages.stream-get_final_message": Surface(
        "messages.stream", helper("get_final_message"), "helper", request, STREAM_REPLY
    ),
    "messages.stream-get_final_text": Surface(
        "messages.stream", helper("get_final_text"), "helper", request, STREAM_REPLY
    ),
    "messages.stream-until_done": Surface("messages.stream", helper("until_done"), "helper", request, STREAM_REPLY),
    "messages.parse": Surface(
        "messages.parse", RETURNS_MODEL, "model", lambda: request(output_format=Forecast), PARSE_REPLY
    ),
    "beta.messages.create": Surface("beta.messages.create", RETURNS_MODEL, "model", request, REPLY),
    "beta.messages.stream-events": Surface("beta.messages.stream", helper("events"), "helper", request, STREAM_REPLY),
    "messages.with_raw_response": Surface("messages.with_raw_response.create", RAW_RESPONSE, "model", request, REPLY),
    "messages.with_streaming_response": Surface(
        "messages.with_streaming_response.create", STREAMING_RESPONSE, "model", request, REPLY
    ),
    "messages.create-429": Surface("messages.create", RETURNS_MODEL, "error", request, RATE_LIMITED, status=429),
    "vertex.messages.create": Surface("messages.create", RETURNS_MODEL, "model", request, REPLY, vertex=True),
    "vertex.beta.messages.create": Surface("beta.messages.create", RETURNS_MODEL, "model", request, REPLY, vertex=True),
}

# --- running a surface ---------------------------------------------------------------------------------------


class Fake(FakeAnthropic):
    """The shared fake, routed by path suffix: Vertex puts the model and the verb in the path."""

    def __call__(self, request: Any) -> Any:
        body = json.loads(request.content or b"{}")
        with self._lock:
            self.requests.append(body)
            self.headers.append(request.headers)
        path = request.url.path
        for suffix, responder in self.routes.items():
            if path.endswith(suffix):
                return responder(request, body)
        return sdk_http().Response(404, json=error_body("not_found_error", f"no route for {path}"))

    def vertex_client(self, is_async: bool) -> Any:
        http = sdk_http()
        common: dict[str, Any] = {
            "region": "us-east5",
            "project_id": "p",
            "access_token": "t",
            "base_url": VERTEX_BASE_URL,
            "max_retries": 0,
        }
        if is_async:
            return anthropic.AsyncAnthropicVertex(
                http_client=http.AsyncClient(transport=http.MockTransport(self)), **common
            )
        return anthropic.AnthropicVertex(http_client=http.Client(transport=http.MockTransport(self)), **common)


def at(target: Any, dotted: str) -> Any:
    for name in dotted.split("."):
        target = getattr(target, name)
    return target


def serve(surface: Surface) -> Fake:
    """A fake server answering the surface; skips when the installed SDK lacks the surface."""
    fake = Fake()
    target: Any = fake.vertex_client(False) if surface.vertex else fake.client()
    for name in surface.method.split("."):
        if not hasattr(target, name):
            pytest.skip(f"anthropic {anthropic.__version__} has no `{name}` in client.{surface.method}")
        target = getattr(target, name)
    if surface.vertex:
        suffix = ":streamRawPredict" if isinstance(surface.reply, bytes) else ":rawPredict"
    else:
        suffix = MESSAGES_PATH
    if isinstance(surface.reply, bytes):
        fake.stream(suffix, surface.reply)
    else:
        fake.json(suffix, surface.reply, surface.status)
    return fake


async def observe(surface: Surface, fake: Fake, is_async: bool, kwargs: dict[str, Any]) -> Observation:
    """What the caller observes: ``("ok", ...)``, or ``("raised", type, message, status code, body)``."""
    try:
        if is_async:
            async_client = fake.vertex_client(True) if surface.vertex else fake.async_client()
            async with async_client:
                return ("ok", *await surface.caller.async_(at(async_client, surface.method), kwargs))
        client = fake.vertex_client(False) if surface.vertex else fake.client()
        with client:
            return ("ok", *surface.caller.sync(at(client, surface.method), kwargs))
    except Exception as error:  # noqa: BLE001 - whatever reaches the caller is part of what it observes
        return ("raised", type(error), str(error), getattr(error, "status_code", None), getattr(error, "body", None))


async def bare_call(surface: Surface, fake: Fake, is_async: bool, kwargs: dict[str, Any]) -> Observation:
    snapshot = copy.deepcopy(kwargs)
    bare = await observe(surface, fake, is_async, kwargs)
    if surface.outcome == "error":
        assert bare[:2] == ("raised", anthropic.RateLimitError) and bare[3] == 429, bare
    else:
        assert bare[0] == "ok", bare
    assert kwargs == snapshot  # the bare SDK itself leaves them alone, so (d) below is about the instrumentation
    return bare


def exported(receiver: OtlpReceiver) -> list[ReceivedSpan]:
    """Every span exported so far (every surface ends its call in the caller's hands: no gc needed, none done)."""
    assert fallom_otel.flush(5_000)
    return receiver.spans


def absolute(point: str) -> str:
    return f"{PKG}.{point}"


# --- (b) (c) (d) (e): no fault ------------------------------------------------------------------------------------


@MODES
@pytest.mark.parametrize("capture", [True, False], ids=["capture_on", "capture_off"])
@pytest.mark.parametrize("name", list(SURFACES))
async def test_caller_gets_the_bare_result_one_span_and_no_content_leaks_without_capture(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch, name: str, capture: bool, is_async: bool
) -> None:
    surface = SURFACES[name]
    fake = serve(surface)
    kwargs = surface.request()
    snapshot = copy.deepcopy(kwargs)
    bare = await bare_call(surface, fake, is_async, kwargs)

    called: set[str] = set()

    def spy(point: str) -> Callable[..., Any]:
        original = pkgutil.resolve_name(absolute(point))

        def spying(*args: Any, **kw: Any) -> Any:
            called.add(point)
            return original(*args, **kw)

        return spying

    with instrumented(receiver, capture_content=capture), monkeypatch.context() as patch:
        for point in FAULT_POINTS:
            patch.setattr(absolute(point), spy(point))
        traced = await observe(surface, fake, is_async, kwargs)
        spans = exported(receiver)

    assert traced == bare  # (b)
    assert kwargs == snapshot  # (d)
    assert fake.requests[0] == fake.requests[1]  # nor was anything added to what the server got
    assert fake.headers[1]["x-caller-tag"] == "matrix"
    assert called == set(surface.faults)  # the surface's fault path is exact, so (a) misses no extractor
    # (e): exactly one span for the call, ours (the SDK's own call span became our carrier), and it is propagated.
    assert [(s.scope_name, s.kind) for s in spans] == [(SCOPE_NAME, "CLIENT")]
    [span] = spans
    if NATIVE_TRACING:  # older SDKs send no traceparent at all
        assert traceparent_span_id(fake.headers[1]) == span.span_id
        assert fake.headers[1]["traceparent"].split("-")[1] == span.trace_id
    assert span.status_code == ("ERROR" if surface.outcome == "error" else "UNSET")
    exported_bytes = receiver.all_bytes()
    if capture:  # the positive control of (c): each canary is in a field the instrumentation records
        reply = surface.reply if isinstance(surface.reply, bytes) else json.dumps(surface.reply).encode()
        placed = set(CANARY_BYTES.findall(json.dumps(fake.requests[0]).encode() + reply))
        assert len(placed) >= 7, placed  # 6 in every request, 1 (error) or 3 (answer) in the reply
        assert placed <= set(CANARY_BYTES.findall(exported_bytes)), placed - set(CANARY_BYTES.findall(exported_bytes))
    else:
        assert CANARY.encode() not in exported_bytes, CANARY_BYTES.findall(exported_bytes)  # (c)


# --- (a): one failing extractor at a time ------------------------------------------------------------------------


class Fault:
    """Stands in for one extractor and raises; counts its calls, since a fault that never fired proves nothing."""

    def __init__(self, point: str) -> None:
        self.point = point
        self.fired = 0

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        self.fired += 1
        raise RuntimeError(f"injected fault in {self.point}")


FAULT_CASES = [pytest.param(name, point, id=f"{name}-{point}") for name, s in SURFACES.items() for point in s.faults]


@MODES
@pytest.mark.parametrize(("name", "point"), FAULT_CASES)
async def test_a_failing_extractor_leaves_the_caller_untouched(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch, name: str, point: str, is_async: bool
) -> None:
    monkeypatch.delenv(RERAISE_ENV)  # the guards swallow the injected fault, as in production
    surface = SURFACES[name]
    fake = serve(surface)
    kwargs = surface.request()
    snapshot = copy.deepcopy(kwargs)
    bare = await bare_call(surface, fake, is_async, kwargs)

    fault = Fault(point)
    with instrumented(receiver), monkeypatch.context() as patch:
        patch.setattr(absolute(point), fault)
        traced = await observe(surface, fake, is_async, kwargs)
        spans = exported(receiver)

    assert fault.fired, f"{point} never ran on {name}"
    assert traced == bare
    assert kwargs == snapshot
    assert fake.requests[0] == fake.requests[1]
    # No span of ours without a start; otherwise it still ends exactly once, with less data.
    assert [s.scope_name for s in spans] == expected_scopes(surface, point), [(s.name, s.scope_name) for s in spans]
    for span in spans:
        if span.scope_name == SCOPE_NAME:
            assert span.status_code == ("ERROR" if surface.outcome == "error" else "UNSET")


def expected_scopes(surface: Surface, point: str) -> list[str]:
    """The spans exported for one call when ``point`` fails (in export order).

    Without a span of ours (``start`` failed) nothing of ours is current while the SDK sends, so the SDK's own call
    span is the call's one span. When ``StreamHelperEndpoint.finish`` fails the span is ended at once (by ``_wrap``)
    and the manager is returned bare: the request, sent later in ``__enter__``, runs under no span of ours, so the
    SDK's own span is exported beside our empty one (a degradation only an injected fault reaches: see the report).
    """
    native = [f"{NATIVE_SCOPE_NAME}.vertex" if surface.vertex else NATIVE_SCOPE_NAME] if NATIVE_TRACING else []
    if point.endswith(".start"):
        return native
    if point == f"{HELPER}.finish":
        return [SCOPE_NAME, *native]
    return [SCOPE_NAME]


# --- the tables cover the instrumentor ---------------------------------------------------------------------------


def test_fault_table_is_every_extractor_and_every_one_is_on_a_surface() -> None:
    extractors: set[str] = set()
    modules = set()
    for patch in AnthropicInstrumentor().patches():
        cls = type(patch.endpoint)
        modules.add(sys.modules[cls.__module__])
        extractors |= {
            f"{cls.__module__}.{cls.__qualname__}.{m}" for m in ("start", "prepare", "finish") if hasattr(cls, m)
        }
    for module in modules:
        for name, value in vars(module).items():
            if getattr(value, "__module__", None) != module.__name__:
                continue  # imported, not defined here
            if callable(value) and name.startswith("record_"):
                extractors.add(f"{module.__name__}.{name}")
            elif isinstance(value, type) and hasattr(value, "add") and hasattr(value, "finish"):
                extractors |= {f"{module.__name__}.{value.__qualname__}.{m}" for m in ("add", "finish")}

    assert {e.removeprefix(f"{PKG}.") for e in extractors} == set(FAULT_POINTS)
    assert {point for surface in SURFACES.values() for point in surface.faults} == set(FAULT_POINTS)
