"""The span processor that stamps the Fallom session on every span started inside one."""

from __future__ import annotations

from opentelemetry import baggage
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.util.types import AttributeValue

from fallom_otel._session import MAX_ID_LENGTH, session_from_context
from fallom_otel_instrumentors import guard
from fallom_otel_semconv import fallom as fallom_keys
from fallom_otel_semconv import gen_ai

__all__ = ["SessionSpanProcessor"]


class SessionSpanProcessor(SpanProcessor):
    """Stamp the Fallom session on each span started inside a :class:`~fallom_otel.Session`.

    The attributes are ``fallom.config_key``, ``fallom.session_id``, ``fallom.customer_id``,
    ``gen_ai.conversation.id`` (the session id), and the session's metadata and tags.

    ``init()`` adds one to the tracer provider it uses. Add it yourself when you run the instrumentors on a
    provider of your own without ``init()``. Outside any in-process session it honours incoming ``fallom.*`` W3C
    baggage (written by an upstream service whose session had ``propagate=True``) unless ``honor_baggage=False``.
    """

    def __init__(self, *, honor_baggage: bool = True) -> None:
        """Create the processor.

        Args:
            honor_baggage: Read ``fallom.config_key`` / ``fallom.session_id`` / ``fallom.customer_id`` from incoming
                W3C baggage when no in-process session is active.
        """
        self._honor_baggage = honor_baggage

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Copy the session of ``parent_context`` (or the current context) onto ``span``."""
        with guard:
            active = session_from_context(parent_context)
            if active is not None:
                span.set_attributes(active.span_attributes)
            elif self._honor_baggage:
                attributes = _attributes_from_baggage(parent_context)
                if attributes:
                    span.set_attributes(attributes)

    def on_end(self, span: ReadableSpan) -> None:
        """Nothing to do at span end."""

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered."""
        return True


def _attributes_from_baggage(ctx: Context | None) -> dict[str, AttributeValue]:
    entries = baggage.get_all(ctx)
    if not entries:
        return {}
    session_id = _clean(entries.get(fallom_keys.BAGGAGE_SESSION_ID))
    if session_id is None:
        # Baggage from elsewhere may carry anything; a session without its id is not one.
        return {}
    attributes: dict[str, AttributeValue] = {
        fallom_keys.FALLOM_SESSION_ID: session_id,
        gen_ai.GEN_AI_CONVERSATION_ID: session_id,
    }
    config_key = _clean(entries.get(fallom_keys.BAGGAGE_CONFIG_KEY))
    if config_key is not None:
        attributes[fallom_keys.FALLOM_CONFIG_KEY] = config_key
    customer_id = _clean(entries.get(fallom_keys.BAGGAGE_CUSTOMER_ID))
    if customer_id is not None:
        attributes[fallom_keys.FALLOM_CUSTOMER_ID] = customer_id
    return attributes


def _clean(value: object) -> str | None:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        return None
    if not value.isascii() or not value.isprintable():
        return None
    return value
