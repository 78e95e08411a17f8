"""OpenTelemetry GenAI instrumentation of the official ``anthropic`` SDK.

Usage::

    from fallom_otel_instrumentors.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().instrument()  # optional: tracer_provider=..., capture_content=True

Every call of ``messages.create`` (also ``stream=True``), ``messages.parse`` and the ``messages.stream()`` helper,
first-party and ``beta``, sync and async, through any client (``Anthropic``, ``AsyncAnthropic``,
``AnthropicBedrock`` -> provider ``aws.bedrock``, ``AnthropicVertex`` -> ``gcp.vertex_ai``, ``with_options()``
copies, ``with_raw_response``, ``with_streaming_response``) becomes one CLIENT span following the GenAI semantic
conventions. ``count_tokens``, batches, models and other endpoints pass through untraced.

The SDK's own call span (``anthropic`` >= 1.14, with a global TracerProvider) is replaced for traced calls by a
non-recording carrier of ours, so there is exactly one GenAI span per call and ``traceparent`` carries its id
(see :mod:`fallom_otel_instrumentors.anthropic._native`).

Configuration: content (system instructions, messages, tool definitions, outputs) is recorded only when
``capture_content=True`` is passed or ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is ``SPAN_ONLY`` /
``SPAN_AND_EVENT`` / ``true``.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Sequence
from typing import Any

import wrapt
from opentelemetry.instrumentation.utils import unwrap

from fallom_otel_instrumentors._instrumentor import GenAIInstrumentor, Patch, _resolve
from fallom_otel_instrumentors.anthropic._messages import MessagesEndpoint
from fallom_otel_instrumentors.anthropic._native import NATIVE_FUNCTION, NATIVE_MODULE, start_api_call_span_wrapper
from fallom_otel_instrumentors.anthropic._stream_helper import StreamHelperEndpoint
from fallom_otel_instrumentors.anthropic.package import _instruments

__all__ = ["AnthropicInstrumentor"]

_MESSAGES_MODULE = "anthropic.resources.messages.messages"
_BETA_MESSAGES_MODULE = "anthropic.resources.beta.messages.messages"
# Their classes copy the first-party beta functions at import time (``create = FirstPartyMessagesAPI.create``), so
# they need their own patches; a copy of our wrapper made while we were installed is replaced first (see below).
_COPYING_MODULES = ("anthropic.lib.bedrock._beta_messages", "anthropic.lib.vertex._beta_messages")


class AnthropicInstrumentor(GenAIInstrumentor):
    """Instruments the ``anthropic`` SDK (entry point ``fallom_anthropic``)."""

    _scope_name = "fallom_otel_instrumentors.anthropic"

    def instrumentation_dependencies(self) -> Collection[str]:
        """The supported ``anthropic`` releases."""
        return _instruments

    def patches(self) -> Sequence[Patch]:
        """The wrap table: each SDK method and the endpoint that extracts it."""
        messages = MessagesEndpoint()
        helper = StreamHelperEndpoint()
        table: list[Patch] = []
        for module in (_MESSAGES_MODULE, _BETA_MESSAGES_MODULE, *_COPYING_MODULES):
            for method in ("create", "parse"):
                table.append(Patch(module, "Messages", method, messages, is_async=False))
                table.append(Patch(module, "AsyncMessages", method, messages, is_async=True))
            # ``stream()`` is a plain method in both classes: it returns a manager and sends nothing.
            table.append(Patch(module, "Messages", "stream", helper, is_async=False))
            table.append(Patch(module, "AsyncMessages", "stream", helper, is_async=False))
        return tuple(table)

    # --- the SDK's native call span, and classes that copy patched functions ---------------------------------

    def _activated(self) -> None:
        wrapt.register_post_import_hook(self._on_base_client_import, NATIVE_MODULE)

    def _on_base_client_import(self, module: object) -> None:
        with self._lock:
            if not self._active or self._native_wrapped():
                return
            if callable(getattr(module, NATIVE_FUNCTION, None)):  # anthropic >= 1.14
                wrapt.wrap_function_wrapper(NATIVE_MODULE, NATIVE_FUNCTION, start_api_call_span_wrapper)

    def _native_wrapped(self) -> bool:
        current = getattr(_resolve(NATIVE_MODULE, NATIVE_FUNCTION), "_self_wrapper", None)
        return current is start_api_call_span_wrapper

    def _deactivated(self) -> None:
        if self._native_wrapped():
            unwrap(sys.modules[NATIVE_MODULE], NATIVE_FUNCTION)

    def _before_patch(self, patch: Patch) -> None:
        if patch.module in _COPYING_MODULES:
            _drop_copied_wrapper(patch)


# wrapt 2 derives FunctionWrapper from BaseObjectProxy, no longer from ObjectProxy; wrapt 1 has only ObjectProxy.
_PROXY_BASE: type = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)


def _drop_copied_wrapper(patch: Patch) -> None:
    """Restore the plain function a copying class took from an already patched first-party class.

    Only our own wrappers (made by ``_wrap.sync_traced`` / ``async_traced``) are replaced; another tool's wrapper
    copied the same way is left alone.
    """
    target: Any = _resolve(patch.module, patch.cls)
    current = vars(target).get(patch.method) if isinstance(target, type) else None
    if not isinstance(current, _PROXY_BASE):  # a FunctionWrapper, or the bound form read off the class
        return
    wrapper = getattr(current, "_self_wrapper", None)
    if getattr(wrapper, "__module__", None) == "fallom_otel_instrumentors._wrap":
        setattr(target, patch.method, getattr(current, "__wrapped__"))  # noqa: B009 - a proxy attribute mypy cannot see
