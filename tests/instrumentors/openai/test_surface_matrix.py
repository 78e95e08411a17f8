"""Every traced OpenAI SDK surface, sync and async, against the four acceptance checks (DESIGN §3, §5).

(a) An extractor that raises (each one on the surface's path, one at a time) leaves what the caller observes (the
    object, the chunks, the exception) exactly as the bare SDK's on the same bytes; the span still ends exactly once
    (none when ``start`` raised).
(b) Without faults the caller gets the bare SDK's objects: same class, equal ``model_dump()``.
(c) With content capture off, no canary placed in a content field (prompts, instructions, tool definitions, tool-call
    arguments, tool results, completions, error text) is in any byte the receiver got. With capture on the same
    canaries do arrive, so the check cannot pass vacuously.
(d) The caller's keyword arguments (message/input lists, tools, extra_headers, stream_options) are not mutated.

Every test makes its bare call first: the patches are class-level, so no client is bare while they are installed.
"""

from __future__ import annotations

import copy
import json
import pkgutil
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, NoReturn

import openai
import pytest

from fallom_otel_instrumentors._safety import RERAISE_ENV
from fallom_otel_instrumentors.openai import OpenAIInstrumentor
from tests.instrumentors.openai import test_chat as chat
from tests.instrumentors.openai import test_embeddings_completions as legacy
from tests.instrumentors.openai import test_responses as responses
from tests.instrumentors.openai.conftest import FakeOpenAI, Responder, sse
from tests.otlp_receiver import OtlpReceiver

PKG = "fallom_otel_instrumentors.openai"
MODES = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])

Observation = tuple[Any, ...]
Outcome = Literal["model", "stream", "error"]

# --- the fault points: every extractor of the instrumentor, as dotted paths under PKG ----------------------------

FAULT_POINTS = (
    "_chat.ChatEndpoint.start",
    "_chat.ChatEndpoint.prepare",
    "_chat.ChatEndpoint.finish",
    "_chat.record_completion",
    "_chat.ChatStreamAccumulator.add",
    "_chat.ChatStreamAccumulator.finish",
    "_responses.ResponsesEndpoint.start",
    "_responses.ResponsesEndpoint.finish",
    "_responses.record_response",
    "_responses.ResponsesStreamAccumulator.add",
    "_responses.ResponsesStreamAccumulator.finish",
    "_embeddings.EmbeddingsEndpoint.start",
    "_embeddings.EmbeddingsEndpoint.finish",
    "_embeddings.record_embeddings",
    "_completions.CompletionsEndpoint.start",
    "_completions.CompletionsEndpoint.prepare",
    "_completions.CompletionsEndpoint.finish",
    "_completions.record_completion",
    "_completions.CompletionStreamAccumulator.add",
    "_completions.CompletionStreamAccumulator.finish",
)
# Extractor-shaped code no surface can reach: finish_result builds an accumulator only for a stream.
UNREACHABLE = {"_embeddings._NoChunks.add", "_embeddings._NoChunks.finish"}


@dataclass(frozen=True)
class Api:
    """One endpoint of the instrumentor: the URL path it serves and its extractors (names in FAULT_POINTS)."""

    path: str
    endpoint: str
    record: str
    accumulator: str = ""
    prepares: bool = False  # prepare() runs before every call, the failing ones included
    stream_records: bool = False  # the accumulator's finish() records the stream's final object through `record`

    def faults(self, outcome: Outcome) -> tuple[str, ...]:
        """The extractors a call with this outcome runs through (checked exactly by the no-fault test)."""
        points = [f"{self.endpoint}.start", *([f"{self.endpoint}.prepare"] if self.prepares else [])]
        if outcome == "error":
            return tuple(points)  # the SDK raised: nothing is extracted after the call
        points.append(f"{self.endpoint}.finish")
        if outcome == "model" or self.stream_records:
            points.append(self.record)
        if outcome == "stream":
            points += [f"{self.accumulator}.add", f"{self.accumulator}.finish"]
        return tuple(points)


CHAT = Api(
    chat.CHAT_PATH, "_chat.ChatEndpoint", "_chat.record_completion", "_chat.ChatStreamAccumulator", prepares=True
)
RESPONSES = Api(
    responses.PATH,
    "_responses.ResponsesEndpoint",
    "_responses.record_response",
    "_responses.ResponsesStreamAccumulator",
    stream_records=True,
)
EMBEDDINGS = Api("/v1/embeddings", "_embeddings.EmbeddingsEndpoint", "_embeddings.record_embeddings")
COMPLETIONS = Api(
    "/v1/completions",
    "_completions.CompletionsEndpoint",
    "_completions.record_completion",
    "_completions.CompletionStreamAccumulator",
    prepares=True,
)

# --- requests and replies: a distinct canary in every content field --------------------------------------------

CANARY = "CNRY-4f9e"
CANARY_BYTES = re.compile(rb"CNRY-4f9e-[a-z-]+")


def canary(field: str) -> str:
    return f"{CANARY}-{field}"


def caller_headers() -> dict[str, str]:
    return {"X-Caller-Tag": "matrix"}


def lookup_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"q": {"type": "string", "description": canary("tool-schema")}},
        "required": ["q"],
        "additionalProperties": False,
    }


def chat_request(**extra: Any) -> dict[str, Any]:
    lookup = {"name": "lookup", "description": canary("tool-description"), "parameters": lookup_schema()}
    return {
        "model": chat.MODEL,
        "messages": [
            {"role": "system", "content": canary("system")},
            {"role": "user", "content": [{"type": "text", "text": canary("prompt")}]},
            {"role": "assistant", "content": None, "tool_calls": [chat.tool_call("call_in", "lookup", ARGS_IN)]},
            {"role": "tool", "tool_call_id": "call_in", "content": canary("tool-result")},
        ],
        "tools": [{"type": "function", "function": {**lookup, "strict": True}}],  # strict: parse() requires it
        "extra_headers": caller_headers(),
        **extra,
    }


def responses_request(**extra: Any) -> dict[str, Any]:
    return {
        "model": responses.MODEL,
        "instructions": canary("instructions"),
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": canary("prompt")}]},
            {"type": "function_call", "call_id": "call_in", "name": "lookup", "arguments": json.dumps(ARGS_IN)},
            {"type": "function_call_output", "call_id": "call_in", "output": canary("tool-result")},
        ],
        "tools": [
            {
                "type": "function",
                "name": "lookup",
                "description": canary("tool-description"),
                "parameters": lookup_schema(),
                "strict": True,
            }
        ],
        "extra_headers": caller_headers(),
        **extra,
    }


def embeddings_request() -> dict[str, Any]:
    return {
        "model": legacy.EMBEDDING_MODEL,
        "input": [canary("embedding-input"), "plain"],
        "dimensions": 8,
        "extra_headers": caller_headers(),
    }


def completions_request(**extra: Any) -> dict[str, Any]:
    return {
        "model": legacy.INSTRUCT_MODEL,
        "prompt": [canary("prompt"), canary("second-prompt")],
        "max_tokens": 16,
        "extra_headers": caller_headers(),
        **extra,
    }


ARGS_IN = {"q": canary("call-args")}
ARGS_OUT = {"q": canary("output-args")}
ARG_PIECES = ['{"q": "', canary("output-args"), '"}']  # json.dumps(ARGS_OUT), streamed in pieces
TEXT_PIECES = ["Found ", canary("completion"), "."]

# parse() validates the answer against the caller's pydantic model: the canary sits in one of its string fields.
CHAT_REPLY = chat.completion_body(
    chat.choice(
        0,
        chat.assistant_message(
            json.dumps({"city": canary("completion"), "high_c": 24.5, "conditions": ["sunny"]}),
            tool_calls=[chat.tool_call("call_out", "lookup", ARGS_OUT)],
        ),
        "tool_calls",
    )
)
CHAT_STREAM_REPLY = sse(
    [
        chat.chunk_body(chat.delta_choice(role="assistant", content="", refusal=None)),
        *(chat.chunk_body(chat.delta_choice(content=piece)) for piece in TEXT_PIECES),
        chat.chunk_body(
            chat.delta_choice(
                tool_calls=[
                    {"index": 0, "id": "call_out", "type": "function", "function": {"name": "lookup", "arguments": ""}}
                ]
            )
        ),
        *(
            chat.chunk_body(chat.delta_choice(tool_calls=[{"index": 0, "function": {"arguments": piece}}]))
            for piece in ARG_PIECES
        ),
        chat.chunk_body(chat.delta_choice("tool_calls")),
        chat.chunk_body(usage=chat.usage_body(prompt=40, completion=12, cached=0, reasoning=0)),
    ]
)

RESPONSES_CALL = responses.function_call_item("lookup", ARGS_OUT, call_id="call_out")
RESPONSES_REPLY = responses.response_body(
    [
        responses.message_item(json.dumps({"city": "Paris", "temperature_c": 21.5, "summary": canary("completion")})),
        RESPONSES_CALL,
    ]
)
RESPONSES_STREAMED_TEXT = responses.message_item("".join(TEXT_PIECES))
RESPONSES_FINAL = responses.response_body([RESPONSES_STREAMED_TEXT, RESPONSES_CALL])
RESPONSES_STREAM_REPLY = sse(
    responses.numbered(
        [
            *responses.opening_events(RESPONSES_FINAL),
            *responses.text_events(0, RESPONSES_STREAMED_TEXT, TEXT_PIECES),
            *responses.function_call_events(1, RESPONSES_CALL, ARG_PIECES),
            {"type": "response.completed", "response": RESPONSES_FINAL},
        ]
    ),
    named=True,  # the Responses stream names its events and ends without [DONE]
    done=False,
)

COMPLETIONS_REPLY = {
    **legacy.COMPLETION_BODY,
    "choices": [{"text": canary("completion"), "index": 0, "logprobs": None, "finish_reason": "stop"}],
}
COMPLETIONS_STREAM_REPLY = sse(
    [
        *(legacy.completion_chunk(piece, usage=None) for piece in TEXT_PIECES),
        legacy.completion_chunk("", "stop", usage=None),
        {
            **legacy.completion_chunk(""),
            "choices": [],
            "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
        },
    ]
)

RATE_LIMITED = {
    "error": {
        "message": f"Rate limit reached ({canary('error-message')})",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}

# --- how a caller uses each kind of surface, sync and async (what it returns is what the caller observes) ---------


def model(obj: Any) -> tuple[type, dict[str, Any]]:
    # warnings=False: Parsed* models declare `parsed` loosely and pydantic warns when dumping them.
    return type(obj), obj.model_dump(warnings=False)


class Caller(NamedTuple):
    """Uses the SDK method (already looked up on a client) with the caller's kwargs; the async twin awaits."""

    sync: Callable[[Any, dict[str, Any]], Observation]
    async_: Callable[[Any, dict[str, Any]], Awaitable[Observation]]


async def _async_model(method: Any, kwargs: dict[str, Any]) -> Observation:
    return model(await method(**kwargs))


def _stream(method: Any, kwargs: dict[str, Any]) -> Observation:
    stream = method(**kwargs)
    return stream.__class__, [model(chunk) for chunk in stream]  # __class__: the proxy reports the SDK's


async def _async_stream(method: Any, kwargs: dict[str, Any]) -> Observation:
    stream = await method(**kwargs)
    return stream.__class__, [model(chunk) async for chunk in stream]


def helper(final: str) -> Caller:
    """A ``stream()`` helper used in its ``with`` block, consumed fully, then asked for its final object."""

    def sync(method: Any, kwargs: dict[str, Any]) -> Observation:
        with method(**kwargs) as stream:
            return stream.__class__, [model(event) for event in stream], model(getattr(stream, final)())

    async def async_(method: Any, kwargs: dict[str, Any]) -> Observation:
        async with method(**kwargs) as stream:
            events = [model(event) async for event in stream]
            return stream.__class__, events, model(await getattr(stream, final)())

    return Caller(sync, async_)


def _raw(method: Any, kwargs: dict[str, Any]) -> Observation:
    raw = method(**kwargs)
    return raw.__class__, raw.status_code, dict(raw.headers), model(raw.parse())


async def _async_raw(method: Any, kwargs: dict[str, Any]) -> Observation:
    raw = await method(**kwargs)  # a LegacyAPIResponse for the async client too: parse() is synchronous
    return raw.__class__, raw.status_code, dict(raw.headers), model(raw.parse())


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

Reply = dict[str, Any] | bytes | Responder  # JSON body, SSE body, or a responder


@dataclass(frozen=True)
class Surface:
    method: str  # dotted path from the client to the SDK method the caller calls
    caller: Caller
    api: Api
    outcome: Outcome
    request: Callable[[], dict[str, Any]]  # a fresh copy of the caller's kwargs
    reply: Reply
    status: int = 200
    unrecorded: frozenset[str] = frozenset()  # canaries not recorded even with capture on (by contract)

    @property
    def faults(self) -> tuple[str, ...]:
        return self.api.faults(self.outcome)


SURFACES: dict[str, Surface] = {
    "chat.create": Surface("chat.completions.create", RETURNS_MODEL, CHAT, "model", chat_request, CHAT_REPLY),
    "chat.create-stream": Surface(
        "chat.completions.create",
        RETURNS_STREAM,
        CHAT,
        "stream",
        lambda: chat_request(stream=True, stream_options={"include_usage": True}),
        CHAT_STREAM_REPLY,
    ),
    "chat.parse": Surface(
        "chat.completions.parse",
        RETURNS_MODEL,
        CHAT,
        "model",
        lambda: chat_request(response_format=chat.Forecast),
        CHAT_REPLY,
    ),
    "chat.stream-helper": Surface(
        "chat.completions.stream",
        helper("get_final_completion"),
        CHAT,
        "stream",
        lambda: chat_request(stream_options={"include_usage": True}),
        CHAT_STREAM_REPLY,
    ),
    "responses.create": Surface(
        "responses.create", RETURNS_MODEL, RESPONSES, "model", responses_request, RESPONSES_REPLY
    ),
    "responses.create-stream": Surface(
        "responses.create",
        RETURNS_STREAM,
        RESPONSES,
        "stream",
        lambda: responses_request(stream=True),
        RESPONSES_STREAM_REPLY,
    ),
    "responses.parse": Surface(
        "responses.parse",
        RETURNS_MODEL,
        RESPONSES,
        "model",
        lambda: responses_request(text_format=responses.Forecast),
        RESPONSES_REPLY,
    ),
    "responses.stream-helper": Surface(
        "responses.stream", helper("get_final_response"), RESPONSES, "stream", responses_request, RESPONSES_STREAM_REPLY
    ),
    "embeddings.create": Surface(
        "embeddings.create",
        RETURNS_MODEL,
        EMBEDDINGS,
        "model",
        embeddings_request,
        legacy.embeddings_responder,
        # Embedding inputs are never recorded, whatever the content policy (see _embeddings.py).
        unrecorded=frozenset({canary("embedding-input")}),
    ),
    "completions.create": Surface(
        "completions.create", RETURNS_MODEL, COMPLETIONS, "model", completions_request, COMPLETIONS_REPLY
    ),
    "completions.create-stream": Surface(
        "completions.create",
        RETURNS_STREAM,
        COMPLETIONS,
        "stream",
        lambda: completions_request(stream=True, stream_options={"include_usage": True}),
        COMPLETIONS_STREAM_REPLY,
    ),
    "chat.with_raw_response": Surface(
        "chat.completions.with_raw_response.create", RAW_RESPONSE, CHAT, "model", chat_request, CHAT_REPLY
    ),
    "chat.with_streaming_response": Surface(
        "chat.completions.with_streaming_response.create", STREAMING_RESPONSE, CHAT, "model", chat_request, CHAT_REPLY
    ),
    "chat.create-429": Surface(
        "chat.completions.create", RETURNS_MODEL, CHAT, "error", chat_request, RATE_LIMITED, status=429
    ),
    "responses.create-429": Surface(
        "responses.create", RETURNS_MODEL, RESPONSES, "error", responses_request, RATE_LIMITED, status=429
    ),
}

# --- running a surface ---------------------------------------------------------------------------------------
# Tracing comes from chat.instrumented: fallom_otel.init(base_url=receiver.url), then OpenAIInstrumentor with the
# global tracer provider, uninstrumented in its finally.


def at(target: Any, dotted: str) -> Any:
    for name in dotted.split("."):
        target = getattr(target, name)
    return target


def serve(surface: Surface) -> FakeOpenAI:
    """A fake server answering the surface's path; skips when the installed SDK lacks the surface."""
    fake = FakeOpenAI()
    with fake.client() as client:
        target: Any = client
        for name in surface.method.split("."):
            if not hasattr(target, name):
                pytest.skip(f"openai {openai.__version__} has no `{name}` in client.{surface.method}")
            target = getattr(target, name)
    reply = surface.reply
    if isinstance(reply, bytes):
        fake.stream(surface.api.path, reply)
    elif isinstance(reply, dict):
        fake.json(surface.api.path, reply, surface.status)
    else:
        fake.routes[surface.api.path] = reply
    return fake


async def observe(surface: Surface, fake: FakeOpenAI, is_async: bool, kwargs: dict[str, Any]) -> Observation:
    """What the caller observes: ``("ok", ...)``, or ``("raised", type, message, status code)``."""
    try:
        if is_async:
            async with fake.async_client() as async_client:
                return ("ok", *await surface.caller.async_(at(async_client, surface.method), kwargs))
        with fake.client() as client:
            return ("ok", *surface.caller.sync(at(client, surface.method), kwargs))
    except Exception as error:  # noqa: BLE001 - whatever reaches the caller is part of what it observes
        return ("raised", type(error), str(error), getattr(error, "status_code", None))


async def bare_call(surface: Surface, fake: FakeOpenAI, is_async: bool, kwargs: dict[str, Any]) -> Observation:
    snapshot = copy.deepcopy(kwargs)
    bare = await observe(surface, fake, is_async, kwargs)
    if surface.outcome == "error":
        assert bare[:2] == ("raised", openai.RateLimitError) and bare[3] == 429, bare
    else:
        assert bare[0] == "ok", bare
    assert kwargs == snapshot  # the bare SDK itself leaves them alone, so (d) below is about the instrumentation
    return bare


def absolute(point: str) -> str:
    return f"{PKG}.{point}"


# --- (b) (c) (d): no fault ----------------------------------------------------------------------------------------


@MODES
@pytest.mark.parametrize("capture", [True, False], ids=["capture_on", "capture_off"])
@pytest.mark.parametrize("name", list(SURFACES))
async def test_caller_gets_the_bare_result_and_no_content_leaks_without_capture(
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

    with chat.instrumented(receiver, capture_content=capture) as tracing, monkeypatch.context() as patch:
        for point in FAULT_POINTS:
            patch.setattr(absolute(point), spy(point))
        traced = await observe(surface, fake, is_async, kwargs)
        [span] = tracing.spans(1)

    assert traced == bare  # (b)
    assert kwargs == snapshot  # (d)
    assert fake.requests[0] == fake.requests[1]  # nor was anything added to what the server got
    assert called == set(surface.faults)  # the surface's fault path is exact, so (a) misses no extractor
    assert span.status_code == ("ERROR" if surface.outcome == "error" else "UNSET")
    exported = receiver.all_bytes()
    if capture:  # the positive control of (c): each canary is in a field the instrumentation records
        reply = surface.reply if isinstance(surface.reply, bytes) else json.dumps(surface.reply, default=str).encode()
        placed = set(CANARY_BYTES.findall(json.dumps(fake.requests[0]).encode() + reply))
        expected = placed - {c.encode() for c in surface.unrecorded}
        assert expected <= set(CANARY_BYTES.findall(exported)), expected - set(CANARY_BYTES.findall(exported))
    else:
        assert CANARY.encode() not in exported, CANARY_BYTES.findall(exported)  # (c)


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
    with chat.instrumented(receiver) as tracing, monkeypatch.context() as patch:
        patch.setattr(absolute(point), fault)
        traced = await observe(surface, fake, is_async, kwargs)
        # No span without a start; otherwise it still ends exactly once, with less data.
        spans = tracing.spans(0 if point.endswith(".start") else 1)

    assert fault.fired, f"{point} never ran on {name}"
    assert traced == bare
    assert kwargs == snapshot
    assert fake.requests[0] == fake.requests[1]
    for span in spans:
        assert span.status_code == ("ERROR" if surface.outcome == "error" else "UNSET")


# --- the tables cover the instrumentor ---------------------------------------------------------------------------


def test_fault_table_is_every_extractor_and_every_one_is_on_a_surface() -> None:
    extractors: set[str] = set()
    modules = set()
    for patch in OpenAIInstrumentor().patches():
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

    assert {e.removeprefix(f"{PKG}.") for e in extractors} - UNREACHABLE == set(FAULT_POINTS)
    assert {point for surface in SURFACES.values() for point in surface.faults} == set(FAULT_POINTS)
