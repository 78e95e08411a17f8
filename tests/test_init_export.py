"""End to end: init() → spans over real OTLP/HTTP protobuf → the loopback receiver."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

import fallom_otel
from fallom_otel import _setup
from fallom_otel._export import ExportSwitch
from fallom_otel_semconv import fallom as fallom_keys
from fallom_otel_semconv import gen_ai
from tests.otlp_receiver import OtlpReceiver
from tests.spans import make_app_span, make_llm_span

SESSION_KEYS = (fallom_keys.FALLOM_CONFIG_KEY, fallom_keys.FALLOM_SESSION_ID, fallom_keys.FALLOM_CUSTOMER_ID)


def test_span_in_session_reaches_receiver_with_bearer_and_session(receiver: OtlpReceiver) -> None:
    fallom_otel.init(api_key="fk-test-123", base_url=receiver.url)
    tracer = trace.get_tracer("tests.manual")
    with fallom_otel.session(config_key="my-app", session_id="session-123", customer_id="user-456"):
        with tracer.start_as_current_span("inside"):
            pass
    with tracer.start_as_current_span("outside"):
        pass
    assert fallom_otel.flush(5_000)

    spans = {span.name: span for span in receiver.wait_for_spans(2)}
    inside, outside = spans["inside"], spans["outside"]
    assert inside.attributes[fallom_keys.FALLOM_CONFIG_KEY] == "my-app"
    assert inside.attributes[fallom_keys.FALLOM_SESSION_ID] == "session-123"
    assert inside.attributes[fallom_keys.FALLOM_CUSTOMER_ID] == "user-456"
    assert inside.attributes[gen_ai.GEN_AI_CONVERSATION_ID] == "session-123"
    assert not set(SESSION_KEYS) & set(outside.attributes)
    assert gen_ai.GEN_AI_CONVERSATION_ID not in outside.attributes

    requests = receiver.trace_requests
    assert requests and all(r.headers["authorization"] == "Bearer fk-test-123" for r in requests)
    assert all(r.path == "/v1/traces" for r in requests)
    assert all(r.headers["content-type"] == "application/x-protobuf" for r in requests)


def test_owned_provider_is_global_and_exports_all_spans(receiver: OtlpReceiver) -> None:
    fallom_otel.init(api_key="k", base_url=receiver.url)
    provider = trace.get_tracer_provider()
    assert isinstance(provider, SdkTracerProvider)
    make_app_span("plain")
    make_llm_span()
    assert fallom_otel.flush(5_000)
    assert sorted(s.name for s in receiver.wait_for_spans(2)) == ["chat gpt-4o", "plain"]


def test_local_endpoint_needs_no_key(receiver: OtlpReceiver) -> None:
    fallom_otel.init(base_url=receiver.url)
    make_llm_span()
    assert fallom_otel.flush(5_000)
    [request] = receiver.wait_for_requests(1)
    assert "authorization" not in request.headers
    assert [s.name for s in receiver.spans] == ["chat gpt-4o"]


def test_no_key_remote_endpoint_warns_once_and_exports_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="fallom_otel")
    _setup._warned_no_key = False
    fallom_otel.init(base_url="https://traces.example.com")
    fallom_otel.init(base_url="https://traces.example.com")
    make_llm_span()
    warnings = [r for r in caplog.records if r.name == "fallom_otel" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "no API key" in warnings[0].getMessage()
    state = _setup._state
    assert state is not None and state.switch.pipeline is None  # no exporter exists, so nothing can be sent
    assert fallom_otel.flush(1_000)


def test_init_twice_never_stacks_exporters(receiver: OtlpReceiver) -> None:
    with OtlpReceiver() as second:
        fallom_otel.init(api_key="k1", base_url=receiver.url)
        fallom_otel.init(api_key="k2", base_url=receiver.url)
        fallom_otel.init(api_key="k3", base_url=second.url)
        provider = trace.get_tracer_provider()
        assert isinstance(provider, SdkTracerProvider)
        processors = provider._active_span_processor._span_processors
        assert sum(isinstance(p, ExportSwitch) for p in processors) == 1
        for i in range(5):
            make_llm_span(f"chat m{i}")
        assert fallom_otel.flush(5_000)
        names = sorted(s.name for s in second.wait_for_spans(5))
        assert names == [f"chat m{i}" for i in range(5)]  # each exactly once
        assert all(r.headers["authorization"] == "Bearer k3" for r in second.trace_requests)
    assert receiver.spans == []


def test_shutdown_then_init_again_reuses_the_same_provider(receiver: OtlpReceiver) -> None:
    fallom_otel.init(api_key="k", base_url=receiver.url)
    provider = trace.get_tracer_provider()
    fallom_otel.shutdown()
    make_llm_span("after-shutdown")
    fallom_otel.init(api_key="k", base_url=receiver.url)
    assert trace.get_tracer_provider() is provider
    make_app_span("plain-after-reinit")  # still our own provider: all spans exported
    assert fallom_otel.flush(5_000)
    assert [s.name for s in receiver.wait_for_spans(1)] == ["plain-after-reinit"]
    processors = provider._active_span_processor._span_processors  # type: ignore[attr-defined]
    assert sum(isinstance(p, ExportSwitch) for p in processors) == 1


def test_flush_and_shutdown_before_init_are_harmless() -> None:
    assert fallom_otel.flush() is False
    fallom_otel.shutdown()


def test_debug_logs_through_logging_never_print_never_the_key(
    receiver: OtlpReceiver, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "fk-very-secret-key-0042"
    fallom_otel.init(api_key=secret, base_url=receiver.url, debug=True)
    with fallom_otel.session("cfg", "s-1"):
        make_llm_span()
    assert fallom_otel.flush(5_000)
    receiver.wait_for_spans(1)
    ours = [r for r in caplog.records if r.name.startswith("fallom_otel")]
    assert any(r.levelno == logging.DEBUG and "initialised" in r.getMessage() for r in ours)
    assert logging.getLogger("fallom_otel").getEffectiveLevel() == logging.DEBUG
    assert all(secret not in r.getMessage() for r in caplog.records)
    assert secret not in caplog.text
    out = capsys.readouterr()
    assert secret not in out.out + out.err
    assert out.out == ""
    fallom_otel.init(api_key=secret, base_url=receiver.url, debug=False)
    assert logging.getLogger("fallom_otel").level == logging.NOTSET


def test_config_repr_hides_the_key() -> None:
    from fallom_otel._config import resolve_config

    config = resolve_config(
        api_key="fk-hidden", base_url=None, capture_content=None, debug=None, propagate=None, export_all_spans=False
    )
    assert "fk-hidden" not in repr(config)


def test_otel_resource_variables_are_honoured(receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging,team=ml")
    fallom_otel.init(api_key="k", base_url=receiver.url)
    make_llm_span()
    assert fallom_otel.flush(5_000)
    [span] = receiver.wait_for_spans(1)
    assert span.resource_attributes["service.name"] == "checkout"
    assert span.resource_attributes["deployment.environment"] == "staging"
    assert span.resource_attributes["team"] == "ml"


def test_otel_sampler_variable_is_honoured(receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    fallom_otel.init(api_key="k", base_url=receiver.url)
    make_llm_span()
    assert fallom_otel.flush(5_000)
    assert receiver.trace_requests == []


def test_otel_sdk_disabled_exports_nothing(receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    fallom_otel.init(api_key="k", base_url=receiver.url)
    span = make_llm_span()
    assert not span.get_span_context().is_valid
    assert fallom_otel.flush(5_000)
    assert receiver.trace_requests == []


def test_otel_exporter_headers_and_compression_merge_with_ours(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=acme")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    fallom_otel.init(api_key="k", base_url=receiver.url)
    make_llm_span()
    assert fallom_otel.flush(5_000)
    [request] = receiver.wait_for_requests(1)
    assert request.headers["x-tenant"] == "acme"
    assert request.headers["authorization"] == "Bearer k"
    assert request.headers["content-encoding"] == "gzip"
    assert [s.name for s in receiver.spans] == ["chat gpt-4o"]


def test_otel_traces_endpoint_used_verbatim_when_no_base_url(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.traces_endpoint)
    fallom_otel.init(api_key="k")
    make_llm_span()
    assert fallom_otel.flush(5_000)
    assert [s.name for s in receiver.wait_for_spans(1)] == ["chat gpt-4o"]


def test_fallom_env_variables_configure_init(receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FALLOM_API_KEY", "env-key")
    monkeypatch.setenv("FALLOM_BASE_URL", receiver.url)
    monkeypatch.setenv("FALLOM_CAPTURE_CONTENT", "false")
    fallom_otel.init()
    config = _setup.current_config()
    assert config is not None and config.capture_content is False
    make_llm_span()
    assert fallom_otel.flush(5_000)
    [request] = receiver.wait_for_requests(1)
    assert request.headers["authorization"] == "Bearer env-key"
