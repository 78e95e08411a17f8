"""The context flag that asks the instrumentors to trace calls made under it.

Process-wide tracing (``instrument()``) traces every call. A client proxy made by ``Session.wrap_openai`` /
``wrap_anthropic`` traces only the calls made through it, without turning on process-wide tracing: it sets this
flag in the OpenTelemetry context around each call, and the class-level patches trace a call when either is on.
One flag in the context, not a second code path.
"""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry.context import Context

_CALL_TRACING_KEY = otel_context.create_key("fallom_otel_instrumentors.call_tracing")


def activate_call_tracing(parent: Context | None = None) -> Context:
    """Return a context in which instrumented SDK calls are traced even without process-wide tracing.

    Args:
        parent: The context to derive from; the current context when omitted.

    Returns:
        A new context carrying the flag; attach it around the call.
    """
    return otel_context.set_value(_CALL_TRACING_KEY, True, parent)


def call_tracing_active(ctx: Context | None = None) -> bool:
    """Tell whether calls made in ``ctx`` (default: the current context) were asked to be traced.

    Args:
        ctx: The context to read; the current context when omitted.

    Returns:
        True when :func:`activate_call_tracing` produced this context or one of its ancestors.
    """
    return otel_context.get_value(_CALL_TRACING_KEY, ctx) is True
