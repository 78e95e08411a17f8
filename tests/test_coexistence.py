"""init() next to an application's own tracing: never replace it, forward only GenAI spans, keep parentage."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import NoOpTracerProvider

import fallom_otel
from fallom_otel import _setup
from fallom_otel_semconv import fallom as fallom_keys
from tests.otlp_receiver import OtlpReceiver
from tests.spans import make_app_span, make_llm_span


@pytest.fixture
def app_receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as rx:
        yield rx


@pytest.fixture
def app_provider(app_receiver: OtlpReceiver) -> Iterator[SdkTracerProvider]:
    """The application's own tracing, set up before fallom-otel, exporting to its own backend."""
    provider = SdkTracerProvider(resource=Resource.create({"service.name": "the-app"}), shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=app_receiver.traces_endpoint)))
    trace.set_tracer_provider(provider)
    yield provider
    provider.shutdown()


def test_app_provider_kept_and_only_genai_spans_forwarded(
    receiver: OtlpReceiver, app_receiver: OtlpReceiver, app_provider: SdkTracerProvider
) -> None:
    provider = app_provider
    fallom_otel.init(api_key="k", base_url=receiver.url)
    assert trace.get_tracer_provider() is provider  # never replaced

    tracer = trace.get_tracer("tests.app")
    with tracer.start_as_current_span("handle-request") as parent:
        llm = make_llm_span()
        make_app_span("db-query")
    assert fallom_otel.flush(5_000)
    provider.force_flush()

    app_names = sorted(s.name for s in app_receiver.wait_for_spans(3))
    assert app_names == ["chat gpt-4o", "db-query", "handle-request"]  # the app still gets everything
    fallom_spans = receiver.wait_for_spans(1)
    assert [s.name for s in fallom_spans] == ["chat gpt-4o"]  # Fallom gets GenAI spans only
    [fallom_llm] = fallom_spans
    # The LLM span is a child of the app span, in the same trace, as both backends see it.
    assert fallom_llm.parent_span_id == format(parent.get_span_context().span_id, "016x")
    assert fallom_llm.trace_id == format(parent.get_span_context().trace_id, "032x")
    assert fallom_llm.span_id == format(llm.get_span_context().span_id, "016x")
    # The app's resource and sampler apply to the spans we forward.
    assert fallom_llm.resource_attributes["service.name"] == "the-app"


def test_export_all_spans_forwards_app_spans_too(
    receiver: OtlpReceiver, app_receiver: OtlpReceiver, app_provider: SdkTracerProvider
) -> None:
    fallom_otel.init(api_key="k", base_url=receiver.url, export_all_spans=True)
    make_app_span("db-query")
    make_llm_span()
    assert fallom_otel.flush(5_000)
    assert sorted(s.name for s in receiver.wait_for_spans(2)) == ["chat gpt-4o", "db-query"]


def test_session_attributes_reach_the_apps_exporter_too(
    receiver: OtlpReceiver, app_receiver: OtlpReceiver, app_provider: SdkTracerProvider
) -> None:
    provider = app_provider
    fallom_otel.init(api_key="k", base_url=receiver.url)
    with fallom_otel.session("cfg", "s-9", "c-9"):
        make_app_span("in-session")
    provider.force_flush()
    [span] = app_receiver.wait_for_spans(1)
    assert span.attributes[fallom_keys.FALLOM_SESSION_ID] == "s-9"


def test_init_twice_on_app_provider_adds_one_set_of_processors(
    receiver: OtlpReceiver, app_receiver: OtlpReceiver, app_provider: SdkTracerProvider
) -> None:
    provider = app_provider
    before = len(provider._active_span_processor._span_processors)
    fallom_otel.init(api_key="k", base_url=receiver.url)
    fallom_otel.init(api_key="k", base_url=receiver.url)
    fallom_otel.shutdown()
    fallom_otel.init(api_key="k", base_url=receiver.url)
    assert len(provider._active_span_processor._span_processors) == before + 2  # session stamper + export switch
    make_llm_span()
    assert fallom_otel.flush(5_000)
    assert len(receiver.wait_for_spans(1)) == 1
    provider.force_flush()
    assert len([s for s in app_receiver.wait_for_spans(1) if s.name == "chat gpt-4o"]) == 1


def test_non_sdk_provider_is_handled_without_crashing(receiver: OtlpReceiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="fallom_otel")
    trace.set_tracer_provider(NoOpTracerProvider())
    fallom_otel.init(api_key="k", base_url=receiver.url)
    assert isinstance(trace.get_tracer_provider(), NoOpTracerProvider)  # untouched
    assert any("not the OpenTelemetry SDK's" in r.getMessage() for r in caplog.records)
    private = _setup.tracer_provider()
    assert isinstance(private, SdkTracerProvider)
    make_app_span("app-span-on-noop")  # the app's own spans still go to its provider (a no-op here)
    with fallom_otel.session("cfg", "s-1"):
        make_llm_span(tracer_provider=private)
    assert fallom_otel.flush(5_000)
    [span] = receiver.wait_for_spans(1)
    assert span.name == "chat gpt-4o"
    assert span.attributes[fallom_keys.FALLOM_SESSION_ID] == "s-1"
