"""Failed calls, client variants and ``uninstrument()``, end to end through real ``openai`` clients (sync and async)
over the SDK's MockTransport, spans exported over OTLP/HTTP to the loopback receiver.

Where the caller must see exactly what the bare SDK gives, the bare call is made first, before instrumenting, on the
same transport, and compared with the traced call.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
from collections.abc import Callable, Iterator
from typing import Any

import openai
import openai.resources.chat.completions as chat_module
import openai.resources.completions as completions_module
import openai.resources.embeddings as embeddings_module
import pytest
import wrapt
from openai._legacy_response import LegacyAPIResponse
from opentelemetry import trace
from opentelemetry.semconv.attributes import exception_attributes

import fallom_otel
from fallom_otel_instrumentors.openai import OpenAIInstrumentor
from fallom_otel_semconv import common, gen_ai
from fallom_otel_semconv import fallom as fallom_keys
from fallom_otel_semconv import openai as openai_keys
from fallom_otel_semconv.gen_ai import GenAiOperationNameValues, GenAiProviderNameValues
from tests.instrumentors.openai.conftest import FakeOpenAI, Tracing, _tracing, sdk_http, sse
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

MODES = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
CAPTURE = pytest.mark.parametrize("capture", [True, False], ids=["content", "no-content"])

CHAT_PATH = "/v1/chat/completions"
MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
PROMPT = "CANARY-PROMPT Say hello."
CHAT = GenAiOperationNameValues.CHAT.value


@contextlib.contextmanager
def traced(receiver: OtlpReceiver, capture_content: bool = True) -> Iterator[Tracing]:
    """The ``tracing`` fixture's setup, entered mid-test so a bare call can come first."""
    yield from _tracing(receiver, capture_content)


def client_for(fake: FakeOpenAI, is_async: bool, **kwargs: Any) -> Any:
    return fake.async_client(**kwargs) if is_async else fake.client(**kwargs)


async def call(client: Any, fn: Callable[[Any], Any]) -> Any:
    """Run ``fn(client)``, awaiting it for the async client."""
    result = fn(client)
    return await result if inspect.isawaitable(result) else result


async def drain(stream: Any) -> list[Any]:
    if hasattr(stream, "__aiter__"):
        return [chunk async for chunk in stream]
    return list(stream)


def create_on(resource: Any, **extra: Any) -> Any:
    """``create(...)`` of the chat request on ``resource`` (``chat.completions`` or one of its raw views)."""
    return resource.create(model=MODEL, messages=[{"role": "user", "content": PROMPT}], **extra)


def create_chat(client: Any, **extra: Any) -> Any:
    return create_on(client.chat.completions, **extra)


# --- bodies (shapes of OpenAI's documented responses) ---------------------------------------------------------

CHAT_BODY = {
    "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    "object": "chat.completion",
    "created": 1741569952,
    "model": RESPONSE_MODEL,
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help?", "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 12,
        "completion_tokens": 7,
        "total_tokens": 19,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_06737a9306",
}


def chat_chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stream-Qx81",
        "object": "chat.completion.chunk",
        "created": 1741569960,
        "model": RESPONSE_MODEL,
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


CHAT_STREAM = sse(
    [
        chat_chunk({"role": "assistant", "content": "", "refusal": None}),
        chat_chunk({"content": "Hel"}),
        chat_chunk({"content": "lo!"}),
        chat_chunk({}, "stop"),
    ]
)


def request_attributes(
    *,
    provider: str = GenAiProviderNameValues.OPENAI.value,
    address: str = "llm.test",
    capture: bool = True,
    stream: bool = False,
) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        gen_ai.GEN_AI_OPERATION_NAME: CHAT,
        gen_ai.GEN_AI_PROVIDER_NAME: provider,
        gen_ai.GEN_AI_REQUEST_MODEL: MODEL,
        common.SERVER_ADDRESS: address,
        common.SERVER_PORT: 80,
        openai_keys.OPENAI_API_TYPE: openai_keys.OpenAiApiTypeValues.CHAT_COMPLETIONS.value,
    }
    if stream:
        attributes[gen_ai.GEN_AI_REQUEST_STREAM] = True
    if capture:
        attributes[gen_ai.GEN_AI_INPUT_MESSAGES] = [{"role": "user", "parts": [{"type": "text", "content": PROMPT}]}]
    return attributes


def completion_attributes(**kwargs: Any) -> dict[str, Any]:
    """The full span of a ``CHAT_BODY`` call."""
    return {
        **request_attributes(**kwargs),
        gen_ai.GEN_AI_RESPONSE_ID: CHAT_BODY["id"],
        gen_ai.GEN_AI_RESPONSE_MODEL: RESPONSE_MODEL,
        gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"],
        gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 12,
        gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: 7,
        gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 0,
        gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 0,
        openai_keys.OPENAI_RESPONSE_SERVICE_TIER: "default",
        openai_keys.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: "fp_06737a9306",
        gen_ai.GEN_AI_OUTPUT_MESSAGES: [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": "Hello! How can I help?"}],
                "finish_reason": "stop",
            }
        ],
    }


def stream_attributes() -> dict[str, Any]:
    """The full span of a ``CHAT_STREAM`` call, timings left out."""
    return {
        **request_attributes(stream=True),
        gen_ai.GEN_AI_RESPONSE_ID: "chatcmpl-stream-Qx81",
        gen_ai.GEN_AI_RESPONSE_MODEL: RESPONSE_MODEL,
        gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"],
        openai_keys.OPENAI_RESPONSE_SERVICE_TIER: "default",
        openai_keys.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: "fp_06737a9306",
        gen_ai.GEN_AI_OUTPUT_MESSAGES: [
            {"role": "assistant", "parts": [{"type": "text", "content": "Hello!"}], "finish_reason": "stop"}
        ],
    }


def decoded(span: ReceivedSpan) -> dict[str, Any]:
    """The span's attributes with the JSON content attributes parsed (after checking they are compact JSON)."""
    attributes = dict(span.attributes)
    for key in (gen_ai.GEN_AI_INPUT_MESSAGES, gen_ai.GEN_AI_OUTPUT_MESSAGES):
        if key in attributes:
            value = attributes[key]
            assert value == json.dumps(json.loads(value), separators=(",", ":"), ensure_ascii=False)
            attributes[key] = json.loads(value)
    return attributes


def without_timings(attributes: dict[str, Any]) -> dict[str, Any]:
    ttfc = attributes.pop(gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
    ttft_ms = attributes.pop(fallom_keys.FALLOM_TIME_TO_FIRST_TOKEN_MS)
    assert 0 < ttfc < 10 and ttfc * 1000 <= ttft_ms < 10_000
    return attributes


def assert_ok_span(span: ReceivedSpan) -> None:
    assert span.name == f"chat {MODEL}"
    assert span.kind == "CLIENT"
    assert span.status_code == "UNSET"
    assert span.events == []


def no_spans_yet(tracing: Tracing) -> bool:
    assert fallom_otel.flush(5_000)
    return tracing.receiver.spans == []


# --- 1. errors ------------------------------------------------------------------------------------------------

ERROR_CANARY = "CANARY-ERROR-7f3a"


def status_error(status: int, error_type: str, code: str | None) -> Callable[[Any, dict[str, Any]], Any]:
    def respond(request: Any, body: dict[str, Any]) -> Any:
        return sdk_http().Response(
            status,
            json={
                "error": {"message": f"{ERROR_CANARY}: {error_type}", "type": error_type, "param": None, "code": code}
            },
            headers={"x-request-id": f"req_{status}_4c1b2e"},
        )

    return respond


def raising(error_cls_name: str) -> Callable[[Any, dict[str, Any]], Any]:
    def respond(request: Any, body: dict[str, Any]) -> Any:
        raise getattr(sdk_http(), error_cls_name)(f"{ERROR_CANARY}: transport failed", request=request)

    return respond


ERROR_CASES = {
    # id: (responder, exception class)
    "400": (status_error(400, "invalid_request_error", "invalid_value"), openai.BadRequestError),
    "401": (status_error(401, "invalid_request_error", "invalid_api_key"), openai.AuthenticationError),
    "429": (status_error(429, "requests", "rate_limit_exceeded"), openai.RateLimitError),
    "500": (status_error(500, "server_error", None), openai.InternalServerError),
    "timeout": (raising("ReadTimeout"), openai.APITimeoutError),
    "connect": (raising("ConnectError"), openai.APIConnectionError),
}
COMPARED = ("message", "status_code", "body", "code", "param", "type", "request_id")


async def raised_by(client: Any, expected: type[BaseException]) -> BaseException:
    with pytest.raises(expected) as info:
        await call(client, create_chat)
    return info.value


@MODES
@CAPTURE
@pytest.mark.parametrize("case", list(ERROR_CASES))
async def test_failed_call_reraises_unchanged_and_records_error(
    fake_openai: FakeOpenAI, receiver: OtlpReceiver, is_async: bool, capture: bool, case: str
) -> None:
    responder, error_cls = ERROR_CASES[case]
    fake_openai.routes[CHAT_PATH] = responder
    bare = await raised_by(client_for(fake_openai, is_async), error_cls)

    with traced(receiver, capture) as tracing:
        error = await raised_by(client_for(fake_openai, is_async), error_cls)
        span = tracing.span()

    # The caller gets what the bare SDK raises: same type, message and attributes.
    assert type(error) is type(bare)
    assert str(error) == str(bare)
    for name in COMPARED:
        assert getattr(error, name, None) == getattr(bare, name, None), name
    assert error.request.url == bare.request.url  # type: ignore[attr-defined]
    assert type(error.__cause__) is type(bare.__cause__)
    if isinstance(bare, openai.APIStatusError):
        assert ERROR_CANARY in str(bare)
        assert error.response.status_code == bare.response.status_code  # type: ignore[attr-defined]

    error_type = f"openai.{error_cls.__name__}"
    assert span.name == f"chat {MODEL}"
    assert span.kind == "CLIENT"
    assert span.status_code == "ERROR"
    assert decoded(span) == {**request_attributes(capture=capture), common.ERROR_TYPE: error_type}
    [(event_name, event)] = span.events
    assert event_name == "exception"
    if capture:
        assert span.status_message == str(error)
        assert event[exception_attributes.EXCEPTION_TYPE] == error_type
        assert event[exception_attributes.EXCEPTION_MESSAGE] == str(error)
        assert error_cls.__name__ in event[exception_attributes.EXCEPTION_STACKTRACE]
        assert ERROR_CANARY.encode() in receiver.all_bytes()  # the canary is exported when capture is on
    else:
        # Without content capture the error text (which often echoes the prompt) leaves no trace: type only.
        assert span.status_message == error_type
        assert event == {exception_attributes.EXCEPTION_TYPE: error_type}
        exported = receiver.all_bytes()
        assert ERROR_CANARY.encode() not in exported
        assert b"CANARY-PROMPT" not in exported
    assert b"sk-test-secret" not in receiver.all_bytes()


# --- 2. client variants ---------------------------------------------------------------------------------------


@MODES
async def test_azure_client(fake_openai: FakeOpenAI, tracing: Tracing, is_async: bool) -> None:
    fake_openai.json(f"/openai/deployments/{MODEL}/chat/completions", CHAT_BODY)
    http = sdk_http()
    options: dict[str, Any] = {
        "azure_endpoint": "http://myres.openai.azure.test",
        "api_version": "2024-10-21",
        "api_key": "azure-secret-key-9d2",
        "max_retries": 0,
    }
    if is_async:
        client: Any = openai.AsyncAzureOpenAI(
            **options, http_client=http.AsyncClient(transport=http.MockTransport(fake_openai))
        )
    else:
        client = openai.AzureOpenAI(**options, http_client=http.Client(transport=http.MockTransport(fake_openai)))

    result = await call(client, create_chat)

    assert result.id == CHAT_BODY["id"]
    span = tracing.span()
    assert_ok_span(span)
    assert decoded(span) == completion_attributes(
        provider=GenAiProviderNameValues.AZURE_AI_OPENAI.value, address="myres.openai.azure.test"
    )
    assert b"azure-secret-key-9d2" not in tracing.receiver.all_bytes()


@MODES
async def test_with_options_copy_traced_once(fake_openai: FakeOpenAI, tracing: Tracing, is_async: bool) -> None:
    fake_openai.json(CHAT_PATH, CHAT_BODY)
    client = client_for(fake_openai, is_async)

    for _ in range(2):
        await call(client.with_options(timeout=5), create_chat)

    spans = tracing.spans(2)
    for span in spans:
        assert_ok_span(span)
        assert decoded(span) == completion_attributes()


@MODES
async def test_raw_response(fake_openai: FakeOpenAI, receiver: OtlpReceiver, is_async: bool) -> None:
    fake_openai.json(CHAT_PATH, CHAT_BODY)
    bare = await call(client_for(fake_openai, is_async), lambda c: create_on(c.chat.completions.with_raw_response))
    bare_parsed = bare.parse()

    with traced(receiver) as tracing:
        raw = await call(client_for(fake_openai, is_async), lambda c: create_on(c.chat.completions.with_raw_response))
        assert type(raw) is LegacyAPIResponse
        parsed = raw.parse()
        assert type(parsed) is type(bare_parsed)
        assert parsed.model_dump() == bare_parsed.model_dump()
        assert raw.parse() is parsed
        assert raw.headers == bare.headers
        span = tracing.span()

    assert_ok_span(span)
    assert decoded(span) == completion_attributes()


@MODES
async def test_raw_response_stream(fake_openai: FakeOpenAI, receiver: OtlpReceiver, is_async: bool) -> None:
    fake_openai.stream(CHAT_PATH, CHAT_STREAM)
    bare = await call(
        client_for(fake_openai, is_async), lambda c: create_on(c.chat.completions.with_raw_response, stream=True)
    )
    bare_chunks = [c.model_dump() for c in await drain(bare.parse())]

    with traced(receiver) as tracing:
        raw = await call(
            client_for(fake_openai, is_async), lambda c: create_on(c.chat.completions.with_raw_response, stream=True)
        )
        assert isinstance(raw, LegacyAPIResponse)
        stream = raw.parse()
        assert isinstance(stream, openai.AsyncStream if is_async else openai.Stream)
        assert raw.parse() is stream
        assert no_spans_yet(tracing)  # the span ends with the stream, not with the response
        chunks = [c.model_dump() for c in await drain(stream)]
        span = tracing.span()

    assert chunks == bare_chunks
    assert len(chunks) == 4
    assert_ok_span(span)
    assert without_timings(decoded(span)) == stream_attributes()


async def streamed_response(client: Any, is_async: bool, stream: bool, use: str) -> Any:
    """Use ``with_streaming_response`` as the caller would; return what they read (chunks, model or lines)."""
    manager = create_on(client.chat.completions.with_streaming_response, **({"stream": True} if stream else {}))
    if is_async:
        async with manager as response:
            if use == "iter_lines":
                return [line async for line in response.iter_lines()]
            parsed = await response.parse()
            return [c.model_dump() for c in await drain(parsed)] if stream else parsed.model_dump()
    with manager as response:
        if use == "iter_lines":
            return list(response.iter_lines())
        parsed = response.parse()
        return [c.model_dump() for c in parsed] if stream else parsed.model_dump()


@MODES
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("use", ["parse", "iter_lines"])
async def test_streaming_response(
    fake_openai: FakeOpenAI, receiver: OtlpReceiver, is_async: bool, stream: bool, use: str
) -> None:
    if stream:
        fake_openai.stream(CHAT_PATH, CHAT_STREAM)
    else:
        fake_openai.json(CHAT_PATH, CHAT_BODY)
    bare = await streamed_response(client_for(fake_openai, is_async), is_async, stream, use)

    with traced(receiver) as tracing:
        got = await streamed_response(client_for(fake_openai, is_async), is_async, stream, use)
        span = tracing.span()

    assert got == bare
    assert_ok_span(span)
    attributes = decoded(span)
    if use == "iter_lines":
        # The body was read as raw lines: the span knows the request only.
        assert attributes == request_attributes(stream=stream)
    elif stream:
        assert without_timings(attributes) == stream_attributes()
    else:
        assert attributes == completion_attributes()


@MODES
async def test_streaming_response_left_before_the_stream_ends(
    fake_openai: FakeOpenAI, tracing: Tracing, is_async: bool
) -> None:
    fake_openai.stream(CHAT_PATH, CHAT_STREAM)
    manager = create_on(client_for(fake_openai, is_async).chat.completions.with_streaming_response, stream=True)
    if is_async:
        async with manager as response:
            stream = await response.parse()
            chunks = [await stream.__anext__(), await stream.__anext__()]
    else:
        with manager as response:
            stream = response.parse()
            chunks = [next(stream), next(stream)]

    # Leaving the ``with`` block closed the response: the span ended there, like closing the stream itself, with
    # what was received (not later, at garbage collection, as an abandoned stream).
    assert [c.choices[0].delta.content for c in chunks] == ["", "Hel"]
    span = tracing.span()
    assert stream is not None
    assert_ok_span(span)
    expected = stream_attributes()
    expected[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] = [gen_ai.FinishReasonValues.ERROR.value]  # never finished
    expected[gen_ai.GEN_AI_OUTPUT_MESSAGES] = [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hel"}],
            "finish_reason": gen_ai.FinishReasonValues.ERROR.value,
        }
    ]
    assert without_timings(decoded(span)) == expected


# --- 3. uninstrument ------------------------------------------------------------------------------------------


def patched_methods() -> list[tuple[type, str]]:
    """Every ``(class, method)`` the OpenAI instrumentor patches in the installed SDK.

    Like ``instrument()``, this passes over the patches whose module, class or method the installed release lacks
    (e.g. ``openai.resources.beta.chat``, gone by openai 1.92); every other patch is returned, so is checked.
    """
    targets = []
    for patch in OpenAIInstrumentor().patches():
        try:
            target: Any = importlib.import_module(patch.module)
        except ImportError:
            continue
        for part in patch.cls.split("."):
            target = getattr(target, part, None)
        if target is None or not hasattr(target, patch.method):
            continue
        # Patched where it is defined: an inherited method would be wrapped, then unwrapped, onto the subclass.
        assert patch.method in vars(target), patch
        targets.append((target, patch.method))
    return targets


async def test_uninstrument_reverses_instrument(fake_openai: FakeOpenAI, receiver: OtlpReceiver) -> None:
    fake_openai.json(CHAT_PATH, CHAT_BODY)
    patched = patched_methods()
    assert (chat_module.Completions, "create") in patched
    assert (embeddings_module.Embeddings, "create") in patched
    assert (completions_module.AsyncCompletions, "create") in patched
    originals = {(cls, name): cls.__dict__[name] for cls, name in patched}
    # The SDK's own ``required_args`` decorator (functools.wraps) gives chat ``create`` a ``__wrapped__`` already.
    sdk_wrapped = hasattr(chat_module.Completions.create, "__wrapped__")
    assert not hasattr(embeddings_module.Embeddings.create, "__wrapped__")
    fallom_otel.init(base_url=receiver.url, capture_content=True)
    instrumentor = OpenAIInstrumentor()
    sync_client, async_client = fake_openai.client(), fake_openai.async_client()
    raw_views: list[Any] = []

    async def one_call_each() -> None:
        create_chat(sync_client)
        await create_chat(async_client)
        create_on(raw_views[0]).parse()

    def exported() -> int:
        assert fallom_otel.flush(5_000)
        return len(receiver.spans)

    try:
        instrumentor.instrument(tracer_provider=trace.get_tracer_provider(), capture_content=True)
        # A raw view binds ``create`` when first accessed: this one keeps the wrapper after uninstrument().
        raw_views.append(fake_openai.client().chat.completions.with_raw_response)
        for cls, name in patched:
            assert isinstance(cls.__dict__[name], wrapt.FunctionWrapper), (cls, name)
        await one_call_each()
        assert len(receiver.wait_for_spans(3)) == 3

        instrumentor.uninstrument()
        for cls, name in patched:
            assert cls.__dict__[name] is originals[(cls, name)], (cls, name)
            assert not isinstance(cls.__dict__[name], wrapt.FunctionWrapper)
        assert hasattr(chat_module.Completions.create, "__wrapped__") is sdk_wrapped
        assert not hasattr(embeddings_module.Embeddings.create, "__wrapped__")
        await one_call_each()
        assert exported() == 3  # no span for the calls made while uninstrumented

        instrumentor.instrument(tracer_provider=trace.get_tracer_provider(), capture_content=True)
        await one_call_each()
        assert len(receiver.wait_for_spans(6)) == 6
        assert exported() == 6  # exactly one span per call after instrument -> uninstrument -> instrument
        for span in receiver.spans:
            assert_ok_span(span)
            assert decoded(span) == completion_attributes()
    finally:
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
    assert not instrumentor.is_instrumented_by_opentelemetry
    for cls, name in patched:
        assert cls.__dict__[name] is originals[(cls, name)], (cls, name)
