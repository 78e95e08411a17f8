"""The provider instrumentors as ``fallom_otel`` drives them: settings from ``init()``, session-only tracing.

Session-only tracing (``wrap_openai`` / ``wrap_anthropic``) and process-wide tracing (``FallomInstrumentor``) run on
the provider instrumentors' one set of class-level patches. Nothing here imports a provider module until it is used.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import TYPE_CHECKING, Any

from fallom_otel import _cost, _media, _setup
from fallom_otel._metrics import cost_counter
from fallom_otel_instrumentors._content import capture_from_env
from fallom_otel_instrumentors._hooks import Hooks

if TYPE_CHECKING:
    from fallom_otel_instrumentors._instrumentor import GenAIInstrumentor

__all__ = ["PROVIDERS", "enable_session_tracing", "provider_instrumentor", "refresh_settings", "settings"]

_logger = logging.getLogger("fallom_otel")

# SDK package -> (instrumentor module, class). Each is loaded only when its SDK is installed.
PROVIDERS: dict[str, tuple[str, str]] = {
    "openai": ("fallom_otel_instrumentors.openai", "OpenAIInstrumentor"),
    "anthropic": ("fallom_otel_instrumentors.anthropic", "AnthropicInstrumentor"),
}


def provider_instrumentor(sdk: str) -> GenAIInstrumentor | None:
    """The instrumentor of ``sdk`` (a singleton), or None when that SDK is not installed."""
    module_name, class_name = PROVIDERS[sdk]
    try:
        importlib.import_module(sdk)
    except ImportError:
        return None
    cls: type[GenAIInstrumentor] = getattr(importlib.import_module(module_name), class_name)
    return cls()


def settings() -> dict[str, Any]:
    """Keyword arguments for ``GenAIInstrumentor.configure`` from the current ``init()`` (or the defaults)."""
    config = _setup.current_config()
    meter_provider = _setup.meter_provider()
    # The same hook object while the prices and the meter provider stay the same: its price cache stays warm, and
    # the hooks compare equal below, so a wrap_* call does not reconfigure.
    cost = _cost.cost_hook(config.prices if config is not None else None, cost_counter(meter_provider))
    return {
        "tracer_provider": _setup.tracer_provider(),
        # With init(), Fallom's setting (default on); without it, OpenTelemetry's opt-in variable.
        "capture_content": config.capture_content if config is not None else capture_from_env(),
        "hooks": Hooks(on_end=(cost,), media=_media.handler()),
        "stream_usage": config.stream_usage if config is not None else False,
        "meter_provider": meter_provider,
    }


def enable_session_tracing(sdk: str) -> None:
    """Install ``sdk``'s patches so calls made through a session proxy are traced (no process-wide tracing).

    Runs on every ``wrap_*`` call (often once per request): it reconfigures the instrumentor only when the tracer
    provider, the content setting, ``stream_usage`` or the hooks (a new ``init()``'s media handler) changed since it
    was last configured.
    """
    instrumentor = provider_instrumentor(sdk)
    if instrumentor is None:
        return
    handler = instrumentor.handler
    if not instrumentor.is_instrumented_by_opentelemetry:
        current = settings()
        wanted = (current["tracer_provider"], current["capture_content"])
        if (
            handler is None
            or handler.configured_with != wanted
            or handler.stream_usage != current["stream_usage"]
            or handler.hooks != current["hooks"]
            or handler.meter_provider is not current["meter_provider"]
        ):
            instrumentor.configure(**current)
    instrumentor.enable_for_sessions()


def refresh_settings() -> None:
    """Apply a new ``init()`` (provider, content capture) to every provider instrumentor already in use."""
    for sdk, (module_name, _) in PROVIDERS.items():
        if module_name not in sys.modules:
            continue  # never used in this process: nothing to refresh, and no reason to import it
        instrumentor = provider_instrumentor(sdk)
        if instrumentor is not None and instrumentor.handler is not None:
            instrumentor.configure(**settings())
