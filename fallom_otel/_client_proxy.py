"""Session proxies of SDK clients: what ``Session.wrap_openai`` / ``wrap_anthropic`` return.

The proxy never mutates the client. Attribute access returns proxies of the SDK's resource objects
(``client.chat.completions``, ``with_raw_response`` ...), and calling one of their methods runs the call inside the
session, with the context flag that asks the instrumentors to trace it. Results that are clients
(``with_options()``, ``copy()``) are proxied too; results whose request happens later, on ``__enter__`` /
``__aenter__`` (stream managers, ``with_streaming_response``), are proxied so the session is active then; awaitables
are awaited inside the session.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
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
        if inspect.isawaitable(result):
            return _await_in_session(result, owner)
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
    cls = type(result)
    if hasattr(cls, "__enter__") or hasattr(cls, "__aenter__"):
        return _SessionContextManager(result, session, sdk)
    return result


def _is_resource(value: Any, sdk: str) -> bool:
    module = type(value).__module__
    return module.startswith(sdk + ".resources") or (
        module.startswith(sdk + ".") and hasattr(value, "with_options") and not isinstance(value, type)
    )


def _package_of(value: Any) -> str:
    return type(value).__module__.partition(".")[0]
