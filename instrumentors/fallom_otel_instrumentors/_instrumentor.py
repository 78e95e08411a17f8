"""The base of the provider instrumentors: one table of class-level patches, applied and reversed uniformly.

The patches are installed once and trace a call when process-wide tracing is on (``instrument()``) or when the
call is made under the call-tracing context flag (a session proxy). Both paths share this one implementation.
"""

from __future__ import annotations

import functools
import importlib
import logging
import threading
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.metrics import MeterProvider

from fallom_otel_instrumentors._content import capture_from_env
from fallom_otel_instrumentors._hooks import Hooks
from fallom_otel_instrumentors._invocation import TelemetryHandler
from fallom_otel_instrumentors._metrics import global_meter_provider
from fallom_otel_instrumentors._peers import ours_in_chain, peer_aware_gate, unwrap_ours
from fallom_otel_instrumentors._scope import call_tracing_active
from fallom_otel_instrumentors._wrap import Endpoint, HandlerGate, async_traced, sync_traced
from fallom_otel_instrumentors.version import __version__

__all__ = ["GenAIInstrumentor", "Patch"]

_logger = logging.getLogger("fallom_otel_instrumentors")


@dataclass(frozen=True)
class Patch:
    """One SDK method to trace: ``module.Class.method`` and the endpoint that knows its request and result."""

    module: str
    cls: str
    method: str
    endpoint: Endpoint
    is_async: bool


class GenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]  # the OTel base class is untyped
    """Shared ``instrument()`` / ``uninstrument()`` logic; subclasses list their patches."""

    _scope_name = "fallom_otel_instrumentors"

    def __init__(self) -> None:
        # BaseInstrumentor is a singleton per class: every ``OpenAIInstrumentor()`` returns the same object and
        # runs __init__ again. Initialise once, or a second construction would forget the applied patches.
        if hasattr(self, "_lock"):
            return
        self._lock = threading.RLock()
        self._handler: TelemetryHandler | None = None
        self._process_wide = False
        self._for_sessions = False
        self._applied: list[Patch] = []
        self._active = False  # patches wanted (process-wide or for sessions)

    # --- subclass contract ------------------------------------------------------------------------------------

    @abstractmethod
    def patches(self) -> Sequence[Patch]:
        """The methods to patch; only those whose module and class exist in the installed SDK are applied."""

    # --- BaseInstrumentor hooks -------------------------------------------------------------------------------

    def _instrument(self, **kwargs: Any) -> None:
        with self._lock:
            self.configure(
                tracer_provider=kwargs.get("tracer_provider"),
                capture_content=kwargs.get("capture_content"),
                hooks=kwargs.get("hooks"),
                stream_usage=bool(kwargs.get("stream_usage", False)),
                # The OpenTelemetry convention: an explicit ``meter_provider`` (None: no metrics, as a distribution
                # such as fallom_otel may decide), else the application's global one.
                meter_provider=kwargs["meter_provider"] if "meter_provider" in kwargs else global_meter_provider(),
            )
            self._process_wide = True
            self._apply()

    def _uninstrument(self, **kwargs: Any) -> None:
        with self._lock:
            self._process_wide = False
            if not self._for_sessions:
                self._revert()

    # --- used by distributions (fallom_otel) ------------------------------------------------------------------

    def configure(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        capture_content: bool | None = None,
        hooks: Hooks | None = None,
        stream_usage: bool = False,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        """Set the tracer provider, content policy and hooks used from now on (patches are not touched).

        Args:
            tracer_provider: The provider to trace with; the global one when None.
            capture_content: Record content; None reads ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``.
            hooks: Extension points (cost, media).
            stream_usage: Ask for usage on streams that report it only on request (see ``TelemetryHandler``).
            meter_provider: Where the GenAI client metrics go; None records none.
        """
        with self._lock:
            self._handler = TelemetryHandler(
                tracer_provider,
                scope_name=self._scope_name,
                scope_version=__version__,
                capture_content=capture_from_env() if capture_content is None else capture_content,
                hooks=hooks,
                stream_usage=stream_usage,
                meter_provider=meter_provider,
            )

    def enable_for_sessions(self) -> None:
        """Install the patches without process-wide tracing: only calls under the call-tracing flag are traced."""
        with self._lock:
            if self._handler is None:
                self.configure()
            self._for_sessions = True
            self._apply()

    def disable_for_sessions(self) -> None:
        """Reverse :meth:`enable_for_sessions` (patches stay while process-wide tracing is on)."""
        with self._lock:
            self._for_sessions = False
            if not self._process_wide:
                self._revert()

    @property
    def handler(self) -> TelemetryHandler | None:
        """The handler in use, or None before configuration."""
        return self._handler

    # --- internals --------------------------------------------------------------------------------------------

    def _gate(self) -> TelemetryHandler | None:
        # Runs on every call of a patched method: two attribute reads, and a context lookup for sessions only.
        handler = self._handler
        if handler is None:
            return None
        if self._process_wide or call_tracing_active():
            return handler
        return None

    def _apply(self) -> None:
        if self._active:
            return
        self._active = True
        for patch in self.patches():
            # The SDK imports most API modules on first use (``client.responses`` ...): patch each module when it
            # is imported (at once if it already is), so instrument() does not import every API the app never calls.
            wrapt.register_post_import_hook(functools.partial(self._on_import, patch), patch.module)
        self._activated()

    def _on_import(self, patch: Patch, module: object) -> None:
        with self._lock:
            # Hooks registered by an earlier instrument() stay registered (wrapt cannot remove them) and may fire
            # for the same method: a method is wrapped once, whichever hook gets there first.
            key = (patch.module, patch.cls, patch.method)
            if not self._active or any((a.module, a.cls, a.method) == key for a in self._applied):
                return
            self._before_patch(patch)
            target = _resolve(patch.module, patch.cls)
            if target is None or not hasattr(target, patch.method):
                return  # not in this SDK release
            if not ours_in_chain(target, patch.method):  # else: our layer left under a peer's by _revert, reused
                factory: Callable[[HandlerGate, Endpoint], Callable[..., Any]] = (
                    async_traced if patch.is_async else sync_traced
                )
                # The gate also steps aside while another instrumentor traces this method (see _peers).
                gate = peer_aware_gate(self._gate, patch.module, patch.cls, patch.method)
                wrapt.wrap_function_wrapper(patch.module, f"{patch.cls}.{patch.method}", factory(gate, patch.endpoint))
            self._applied.append(patch)

    def _revert(self) -> None:
        # Hooks still waiting for a module see ``_active`` False and do nothing.
        self._active = False
        for patch in reversed(self._applied):
            target = _resolve(patch.module, patch.cls)
            if target is not None:
                unwrap_ours(target, patch.method)  # never a peer's layer wrapped around ours
        self._applied.clear()
        self._deactivated()

    # --- extension points for provider subclasses (called with the lock held) ---------------------------------

    def _activated(self) -> None:
        """Called once the patches are wanted; a provider installs any extra hook of its own here."""

    def _deactivated(self) -> None:
        """Called after the patches are removed; a provider removes what :meth:`_activated` installed."""

    def _before_patch(self, patch: Patch) -> None:
        """Called just before ``patch`` is applied to a freshly imported module."""


def _resolve(module_name: str, cls_name: str) -> Any:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    target: Any = module
    for part in cls_name.split("."):
        target = getattr(target, part, None)
        if target is None:
            return None
    return target
