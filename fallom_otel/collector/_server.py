"""Running the collector: uvicorn on a socket bound here, in the foreground or in a daemon thread.

The CLI serves in the main thread (so Ctrl-C and SIGTERM stop it); tests, the demo and benchmarks start it in a
daemon thread on port 0 and read the port back from the socket.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from ._app import Limits, create_app
from ._store import DEFAULT_MAX_MEDIA_BYTES, DEFAULT_MAX_MEDIA_TOTAL_BYTES, Store

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "AppServer", "Collector", "default_db_path"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4318  # the OTLP/HTTP port
_START_TIMEOUT_S = 10.0


def default_db_path() -> Path:
    """``$FALLOM_COLLECTOR_DB``, else ``$XDG_DATA_HOME/fallom-otel/traces.db`` (``~/.local/share/...``)."""
    configured = os.environ.get("FALLOM_COLLECTOR_DB")
    if configured:
        return Path(configured).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "fallom-otel" / "traces.db"


def _url(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # bound to every interface: loopback reaches it
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class AppServer:
    """An ASGI app served by uvicorn on a socket bound here (port 0: a free one), in a thread or the foreground."""

    def __init__(self, app: Any, *, host: str = DEFAULT_HOST, port: int = 0, log_level: str = "warning") -> None:
        """Bind the socket now (so the port is known and a busy port fails here); serve on :meth:`start`.

        Args:
            app: The ASGI application.
            host: Interface to bind.
            port: TCP port; 0 picks a free one.
            log_level: uvicorn's log level.

        Raises:
            OSError: The port cannot be bound.
        """
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # Accepted sockets inherit this: without it, a keep-alive client waits ~40 ms per response (Nagle's
            # algorithm holding the body segment against the client's delayed ACK of the header segment).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((host, port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self.host = host
        self.port: int = sock.getsockname()[1]
        self._socket: socket.socket | None = sock
        config = uvicorn.Config(
            app, log_level=log_level, access_log=False, lifespan="off", timeout_graceful_shutdown=2, server_header=False
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://<host>:<port>`` (loopback when bound to every interface)."""
        return _url(self.host, self.port)

    def start(self) -> None:
        """Serve from a daemon thread; return once uvicorn accepts connections.

        Raises:
            RuntimeError: The server did not come up.
        """
        assert self._socket is not None
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=f"uvicorn:{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server on port {self.port} did not start")
            time.sleep(0.01)

    def run(self) -> None:
        """Serve in the calling (main) thread until interrupted (Ctrl-C / SIGTERM)."""
        assert self._socket is not None
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._close_socket()

    def stop(self) -> None:
        """Stop serving and close the socket. Idempotent."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._close_socket()

    def _close_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class Collector:
    """The local collector: OTLP/HTTP ingest into SQLite, media store and web viewer on one port.

    Usage::

        with Collector(db="traces.db", port=0) as collector:
            fallom_otel.init(base_url=collector.url)
            ...
    """

    def __init__(
        self,
        db: str | os.PathLike[str] | None = None,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        api_key: str | None = None,
        limits: Limits | None = None,
        max_media_bytes: int = DEFAULT_MAX_MEDIA_BYTES,
        max_media_total_bytes: int = DEFAULT_MAX_MEDIA_TOTAL_BYTES,
        log_level: str = "warning",
    ) -> None:
        """Configure a collector (nothing is opened until :meth:`bind`, :meth:`start` or :meth:`serve_forever`).

        Args:
            db: SQLite file (default: :func:`default_db_path`).
            host: Interface to bind; loopback by default.
            port: TCP port; 0 picks a free one (read :attr:`url` after starting).
            api_key: Require ``Authorization: Bearer <api_key>`` for ingest and media upload.
            limits: Request size limits.
            max_media_bytes: Largest media object accepted.
            max_media_total_bytes: Total media bytes kept.
            log_level: uvicorn's log level.
        """
        self.db_path = Path(db).expanduser() if db is not None else default_db_path()
        self.host = host
        self.port = port
        self.api_key = api_key
        self.limits = limits or Limits()
        self.max_media_bytes = max_media_bytes
        self.max_media_total_bytes = max_media_total_bytes
        self.log_level = log_level
        self.store: Store | None = None
        self._server: AppServer | None = None

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:<port>``); give it to ``fallom_otel.init(base_url=...)``."""
        return _url(self.host, self.port)

    def bind(self) -> Collector:
        """Open the database and bind the port (idempotent); :meth:`start` / :meth:`serve_forever` then serve.

        Returns:
            The collector itself (:attr:`url` now has the bound port).

        Raises:
            OSError: The port cannot be bound.
        """
        if self._server is not None:
            return self
        store = Store(
            self.db_path, max_media_bytes=self.max_media_bytes, max_media_total_bytes=self.max_media_total_bytes
        )
        app = create_app(store, api_key=self.api_key, limits=self.limits)
        try:
            server = AppServer(app, host=self.host, port=self.port, log_level=self.log_level)
        except OSError:
            store.close()
            raise
        self.store, self._server, self.port = store, server, server.port
        return self

    def start(self) -> Collector:
        """Serve from a daemon thread; return once the port accepts connections.

        Returns:
            The collector itself.

        Raises:
            OSError: The port cannot be bound.
            RuntimeError: The server did not come up.
        """
        self.bind()
        assert self._server is not None
        try:
            self._server.start()
        except RuntimeError:
            self.stop()
            raise
        return self

    def serve_forever(self) -> None:
        """Serve in the calling (main) thread until interrupted (Ctrl-C / SIGTERM), then close everything."""
        self.bind()
        assert self._server is not None
        try:
            self._server.run()
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving, close the socket and the database. Idempotent."""
        server, store = self._server, self.store
        self._server = self.store = None
        if server is not None:
            server.stop()
        if store is not None:
            store.close()

    def __enter__(self) -> Collector:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
