"""Inline media (base64 images, audio, documents) off the request path: named by hash, uploaded in the background.

``init()`` calls :func:`configure`; the instrumentors get :func:`handler` as ``Hooks.media``. Modes
(``init(media=...)`` / ``FALLOM_MEDIA``):

- ``fallom`` (default): ``PUT {base_url}/v1/media/{sha256}`` with the Fallom key; the span records that URI. Used only
  when spans are exported to that same ``base_url``; otherwise media is recorded as metadata only.
- ``file:///dir``: each piece is written to ``/dir/<sha256>``; the span records the ``file://`` URI.
- ``none``: nothing leaves the process; the span records a metadata-only ``blob`` part (mime type, size, sha256).

With content capture off the instrumentors never look at content, so nothing is detected and nothing uploaded.
:func:`stats` exposes the queue's counters for tests and diagnostics.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import unquote, urlsplit

from fallom_otel._config import TRACES_PATH, FallomConfig
from fallom_otel._media._queue import QUEUE
from fallom_otel._media._recorder import MediaRecorder
from fallom_otel._media._sinks import DirectorySink, HttpSink, Sink

__all__ = ["MediaRecorder", "configure", "flush", "handler", "shutdown", "stats"]

_logger = logging.getLogger("fallom_otel")

MEDIA_NONE = "none"

_lock = threading.Lock()
_recorder: MediaRecorder | None = None


def configure(config: FallomConfig | None) -> MediaRecorder | None:
    """Install the media handler for ``config`` (None: no handler) and retire the previous one.

    Uploads the previous handler already queued still go where their URIs point; it queues nothing new.
    """
    global _recorder
    recorder = _build(config) if config is not None else None
    with _lock:
        previous, _recorder = _recorder, recorder
    if previous is not None:
        previous.close()
    return recorder


def handler() -> MediaRecorder | None:
    """The media handler of the current ``init()``, or None (no ``init()``, or content capture off)."""
    return _recorder


def flush(timeout_s: float) -> bool:
    """Wait (at most ``timeout_s``) until every queued upload is stored or dropped."""
    return QUEUE.flush(timeout_s)


def shutdown(timeout_s: float) -> bool:
    """Retire the handler, flush within ``timeout_s``, stop the worker and drop what is still queued."""
    configure(None)
    return QUEUE.shutdown(timeout_s)


def stats() -> dict[str, int]:
    """The upload queue's counters (``submitted``, ``deduplicated``, ``uploaded``, ``dropped_*``, ...)."""
    return QUEUE.stats()


def _build(config: FallomConfig) -> MediaRecorder | None:
    if not config.capture_content:
        return None  # the instrumentors never read content: there is nothing to detect
    return MediaRecorder(_sink(config), config.media_max_bytes, QUEUE)


def _sink(config: FallomConfig) -> Sink | None:
    mode = config.media
    if mode == MEDIA_NONE:
        return None
    if mode.startswith("file:"):
        return DirectorySink(unquote(urlsplit(mode).path))
    if mode.startswith(("http://", "https://")):
        # Chosen explicitly: uploads go there (with the Fallom key, when set) wherever the spans go.
        return HttpSink(mode, config.api_key)
    if not config.exports:
        return None  # no key for a remote endpoint: nothing is exported, media included
    if config.traces_endpoint != config.base_url + TRACES_PATH:
        # Spans go to an endpoint given verbatim (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT): there is no Fallom base URL
        # to upload to, and the bytes must not go anywhere else.
        _logger.debug(
            "fallom-otel: spans go to %s, not to a Fallom base URL; media is recorded as metadata only",
            config.traces_endpoint,
        )
        return None
    return HttpSink(config.base_url, config.api_key)
