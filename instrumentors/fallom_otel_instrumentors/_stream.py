"""Stream proxies: the SDK's own stream object, seen through a proxy that accumulates and ends the span once.

``wrapt.ObjectProxy`` keeps ``isinstance``, ``.response`` and every SDK helper working. The span ends exactly once:
on exhaustion, ``close()``/``aclose()``, ``__exit__``/``__aexit__``, closing ``.response`` (what the SDK's
``stream()`` helpers do on exit), an error raised while reading (status ERROR), or garbage collection of a stream
nobody finished (status ERROR, ``error.type=_OTHER``, partial output kept).
Per chunk the proxy only calls the accumulator, which keeps text as strings and never retains chunk objects.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol

import wrapt

from fallom_otel_instrumentors._invocation import Invocation
from fallom_otel_instrumentors._safety import guard, guarded_call
from fallom_otel_semconv import common

__all__ = ["HIDE", "AsyncStreamProxy", "StreamAccumulator", "SyncStreamProxy"]

ABANDONED = "stream abandoned before it was consumed"

HIDE = 2
"""Returned by ``StreamAccumulator.add`` for a chunk the caller did not ask for (the usage chunk an opt-in setting
requested): it is folded in, then skipped, so the caller sees exactly the stream it would see uninstrumented."""


class StreamAccumulator(Protocol):
    """Provider-specific: folds chunks into a few strings and counters, then fills the invocation."""

    def add(self, chunk: Any) -> int:
        """Fold one chunk in and say what it was.

        Returns:
            True when it carried generated content (text, tool arguments, reasoning), False when not, or
            :data:`HIDE` for a chunk only the instrumentation asked for.
        """

    def finish(self, invocation: Invocation) -> None:
        """Write the response fields, usage and output messages gathered so far into ``invocation``.

        A failure the stream itself reported (an error event) goes into ``invocation.error_type``, so the proxy's
        normal end (``stop()``) marks the span ERROR.
        """


class _StreamState:
    """Everything a stream proxy needs per chunk, in one plain object.

    Reading an attribute of a wrapt proxy costs about ten times more than reading one of a ``__slots__`` object, so
    the proxy reads this state once per chunk and everything else happens here.
    """

    __slots__ = ("accumulator", "done", "invocation", "iterator")

    def __init__(self, invocation: Invocation, accumulator: StreamAccumulator) -> None:
        self.invocation = invocation
        self.accumulator = accumulator
        self.iterator: Any = None
        self.done = False

    def on_chunk(self, chunk: Any) -> bool:
        """Fold ``chunk`` in; True when the caller must not see it (see :data:`HIDE`)."""
        invocation = self.invocation
        if invocation.time_to_first_chunk is None:
            invocation.mark_first_chunk()
        flags = self.accumulator.add(chunk)
        if flags == HIDE:
            return True
        if flags and invocation.time_to_first_token is None:
            invocation.mark_first_token()
        return False

    def end(self, error: BaseException | None, error_type: str | None = None, description: str | None = None) -> None:
        """End the span once: ``stop()`` normally, ``fail()`` for an error; later calls do nothing."""
        if self.done:
            return
        self.done = True
        invocation = self.invocation
        with guard:
            self.accumulator.finish(invocation)
        # A failing accumulator costs the response data, never the span: it still ends exactly once.
        with guard:
            if error is None and error_type is None:
                invocation.stop()
            else:
                invocation.fail(error, error_type, description)


class _StreamProxyBase(wrapt.ObjectProxy[Any]):
    """State and end-of-stream handling shared by the sync and async proxies."""

    def __init__(self, wrapped: Any, invocation: Invocation, accumulator: StreamAccumulator) -> None:
        super().__init__(wrapped)
        self._self_state = _StreamState(invocation, accumulator)

    def _self_end(
        self, error: BaseException | None, error_type: str | None = None, description: str | None = None
    ) -> None:
        self._self_state.end(error, error_type, description)

    @property
    def response(self) -> Any:
        """The stream's HTTP response; closing it (as ``chat.completions.stream()`` does on exit) ends the span."""
        return _ResponseProxy(self.__wrapped__.response, self)

    def __del__(self) -> None:
        state = self._self_state
        if not state.done:
            state.end(None, common.ERROR_TYPE_OTHER, ABANDONED)


class _ResponseProxy(wrapt.ObjectProxy[Any]):
    """The SDK stream's HTTP response; ``close()``/``aclose()`` also end the stream's span with what was received.

    The SDK's stream helpers (``ChatCompletionStream``) keep ``raw_stream.response`` and close only that on exit or
    ``close()``, never the stream itself: without this, a ``break`` out of ``with client.chat.completions.stream()``
    would leave the span open until garbage collection, and then mark it abandoned.
    """

    def __init__(self, wrapped: Any, stream: _StreamProxyBase) -> None:
        super().__init__(wrapped)
        self._self_stream = stream

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_stream._self_end(None)

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_stream._self_end(None)


class SyncStreamProxy(_StreamProxyBase):
    """Proxy of a synchronous SDK stream (``openai.Stream``, ``anthropic.Stream``)."""

    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        state = self._self_state
        iterator = state.iterator
        if iterator is None:
            iterator = state.iterator = iter(self.__wrapped__)
        while True:
            try:
                chunk = next(iterator)
            except StopIteration:
                state.end(None)
                raise
            except BaseException as error:
                state.end(error)
                raise
            if not guarded_call(state.on_chunk, chunk):
                return chunk

    def __enter__(self) -> SyncStreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_end(exc)

    def close(self) -> Any:
        """Close the underlying stream and end the span with what was received."""
        try:
            return self.__wrapped__.close()
        finally:
            self._self_end(None)


class AsyncStreamProxy(_StreamProxyBase):
    """Proxy of an asynchronous SDK stream (``openai.AsyncStream``, ``anthropic.AsyncStream``)."""

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        state = self._self_state
        iterator = state.iterator
        if iterator is None:
            iterator = state.iterator = self.__wrapped__.__aiter__()
        while True:
            try:
                chunk = await iterator.__anext__()
            except StopAsyncIteration:
                state.end(None)
                raise
            except BaseException as error:
                state.end(error)
                raise
            if not guarded_call(state.on_chunk, chunk):
                return chunk

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_end(exc)

    async def close(self) -> Any:
        """Close the underlying stream and end the span with what was received."""
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_end(None)

    async def aclose(self) -> Any:
        """Alias of :meth:`close` for callers that use the async-generator protocol."""
        return await self.close()
