"""Process-wide tracing (``FallomInstrumentor``) and session-only tracing (``wrap_openai`` / ``wrap_anthropic``).

Both run on the provider instrumentors' one set of class-level patches.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from fallom_otel import _setup
from fallom_otel_instrumentors._content import capture_from_env
from fallom_otel_instrumentors._hooks import Hooks
from fallom_otel_instrumentors._instrumentor import GenAIInstrumentor

__all__ = ["FallomInstrumentor", "enable_session_tracing", "refresh_settings"]

_logger = logging.getLogger("fallom_otel")

# SDK package -> (instrumentor module, class). Each is loaded only when its SDK is installed.
_PROVIDERS: dict[str, tuple[str, str]] = {
    "openai": ("fallom_otel_instrumentors.openai", "OpenAIInstrumentor"),
}


def _instrumentor(sdk: str) -> GenAIInstrumentor | None:
    module_name, class_name = _PROVIDERS[sdk]
    try:
        importlib.import_module(sdk)
    except ImportError:
        return None
    cls: type[GenAIInstrumentor] = getattr(importlib.import_module(module_name), class_name)
    return cls()


def _settings() -> dict[str, Any]:
    config = _setup.current_config()
    return {
        "tracer_provider": _setup.tracer_provider(),
        # With init(), Fallom's setting (default on); without it, OpenTelemetry's opt-in variable.
        "capture_content": config.capture_content if config is not None else capture_from_env(),
        "hooks": Hooks(),
        "stream_usage": config.stream_usage if config is not None else False,
    }


def enable_session_tracing(sdk: str) -> None:
    """Install ``sdk``'s patches so calls made through a session proxy are traced (no process-wide tracing).

    Runs on every ``wrap_*`` call (often once per request): it reconfigures the instrumentor only when the tracer
    provider or the content setting changed since it was last configured.
    """
    instrumentor = _instrumentor(sdk)
    if instrumentor is None:
        return
    handler = instrumentor.handler
    if not instrumentor.is_instrumented_by_opentelemetry:
        settings = _settings()
        wanted = (settings["tracer_provider"], settings["capture_content"])
        if handler is None or handler.configured_with != wanted or handler.stream_usage != settings["stream_usage"]:
            instrumentor.configure(**settings)
    instrumentor.enable_for_sessions()


def refresh_settings() -> None:
    """Apply a new ``init()`` (provider, content capture) to every provider instrumentor already in use."""
    for sdk in _PROVIDERS:
        instrumentor = _instrumentor(sdk)
        if instrumentor is not None and instrumentor.handler is not None:
            instrumentor.configure(**_settings())


class FallomInstrumentor(BaseInstrumentor):  # type: ignore[misc]  # the OTel base class is untyped
    """Trace every supported provider SDK that is installed (``openai`` today), process-wide.

    Use after ``fallom_otel.init()`` (or with any tracer provider of your own)::

        fallom_otel.init(api_key="...")
        FallomInstrumentor().instrument()

    Calls are traced with the session of the current context (``with fallom_otel.session(...):``). Keyword arguments
    of ``instrument()``: ``tracer_provider`` (default: the one ``init()`` set up, else the global one) and
    ``capture_content`` (default: ``init()``'s setting, else ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``).
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        """None of its own: each provider instrumentor checks its SDK's version."""
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        settings = _settings()
        for key in ("tracer_provider", "capture_content", "stream_usage"):
            if kwargs.get(key) is not None:
                settings[key] = kwargs[key]
        for sdk in _PROVIDERS:
            instrumentor = _instrumentor(sdk)
            if instrumentor is None:
                _logger.debug("fallom-otel: %s is not installed; not instrumenting it", sdk)
                continue
            instrumentor.instrument(**settings)

    def _uninstrument(self, **kwargs: Any) -> None:
        for sdk in _PROVIDERS:
            instrumentor = _instrumentor(sdk)
            if instrumentor is not None:
                instrumentor.uninstrument()
