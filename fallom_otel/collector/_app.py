"""The collector's Starlette application: OTLP/HTTP ingest, the media store and the web viewer.

Endpoints:

* ``POST /v1/traces``: an ``ExportTraceServiceRequest`` as ``application/x-protobuf`` or ``application/json``
  (OTLP/JSON, hex ids), optionally ``Content-Encoding: gzip``/``deflate``. Answers an ``ExportTraceServiceResponse``
  in the request's format, with ``partial_success`` when spans were refused; 400/401/411/413/415 with a plain-text
  message otherwise.
* ``PUT /v1/media/{id}`` (raw bytes, ``Content-Type`` = the media type) and ``GET /v1/media/{id}``.
* ``GET /healthz``: liveness plus stored counts.
* The viewer: ``/`` (sessions), ``/session``, ``/calls``, ``/calls/{id}``, ``/models``, ``/static/*``.

With an API key, ingest and media upload need ``Authorization: Bearer <key>``; reads (the viewer, media GET) do
not, so bind to loopback (the default) unless the network is trusted.
"""

from __future__ import annotations

import hmac
import json
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from fallom_otel.version import __version__

from ._ingest import BadRequest, decode_request, encode_response
from ._store import Filters, Store
from ._views import build_chat, fmt_cost, fmt_ms, fmt_time, fmt_tokens, timeline

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_MAX_DECOMPRESSED_BYTES", "Limits", "create_app"]

_logger = logging.getLogger(__name__)
_HERE = Path(__file__).resolve().parent
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_DECOMPRESSED_BYTES = 128 * 1024 * 1024
_PAGE = 50
# Media may be anything a client uploaded: never let the browser run it as a page of the viewer's origin.
_MEDIA_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; media-src 'self'; sandbox",
    "Cache-Control": "public, max-age=31536000, immutable",
}


@dataclass(frozen=True)
class Limits:
    """Request size limits.

    Attributes:
        max_body_bytes: Largest request body as sent (before decompression).
        max_decompressed_bytes: Largest trace export body after decompression.
    """

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(message.rstrip("\n") + "\n", status_code=status, headers=headers)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) anything larger than ``limit`` before reading it whole."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BadRequest(400, f"invalid Content-Length {declared!r}") from None
        if size > limit:
            raise BadRequest(413, f"body of {size} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise BadRequest(413, f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _filters(request: Request) -> Filters:
    params = request.query_params
    status = params.get("status") or None
    return Filters(
        config_key=params.get("config_key") or None,
        model=params.get("model") or None,
        status=status if status in ("ok", "error") else None,
    )


def _int_param(request: Request, name: str, default: int, low: int = 0, high: int = 1_000_000_000) -> int:
    try:
        return min(max(int(request.query_params.get(name, default)), low), high)
    except ValueError:
        return default


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(tokens=fmt_tokens, cost=fmt_cost, ms=fmt_ms, time=fmt_time)
    env.globals["version"] = __version__
    return env


def create_app(store: Store, *, api_key: str | None = None, limits: Limits | None = None) -> Starlette:
    """Build the collector application over ``store``.

    Args:
        store: Where spans and media are kept.
        api_key: When set, ``POST /v1/traces`` and ``PUT /v1/media/{id}`` require ``Authorization: Bearer <key>``.
        limits: Request size limits (defaults: 32 MiB sent, 128 MiB decompressed).

    Returns:
        The ASGI application.
    """
    limits = limits or Limits()
    templates = Jinja2Templates(env=_environment())
    expected = f"Bearer {api_key}".encode() if api_key else None

    def authorized(request: Request) -> bool:
        if expected is None:
            return True
        given = request.headers.get("authorization", "").encode("latin-1", "replace")
        return hmac.compare_digest(given, expected)

    def unauthorized() -> Response:
        return _text(401, "missing or wrong API key (Authorization: Bearer <key>)", {"WWW-Authenticate": "Bearer"})

    async def traces(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        content_type = request.headers.get("content-type", "")
        try:
            raw = await _read_body(request, limits.max_body_bytes)
            decoded = await run_in_threadpool(
                decode_request,
                raw,
                content_type,
                request.headers.get("content-encoding", ""),
                limits.max_decompressed_bytes,
            )
        except BadRequest as bad:
            return _text(bad.status, str(bad))
        try:
            await run_in_threadpool(store.insert, decoded.rows)
        except sqlite3.OperationalError as error:  # locked past the busy timeout, disk full: the exporter retries
            _logger.warning("could not store %d spans: %s", len(decoded.rows), error)
            return _text(503, f"storage unavailable: {error}", {"Retry-After": "1"})
        body, media_type = encode_response(decoded.rejected, decoded.reason, content_type)
        return Response(body, media_type=media_type)

    async def put_media(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        try:
            data = await _read_body(request, min(limits.max_body_bytes, store.max_media_bytes))
            created = await run_in_threadpool(
                store.put_media,
                request.path_params["media_id"],
                data,
                request.headers.get("content-type", "application/octet-stream"),
            )
        except BadRequest as bad:
            return _text(bad.status, str(bad))
        return _text(201 if created else 200, "stored")

    def get_media(request: Request) -> Response:
        media = store.get_media(request.path_params["media_id"])
        if media is None:
            return _text(404, "no such media object")
        return FileResponse(media.path, media_type=media.content_type, headers=_MEDIA_HEADERS)

    def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__, **store.counts()})

    def sessions_page(request: Request) -> Response:
        filters = _filters(request)
        offset = _int_param(request, "offset", 0)
        sessions = store.sessions(filters, limit=_PAGE + 1, offset=offset)
        context = {
            "page": "sessions",
            "filters": filters,
            "sessions": sessions[:_PAGE],
            "more": len(sessions) > _PAGE,
            "offset": offset,
            "page_size": _PAGE,
            "models_totals": store.model_totals(filters),
            "config_keys": store.config_keys(),
            "models": store.models(),
            "counts": store.counts(),
        }
        return templates.TemplateResponse(request, "sessions.html", context)

    def session_page(request: Request) -> Response:
        config_key = request.query_params.get("config_key", "")
        session_id = request.query_params.get("id", "")
        summary = store.session(config_key, session_id)
        if summary is None:
            return templates.TemplateResponse(
                request, "not_found.html", {"page": "sessions", "what": f"session {session_id!r}"}, status_code=404
            )
        calls, axis_ms = timeline(store.session_calls(config_key, session_id))
        context = {"page": "sessions", "session": summary, "calls": calls, "axis_ms": axis_ms}
        return templates.TemplateResponse(request, "session.html", context)

    def calls_page(request: Request) -> Response:
        filters = _filters(request)
        before = request.query_params.get("before")
        calls = store.calls(
            filters,
            session_id=request.query_params.get("session") or None,
            limit=_PAGE + 1,
            before=int(before) if before and before.isdigit() else None,
        )
        context = {
            "page": "calls",
            "filters": filters,
            "calls": calls[:_PAGE],
            "next_before": calls[_PAGE - 1]["id"] if len(calls) > _PAGE else None,
            "config_keys": store.config_keys(),
            "models": store.models(),
        }
        return templates.TemplateResponse(request, "calls.html", context)

    def call_page(request: Request) -> Response:
        call = store.call(request.path_params["call_id"])
        if call is None:
            return templates.TemplateResponse(
                request, "not_found.html", {"page": "calls", "what": "this call"}, status_code=404
            )
        attributes: dict[str, Any] = json.loads(call["attributes"] or "{}")
        context = {
            "page": "calls",
            "call": call,
            "attributes": sorted(attributes.items()),
            "resource": sorted(json.loads(call["resource"] or "{}").items()),
            "events": json.loads(call["events"] or "[]"),
            "chat": build_chat(attributes, store),
            "children": store.children(call["trace_id"], call["span_id"]),
        }
        return templates.TemplateResponse(request, "call.html", context)

    def models_page(request: Request) -> Response:
        filters = _filters(request)
        context = {
            "page": "models",
            "filters": filters,
            "models_totals": store.model_totals(filters),
            "config_keys": store.config_keys(),
            "models": store.models(),
        }
        return templates.TemplateResponse(request, "models.html", context)

    def favicon(request: Request) -> Response:
        return RedirectResponse("/static/favicon.svg", status_code=301)

    routes = [
        Route("/v1/traces", traces, methods=["POST"]),
        Route("/v1/media/{media_id}", put_media, methods=["PUT"]),
        Route("/v1/media/{media_id}", get_media, methods=["GET", "HEAD"]),
        Route("/healthz", health, methods=["GET"]),
        Route("/", sessions_page, methods=["GET"]),
        Route("/session", session_page, methods=["GET"]),
        Route("/calls", calls_page, methods=["GET"]),
        Route("/calls/{call_id:int}", call_page, methods=["GET"]),
        Route("/models", models_page, methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
        Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={BadRequest: _bad_request})


async def _bad_request(request: Request, exc: Exception) -> Response:
    status = exc.status if isinstance(exc, BadRequest) else 400
    return _text(status, str(exc))
