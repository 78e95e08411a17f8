"""One GenAI span per call: the ``anthropic`` SDK's own call span, turned into a carrier of ours.

``anthropic`` >= 1.14 starts its own GenAI CLIENT span per API call in ``anthropic._base_client`` (through
``start_api_call_span(tracer, base_url, options, ...)``) whenever a global TracerProvider exists, and injects
``traceparent`` only from that span. Disabling it would kill propagation; leaving it would double every call.

The choice: wrap ``anthropic._base_client.start_api_call_span`` and, only when the current span is one this
instrumentor started for the call being made, replace its ``tracer`` argument with :class:`_CarrierTracer`, whose
``start_span`` returns ``NonRecordingSpan(<current span's context>)``. The SDK then records nothing, makes our span
current (again) around its attempts and injects OUR span's context into ``traceparent``. Calls we do not trace
(``count_tokens``, batches, models, or tracing off) keep the SDK's span untouched. The client's own
``open_telemetry=False`` (no tracer at all: the function is never called) and ``propagation=False`` (the SDK does not
inject) are respected, since the SDK applies them before and after this function.

Our spans are known by identity in a weak set filled when a call starts, so no context key is needed in the core.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.util.types import Attributes

__all__ = ["NATIVE_FUNCTION", "NATIVE_MODULE", "register_span", "start_api_call_span_wrapper"]

NATIVE_MODULE = "anthropic._base_client"
NATIVE_FUNCTION = "start_api_call_span"

_OUR_SPANS: weakref.WeakSet[Span] = weakref.WeakSet()


def register_span(span: Span) -> None:
    """Remember ``span`` as one of ours (held weakly: it is forgotten when the span is)."""
    try:
        _OUR_SPANS.add(span)
    except TypeError:  # a span type without weak references: its call keeps the SDK's span
        pass


class _CarrierTracer(trace.NoOpTracer):
    """A tracer whose spans are the current span's context, non-recording: propagated, never exported."""

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        """``NonRecordingSpan`` carrying the context of the span current in ``context`` (ours)."""
        return trace.NonRecordingSpan(trace.get_current_span(context).get_span_context())


_CARRIER = _CarrierTracer()


def start_api_call_span_wrapper(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> Any:
    """The wrapt wrapper of ``start_api_call_span``: swap the tracer (first argument) while our span is current."""
    if _ours_is_current():
        if args:
            return wrapped(_CARRIER, *args[1:], **kwargs)
        if "tracer" in kwargs:
            return wrapped(*args, **{**kwargs, "tracer": _CARRIER})
    return wrapped(*args, **kwargs)


def _ours_is_current() -> bool:
    try:
        return trace.get_current_span() in _OUR_SPANS
    except TypeError:  # the current span cannot be weakly referenced: not one of ours
        return False
