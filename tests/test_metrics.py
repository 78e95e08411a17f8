"""GenAI metrics: the semconv instruments (names, units, bucket advice, attributes) and ``fallom.client.cost``.

Calls go through real SDK clients over MockTransport. Metrics are read from an in-test SDK ``MeterProvider`` (the
application's, set globally or passed to ``instrument()``), and, for ``init(metrics=True)``, decoded from the OTLP/HTTP
``/v1/metrics`` requests the loopback receiver got.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from opentelemetry import metrics as metrics_api
from opentelemetry import trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, Metric, NumberDataPoint, Sum
from opentelemetry.util._once import Once

import fallom_otel
from fallom_otel_instrumentors.openai import OpenAIInstrumentor
from fallom_otel_semconv import common, gen_ai
from fallom_otel_semconv import fallom as fallom_keys
from fallom_otel_semconv import metrics as metric_names
from tests.instrumentors.openai.conftest import FakeOpenAI, sse
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

MESSAGES: Any = [{"role": "user", "content": "Hello!"}]
SESSION_ID = "sess-metrics-7f3a"
CUSTOMER_ID = "cust-metrics-91b2"
CONFIG_KEY = "metrics-cfg"
# Every fallom.* key shares the namespace of the session keys (fallom.session_id, ...).
FALLOM_PREFIX = fallom_keys.FALLOM_SESSION_ID.partition(".")[0] + "."
DURATION_BOUNDS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BOUNDS = tuple(
    float(b) for b in (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
)

COMPLETION = {
    "id": "chatcmpl-metrics",
    "object": "chat.completion",
    "created": 1733300000,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hi!", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500},
}


def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-metrics-stream",
        "object": "chat.completion.chunk",
        "created": 1733300000,
        "model": "gpt-4o-2024-08-06",
        "choices": [] if usage else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": usage,
    }


STREAM = sse(
    [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hi"}),
        chunk({"content": "!"}),
        chunk({}, "stop"),
        chunk({}, usage={"prompt_tokens": 40, "completion_tokens": 2, "total_tokens": 42}),
    ]
)


def reset_meter_provider() -> None:
    """Forget the global meter provider (OpenTelemetry allows setting it once per process)."""
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None


@pytest.fixture
def app_reader() -> Iterator[InMemoryMetricReader]:
    """An application that set its own global SDK meter provider, read in memory."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    reset_meter_provider()
    metrics_api.set_meter_provider(provider)
    try:
        yield reader
    finally:
        reset_meter_provider()
        provider.shutdown()


@pytest.fixture
def fake() -> FakeOpenAI:
    fake = FakeOpenAI()
    fake.json("/v1/chat/completions", COMPLETION)
    return fake


def collected(reader: InMemoryMetricReader) -> dict[str, Metric]:
    data = reader.get_metrics_data()
    assert data is not None
    return {
        metric.name: metric
        for resource_metrics in data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    }


def points(metric: Metric) -> list[Any]:
    return list(metric.data.data_points)


def run_calls(fake: FakeOpenAI) -> None:
    """One plain call, one stream (usage chunk requested), one failing call; all inside a session."""
    session = fallom_otel.session(config_key=CONFIG_KEY, session_id=SESSION_ID, customer_id=CUSTOMER_ID)
    client: Any = session.wrap_openai(fake.client())
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    fake.stream("/v1/chat/completions", STREAM)
    stream = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    for _ in stream:
        pass
    fake.json("/v1/chat/completions", {"error": {"message": "slow down", "type": "rate_limit"}}, status=429)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)


def spans(receiver: OtlpReceiver, count: int) -> list[ReceivedSpan]:
    assert fallom_otel.flush(5_000)
    received = receiver.wait_for_spans(count)
    assert len(received) == count, [s.name for s in received]
    return received


def test_app_meter_provider_receives_the_four_instruments(
    receiver: OtlpReceiver, app_reader: InMemoryMetricReader, fake: FakeOpenAI
) -> None:
    fallom_otel.init(base_url=receiver.url, capture_content=False)
    run_calls(fake)
    received = spans(receiver, 3)
    by_name = collected(app_reader)
    assert set(by_name) == {
        metric_names.GEN_AI_CLIENT_OPERATION_DURATION,
        metric_names.GEN_AI_CLIENT_TOKEN_USAGE,
        metric_names.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
        metric_names.FALLOM_CLIENT_COST,
    }
    base = {
        gen_ai.GEN_AI_OPERATION_NAME: "chat",
        gen_ai.GEN_AI_PROVIDER_NAME: "openai",
        gen_ai.GEN_AI_REQUEST_MODEL: "gpt-4o",
        common.SERVER_ADDRESS: "llm.test",
        common.SERVER_PORT: 80,
    }
    answered = {**base, gen_ai.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06"}

    duration = by_name[metric_names.GEN_AI_CLIENT_OPERATION_DURATION]
    assert duration.unit == "s"
    duration_points = points(duration)
    assert all(
        isinstance(p, HistogramDataPoint) and tuple(p.explicit_bounds) == DURATION_BOUNDS for p in duration_points
    )
    by_attributes = {frozenset(p.attributes.items()): p for p in duration_points}
    assert by_attributes[frozenset(answered.items())].count == 2  # the plain call and the stream
    failed = {**base, common.ERROR_TYPE: "openai.RateLimitError"}
    assert by_attributes[frozenset(failed.items())].count == 1
    assert len(duration_points) == 2

    tokens = by_name[metric_names.GEN_AI_CLIENT_TOKEN_USAGE]
    assert tokens.unit == "{token}"
    token_points = {p.attributes[gen_ai.GEN_AI_TOKEN_TYPE]: p for p in points(tokens)}
    assert set(token_points) == {"input", "output"}  # the failed call reported no usage: nothing recorded for it
    for token_type, point in token_points.items():
        assert dict(point.attributes) == {**answered, gen_ai.GEN_AI_TOKEN_TYPE: token_type}
        assert tuple(point.explicit_bounds) == TOKEN_BOUNDS
        assert point.count == 2
    assert token_points["input"].sum == 1200 + 40
    assert token_points["output"].sum == 300 + 2

    ttfc = by_name[metric_names.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK]
    assert ttfc.unit == "s"
    [ttfc_point] = points(ttfc)
    assert ttfc_point.count == 1  # streams only
    assert dict(ttfc_point.attributes) == answered
    assert tuple(ttfc_point.explicit_bounds) == DURATION_BOUNDS
    stream_span = next(s for s in received if s.attributes.get(gen_ai.GEN_AI_REQUEST_STREAM))
    assert ttfc_point.sum == pytest.approx(stream_span.attributes[gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK])

    cost = by_name[metric_names.FALLOM_CLIENT_COST]
    assert cost.unit == "USD"
    assert isinstance(cost.data, Sum) and cost.data.is_monotonic
    [cost_point] = points(cost)
    assert isinstance(cost_point, NumberDataPoint)
    assert dict(cost_point.attributes or {}) == answered
    span_costs = sum(s.attributes.get(fallom_keys.FALLOM_COST_USD, 0.0) for s in received)
    assert cost_point.value == pytest.approx(span_costs, rel=1e-12)
    assert cost_point.value == pytest.approx((1240 * 2.50 + 302 * 10.00) / 1_000_000, rel=1e-12)

    # Cardinality: no session, customer or config key anywhere in the metric attributes.
    for metric in by_name.values():
        for point in points(metric):
            values = set(map(str, point.attributes.values()))
            keys = set(point.attributes)
            assert not {SESSION_ID, CUSTOMER_ID, CONFIG_KEY} & values, (metric.name, dict(point.attributes))
            assert not any(k.startswith(FALLOM_PREFIX) or k == gen_ai.GEN_AI_CONVERSATION_ID for k in keys)


def test_metrics_false_records_nothing_even_with_an_app_provider(
    receiver: OtlpReceiver, app_reader: InMemoryMetricReader, fake: FakeOpenAI
) -> None:
    fallom_otel.init(base_url=receiver.url, metrics=False)
    run_calls(fake)
    spans(receiver, 3)
    data = app_reader.get_metrics_data()
    assert data is None or not data.resource_metrics
    from fallom_otel_instrumentors.openai import OpenAIInstrumentor

    handler = OpenAIInstrumentor().handler
    assert handler is not None and handler.metrics is None  # not even a no-op meter on the call path


def test_no_meter_provider_means_no_instruments(receiver: OtlpReceiver, fake: FakeOpenAI) -> None:
    fallom_otel.init(base_url=receiver.url)
    session = fallom_otel.session(config_key=CONFIG_KEY, session_id=SESSION_ID)
    session.wrap_openai(fake.client()).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    spans(receiver, 1)
    handler = OpenAIInstrumentor().handler
    assert handler is not None and handler.metrics is None


def test_init_metrics_true_exports_otlp_http_to_base_url(receiver: OtlpReceiver, fake: FakeOpenAI) -> None:
    fallom_otel.init(api_key="fallom-metrics-key", base_url=receiver.url, metrics=True)
    run_calls(fake)
    assert fallom_otel.flush(10_000)
    wanted = {
        metric_names.GEN_AI_CLIENT_OPERATION_DURATION,
        metric_names.GEN_AI_CLIENT_TOKEN_USAGE,
        metric_names.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
        metric_names.FALLOM_CLIENT_COST,
    }
    received = receiver.wait_for_metrics(wanted)
    [request, *_] = receiver.metric_requests
    assert request.headers["authorization"] == "Bearer fallom-metrics-key"
    assert request.headers["content-type"] == "application/x-protobuf"
    latest = {m.name: m for m in received}
    duration = latest[metric_names.GEN_AI_CLIENT_OPERATION_DURATION]
    assert (duration.kind, duration.unit) == ("histogram", "s")
    assert all(p.explicit_bounds == DURATION_BOUNDS for p in duration.points)
    assert sum(p.count for p in duration.points) == 3
    assert {p.attributes.get(common.ERROR_TYPE) for p in duration.points} == {None, "openai.RateLimitError"}
    tokens = latest[metric_names.GEN_AI_CLIENT_TOKEN_USAGE]
    assert (tokens.kind, tokens.unit) == ("histogram", "{token}")
    assert {p.attributes[gen_ai.GEN_AI_TOKEN_TYPE]: p.value for p in tokens.points} == {"input": 1240, "output": 302}
    assert all(p.explicit_bounds == TOKEN_BOUNDS for p in tokens.points)
    ttfc = latest[metric_names.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK]
    assert (ttfc.kind, ttfc.unit, sum(p.count for p in ttfc.points)) == ("histogram", "s", 1)
    cost = latest[metric_names.FALLOM_CLIENT_COST]
    assert (cost.kind, cost.unit, cost.monotonic) == ("sum", "USD", True)
    assert sum(p.value for p in cost.points) == pytest.approx((1240 * 2.50 + 302 * 10.00) / 1_000_000, rel=1e-12)
    for metric in received:
        for point in metric.points:
            assert not {SESSION_ID, CUSTOMER_ID, CONFIG_KEY} & set(map(str, point.attributes.values()))
    assert duration.scope_name == "fallom_otel_instrumentors.openai"
    assert duration.scope_schema_url == "https://opentelemetry.io/schemas/1.41.0"
    fallom_otel.shutdown(5_000)  # while the receiver still listens: the reader exports once more on shutdown
    assert all(r.status == 200 for r in receiver.metric_requests)


def test_init_metrics_true_respects_the_app_provider(
    receiver: OtlpReceiver, app_reader: InMemoryMetricReader, fake: FakeOpenAI
) -> None:
    fallom_otel.init(base_url=receiver.url, metrics=True)
    session = fallom_otel.session(config_key=CONFIG_KEY, session_id=SESSION_ID)
    session.wrap_openai(fake.client()).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert fallom_otel.flush(5_000)
    assert metric_names.GEN_AI_CLIENT_OPERATION_DURATION in collected(app_reader)
    assert receiver.metric_requests == []  # the app's provider, not a second one of ours


def test_standalone_instrumentor_with_a_meter_provider(receiver: OtlpReceiver, fake: FakeOpenAI) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    fallom_otel.init(base_url=receiver.url)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider(), meter_provider=provider)
    try:
        fake.client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        instrumentor.uninstrument()
    by_name = collected(reader)
    # The standalone instrumentor knows nothing of Fallom: the semconv instruments, no cost counter.
    assert set(by_name) == {metric_names.GEN_AI_CLIENT_OPERATION_DURATION, metric_names.GEN_AI_CLIENT_TOKEN_USAGE}
    provider.shutdown()


def test_process_wide_instrument_follows_the_metrics_setting(
    receiver: OtlpReceiver, app_reader: InMemoryMetricReader, fake: FakeOpenAI
) -> None:
    fallom_otel.init(base_url=receiver.url, metrics=False, instrument=True)
    fake.client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    spans(receiver, 1)
    data = app_reader.get_metrics_data()
    assert data is None or not data.resource_metrics  # metrics=False wins over the app's global provider

    fallom_otel.init(base_url=receiver.url, instrument=True)  # default: the app's provider
    fake.client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    spans(receiver, 2)
    by_name = collected(app_reader)
    assert [p.count for p in points(by_name[metric_names.GEN_AI_CLIENT_OPERATION_DURATION])] == [1]
    [cost_point] = points(by_name[metric_names.FALLOM_CLIENT_COST])
    assert cost_point.value == pytest.approx((1200 * 2.50 + 300 * 10.00) / 1_000_000, rel=1e-12)


def test_standalone_instrumentor_uses_the_global_meter_provider(
    receiver: OtlpReceiver, app_reader: InMemoryMetricReader, fake: FakeOpenAI
) -> None:
    fallom_otel.init(base_url=receiver.url)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    try:
        fake.client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        instrumentor.uninstrument()
    assert metric_names.GEN_AI_CLIENT_OPERATION_DURATION in collected(app_reader)
