"""The GenAI client metrics (semconv v1.41.0), recorded once per call when the invocation ends.

Instruments are created once per :class:`~fallom_otel_instrumentors._invocation.TelemetryHandler`, and only when a
meter provider was given: without one the handler has no :class:`GenAIMetrics` at all, so a call pays one ``is None``
check instead of a no-op meter's work.

Metric attributes are the low-cardinality request/response descriptors the conventions list (operation, provider,
request and response model, server address and port, ``error.type`` on failure). Nothing from the OpenTelemetry
context ever becomes a metric attribute, so session or customer ids cannot leak into metric cardinality.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.metrics import MeterProvider, NoOpMeterProvider, get_meter_provider
from opentelemetry.metrics._internal import _ProxyMeterProvider
from opentelemetry.util.types import AttributeValue

from fallom_otel_semconv import SCHEMA_URL, common, gen_ai, metrics

if TYPE_CHECKING:
    from fallom_otel_instrumentors._invocation import Invocation

__all__ = ["GenAIMetrics", "global_meter_provider", "metric_attributes"]

_INPUT = gen_ai.GenAiTokenTypeValues.INPUT.value
_OUTPUT = gen_ai.GenAiTokenTypeValues.OUTPUT.value


class GenAIMetrics:
    """The three GenAI client instruments of one handler."""

    __slots__ = ("duration", "time_to_first_chunk", "token_usage")

    def __init__(self, meter_provider: MeterProvider, *, scope_name: str, scope_version: str) -> None:
        """Create the instruments on a meter of ``meter_provider``.

        Args:
            meter_provider: Where the measurements go.
            scope_name: Instrumentation scope name of the meter.
            scope_version: Instrumentation scope version.
        """
        meter = meter_provider.get_meter(scope_name, scope_version, schema_url=SCHEMA_URL)
        self.duration = meter.create_histogram(
            metrics.GEN_AI_CLIENT_OPERATION_DURATION,
            unit=metrics.UNIT_SECONDS,
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=metrics.DURATION_BUCKETS,
        )
        self.token_usage = meter.create_histogram(
            metrics.GEN_AI_CLIENT_TOKEN_USAGE,
            unit=metrics.UNIT_TOKEN,
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=metrics.TOKEN_USAGE_BUCKETS,
        )
        self.time_to_first_chunk = meter.create_histogram(
            metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
            unit=metrics.UNIT_SECONDS,
            description="Time to receive the first chunk of a streamed response.",
            explicit_bucket_boundaries_advisory=metrics.DURATION_BUCKETS,
        )

    def record(self, invocation: Invocation, duration: float, error_type: str | None) -> None:
        """Record one finished call.

        Args:
            invocation: The call; its usage and time to first chunk are read.
            duration: Seconds from the start of the call to its end.
            error_type: ``error.type`` of a failed call, else None.
        """
        attributes = metric_attributes(invocation)
        if error_type is not None:
            attributes[common.ERROR_TYPE] = error_type
        self.duration.record(duration, attributes)
        # Token usage and time to first chunk only when known: the conventions forbid reporting guessed counts.
        usage = invocation.usage
        if usage.input_tokens is not None:
            self.token_usage.record(usage.input_tokens, {**attributes, gen_ai.GEN_AI_TOKEN_TYPE: _INPUT})
        if usage.output_tokens is not None:
            self.token_usage.record(usage.output_tokens, {**attributes, gen_ai.GEN_AI_TOKEN_TYPE: _OUTPUT})
        if invocation.time_to_first_chunk is not None:
            self.time_to_first_chunk.record(invocation.time_to_first_chunk, attributes)


def metric_attributes(invocation: Invocation) -> dict[str, AttributeValue]:
    """The semconv metric attributes of a call (without ``error.type`` and ``gen_ai.token.type``)."""
    attributes: dict[str, AttributeValue] = {
        gen_ai.GEN_AI_OPERATION_NAME: invocation.operation,
        gen_ai.GEN_AI_PROVIDER_NAME: invocation.provider,
    }
    if invocation.request_model:
        attributes[gen_ai.GEN_AI_REQUEST_MODEL] = invocation.request_model
    if invocation.response_model:
        attributes[gen_ai.GEN_AI_RESPONSE_MODEL] = invocation.response_model
    if invocation.server_address:
        attributes[common.SERVER_ADDRESS] = invocation.server_address
        if invocation.server_port is not None:
            attributes[common.SERVER_PORT] = invocation.server_port
    return attributes


def global_meter_provider() -> MeterProvider | None:
    """The application's global meter provider, or None while none is set.

    Before ``set_meter_provider`` the API hands out a proxy whose instruments do nothing until a provider is set;
    recording into it would cost every call for nothing, so it counts as "no meter provider".
    """
    provider = get_meter_provider()
    if isinstance(provider, (_ProxyMeterProvider, NoOpMeterProvider)):
        return None
    return provider
