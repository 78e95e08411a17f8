"""Session proxies of SDK clients: what ``Session.wrap_openai`` / ``wrap_anthropic`` return.

The proxy never mutates the client. Attribute access returns proxies of the SDK's resource objects
(``client.chat.completions``, ``with_raw_response`` ...), and calling one of their methods runs the call inside the
session, with the context flag that asks the instrumentors to trace it. Results that are clients
(``with_options()``, ``copy()``) are proxied too; results whose request happens later, on ``__enter__`` /
``__aenter__`` (stream managers, ``with_streaming_response``), are proxied so the session is active then; awaitables
are awaited inside the session. Results whose request has already been made (models, ``Stream`` / ``AsyncStream``,
raw responses) are returned as they are, so their type is the one the bare client returns.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar, cast

import wrapt
from opentelemetry import context as otel_context
from opentelemetry.context import Context

from fallom_otel._session import Session
from fallom_otel_instrumentors import activate_call_tracing

_T = TypeVar("_T")


class _SessionBound(wrapt.ObjectProxy[Any]):
    """Shared state of the proxies: the session and the SDK package name (``openai`` / ``anthropic``)."""

    def __init__(self, wrapped: Any, session: Session, sdk: str) -> None:
        super().__init__(wrapped)
        self._self_session = session
        self._self_sdk = sdk

    def _self_context(self) -> Context:
        return activate_call_tracing(self._self_session.context())


class SessionClientProxy(_SessionBound):
    """A client or resource seen through a session: calls made through it run inside the session."""

    def __init__(self, wrapped: Any, session: Session, sdk: str) -> None:
        super().__init__(wrapped, session, sdk)
        # Resources are cached properties of the client: proxy each once, not on every attribute access.
        self._self_children: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_self_"):
            raise AttributeError(name)
        cached = self._self_children.get(name)
        if cached is not None:
            return cached
        value = getattr(self.__wrapped__, name)
        if _is_resource(value, self._self_sdk):
            proxy = SessionClientProxy(value, self._self_session, self._self_sdk)
            self._self_children[name] = proxy
            return proxy
        if callable(value) and not isinstance(value, type):
            return _bind_call(value, self)
        return value

    def __repr__(self) -> str:
        return f"<{type(self.__wrapped__).__name__} in {self._self_session!r}>"


class _SessionAwaitable(_SessionBound):
    """An awaitable that is not a coroutine and is also async-iterable (``AsyncPaginator``): both run in the session.

    Turning it into a coroutine would break ``async for page_item in client.models.list()``, which never awaits it.
    """

    def __await__(self) -> Generator[Any, None, Any]:
        return _await_in_session(self.__wrapped__, self).__await__()

    def __aiter__(self) -> _SessionAsyncIterator:
        return _SessionAsyncIterator(self.__wrapped__.__aiter__(), self._self_session, self._self_sdk)


class _SessionAsyncIterator(_SessionBound):
    """An async iterator whose steps (each may send a request) run inside the session."""

    def __aiter__(self) -> _SessionAsyncIterator:
        return self

    async def __anext__(self) -> Any:
        # Attach around each step only: attaching across the caller's loop body would leak the session into it.
        token = otel_context.attach(self._self_context())
        try:
            return await self.__wrapped__.__anext__()
        finally:
            otel_context.detach(token)


class _SessionContextManager(_SessionBound):
    """A result whose request is made on ``__enter__`` / ``__aenter__``: enter it inside the session."""

    def __enter__(self) -> Any:
        token = otel_context.attach(self._self_context())
        try:
            return self.__wrapped__.__enter__()
        finally:
            otel_context.detach(token)

    def __exit__(self, *exc_info: Any) -> Any:
        return self.__wrapped__.__exit__(*exc_info)

    async def __aenter__(self) -> Any:
        token = otel_context.attach(self._self_context())
        try:
            return await self.__wrapped__.__aenter__()
        finally:
            otel_context.detach(token)

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await self.__wrapped__.__aexit__(*exc_info)


def wrap_client(client: _T, session: Session, sdk: str) -> _T:
    """Return a session proxy of ``client``, an instance of the ``sdk`` package's client classes.

    Raises:
        TypeError: ``client`` does not come from the ``sdk`` package.
    """
    if isinstance(client, SessionClientProxy):
        # Re-wrapping moves the client to the new session instead of nesting two sessions.
        client = cast("_T", client.__wrapped__)
    if _package_of(client) != sdk or not hasattr(client, "with_options"):
        raise TypeError(f"wrap_{sdk}() expects a client from the {sdk!r} package, got {type(client).__qualname__}")
    return cast("_T", SessionClientProxy(client, session, sdk))


def _bind_call(method: Callable[..., Any], owner: _SessionBound) -> Callable[..., Any]:
    session, sdk = owner._self_session, owner._self_sdk

    @functools.wraps(method)
    def call_in_session(*args: Any, **kwargs: Any) -> Any:
        token = otel_context.attach(owner._self_context())
        try:
            result = method(*args, **kwargs)
        finally:
            otel_context.detach(token)
        if inspect.iscoroutine(result):
            return _await_in_session(result, owner)
        if inspect.isawaitable(result):
            return _SessionAwaitable(result, session, sdk)
        return _wrap_result(result, session, sdk)

    return call_in_session


async def _await_in_session(awaitable: Awaitable[Any], owner: _SessionBound) -> Any:
    # An async SDK method does its work when awaited, not when called: the session must be active then.
    token = otel_context.attach(owner._self_context())
    try:
        result = await awaitable
    finally:
        otel_context.detach(token)
    return _wrap_result(result, owner._self_session, owner._self_sdk)


def _wrap_result(result: Any, session: Session, sdk: str) -> Any:
    if _package_of(result) != sdk or isinstance(result, type):
        return result
    if hasattr(result, "with_options"):
        return SessionClientProxy(result, session, sdk)
    # ``__class__``, not ``type()``: an instrumentor may already have returned a transparent proxy of the SDK object.
    cls = result.__class__
    # Only a context manager that is not itself a stream defers its request to __enter__ / __aenter__ (stream
    # managers, ``with_streaming_response``). ``Stream`` / ``AsyncStream`` are context managers too, but their
    # request was made by the call: proxying them would change their type and break ``async for`` (wrapt's
    # ObjectProxy forwards ``__iter__`` but not ``__aiter__``).
    is_stream = hasattr(cls, "__iter__") or hasattr(cls, "__aiter__")
    if (hasattr(cls, "__enter__") or hasattr(cls, "__aenter__")) and not is_stream:
        return _SessionContextManager(result, session, sdk)
    return result


# Views of a client or resource whose methods return raw / streamed responses (``client.with_raw_response``,
# ``client.chat.completions.with_streaming_response`` ...). The client-level ones live in ``<sdk>._client``, not
# under ``<sdk>.resources``, and derive from no SDK base class: only their names mark them.
_RESPONSE_VIEW_SUFFIXES = ("WithRawResponse", "WithStreamedResponse", "WithStreamingResponse")


def _is_resource(value: Any, sdk: str) -> bool:
    if isinstance(value, type) or _package_of(value) != sdk:
        return False
    cls = type(value)
    return (
        cls.__module__.startswith(sdk + ".resources")
        # Resources defined outside ``<sdk>.resources`` (e.g. ``anthropic.lib.bedrock``) derive from the SDK's
        # ``SyncAPIResource`` / ``AsyncAPIResource``.
        or any(base.__module__ == sdk + "._resource" for base in cls.__mro__)
        or cls.__name__.endswith(_RESPONSE_VIEW_SUFFIXES)
        or hasattr(value, "with_options")
    )


def _package_of(value: Any) -> str:
    # ``__class__`` sees through transparent proxies (an instrumentor's stream manager proxy is still the SDK's).
    return str(value.__class__.__module__).partition(".")[0]
