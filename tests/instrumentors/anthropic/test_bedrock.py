"""``AnthropicBedrock`` / ``AsyncAnthropicBedrock`` ``messages.create`` and ``beta.messages.create``, end to end.

Real Bedrock clients SigV4-sign offline (botocore) and send through the SDK's own MockTransport to
``/model/<model>/invoke``, answered with a hand-written ``Message`` body; the instrumented SDK exports over OTLP/HTTP
to the loopback receiver, and the tests read what the receiver decoded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import pytest

from fallom_otel_semconv import common, gen_ai
from tests.instrumentors.anthropic.conftest import SCOPE_NAME, Tracing, instrumented, sdk_http
from tests.otlp_receiver import OtlpReceiver

pytest.importorskip("boto3", reason="AnthropicBedrock signs requests with boto3/botocore")

BASE_URL = "http://bedrock.test"
MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
INVOKE_PATH = f"/model/{MODEL}/invoke"
RESPONSE_MODEL = "claude-sonnet-4-5-20250929"
MESSAGE_ID = "msg_bdrk_01XFDUDYJgAACzvnptvVoYEL"
BETA = "interleaved-thinking-2025-05-14"
INPUT, CACHE_READ, CACHE_WRITE, OUTPUT = 1_210, 2_048, 512, 87


def message_body() -> dict[str, Any]:
    """A Bedrock ``InvokeModel`` answer for an Anthropic model: the documented ``Message`` shape."""
    return {
        "id": MESSAGE_ID,
        "type": "message",
        "role": "assistant",
        "model": RESPONSE_MODEL,
        "content": [{"type": "text", "text": "Eleven is prime."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": INPUT,
            "cache_creation_input_tokens": CACHE_WRITE,
            "cache_read_input_tokens": CACHE_READ,
            "cache_creation": {"ephemeral_5m_input_tokens": CACHE_WRITE, "ephemeral_1h_input_tokens": 0},
            "output_tokens": OUTPUT,
        },
    }


@dataclass
class FakeBedrock:
    """Answers ``POST /model/<model>/invoke``; records each request's path, headers and body."""

    paths: list[str] = field(default_factory=list)
    headers: list[Any] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: Any) -> Any:
        with self._lock:
            self.paths.append(request.url.path)
            self.headers.append(request.headers)
            self.bodies.append(json.loads(request.content or b"{}"))
        if request.method != "POST" or request.url.path != INVOKE_PATH:
            return sdk_http().Response(404, json={"message": f"no route for {request.method} {request.url.path}"})
        return sdk_http().Response(
            200, json=message_body(), headers={"x-amzn-requestid": "6b8a2f4e-0c1d-4d7e-9a55-3f2b1c0d9e88"}
        )

    def client(self, is_async: bool) -> anthropic.AnthropicBedrock | anthropic.AsyncAnthropicBedrock:
        http = sdk_http()
        credentials: dict[str, Any] = {
            "aws_access_key": "AKIDEXAMPLE",
            "aws_secret_key": "secret",
            "aws_region": "us-east-1",
            "base_url": BASE_URL,
            "max_retries": 0,
        }
        if is_async:
            return anthropic.AsyncAnthropicBedrock(
                http_client=http.AsyncClient(transport=http.MockTransport(self)), **credentials
            )
        return anthropic.AnthropicBedrock(http_client=http.Client(transport=http.MockTransport(self)), **credentials)


@pytest.fixture(autouse=True)
def _no_bedrock_bearer_token(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A bearer token in the environment would conflict with the explicit AWS credentials."""
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    yield


async def resolve(value: Any) -> Any:
    if isinstance(value, Awaitable):
        return await value
    return value


async def call(fake: FakeBedrock, is_async: bool, beta: bool) -> Any:
    client: Any = fake.client(is_async)  # Any: mypy can't bind create() through the sync/async client union
    messages: Any = [{"role": "user", "content": "Name a prime number above ten."}]
    if beta:
        return await resolve(
            client.beta.messages.create(model=MODEL, max_tokens=1_024, messages=messages, betas=[BETA])
        )
    return await resolve(client.messages.create(model=MODEL, max_tokens=1_024, messages=messages))


SURFACES = pytest.mark.parametrize("beta", [False, True], ids=["messages", "beta.messages"])
SYNC_ASYNC = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])


@SURFACES
@SYNC_ASYNC
async def test_bedrock_call_exports_one_bedrock_span(tracing: Tracing, is_async: bool, beta: bool) -> None:
    fake = FakeBedrock()

    response = await call(fake, is_async, beta)

    assert response.id == MESSAGE_ID
    # The request really went the Bedrock way: signed, model in the path, not in the body.
    assert fake.paths == [INVOKE_PATH]
    assert fake.headers[0]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "model" not in fake.bodies[0]
    assert "anthropic_version" in fake.bodies[0]
    if beta:
        assert fake.bodies[0]["anthropic_beta"] == [BETA]

    span = tracing.span()
    assert span.scope_name == SCOPE_NAME
    assert span.kind == "CLIENT"
    assert span.status_code == "UNSET"
    attributes = span.attributes
    assert attributes[gen_ai.GEN_AI_PROVIDER_NAME] == gen_ai.GenAiProviderNameValues.AWS_BEDROCK.value
    assert attributes[gen_ai.GEN_AI_OPERATION_NAME] == gen_ai.GenAiOperationNameValues.CHAT.value
    assert attributes[gen_ai.GEN_AI_REQUEST_MODEL] == MODEL
    assert attributes[gen_ai.GEN_AI_RESPONSE_MODEL] == RESPONSE_MODEL
    assert attributes[gen_ai.GEN_AI_RESPONSE_ID] == MESSAGE_ID
    assert attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == [gen_ai.FinishReasonValues.STOP.value]
    assert attributes[gen_ai.GEN_AI_REQUEST_MAX_TOKENS] == 1_024
    assert attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == INPUT + CACHE_READ + CACHE_WRITE
    assert attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == OUTPUT
    assert attributes[gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == CACHE_READ
    assert attributes[gen_ai.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == CACHE_WRITE
    assert attributes[common.SERVER_ADDRESS] == "bedrock.test"
    assert attributes[common.SERVER_PORT] == 80


@SURFACES
@SYNC_ASYNC
async def test_bedrock_returned_objects_are_identical_to_the_bare_clients(
    receiver: OtlpReceiver, is_async: bool, beta: bool
) -> None:
    fake = FakeBedrock()

    bare = await call(fake, is_async, beta)
    with instrumented(receiver) as tracing:
        traced = await call(fake, is_async, beta)
        span = tracing.span()

    expected_class = anthropic.types.beta.BetaMessage if beta else anthropic.types.Message
    assert traced.__class__ is bare.__class__ is expected_class
    assert traced.model_dump() == bare.model_dump()
    assert traced == bare
    assert fake.bodies[0] == fake.bodies[1]
    assert span.attributes[gen_ai.GEN_AI_PROVIDER_NAME] == gen_ai.GenAiProviderNameValues.AWS_BEDROCK.value
