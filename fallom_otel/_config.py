"""Resolve and validate ``init()`` settings: arguments, then ``FALLOM_*`` variables, then defaults."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from opentelemetry.sdk.environment_variables import OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT

from fallom_otel import environment_variables as env
from fallom_otel._user_prices import PriceTable, load_prices

DEFAULT_BASE_URL = "https://traces.fallom.com"
TRACES_PATH = "/v1/traces"
DEFAULT_MEDIA = "fallom"
DEFAULT_MEDIA_MAX_BYTES = 20 * 1024 * 1024

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class FallomConfig:
    """The settings one ``init()`` call resolved. Immutable; a new ``init()`` makes a new one."""

    api_key: str | None = field(repr=False)
    base_url: str
    traces_endpoint: str
    capture_content: bool
    debug: bool
    propagate: bool
    export_all_spans: bool
    stream_usage: bool = False
    media: str = DEFAULT_MEDIA  # "fallom", "none", "http(s)://media-base" or "file:///absolute/dir"
    media_max_bytes: int = DEFAULT_MEDIA_MAX_BYTES
    prices: PriceTable | None = field(default=None, repr=False)  # the user's prices, validated
    metrics: bool | None = None  # None: the application's meter provider if it set one, else no metrics

    @property
    def endpoint_is_local(self) -> bool:
        """True when spans go to this machine (loopback), where no API key is needed."""
        return _is_loopback_host(urlsplit(self.traces_endpoint).hostname or "")

    @property
    def exports(self) -> bool:
        """True when spans are exported: a key is set, or the endpoint is local."""
        return self.api_key is not None or self.endpoint_is_local


def resolve_config(
    *,
    api_key: str | None,
    base_url: str | None,
    capture_content: bool | None,
    debug: bool | None,
    propagate: bool | None,
    export_all_spans: bool,
    stream_usage: bool | None = None,
    media: str | None = None,
    media_max_bytes: int | None = None,
    prices: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    metrics: bool | None = None,
) -> FallomConfig:
    """Build the configuration for ``init()``, raising a clear error for any invalid value.

    Raises:
        TypeError: An argument has the wrong type.
        ValueError: An argument or ``FALLOM_*`` variable has an invalid value.
    """
    _check_type("api_key", api_key, str)
    _check_type("base_url", base_url, str)
    for name, value in (
        ("capture_content", capture_content),
        ("debug", debug),
        ("propagate", propagate),
        ("stream_usage", stream_usage),
        ("metrics", metrics),
    ):
        _check_type(name, value, bool)
    if not isinstance(export_all_spans, bool):
        raise TypeError(f"export_all_spans must be a bool, got {type(export_all_spans).__name__}")

    key = _validate_api_key(api_key if api_key is not None else os.environ.get(env.FALLOM_API_KEY))

    env_base_url = os.environ.get(env.FALLOM_BASE_URL, "").strip()
    otel_traces_endpoint = os.environ.get(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "").strip()
    if base_url is not None:
        resolved_base = _validate_url("base_url", base_url)
        traces_endpoint = resolved_base + TRACES_PATH
    elif env_base_url:
        resolved_base = _validate_url(env.FALLOM_BASE_URL, env_base_url)
        traces_endpoint = resolved_base + TRACES_PATH
    elif otel_traces_endpoint:
        # The OTLP convention: the signal-specific endpoint is used verbatim.
        traces_endpoint = _validate_url(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, otel_traces_endpoint)
        resolved_base = traces_endpoint.removesuffix(TRACES_PATH) if traces_endpoint.endswith(TRACES_PATH) else ""
        resolved_base = resolved_base or DEFAULT_BASE_URL
    elif otel_endpoint := os.environ.get(OTEL_EXPORTER_OTLP_ENDPOINT, "").strip():
        # The OTLP convention for the all-signals endpoint: the signal path is appended.
        resolved_base = _validate_url(OTEL_EXPORTER_OTLP_ENDPOINT, otel_endpoint)
        traces_endpoint = resolved_base + TRACES_PATH
    else:
        resolved_base = DEFAULT_BASE_URL
        traces_endpoint = resolved_base + TRACES_PATH

    return FallomConfig(
        api_key=key,
        base_url=resolved_base,
        traces_endpoint=traces_endpoint,
        capture_content=_bool_setting(capture_content, env.FALLOM_CAPTURE_CONTENT, default=True),
        debug=_bool_setting(debug, env.FALLOM_DEBUG, default=False),
        propagate=_bool_setting(propagate, env.FALLOM_PROPAGATE, default=False),
        export_all_spans=export_all_spans,
        stream_usage=_bool_setting(stream_usage, env.FALLOM_STREAM_USAGE, default=False),
        media=_media_setting(media),
        media_max_bytes=_media_max_bytes_setting(media_max_bytes),
        # An argument wins over FALLOM_PRICES (a JSON file); either is validated here, so a bad entry fails init().
        prices=load_prices(prices, origin="prices")
        if prices is not None
        else load_prices(os.environ.get(env.FALLOM_PRICES, "").strip() or None, origin=env.FALLOM_PRICES),
        metrics=metrics if metrics is not None else parse_bool_env(env.FALLOM_METRICS),
    )


def parse_bool_env(name: str) -> bool | None:
    """Read a boolean environment variable; None when unset or empty.

    Raises:
        ValueError: The variable holds something other than true/false/1/0/yes/no/on/off.
    """
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return None
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, got {os.environ[name]!r}")


def _bool_setting(argument: bool | None, env_name: str, *, default: bool) -> bool:
    if argument is not None:
        return argument
    from_env = parse_bool_env(env_name)
    return default if from_env is None else from_env


def _media_setting(argument: str | None) -> str:
    """``fallom``, ``none``, an ``http(s)://`` media base URL, or ``file:///absolute/dir`` (or a directory path)."""
    name = "media"
    if argument is None:
        argument, name = os.environ.get(env.FALLOM_MEDIA, "").strip() or DEFAULT_MEDIA, env.FALLOM_MEDIA
    elif not isinstance(argument, str):
        raise TypeError(f"media must be a str or None, got {type(argument).__name__}")
    value = argument.strip()
    if value.lower() in ("fallom", "none"):
        return value.lower()
    if value.startswith(("http://", "https://")):
        # A media server of its own (e.g. Fallom itself while spans go through a local OpenTelemetry Collector).
        return _validate_url(name, value)
    if value.startswith("file:"):
        parts = urlsplit(value)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/") or parts.query or parts.fragment:
            raise ValueError(f"{name} must be a file:///absolute/path URL, got {argument!r}")
        path = unquote(parts.path)
    elif value and "://" not in value:
        path = os.path.abspath(os.path.expanduser(value))
    else:
        raise ValueError(
            f"{name} must be 'fallom', 'none', an http(s):// URL, a file:///dir URL or a directory path, "
            f"got {argument!r}"
        )
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{name} must name a directory, but {path!r} is a file")
    return Path(path).as_uri()


def _media_max_bytes_setting(argument: int | None) -> int:
    if argument is None:
        raw = os.environ.get(env.FALLOM_MEDIA_MAX_BYTES, "").strip()
        if not raw:
            return DEFAULT_MEDIA_MAX_BYTES
        try:
            argument = int(raw)
        except ValueError:
            raise ValueError(f"{env.FALLOM_MEDIA_MAX_BYTES} must be a whole number of bytes, got {raw!r}") from None
        name = env.FALLOM_MEDIA_MAX_BYTES
    elif isinstance(argument, bool) or not isinstance(argument, int):
        raise TypeError(f"media_max_bytes must be an int or None, got {type(argument).__name__}")
    else:
        name = "media_max_bytes"
    if argument < 0:
        raise ValueError(f"{name} must be 0 or more, got {argument}")
    return argument


def _check_type(name: str, value: object, expected: type) -> None:
    if value is not None and not isinstance(value, expected):
        raise TypeError(f"{name} must be a {expected.__name__} or None, got {type(value).__name__}")


def _validate_api_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key:
        # An empty key (often an unset variable interpolated as "") means "no key".
        return None
    if not all(33 <= ord(ch) <= 126 for ch in key):
        # It goes into an HTTP header: refuse anything that could break or inject one. Never echo the key.
        raise ValueError("api_key must be printable ASCII without spaces")
    return key


def _validate_url(name: str, url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{name} must be an http:// or https:// URL, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"{name} must include a host name, got {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"{name} must not have a query string or fragment, got {url!r}")
    if parts.username or parts.password:
        raise ValueError(f"{name} must not carry credentials; pass api_key instead")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError as exc:
        raise ValueError(f"{name} has an invalid port: {url!r}") from exc
    return parts.geturl().rstrip("/")


def _is_loopback_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
