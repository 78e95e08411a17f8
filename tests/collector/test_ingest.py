"""Ingest: spans exported by the real OpenTelemetry SDK (protobuf, gzip/deflate/none) and OTLP/JSON bodies are decoded
into the call table, session and model summaries; invalid spans get an OTLP partial-success answer."""

from __future__ import annotations

import json
import time

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from fallom_otel.collector import Collector, Filters
from fallom_otel_semconv import common, fallom, gen_ai
from tests.collector.conftest import request, sdk_tracer


def _chat_span(tracer, *, session: str, model: str = "gpt-4o-mini", error: bool = False, **extra) -> None:
    attributes = {
        gen_ai.GEN_AI_OPERATION_NAME: "chat",
        gen_ai.GEN_AI_PROVIDER_NAME: "openai",
        gen_ai.GEN_AI_REQUEST_MODEL: model,
        gen_ai.GEN_AI_RESPONSE_MODEL: model + "-2024-07-18",
        gen_ai.GEN_AI_REQUEST_STREAM: True,
        gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"],
        gen_ai.GEN_AI_USAGE_INPUT_TOKENS: 1200,
        gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: 300,
        gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1024,
        gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 128,
        gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: 0.21,
        fallom.FALLOM_TIME_TO_FIRST_TOKEN_MS: 245.5,
        fallom.FALLOM_COST_USD: 0.00042,
        fallom.FALLOM_COST_INPUT_USD: 0.00030,
        fallom.FALLOM_COST_OUTPUT_USD: 0.00012,
        fallom.FALLOM_CONFIG_KEY: "support-bot",
        fallom.FALLOM_SESSION_ID: session,
        fallom.FALLOM_CUSTOMER_ID: "cust-7",
        gen_ai.GEN_AI_INPUT_MESSAGES: json.dumps([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]),
        **extra,
    }
    with tracer.start_as_current_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes) as span:
        time.sleep(0.002)
        if error:
            span.set_attribute(common.ERROR_TYPE, "openai.RateLimitError")
            span.set_status(Status(StatusCode.ERROR, "rate limited"))


def test_sdk_export_is_decoded_into_a_call_row(collector: Collector) -> None:
    provider = sdk_tracer(collector.url)
    _chat_span(provider.get_tracer("t"), session="s-1")
    provider.shutdown()
    assert collector.store is not None
    [row] = collector.store.calls()
    call = collector.store.call(row["id"])
    assert call is not None
    assert (call["operation"], call["provider"], call["model"]) == ("chat", "openai", "gpt-4o-mini-2024-07-18")
    assert call["request_model"] == "gpt-4o-mini"
    assert (call["input_tokens"], call["output_tokens"]) == (1200, 300)
    assert (call["cache_read_tokens"], call["reasoning_tokens"], call["cache_write_tokens"]) == (1024, 128, None)
    assert call["cost_usd"] == 0.00042 and call["cost_input_usd"] == 0.00030
    assert call["ttft_ms"] == 245.5 and abs(call["ttfc_ms"] - 210.0) < 1e-9
    assert call["stream"] == 1 and call["status"] == "UNSET" and call["kind"] == "CLIENT"
    assert (call["config_key"], call["session_id"], call["customer_id"]) == ("support-bot", "s-1", "cust-7")
    assert call["service_name"] == "collector-test"
    assert json.loads(call["finish_reasons"]) == ["stop"]
    assert call["duration_ms"] >= 2.0
    assert len(call["trace_id"]) == 32 and len(call["span_id"]) == 16
    attributes = json.loads(call["attributes"])
    assert attributes[fallom.FALLOM_SESSION_ID] == "s-1"
    assert json.loads(attributes[gen_ai.GEN_AI_INPUT_MESSAGES])[0]["role"] == "user"


def test_every_compression_the_exporter_offers(collector: Collector) -> None:
    for index, compression in enumerate((Compression.Gzip, Compression.Deflate, Compression.NoCompression)):
        provider = sdk_tracer(collector.url, compression=compression)
        _chat_span(provider.get_tracer("t"), session=f"s-{index}")
        provider.shutdown()
    assert collector.store is not None
    assert sorted(c["session_id"] for c in collector.store.calls()) == ["s-0", "s-1", "s-2"]


def test_session_and_model_summaries_follow_the_calls(collector: Collector) -> None:
    provider = sdk_tracer(collector.url)
    tracer = provider.get_tracer("t")
    for _ in range(3):
        _chat_span(tracer, session="a")
    _chat_span(tracer, session="a", error=True)
    _chat_span(tracer, session="b", model="gpt-4o")
    with tracer.start_as_current_span("app work"):  # not a GenAI span: stored, but not a call
        pass
    provider.shutdown()
    store = collector.store
    assert store is not None
    sessions = {s["session_id"]: s for s in store.sessions()}
    assert set(sessions) == {"a", "b"}
    a = sessions["a"]
    assert (a["calls"], a["errors"], a["input_tokens"], a["output_tokens"]) == (4, 1, 4800, 1200)
    assert abs(a["cost_usd"] - 4 * 0.00042) < 1e-12
    assert a["customer_id"] == "cust-7" and a["first_ns"] < a["last_ns"]
    # The summary tables agree with aggregating the call table.
    assert store.model_totals() == sorted(
        store.model_totals(Filters(status=None, config_key="support-bot")), key=lambda m: (-m["calls"], m["model"])
    )
    totals = {m["model"]: m for m in store.model_totals()}
    assert totals["gpt-4o-mini-2024-07-18"]["calls"] == 4 and totals["gpt-4o-mini-2024-07-18"]["errors"] == 1
    assert totals["gpt-4o-mini-2024-07-18"]["ttft_count"] == 4
    assert store.counts() == {"calls": 5, "spans": 6, "sessions": 2, "media": 0}
    assert [s["session_id"] for s in store.sessions(Filters(status="error"))] == ["a"]
    assert [s["session_id"] for s in store.sessions(Filters(model="gpt-4o-2024-07-18"))] == ["b"]


def _request_bytes() -> bytes:
    """One real export request body, made by the exporter's own encoder from SDK spans."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "collector-test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    _chat_span(provider.get_tracer("t"), session="replayed")
    provider.shutdown()
    return encode_spans(memory.get_finished_spans()).SerializeToString()


def test_a_retried_export_is_stored_once(collector: Collector) -> None:
    body = _request_bytes()
    for _ in range(2):
        answer = request(collector.url, "POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
        assert answer.status == 200
    assert collector.store is not None
    assert len(collector.store.calls()) == 1
    [session] = collector.store.sessions()
    assert session["calls"] == 1 and session["input_tokens"] == 1200


def test_partial_success_for_spans_with_invalid_ids(collector: Collector) -> None:
    message = ExportTraceServiceRequest.FromString(_request_bytes())
    spans = message.resource_spans[0].scope_spans[0].spans
    bad = spans.add()
    bad.CopyFrom(spans[0])
    bad.span_id = b"\x01\x02"  # not 8 bytes
    zero = spans.add()
    zero.CopyFrom(spans[0])
    zero.trace_id = bytes(16)  # all-zero trace id is invalid
    answer = request(
        collector.url, "POST", "/v1/traces", message.SerializeToString(), {"Content-Type": "application/x-protobuf"}
    )
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/x-protobuf"
    response = ExportTraceServiceResponse.FromString(answer.body)
    assert response.partial_success.rejected_spans == 2
    assert "invalid" in response.partial_success.error_message
    assert collector.store is not None
    assert len(collector.store.calls()) == 1


def test_otlp_json_with_hex_ids_and_a_json_answer(collector: Collector) -> None:
    trace_id, span_id = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
    now = time.time_ns()
    document = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-app"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "manual"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": span_id,
                                "name": "chat claude-haiku-4-5",
                                "kind": 3,
                                "startTimeUnixNano": str(now - 2_000_000_000),
                                "endTimeUnixNano": str(now),
                                "attributes": [
                                    {"key": gen_ai.GEN_AI_OPERATION_NAME, "value": {"stringValue": "chat"}},
                                    {"key": gen_ai.GEN_AI_PROVIDER_NAME, "value": {"stringValue": "anthropic"}},
                                    {"key": gen_ai.GEN_AI_REQUEST_MODEL, "value": {"stringValue": "claude-haiku-4-5"}},
                                    {"key": gen_ai.GEN_AI_USAGE_INPUT_TOKENS, "value": {"intValue": "2048"}},
                                    {"key": gen_ai.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, "value": {"intValue": 1500}},
                                    {"key": fallom.FALLOM_SESSION_ID, "value": {"stringValue": "json-session"}},
                                    {"key": fallom.FALLOM_TIME_TO_FIRST_TOKEN_MS, "value": {"doubleValue": 512.25}},
                                ],
                                "status": {"code": 2, "message": "overloaded"},
                                "someFutureField": {"ignored": True},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    answer = request(
        collector.url, "POST", "/v1/traces", json.dumps(document).encode(), {"Content-Type": "application/json"}
    )
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"] == "application/json"
    json_format.Parse(answer.body, ExportTraceServiceResponse())
    assert collector.store is not None
    [row] = collector.store.calls()
    call = collector.store.call(row["id"])
    assert call is not None
    assert (call["trace_id"], call["span_id"]) == (trace_id, span_id)
    assert (call["input_tokens"], call["cache_write_tokens"], call["ttft_ms"]) == (2048, 1500, 512.25)
    assert (call["status"], call["status_message"], call["service_name"]) == ("ERROR", "overloaded", "json-app")
    assert abs(call["duration_ms"] - 2000.0) < 1e-6
    assert call["session_id"] == "json-session" and call["config_key"] is None
    # A session without a config key is listed under the empty key.
    assert [(s["config_key"], s["session_id"], s["errors"]) for s in collector.store.sessions()] == [
        ("", "json-session", 1)
    ]
