"""Where media bytes go: Fallom's media endpoint over HTTP, or a local directory.

A sink names a piece of media (its URI, fixed on the calling thread before the span ends) and stores it (``put``,
called only by the upload worker). Ids are content-addressed: the lowercase hex sha256 of the bytes.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import os
import ssl
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from opentelemetry.sdk.environment_variables import (
    OTEL_EXPORTER_OTLP_CERTIFICATE,
    OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
)

__all__ = ["MEDIA_PATH", "DirectorySink", "HttpSink", "PutResult", "Sink"]

MEDIA_PATH = "/v1/media/"
_OCTET_STREAM = "application/octet-stream"
# Connect and read timeout of one PUT: long enough for a 20 MiB body on a slow uplink, short enough to give up.
_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class PutResult:
    """The outcome of one store attempt.

    Attributes:
        ok: Stored (or already there).
        retry: Worth trying again (429, 5xx, connection errors).
        retry_after: Seconds the server asked to wait (``Retry-After``), if it said.
        detail: What went wrong, for the log line (never the key or the bytes).
    """

    ok: bool
    retry: bool = False
    retry_after: float | None = None
    detail: str = ""


_OK = PutResult(ok=True)


class Sink(Protocol):
    """A destination for media bytes."""

    def uri(self, media_id: str) -> str:
        """The URI the span records for ``media_id``."""

    def put(self, media_id: str, data: bytes, mime_type: str) -> PutResult:
        """Store the bytes (called from the upload worker only)."""


class HttpSink:
    """``PUT {base_url}/v1/media/{id}`` with the raw bytes, their ``Content-Type`` and ``Authorization: Bearer``.

    One kept-alive connection, reused by the single upload worker; it is reopened after an error, after the server
    closes it, and in a forked child (never shared with the parent). HTTP(S) proxies from the usual ``*_PROXY``
    variables are honoured.
    """

    def __init__(self, base_url: str, api_key: str | None) -> None:
        """Create a sink for Fallom (or any server with the same media endpoint) at ``base_url``.

        Args:
            base_url: ``scheme://host[:port][/prefix]``, as validated by ``init()``.
            api_key: Sent as ``Authorization: Bearer``; None sends no Authorization header.
        """
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._netloc = parts.netloc
        self._prefix = parts.path + MEDIA_PATH
        self._auth = f"Bearer {api_key}" if api_key else None
        self._connection: http.client.HTTPConnection | None = None
        self._pid = 0

    def __repr__(self) -> str:
        return f"HttpSink({self.base_url!r})"  # never the key

    def uri(self, media_id: str) -> str:
        """``{base_url}/v1/media/{id}``."""
        return f"{self.base_url}{MEDIA_PATH}{media_id}"

    def put(self, media_id: str, data: bytes, mime_type: str) -> PutResult:
        """One PUT; connection errors and 429/5xx are retryable, other statuses are final."""
        headers = {"Content-Type": mime_type or _OCTET_STREAM, "Content-Length": str(len(data))}
        if self._auth is not None:
            headers["Authorization"] = self._auth
        try:
            connection, target = self._open(self._prefix + media_id)
            connection.request("PUT", target, body=data, headers=headers)
            response = connection.getresponse()
            response.read()  # drain, so the connection can carry the next upload
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return PutResult(ok=False, retry=True, detail=f"{type(error).__name__}: {error}")
        if response.will_close:
            self.close()
        status = response.status
        if 200 <= status < 300:
            return _OK
        detail = f"HTTP {status}"
        if status == 429 or status >= 500:
            return PutResult(False, True, _retry_after(response.getheader("Retry-After")), detail)
        return PutResult(False, False, None, detail)

    def close(self) -> None:
        """Close the kept-alive connection (a forked child only forgets the parent's)."""
        connection, self._connection = self._connection, None
        if connection is not None and self._pid == os.getpid():
            connection.close()

    def _open(self, path: str) -> tuple[http.client.HTTPConnection, str]:
        proxy = _proxy_for(self._https, self._host)
        # Through a plain-HTTP proxy the request names its destination in full; HTTPS tunnels with CONNECT.
        target = path if proxy is None or self._https else f"http://{self._netloc}{path}"
        if self._connection is not None and self._pid == os.getpid():
            return self._connection, target
        self._connection = None  # a forked child never writes on its parent's socket
        host, port = (proxy[0], proxy[1]) if proxy is not None else (self._host, self._port)
        connection: http.client.HTTPConnection
        if self._https:
            connection = http.client.HTTPSConnection(host, port, timeout=_TIMEOUT_S, context=_tls_context())
            if proxy is not None:
                connection.set_tunnel(self._host, self._port, headers=proxy[2])
        else:
            connection = http.client.HTTPConnection(host, port, timeout=_TIMEOUT_S)
        self._connection, self._pid = connection, os.getpid()
        return connection, target


class DirectorySink:
    """Write each piece of media to ``<directory>/<id>`` (atomically: a temporary file, then a rename)."""

    def __init__(self, directory: str) -> None:
        """Create a sink writing into ``directory`` (created on first use).

        Args:
            directory: An absolute path.
        """
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"DirectorySink({str(self.directory)!r})"

    def uri(self, media_id: str) -> str:
        """``file:///<directory>/<id>``."""
        return (self.directory / media_id).as_uri()

    def put(self, media_id: str, data: bytes, mime_type: str) -> PutResult:
        """Write the file unless a file of that id (the same bytes) is already there."""
        final = self.directory / media_id
        try:
            if final.exists():
                return _OK
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=f".{media_id[:16]}.", suffix=".part", dir=self.directory)
            try:
                with os.fdopen(fd, "wb") as file:
                    file.write(data)
                os.replace(temporary, final)  # readers see the whole file or none of it
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as error:
            return PutResult(ok=False, detail=f"{type(error).__name__}: {error}")
        return _OK


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), or None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _proxy_for(https: bool, host: str) -> tuple[str, int, dict[str, str]] | None:
    """``(host, port, tunnel headers)`` of the proxy the ``*_PROXY`` variables name for this request, if any."""
    if urllib.request.proxy_bypass(host):
        return None
    proxy = urllib.request.getproxies().get("https" if https else "http")
    if not proxy:
        return None
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if not parts.hostname:
        return None
    headers: dict[str, str] = {}
    if parts.username:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
    return parts.hostname, parts.port or 8080, headers


_context: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    # The same trust as the OTLP exporter: its certificate variables, else certifi's bundle (what requests uses).
    global _context
    if _context is None:
        cafile = os.environ.get(OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE) or os.environ.get(OTEL_EXPORTER_OTLP_CERTIFICATE)
        if not cafile:
            try:
                import certifi

                cafile = certifi.where()
            except ImportError:
                cafile = None
        _context = ssl.create_default_context(cafile=cafile or None)
    return _context
