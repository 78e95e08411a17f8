"""Zero code: ``opentelemetry-instrument python app.py`` with only FALLOM_* / OTEL_* variables, no fallom import.

Each test runs a plain OpenAI application in a subprocess against the loopback fake API and checks what the loopback
OTLP receiver got over the wire.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from fallom_otel_semconv import fallom as fallom_keys
from fallom_otel_semconv import gen_ai
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.zero_code.fake_llm import CHAT_COMPLETION, FakeLLM
from tests.zero_code.runner import run_instrumented

API_KEY = "fallom-test-key-123"


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


def run_app(llm: FakeLLM, env: dict[str, str], *calls: str) -> str:
    """Run the OpenAI app; assert it succeeded (the app must never break) and return its stdout."""
    result = run_instrumented("openai_app.py", llm.openai_base_url, *calls, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def fallom_env(receiver: OtlpReceiver, **extra: str) -> dict[str, str]:
    return {"FALLOM_API_KEY": API_KEY, "FALLOM_BASE_URL": receiver.url, **extra}


def only_span(receiver: OtlpReceiver) -> ReceivedSpan:
    spans = receiver.spans  # the child has exited, so its at-exit flush is done
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def test_chat_call_exports_the_genai_span_with_bearer_over_otlp_http(receiver: OtlpReceiver, llm: FakeLLM) -> None:
    stdout = run_app(llm, fallom_env(receiver, OTEL_SERVICE_NAME="zero-code-app"))
    assert stdout.split() == [CHAT_COMPLETION["id"]]  # the app got the provider's answer
    span = only_span(receiver)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind == "CLIENT"
    assert span.scope_name == "fallom_otel_instrumentors.openai"
    attributes = span.attributes
    assert attributes[gen_ai.GEN_AI_OPERATION_NAME] == "chat"
    assert attributes[gen_ai.GEN_AI_PROVIDER_NAME] == "openai"
    assert attributes[gen_ai.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attributes[gen_ai.GEN_AI_RESPONSE_ID] == CHAT_COMPLETION["id"]
    assert attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 14
    # Fallom's default (content on) applies, not OpenTelemetry's (off): the configurator ran init().
    assert "Capital of France?" in attributes[gen_ai.GEN_AI_INPUT_MESSAGES]
    # Session-less: no session attribute of any kind.
    for key in (fallom_keys.FALLOM_SESSION_ID, fallom_keys.FALLOM_CONFIG_KEY, gen_ai.GEN_AI_CONVERSATION_ID):
        assert key not in attributes
    assert span.resource_attributes["service.name"] == "zero-code-app"
    [request] = receiver.trace_requests
    assert request.path == "/v1/traces"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"] == "application/x-protobuf"
    # The provider's key never reaches the trace backend.
    assert b"sk-test-app-key" not in receiver.all_bytes()


def test_no_grpc_exporter_is_needed(receiver: OtlpReceiver, llm: FakeLLM) -> None:
    # The environment under test has no gRPC exporter; asking for gRPC still exports over HTTP, with a warning.
    assert importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc") is None
    result = run_instrumented(
        "openai_app.py", llm.openai_base_url, env=fallom_env(receiver, OTEL_EXPORTER_OTLP_PROTOCOL="grpc")
    )
    assert result.returncode == 0, result.stderr
    assert "OTEL_EXPORTER_OTLP_PROTOCOL=grpc does not apply" in result.stderr
    assert only_span(receiver).name == "chat gpt-4o-mini"


def test_session_processor_is_active(receiver: OtlpReceiver, llm: FakeLLM) -> None:
    # The app handles a request whose W3C baggage carries a Fallom session (set by an upstream service).
    baggage = f"{fallom_keys.BAGGAGE_SESSION_ID}=conv-42,{fallom_keys.BAGGAGE_CONFIG_KEY}=support-bot"
    run_app(llm, fallom_env(receiver, APP_INCOMING_BAGGAGE=baggage))
    attributes = only_span(receiver).attributes
    assert attributes[fallom_keys.FALLOM_SESSION_ID] == "conv-42"
    assert attributes[fallom_keys.FALLOM_CONFIG_KEY] == "support-bot"


def test_every_endpoint_is_traced(receiver: OtlpReceiver, llm: FakeLLM) -> None:
    run_app(llm, fallom_env(receiver), "chat", "responses", "embeddings")
    names = sorted(s.name for s in receiver.spans)
    assert names == ["chat gpt-4o-mini", "chat gpt-4o-mini", "embeddings text-embedding-3-small"]


def test_capture_content_false_keeps_content_out(receiver: OtlpReceiver, llm: FakeLLM) -> None:
    run_app(llm, fallom_env(receiver, FALLOM_CAPTURE_CONTENT="false"))
    span = only_span(receiver)
    assert gen_ai.GEN_AI_INPUT_MESSAGES not in span.attributes
    assert gen_ai.GEN_AI_OUTPUT_MESSAGES not in span.attributes
    assert b"Capital of France?" not in receiver.all_bytes()


def test_disabled_instrumentation_emits_nothing(receiver: OtlpReceiver, llm: FakeLLM) -> None:
    stdout = run_app(llm, fallom_env(receiver, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="fallom_openai"))
    assert stdout.split() == [CHAT_COMPLETION["id"]]
    assert receiver.spans == []


def test_sdk_disabled_emits_nothing_and_the_app_runs(receiver: OtlpReceiver, llm: FakeLLM) -> None:
    stdout = run_app(llm, fallom_env(receiver, OTEL_SDK_DISABLED="true"))
    assert stdout.split() == [CHAT_COMPLETION["id"]]
    assert receiver.requests == []


def test_sampler_always_off_emits_nothing(receiver: OtlpReceiver, llm: FakeLLM) -> None:
    run_app(llm, fallom_env(receiver, OTEL_TRACES_SAMPLER="always_off"))
    assert receiver.spans == []


def test_resource_attributes_and_exporter_variables(receiver: OtlpReceiver, llm: FakeLLM) -> None:
    env = fallom_env(
        receiver,
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment=staging,service.version=1.2.3",
        OTEL_EXPORTER_OTLP_TRACES_HEADERS="x-tenant=acme",
        OTEL_EXPORTER_OTLP_COMPRESSION="gzip",
    )
    run_app(llm, env)
    span = only_span(receiver)
    assert span.resource_attributes["deployment.environment"] == "staging"
    assert span.resource_attributes["service.version"] == "1.2.3"
    [request] = receiver.trace_requests
    assert request.headers["x-tenant"] == "acme"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-encoding"] == "gzip"


@pytest.mark.parametrize("variable", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"])
def test_otlp_endpoint_variables_choose_the_backend(receiver: OtlpReceiver, llm: FakeLLM, variable: str) -> None:
    # Without FALLOM_BASE_URL, the OTLP variables apply as OpenTelemetry exporters read them: the generic one gets
    # /v1/traces appended, the traces one is used verbatim. A loopback endpoint needs no API key.
    endpoint = receiver.url if variable == "OTEL_EXPORTER_OTLP_ENDPOINT" else receiver.traces_endpoint
    run_app(llm, {variable: endpoint})
    assert only_span(receiver).name == "chat gpt-4o-mini"
    [request] = receiver.trace_requests
    assert request.path == "/v1/traces"
    assert "authorization" not in request.headers


def test_bad_setting_is_logged_and_the_app_runs_untraced(receiver: OtlpReceiver, llm: FakeLLM) -> None:
    result = run_instrumented(
        "openai_app.py", llm.openai_base_url, env={"FALLOM_API_KEY": API_KEY, "FALLOM_BASE_URL": "not a url"}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [CHAT_COMPLETION["id"]]
    assert "fallom-otel: tracing is not configured" in result.stderr
    assert result.stderr.count("fallom-otel: tracing is not configured") == 1
