"""``FallomInstrumentor``: process-wide tracing of every supported provider SDK that is installed."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from fallom_otel._providers import PROVIDERS, provider_instrumentor, settings

__all__ = ["FallomInstrumentor"]

_logger = logging.getLogger("fallom_otel")


class FallomInstrumentor(BaseInstrumentor):  # type: ignore[misc]  # the OTel base class is untyped
    """Trace every supported provider SDK that is installed (``openai``, ``anthropic``), process-wide.

    Use after ``fallom_otel.init()`` (or with any tracer provider of your own)::

        fallom_otel.init(api_key="...")
        FallomInstrumentor().instrument()

    Calls are traced with the session of the current context (``with fallom_otel.session(...):``). Keyword arguments
    of ``instrument()``: ``tracer_provider`` (default: the one ``init()`` set up, else the global one),
    ``meter_provider`` (default: ``init()``'s metrics setting, else the global one when the application set it),
    ``capture_content`` (default: ``init()``'s setting, else ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``)
    and ``stream_usage``.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        """None of its own: each provider instrumentor checks its SDK's version."""
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        chosen = settings()
        for key in ("tracer_provider", "meter_provider", "capture_content", "stream_usage"):
            if kwargs.get(key) is not None:
                chosen[key] = kwargs[key]
        for sdk in PROVIDERS:
            instrumentor = provider_instrumentor(sdk)
            if instrumentor is None:
                _logger.debug("fallom-otel: %s is not installed; not instrumenting it", sdk)
                continue
            instrumentor.instrument(**chosen)

    def _uninstrument(self, **kwargs: Any) -> None:
        for sdk in PROVIDERS:
            instrumentor = provider_instrumentor(sdk)
            if instrumentor is not None:
                instrumentor.uninstrument()
