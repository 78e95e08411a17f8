"""``messages.stream(...)``: the ``MessageStreamManager`` seen through a proxy that owns one span.

``stream()`` sends nothing: it returns a manager whose ``__enter__`` (``__aenter__`` for the async manager, which
awaits the request coroutine there) posts the request and wraps the raw ``Stream`` in a ``MessageStream``. Every
helper of that ``MessageStream`` (iteration, ``text_stream``, ``until_done``, ``get_final_message``,
``get_final_text``, ``close``) reads its ``_raw_stream``. So the span starts in the patched ``stream()`` call, is
current around ``__enter__`` (the SDK's ``traceparent`` carries it), and ``_raw_stream`` is then replaced by our
stream proxy: the span ends exactly once, on exhaustion, ``close()``, an error while reading, ``__exit__`` (with the
exception leaving the ``with`` block, if any), or garbage collection of a stream (or a manager) nobody finished.
A request that fails in ``__enter__`` fails the span and the exception propagates unchanged.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import wrapt

from fallom_otel_instrumentors._invocation import Invocation, TelemetryHandler
from fallom_otel_instrumentors._safety import guard
from fallom_otel_instrumentors._stream import ABANDONED, AsyncStreamProxy, SyncStreamProxy, _StreamProxyBase
from fallom_otel_instrumentors.anthropic._messages import AnthropicStreamAccumulator, start_messages
from fallom_otel_semconv import common

__all__ = ["StreamHelperEndpoint"]


class StreamHelperEndpoint:
    """``Messages.stream`` / ``AsyncMessages.stream`` (both plain methods returning a manager), first-party and beta."""

    def start(
        self, handler: TelemetryHandler, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Invocation:
        """Start the span from the request keyword arguments; the request is always a stream."""
        return start_messages(handler, instance, kwargs, stream=True)

    def finish(self, invocation: Invocation, result: Any, kwargs: dict[str, Any]) -> Any:
        """Return the manager behind a proxy that follows the request it sends and the stream it opens."""
        if hasattr(type(result), "__aenter__"):
            return _AsyncManagerProxy(result, invocation)
        if hasattr(type(result), "__enter__"):
            return _SyncManagerProxy(result, invocation)
        invocation.stop()  # not a manager: nothing to follow
        return result


class _ManagerProxyBase(wrapt.ObjectProxy[Any]):
    def __init__(self, wrapped: Any, invocation: Invocation) -> None:
        super().__init__(wrapped)
        self._self_invocation = invocation
        self._self_raw: _StreamProxyBase | None = None

    def _self_hook(self, message_stream: Any, proxy_type: type[_StreamProxyBase]) -> None:
        with guard:
            raw = proxy_type(
                message_stream._raw_stream, self._self_invocation, AnthropicStreamAccumulator(self._self_invocation)
            )
            message_stream._raw_stream = raw
            self._self_raw = raw
            return
        # The stream could not be followed: end the span now rather than never.
        with guard:
            self._self_invocation.stop()

    def _self_fail(self, error: BaseException) -> None:
        with guard:
            self._self_invocation.fail(error)

    def _self_before_exit(self, exc: BaseException | None) -> None:
        # An exception leaving the ``with`` block ends the span as failed before the SDK closes the stream (which
        # would otherwise end it first, as a success).
        if exc is not None:
            self._self_end(exc)

    def _self_end(self, exc: BaseException | None) -> None:
        raw = self._self_raw
        if raw is not None:
            raw._self_end(exc)
        else:
            with guard:
                if exc is None:
                    self._self_invocation.stop()
                else:
                    self._self_invocation.fail(exc)

    def __del__(self) -> None:
        if self._self_raw is None:
            # Never entered (or entering failed, which already ended the span): an abandoned request.
            with guard:
                self._self_invocation.fail(None, common.ERROR_TYPE_OTHER, ABANDONED)


class _SyncManagerProxy(_ManagerProxyBase):
    def __enter__(self) -> Any:
        invocation = self._self_invocation
        token = invocation.activate()
        try:
            message_stream = self.__wrapped__.__enter__()
        except BaseException as error:
            invocation.deactivate(token)
            self._self_fail(error)
            raise
        invocation.deactivate(token)
        self._self_hook(message_stream, SyncStreamProxy)
        return message_stream

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        self._self_before_exit(exc)
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_end(None)


class _AsyncManagerProxy(_ManagerProxyBase):
    async def __aenter__(self) -> Any:
        invocation = self._self_invocation
        token = invocation.activate()
        try:
            message_stream = await self.__wrapped__.__aenter__()
        except BaseException as error:
            invocation.deactivate(token)
            self._self_fail(error)
            raise
        invocation.deactivate(token)
        self._self_hook(message_stream, AsyncStreamProxy)
        return message_stream

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        self._self_before_exit(exc)
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_end(None)
