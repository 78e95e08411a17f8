"""One traced call: the span, the request/response/usage fields, and ending the span exactly once.

``TelemetryHandler.start(...)`` opens the CLIENT span with the sampling-relevant attributes set at start
(operation, provider, request model, server address/port). Extractors fill the invocation's fields; ``stop()`` or
``fail()`` writes them as attributes in one call, runs the end hooks, and ends the span. A second stop/fail is a
no-op, so a stream finished by exhaustion and later garbage-collected still yields exactly one span. A failure the
provider reports inside a successful answer (a ``failed`` status, an ``error`` stream event) is recorded by the
extractor in ``error_type``; ``stop()`` then ends the span as ``fail()`` does.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from fallom_otel_instrumentors._content import dumps_output_messages
from fallom_otel_instrumentors._hooks import Hooks
from fallom_otel_instrumentors._metrics import GenAIMetrics
from fallom_otel_instrumentors._safety import guard
from fallom_otel_semconv import SCHEMA_URL, common, gen_ai
from fallom_otel_semconv import fallom as fallom_keys

__all__ = ["Invocation", "TelemetryHandler", "Usage", "error_type_of"]


class Usage:
    """Token counts as the provider reported them; a field left None is not recorded (never guessed).

    ``cache_write_5m_input_tokens`` / ``cache_write_1h_input_tokens`` split ``cache_write_input_tokens`` by cache
    lifetime where the provider reports it (Anthropic ``usage.cache_creation``); the two lifetimes are billed at
    different rates. They have no semconv key, so they feed the end hooks (cost) but are not span attributes.
    """

    __slots__ = (
        "cache_read_input_tokens",
        "cache_write_1h_input_tokens",
        "cache_write_5m_input_tokens",
        "cache_write_input_tokens",
        "input_tokens",
        "output_tokens",
        "reasoning_output_tokens",
    )

    def __init__(self) -> None:
        self.input_tokens: int | None = None  # billed input, cache reads and writes included
        self.output_tokens: int | None = None  # reasoning tokens included
        self.cache_read_input_tokens: int | None = None
        self.cache_write_input_tokens: int | None = None  # both lifetimes
        self.cache_write_5m_input_tokens: int | None = None
        self.cache_write_1h_input_tokens: int | None = None
        self.reasoning_output_tokens: int | None = None

    def attributes(self) -> dict[str, AttributeValue]:
        """The ``gen_ai.usage.*`` attributes for the counts that are known."""
        result: dict[str, AttributeValue] = {}
        for key, value in (
            (gen_ai.GEN_AI_USAGE_INPUT_TOKENS, self.input_tokens),
            (gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS, self.output_tokens),
            (gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, self.cache_read_input_tokens),
            (gen_ai.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, self.cache_write_input_tokens),
            (gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, self.reasoning_output_tokens),
        ):
            if value is not None:
                result[key] = value
        return result


class TelemetryHandler:
    """Owns the tracer, the content policy and the hooks; starts one :class:`Invocation` per call."""

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        *,
        scope_name: str,
        scope_version: str,
        capture_content: bool = False,
        hooks: Hooks | None = None,
        stream_usage: bool = False,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        """Create a handler.

        Args:
            tracer_provider: The provider to trace with; the global one when None (a proxy until it is set).
            scope_name: Instrumentation scope name of the spans.
            scope_version: Instrumentation scope version.
            capture_content: Record prompts, completions and tool definitions.
            hooks: Extension points (cost, media).
            stream_usage: Ask providers that report usage on streams only on request (OpenAI chat and legacy
                completions: ``stream_options.include_usage``) to report it; the extra chunk is hidden from the caller.
            meter_provider: Where the GenAI client metrics go; None records no metrics (and costs nothing per call).
        """
        self.tracer = trace.get_tracer(scope_name, scope_version, tracer_provider, schema_url=SCHEMA_URL)
        self.capture_content = capture_content
        self.configured_with = (tracer_provider, capture_content)
        self.hooks = hooks or Hooks()
        self.stream_usage = stream_usage
        self.meter_provider = meter_provider
        self.metrics = (
            GenAIMetrics(meter_provider, scope_name=scope_name, scope_version=scope_version)
            if meter_provider is not None
            else None
        )

    def start(
        self,
        operation: str,
        provider: str,
        request_model: str | None,
        *,
        server_address: str | None = None,
        server_port: int | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> Invocation:
        """Start the CLIENT span of one call; the sampling-relevant attributes are set at start.

        Args:
            operation: ``gen_ai.operation.name`` (``chat``, ``embeddings``, ``text_completion``).
            provider: ``gen_ai.provider.name``.
            request_model: The model asked for, if any.
            server_address: Host of the API endpoint.
            server_port: Port of the API endpoint.
            attributes: Further request attributes (parameters, input content).
        """
        start_attributes: dict[str, AttributeValue] = {
            gen_ai.GEN_AI_OPERATION_NAME: operation,
            gen_ai.GEN_AI_PROVIDER_NAME: provider,
        }
        if request_model:
            start_attributes[gen_ai.GEN_AI_REQUEST_MODEL] = request_model
        if server_address:
            start_attributes[common.SERVER_ADDRESS] = server_address
            if server_port is not None:
                start_attributes[common.SERVER_PORT] = server_port
        if attributes:
            start_attributes.update(attributes)
        name = f"{operation} {request_model}" if request_model else operation
        span = self.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=start_attributes)
        invocation = Invocation(self, span, operation, provider, request_model)
        if server_address:
            # Kept for the metrics, which repeat the span's server attributes.
            invocation.server_address = server_address
            invocation.server_port = server_port
        return invocation


class Invocation:
    """The state of one traced call, filled by the provider extractors."""

    __slots__ = (
        "_ended",
        "_lock",
        "_started",
        "attributes",
        "error_type",
        "finish_reasons",
        "handler",
        "operation",
        "output_messages",
        "provider",
        "request_model",
        "response_id",
        "response_model",
        "server_address",
        "server_port",
        "span",
        "time_to_first_chunk",
        "time_to_first_token",
        "usage",
    )

    def __init__(
        self, handler: TelemetryHandler, span: Span, operation: str, provider: str, request_model: str | None
    ) -> None:
        self.handler = handler
        self.span = span
        self.operation = operation
        self.provider = provider
        self.request_model = request_model
        self.response_model: str | None = None
        self.response_id: str | None = None
        self.finish_reasons: list[str] | None = None
        self.usage = Usage()
        self.output_messages: list[Any] | None = None
        self.time_to_first_chunk: float | None = None  # seconds, monotonic clock
        self.time_to_first_token: float | None = None  # seconds, monotonic clock
        self.attributes: dict[str, AttributeValue] = {}  # further response attributes
        self.error_type: str | None = None  # a failure reported in the response itself; stop() then fails
        self.server_address: str | None = None
        self.server_port: int | None = None
        self._started = time.perf_counter()
        self._ended = False
        self._lock = threading.Lock()

    @property
    def capture_content(self) -> bool:
        """Whether content may be recorded for this call."""
        return self.handler.capture_content

    def activate(self) -> object:
        """Make the span current (so HTTP spans and ``traceparent`` nest under it); pass the token to deactivate."""
        return otel_context.attach(trace.set_span_in_context(self.span))

    @staticmethod
    def deactivate(token: object) -> None:
        """Restore the context that was current before :meth:`activate`."""
        otel_context.detach(token)  # type: ignore[arg-type]

    def mark_first_chunk(self) -> None:
        """Record the time to the first streamed chunk (once)."""
        if self.time_to_first_chunk is None:
            self.time_to_first_chunk = time.perf_counter() - self._started

    def mark_first_token(self) -> None:
        """Record the time to the first chunk carrying generated content (once)."""
        if self.time_to_first_token is None:
            self.time_to_first_token = time.perf_counter() - self._started

    def stop(self) -> None:
        """End the span with everything recorded so far (idempotent).

        Successfully, unless an extractor set :attr:`error_type` (the provider reported a failure inside an answer
        that raised nothing): then as ``fail(None, error_type)``, with status ERROR.
        """
        if self.error_type is not None:
            self.fail(None, self.error_type)
            return
        if not self._claim_end():
            return
        with guard:
            self.span.set_attributes(self._final_attributes())
        metrics = self.handler.metrics
        if metrics is not None:
            with guard:
                metrics.record(self, time.perf_counter() - self._started, None)
        self.span.end()

    def fail(self, error: BaseException | None, error_type: str | None = None, description: str | None = None) -> None:
        """End the span with status ERROR (idempotent), keeping whatever response data was recorded.

        Args:
            error: The exception, recorded as an event (its message only when content capture is on).
            error_type: ``error.type``; the exception's qualified type name when omitted.
            description: Status description; the exception's message when capture is on.
        """
        if not self._claim_end():
            return
        resolved_type = common.ERROR_TYPE_OTHER
        with guard:
            attributes = self._final_attributes()
            resolved_type = error_type or (error_type_of(error) if error is not None else common.ERROR_TYPE_OTHER)
            attributes[common.ERROR_TYPE] = resolved_type
            self.span.set_attributes(attributes)
            if error is not None:
                if self.capture_content:
                    self.span.record_exception(error)
                else:
                    # Exception messages often echo the prompt: without content capture, only the type is kept.
                    self.span.add_event("exception", {"exception.type": resolved_type})
            if description is None:
                description = str(error) if (error is not None and self.capture_content) else resolved_type
            self.span.set_status(Status(StatusCode.ERROR, description))
        metrics = self.handler.metrics
        if metrics is not None:
            with guard:
                metrics.record(self, time.perf_counter() - self._started, resolved_type)
        self.span.end()

    def _claim_end(self) -> bool:
        with self._lock:
            if self._ended:
                return False
            self._ended = True
            return True

    def _final_attributes(self) -> dict[str, AttributeValue]:
        attributes = self.attributes
        if self.response_model is not None:
            attributes[gen_ai.GEN_AI_RESPONSE_MODEL] = self.response_model
        if self.response_id is not None:
            attributes[gen_ai.GEN_AI_RESPONSE_ID] = self.response_id
        if self.finish_reasons:
            attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] = tuple(self.finish_reasons)
        attributes.update(self.usage.attributes())
        if self.time_to_first_chunk is not None:
            attributes[gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = self.time_to_first_chunk
        if self.time_to_first_token is not None:
            attributes[fallom_keys.FALLOM_TIME_TO_FIRST_TOKEN_MS] = self.time_to_first_token * 1000.0
        if self.output_messages is not None and self.capture_content:
            attributes[gen_ai.GEN_AI_OUTPUT_MESSAGES] = dumps_output_messages(self.output_messages)
        for hook in self.handler.hooks.on_end:
            with guard:
                hook(self, attributes)
        return attributes


def error_type_of(error: BaseException) -> str:
    """``error.type`` for an exception: its public qualified name (``openai.RateLimitError``, ``TimeoutError``)."""
    cls = type(error)
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    root = module.partition(".")[0]
    # Prefer the name users import (``openai.RateLimitError``) over the private module it is defined in.
    if getattr(sys.modules.get(root), cls.__qualname__, None) is cls:
        return f"{root}.{cls.__qualname__}"
    return f"{module}.{cls.__qualname__}"
