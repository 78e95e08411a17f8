"""The three zones every traced SDK call goes through, sync and async, provider-neutral.

1. Guarded: build the invocation from the arguments and start the span; on any failure call the SDK untouched.
2. Unguarded: call the SDK with the caller's arguments while the span is current (an endpoint may pass a copy
   with one option added when an opt-in setting asks for it; the caller's objects are never mutated). Its
   exception is recorded and re-raised unchanged with a bare ``raise``.
3. Guarded: turn the result into span data, or into a proxy that finishes the span when the stream ends; return the
   original object (or that proxy). On any failure there the caller still gets the original result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from fallom_otel_instrumentors._invocation import Invocation, TelemetryHandler
from fallom_otel_instrumentors._safety import guard

__all__ = ["Endpoint", "HandlerGate", "PreparingEndpoint", "async_traced", "sync_traced"]

HandlerGate = Callable[[], "TelemetryHandler | None"]
"""Returns the handler when this call should be traced (process-wide tracing, or a session proxy's flag)."""


class Endpoint(Protocol):
    """What a provider knows about one SDK method: how to start its span and what to do with its result."""

    def start(
        self, handler: TelemetryHandler, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Invocation:
        """Start the span from the request (never mutating the caller's arguments)."""

    def finish(self, invocation: Invocation, result: Any, kwargs: dict[str, Any]) -> Any:
        """Record the result and end the span, or return a proxy that ends it later; return what the caller gets."""


class PreparingEndpoint(Endpoint, Protocol):
    """An endpoint that may call the SDK with adjusted keyword arguments (an opt-in setting asks for more data)."""

    def prepare(self, invocation: Invocation, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Return the keyword arguments to call the SDK with: ``kwargs`` itself, or a new dict (never mutated)."""


def _call_kwargs(endpoint: Endpoint, invocation: Invocation, kwargs: dict[str, Any]) -> dict[str, Any]:
    prepare = getattr(endpoint, "prepare", None)
    if prepare is None:
        return kwargs
    with guard:
        prepared: dict[str, Any] = prepare(invocation, kwargs)
        return prepared
    return kwargs


def _begin(gate: HandlerGate, endpoint: Endpoint, instance: Any, args: Any, kwargs: Any) -> Invocation | None:
    handler = gate()
    if handler is None or not is_instrumentation_enabled():
        return None
    with guard:
        return endpoint.start(handler, instance, args, kwargs)
    return None


def _end(endpoint: Endpoint, invocation: Invocation, result: Any, kwargs: Any) -> Any:
    with guard:
        return endpoint.finish(invocation, result, kwargs)
    # ``finish`` failed half way: end the span with what it has, and give the caller its untouched result.
    with guard:
        invocation.stop()
    return result


def sync_traced(gate: HandlerGate, endpoint: Endpoint) -> Callable[..., Any]:
    """A wrapt wrapper tracing a synchronous SDK method."""

    def traced(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        invocation = _begin(gate, endpoint, instance, args, kwargs)
        if invocation is None:
            return wrapped(*args, **kwargs)
        call_kwargs = _call_kwargs(endpoint, invocation, kwargs)
        token = invocation.activate()
        try:
            result = wrapped(*args, **call_kwargs)
        except BaseException as error:
            invocation.deactivate(token)
            with guard:
                invocation.fail(error)
            raise
        invocation.deactivate(token)
        return _end(endpoint, invocation, result, kwargs)

    return traced


def async_traced(gate: HandlerGate, endpoint: Endpoint) -> Callable[..., Any]:
    """A wrapt wrapper tracing an ``async def`` SDK method."""

    async def traced(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        invocation = _begin(gate, endpoint, instance, args, kwargs)
        if invocation is None:
            return await wrapped(*args, **kwargs)
        call_kwargs = _call_kwargs(endpoint, invocation, kwargs)
        token = invocation.activate()
        try:
            result = await wrapped(*args, **call_kwargs)
        except BaseException as error:
            invocation.deactivate(token)
            with guard:
                invocation.fail(error)
            raise
        invocation.deactivate(token)
        return _end(endpoint, invocation, result, kwargs)

    return traced
