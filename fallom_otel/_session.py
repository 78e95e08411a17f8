"""Fallom sessions: a config key, session id and customer id carried in the OpenTelemetry context.

A session lives under a private context key (contextvars underneath), so threads and asyncio tasks are isolated
and nothing leaves the process. With ``propagate=True`` it is also written to W3C baggage so a downstream service
running fallom-otel joins the same session; the span processor honours such incoming baggage.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextvars import Token
from types import MappingProxyType, TracebackType
from typing import Any, TypeVar, cast

from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.util.types import AttributeValue

from fallom_otel_semconv import fallom as fallom_keys
from fallom_otel_semconv import gen_ai

__all__ = ["MetadataValue", "Session", "current_session", "session", "session_from_context"]

MetadataValue = str | int | float | bool

MAX_ID_LENGTH = 256
MAX_METADATA_ENTRIES = 64
MAX_METADATA_KEY_LENGTH = 64
MAX_METADATA_VALUE_LENGTH = 4096
MAX_TAGS = 64
MAX_TAG_LENGTH = 128

_SESSION_KEY = otel_context.create_key("fallom_otel.session")
# Tokens of sessions entered with ``with``/``async with``, innermost last, per thread/task context.
_ENTERED: contextvars.ContextVar[tuple[object, ...]] = contextvars.ContextVar("fallom_otel_entered", default=())

_F = TypeVar("_F", bound=Callable[..., Any])


class Session:
    """One conversation, request or agent run, as Fallom groups calls.

    Create it with :func:`fallom_otel.session`. Use it as ``with session:`` / ``async with session:``, as a decorator
    of sync or async functions, or through :meth:`wrap_openai` / :meth:`wrap_anthropic`, which return a proxy of a
    client whose every call runs inside the session. A session is immutable and may be shared across threads.
    """

    __slots__ = ("_attributes", "_config_key", "_customer_id", "_metadata", "_propagate", "_session_id", "_tags")

    def __init__(
        self,
        config_key: str,
        session_id: str,
        customer_id: str | None = None,
        *,
        metadata: Mapping[str, MetadataValue] | None = None,
        tags: Iterable[str] | None = None,
        propagate: bool = False,
    ) -> None:
        """Validate and store the session values; prefer :func:`fallom_otel.session`.

        Raises:
            TypeError: A value has the wrong type.
            ValueError: A value is empty, too long, or not printable ASCII where ASCII is required.
        """
        self._config_key = _validate_id("config_key", config_key)
        self._session_id = _validate_id("session_id", session_id)
        self._customer_id = None if customer_id is None else _validate_id("customer_id", customer_id)
        self._metadata: Mapping[str, MetadataValue] = MappingProxyType(_validate_metadata(metadata))
        self._tags = _validate_tags(tags)
        if not isinstance(propagate, bool):
            raise TypeError(f"propagate must be a bool, got {type(propagate).__name__}")
        self._propagate = propagate
        # Computed once: the span processor stamps this mapping on every span started inside the session.
        self._attributes: Mapping[str, AttributeValue] = MappingProxyType(self._build_attributes())

    @property
    def config_key(self) -> str:
        """Groups traces in the dashboard (an experiment or feature name, e.g. ``"summarizer"``)."""
        return self._config_key

    @property
    def session_id(self) -> str:
        """The conversation or request id."""
        return self._session_id

    @property
    def customer_id(self) -> str | None:
        """The end user, for per-user analytics; optional."""
        return self._customer_id

    @property
    def metadata(self) -> Mapping[str, MetadataValue]:
        """Extra key/value pairs stamped as ``fallom.session.metadata.<key>``."""
        return self._metadata

    @property
    def tags(self) -> tuple[str, ...]:
        """Labels stamped as ``fallom.session.tags``."""
        return self._tags

    @property
    def propagate(self) -> bool:
        """Whether entering the session also writes W3C baggage for downstream services."""
        return self._propagate

    @property
    def span_attributes(self) -> Mapping[str, AttributeValue]:
        """The attributes stamped on every span started inside this session."""
        return self._attributes

    def __repr__(self) -> str:
        return (
            f"Session(config_key={self._config_key!r}, session_id={self._session_id!r}, "
            f"customer_id={self._customer_id!r})"
        )

    def context(self, parent: Context | None = None) -> Context:
        """Return ``parent`` (default: the current context) with this session set in it.

        Args:
            parent: The context to derive from.

        Returns:
            A context to attach, or to pass as ``context=`` when starting spans.
        """
        ctx = otel_context.set_value(_SESSION_KEY, self, parent)
        if self._propagate:
            ctx = baggage.set_baggage(fallom_keys.BAGGAGE_CONFIG_KEY, self._config_key, ctx)
            ctx = baggage.set_baggage(fallom_keys.BAGGAGE_SESSION_ID, self._session_id, ctx)
            if self._customer_id is not None:
                ctx = baggage.set_baggage(fallom_keys.BAGGAGE_CUSTOMER_ID, self._customer_id, ctx)
        return ctx

    def __enter__(self) -> Session:
        token = otel_context.attach(self.context())
        _ENTERED.set((*_ENTERED.get(), token))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        entered = _ENTERED.get()
        if not entered:
            return
        _ENTERED.set(entered[:-1])
        otel_context.detach(cast("Token[Context]", entered[-1]))

    async def __aenter__(self) -> Session:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: _F) -> _F:
        """Decorate a sync or async function so each call runs inside this session.

        Raises:
            TypeError: ``func`` is a generator or async generator function; decorate the function that
                consumes it instead (a session entered across ``yield`` would leak into the caller).
        """
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(
                "a Session cannot decorate a generator function: the session would stay entered while the "
                "generator is suspended; decorate the function that consumes the generator instead"
            )
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return await cast("Callable[..., Awaitable[Any]]", func)(*args, **kwargs)

            return cast("_F", async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return cast("_F", wrapper)

    def wrap_openai(self, client: _C) -> _C:
        """Return a proxy of an ``openai`` client whose every call runs inside this session.

        The client itself is not modified: wrapping one shared client from several sessions is safe, and the
        proxy forwards every attribute, including the copies ``with_options()`` returns.

        Args:
            client: An ``OpenAI``, ``AsyncOpenAI``, ``AzureOpenAI`` or ``AsyncAzureOpenAI`` client.

        Returns:
            A proxy that behaves as ``client`` (``isinstance`` holds).

        Raises:
            TypeError: ``client`` is not an ``openai`` client.
        """
        from fallom_otel._client_proxy import wrap_client
        from fallom_otel._providers import enable_session_tracing

        proxy = wrap_client(client, self, "openai")
        enable_session_tracing("openai")
        return proxy

    def wrap_anthropic(self, client: _C) -> _C:
        """Return a proxy of an ``anthropic`` client whose every call runs inside this session.

        Args:
            client: An ``Anthropic``, ``AsyncAnthropic``, ``AnthropicBedrock`` or ``AnthropicVertex`` client.

        Returns:
            A proxy that behaves as ``client`` (``isinstance`` holds).

        Raises:
            TypeError: ``client`` is not an ``anthropic`` client.
        """
        from fallom_otel._client_proxy import wrap_client
        from fallom_otel._providers import enable_session_tracing

        proxy = wrap_client(client, self, "anthropic")
        enable_session_tracing("anthropic")
        return proxy

    def _build_attributes(self) -> dict[str, AttributeValue]:
        attributes: dict[str, AttributeValue] = {
            fallom_keys.FALLOM_CONFIG_KEY: self._config_key,
            fallom_keys.FALLOM_SESSION_ID: self._session_id,
            gen_ai.GEN_AI_CONVERSATION_ID: self._session_id,
        }
        if self._customer_id is not None:
            attributes[fallom_keys.FALLOM_CUSTOMER_ID] = self._customer_id
        for key, value in self._metadata.items():
            attributes[fallom_keys.session_metadata_key(key)] = value
        if self._tags:
            attributes[fallom_keys.FALLOM_SESSION_TAGS] = self._tags
        return attributes


_C = TypeVar("_C")


def session(
    config_key: str,
    session_id: str,
    customer_id: str | None = None,
    *,
    metadata: Mapping[str, MetadataValue] | None = None,
    tags: Iterable[str] | None = None,
    propagate: bool | None = None,
) -> Session:
    """Create a Fallom session: the grouping every LLM call made inside it is attached to.

    Example::

        session = fallom_otel.session(config_key="my-app", session_id="session-123", customer_id="user-456")
        openai = session.wrap_openai(OpenAI())

    Args:
        config_key: Your experiment or config identifier (e.g. ``"summarizer"``); groups traces in the dashboard.
        session_id: Unique id of this conversation or request.
        customer_id: Optional end-user identifier for per-user analytics.
        metadata: Optional extra values (str, int, float or bool), stamped as ``fallom.session.metadata.<key>``.
        tags: Optional labels, stamped as ``fallom.session.tags``.
        propagate: Also write the ids to W3C baggage so downstream services running fallom-otel join the
            session. Baggage travels in the headers of outgoing HTTP calls made with instrumented clients, so
            only enable it when the ids may be seen by those services. Default: ``init(propagate=...)``, else False.

    Returns:
        The session.

    Raises:
        TypeError: A value has the wrong type.
        ValueError: A value is empty, too long or (for the ids) not printable ASCII.
    """
    if propagate is None:
        from fallom_otel._setup import current_config

        config = current_config()
        propagate = config.propagate if config is not None else False
    return Session(config_key, session_id, customer_id, metadata=metadata, tags=tags, propagate=propagate)


def session_from_context(ctx: Context | None = None) -> Session | None:
    """Return the session set in ``ctx`` (default: the current context), if any."""
    value = otel_context.get_value(_SESSION_KEY, ctx)
    return value if isinstance(value, Session) else None


def current_session() -> Session | None:
    """Return the session the current code runs in, or None outside any session."""
    return session_from_context()


def _validate_id(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"{name} must be at most {MAX_ID_LENGTH} characters, got {len(value)}")
    if not value.isascii() or not value.isprintable():
        # Ids may travel as W3C baggage and HTTP header values: printable ASCII only.
        raise ValueError(f"{name} must be printable ASCII, got {value!r}")
    return value


def _validate_metadata(metadata: object) -> dict[str, MetadataValue]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping of str to str/int/float/bool, got {type(metadata).__name__}")
    if len(metadata) > MAX_METADATA_ENTRIES:
        raise ValueError(f"metadata may hold at most {MAX_METADATA_ENTRIES} entries, got {len(metadata)}")
    result: dict[str, MetadataValue] = {}
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise TypeError(f"metadata keys must be str, got {type(key).__name__}")
        well_formed = all(ch.isascii() and (ch.isalnum() or ch in "_.-") for ch in key)
        if not key or len(key) > MAX_METADATA_KEY_LENGTH or not well_formed:
            raise ValueError(
                f"metadata key {key!r} must be 1-{MAX_METADATA_KEY_LENGTH} characters of A-Z, a-z, 0-9, '_', '.', '-'"
            )
        if not isinstance(value, (str, int, float, bool)):
            raise TypeError(f"metadata[{key!r}] must be str, int, float or bool, got {type(value).__name__}")
        if isinstance(value, str) and len(value) > MAX_METADATA_VALUE_LENGTH:
            raise ValueError(f"metadata[{key!r}] must be at most {MAX_METADATA_VALUE_LENGTH} characters")
        result[key] = value
    return result


def _validate_tags(tags: object) -> tuple[str, ...]:
    if tags is None:
        return ()
    if isinstance(tags, (str, bytes)) or not isinstance(tags, Iterable):
        raise TypeError(f"tags must be a list of str, got {type(tags).__name__}")
    result: dict[str, None] = {}  # ordered de-duplication
    for tag in tags:
        if not isinstance(tag, str):
            raise TypeError(f"each tag must be a str, got {type(tag).__name__}")
        if not tag or len(tag) > MAX_TAG_LENGTH:
            raise ValueError(f"each tag must be 1-{MAX_TAG_LENGTH} characters, got {tag!r}")
        result[tag] = None
    if len(result) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags are allowed, got {len(result)}")
    return tuple(result)
