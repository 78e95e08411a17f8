"""What a provider SDK method returned, and how the span follows it to its end (shared by the providers).

A parsed model ends the span at once. A ``Stream`` / ``AsyncStream`` is returned as a proxy that ends it when the
stream ends. ``with_raw_response`` returns a ``LegacyAPIResponse``: parsed eagerly when not streamed (the SDK caches
the parse, so the caller's own ``parse()`` returns the very same object); when streamed, and for
``with_streaming_response``'s ``APIResponse`` whose body is unread, a proxy takes over ``parse()`` and ``close()``:
``close()`` (the end of the ``with`` block) ends the span, with no response data when the body was never parsed, and
with what the parsed stream delivered so far when it was left before its end (as closing the stream itself would).
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from typing import Any

import wrapt

from fallom_otel_instrumentors._invocation import Invocation
from fallom_otel_instrumentors._safety import guard
from fallom_otel_instrumentors._stream import AsyncStreamProxy, StreamAccumulator, SyncStreamProxy, _StreamProxyBase

RecordModel = Callable[[Invocation, Any], None]
MakeAccumulator = Callable[[Invocation], StreamAccumulator]

_RAW_RESPONSES = frozenset({"LegacyAPIResponse", "APIResponse", "AsyncAPIResponse"})


def finish_result(invocation: Invocation, result: Any, record: RecordModel, accumulator: MakeAccumulator) -> Any:
    """End (or hand over the end of) the span for ``result``; return what the caller gets."""
    cls = type(result)
    kind = _KINDS.get(cls)
    if kind is None:
        kind = _KINDS[cls] = _kind_of(cls)
    if kind is _Kind.STREAM:
        return SyncStreamProxy(result, invocation, accumulator(invocation))
    if kind is _Kind.ASYNC_STREAM:
        return AsyncStreamProxy(result, invocation, accumulator(invocation))
    if kind is _Kind.RAW:
        return _finish_raw(invocation, result, record, accumulator)
    record(invocation, result)
    invocation.stop()
    return result


class _Kind(enum.Enum):
    MODEL = enum.auto()
    STREAM = enum.auto()
    ASYNC_STREAM = enum.auto()
    RAW = enum.auto()


# Result class -> what it is. A handful of SDK classes, decided once each rather than by an MRO walk per call.
_KINDS: dict[type, _Kind] = {}


def _kind_of(cls: type) -> _Kind:
    name = cls.__name__
    if name == "Stream" or _is_sdk_stream(cls, "Stream"):
        return _Kind.STREAM
    if name == "AsyncStream" or _is_sdk_stream(cls, "AsyncStream"):
        return _Kind.ASYNC_STREAM
    if name in _RAW_RESPONSES:
        return _Kind.RAW
    return _Kind.MODEL


def _is_sdk_stream(cls: type, base_name: str) -> bool:
    # Subclasses of the SDK's own streams (e.g. ``openai.lib`` helpers) count as streams too.
    package = cls.__module__.partition(".")[0]
    return any(base.__name__ == base_name and base.__module__.partition(".")[0] == package for base in cls.__mro__[1:])


def _finish_raw(invocation: Invocation, response: Any, record: RecordModel, accumulator: MakeAccumulator) -> Any:
    streamed = bool(getattr(response, "_stream", False))
    if type(response).__name__ == "LegacyAPIResponse" and not streamed:
        record(invocation, response.parse())
        invocation.stop()
        return response
    if type(response).__name__ == "AsyncAPIResponse":
        return _AsyncRawResponseProxy(response, invocation, record, accumulator)
    return _RawResponseProxy(response, invocation, record, accumulator)


class _RawResponseBase(wrapt.ObjectProxy[Any]):
    def __init__(self, wrapped: Any, invocation: Invocation, record: RecordModel, accumulator: MakeAccumulator) -> None:
        super().__init__(wrapped)
        self._self_invocation = invocation
        self._self_record = record
        self._self_accumulator = accumulator
        self._self_parsed: Any = None

    def _self_after_parse(self, parsed: Any) -> Any:
        if self._self_parsed is not None:
            return self._self_parsed
        with guard:
            self._self_parsed = finish_result(self._self_invocation, parsed, self._self_record, self._self_accumulator)
            return self._self_parsed
        # ``finish_result`` failed half way: end the span with what it has (as ``_wrap._end`` does), or, the body now
        # being parsed, nothing would ever end it; the caller gets its untouched result.
        with guard:
            self._self_invocation.stop()
        self._self_parsed = parsed
        return parsed

    def _self_end_unparsed(self) -> None:
        # The caller read the body some other way (``iter_lines()``, ``read()``) or not at all: no response data.
        if self._self_parsed is None:
            with guard:
                self._self_invocation.stop()

    def _self_on_close(self) -> None:
        parsed = self._self_parsed
        if isinstance(parsed, _StreamProxyBase):
            # The response is closed under a stream left before its end: end the span with what it delivered.
            parsed._self_end(None)
        else:
            self._self_end_unparsed()

    def __del__(self) -> None:
        self._self_end_unparsed()


class _RawResponseProxy(_RawResponseBase):
    def parse(self, *args: Any, **kwargs: Any) -> Any:
        parsed = self.__wrapped__.parse(*args, **kwargs)
        if args or kwargs:  # parse(to=...) asks for another type: leave it alone
            return parsed
        return self._self_after_parse(parsed)

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_on_close()


class _AsyncRawResponseProxy(_RawResponseBase):
    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        parsed = self.__wrapped__.parse(*args, **kwargs)
        if inspect.isawaitable(parsed):
            parsed = await parsed
        if args or kwargs:
            return parsed
        return self._self_after_parse(parsed)

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_on_close()
