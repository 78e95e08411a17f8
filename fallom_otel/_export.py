"""The export side: OTLP/HTTP protobuf to Fallom behind a batch processor, and the switch that holds it.

The switch is added to a tracer provider once and never removed (the SDK cannot remove processors). ``init()``
swaps the pipeline inside it, so calling ``init()`` again never stacks exporters.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.environment_variables import OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_SCHEDULE_DELAY
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from fallom_otel._config import FallomConfig
from fallom_otel_instrumentors import guard
from fallom_otel_semconv import gen_ai

_logger = logging.getLogger("fallom_otel")

# Batch processor defaults where the OTEL_BSP_* variables are not set. The SDK's (2,048 spans, 5 s) drop spans at an
# ordinary request rate: a busy request thread can keep the export thread waiting past its wake-up, and the queue
# overflows before the 5 s timer fires (measured by `make bench`: ~1,000 calls/s lost a fifth of the spans).
_QUEUE_SIZE = 8192
_SCHEDULE_DELAY_MILLIS = 1000

# A failing backend must not flood the application's logs: one warning, then at most one per interval.
_DROP_WARNING_INTERVAL_S = 60.0


class ReportingExporter(SpanExporter):
    """Delegate to the OTLP exporter and say, on the ``fallom_otel`` logger, when spans are dropped."""

    def __init__(self, inner: SpanExporter | Callable[[], SpanExporter], endpoint: str) -> None:
        """Wrap ``inner``: an exporter, or a factory called (once) when the first batch is exported.

        The factory form keeps ``init()`` fast: the OTLP exporter's modules (protobuf encoder, ``requests``,
        ``urllib3``) cost ~40 ms to import, and are then paid by the batch processor's thread at its first export,
        off the application's path, instead of by every process at start-up.
        """
        self._inner_or_factory = inner
        self._inner: SpanExporter | None = inner if isinstance(inner, SpanExporter) else None
        self._endpoint = endpoint
        self._lock = threading.Lock()
        self._dropped = 0
        self._last_warning = float("-inf")
        self._shut_down = False

    @property
    def endpoint(self) -> str:
        """Where this exporter sends spans."""
        return self._endpoint

    @property
    def dropped(self) -> int:
        """How many spans this exporter failed to deliver."""
        return self._dropped

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export a batch; on failure count the spans and log a rate-limited warning."""
        result = self._exporter().export(spans)
        if result is not SpanExportResult.SUCCESS:
            now = time.monotonic()
            with self._lock:
                self._dropped += len(spans)
                dropped = self._dropped
                warn = now - self._last_warning >= _DROP_WARNING_INTERVAL_S
                if warn:
                    self._last_warning = now
            if warn:
                _logger.warning(
                    "fallom-otel could not export %d span(s) to %s; they were dropped (%d so far). "
                    "The application is unaffected.",
                    len(spans),
                    self._endpoint,
                    dropped,
                )
        return result

    def shutdown(self) -> None:
        """Shut the inner exporter down (once; a second call does nothing)."""
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
            inner = self._inner
        if inner is not None:  # never built: nothing was exported, nothing to release
            inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the inner exporter."""
        inner = self._inner
        return True if inner is None else inner.force_flush(timeout_millis)

    def _exporter(self) -> SpanExporter:
        inner = self._inner
        if inner is None:
            with self._lock:  # one exporter (one connection pool) even if two threads export at once
                inner = self._inner
                if inner is None:
                    factory = self._inner_or_factory
                    assert callable(factory)
                    inner = self._inner = factory()
                    if self._shut_down:  # an export after shutdown(): refused, as by a shut-down exporter
                        inner.shutdown()
        return inner


class ExportPipeline(SpanProcessor):
    """A batch processor feeding the OTLP/HTTP exporter, whose flush and shutdown never wait past a bound.

    The endpoint and Bearer header come from the config; ``OTEL_EXPORTER_OTLP_[TRACES_]{HEADERS,TIMEOUT,
    COMPRESSION,CERTIFICATE}`` and ``OTEL_BSP_*`` are read by the SDK as usual (extra headers merge with ours).
    """

    def __init__(self, config: FallomConfig) -> None:
        headers = {"authorization": f"Bearer {config.api_key}"} if config.api_key else None
        endpoint = config.traces_endpoint

        def make_exporter() -> SpanExporter:
            # Imported on first export (see ReportingExporter); module imports are thread-safe.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter(endpoint=endpoint, headers=headers)

        self.exporter = ReportingExporter(make_exporter, endpoint)
        self._batch = BatchSpanProcessor(
            self.exporter,
            max_queue_size=None if os.environ.get(OTEL_BSP_MAX_QUEUE_SIZE) else _QUEUE_SIZE,
            schedule_delay_millis=None if os.environ.get(OTEL_BSP_SCHEDULE_DELAY) else _SCHEDULE_DELAY_MILLIS,
        )

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do at span start."""

    def on_end(self, span: ReadableSpan) -> None:
        """Queue the span; the batch processor's thread exports it."""
        self._batch.on_end(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export everything queued, waiting at most ``timeout_millis``; True only if nothing was dropped."""
        dropped_before = self.exporter.dropped
        finished = run_bounded(self._batch.force_flush, timeout_millis, "fallom-otel-flush")
        return finished and self.exporter.dropped == dropped_before

    def shutdown(self) -> None:
        """Deliver what is queued and stop, waiting at most 30 s."""
        self.shutdown_within(30_000)

    def shutdown_within(self, timeout_millis: int) -> None:
        """Deliver what is queued and stop, waiting at most ``timeout_millis``.

        When the backend does not answer in time, the exporter is stopped, which ends its retries.
        """
        if not run_bounded(self._batch.shutdown, timeout_millis, "fallom-otel-shutdown"):
            _logger.warning(
                "fallom-otel gave up delivering queued spans to %s after %d ms; they were dropped. "
                "The application is unaffected.",
                self.exporter.endpoint,
                timeout_millis,
            )
            self.exporter.shutdown()


def is_genai_span(span: ReadableSpan) -> bool:
    """True for spans that follow the GenAI conventions (they carry ``gen_ai.operation.name``)."""
    attributes = span.attributes
    return attributes is not None and gen_ai.GEN_AI_OPERATION_NAME in attributes


class ExportSwitch(SpanProcessor):
    """A span processor whose export pipeline can be replaced, with an optional GenAI-only filter."""

    def __init__(self) -> None:
        self._pipeline: ExportPipeline | None = None
        self._genai_only = True

    @property
    def pipeline(self) -> ExportPipeline | None:
        """The pipeline spans are handed to, or None when export is off."""
        return self._pipeline

    @property
    def genai_only(self) -> bool:
        """Whether only GenAI spans are forwarded."""
        return self._genai_only

    def swap(self, pipeline: ExportPipeline | None, *, genai_only: bool) -> ExportPipeline | None:
        """Install ``pipeline`` and return the previous one (the caller shuts it down)."""
        previous = self._pipeline
        self._genai_only = genai_only
        self._pipeline = pipeline
        return previous

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do: spans are filtered when they end, once their attributes are known."""

    def on_end(self, span: ReadableSpan) -> None:
        """Hand the span to the pipeline if it passes the filter."""
        pipeline = self._pipeline
        if pipeline is None:
            return
        with guard:
            if self._genai_only and not is_genai_span(span):
                return
            pipeline.on_end(span)

    def shutdown(self) -> None:
        """Called when the provider shuts down: stop the pipeline (idempotent)."""
        pipeline = self._pipeline
        if pipeline is not None:
            pipeline.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export what the pipeline holds, waiting at most ``timeout_millis``."""
        pipeline = self._pipeline
        return True if pipeline is None else pipeline.force_flush(timeout_millis)


def run_bounded(action: Callable[[], object], timeout_millis: int, name: str) -> bool:
    """Run ``action`` on a helper thread and wait at most ``timeout_millis``; True when it finished in time.

    The SDK's batch processor ignores its flush timeout and blocks until the backend answers (or its retry
    deadline passes). A dead backend must not hang ``flush()``, ``shutdown()`` or interpreter exit, so the call
    runs on a daemon thread that the caller waits for with a bound.
    """
    finished = threading.Event()
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(action())
        finally:
            finished.set()

    try:
        threading.Thread(target=run, name=name, daemon=True).start()
    except RuntimeError:
        # Late in interpreter shutdown no new thread may start: run inline rather than lose the spans.
        run()
    return finished.wait(max(timeout_millis, 0) / 1000) and outcome[:1] != [False]
