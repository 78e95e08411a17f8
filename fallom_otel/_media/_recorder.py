"""The media handler ``fallom_otel`` gives the instrumentors: name the bytes, queue them, record a ``uri`` part.

It runs on the calling thread, so it does only what fixes the URI before the span ends: one sha256 of the bytes
(the id) and a non-blocking hand-off to the upload queue. Everything else (HTTP, retries, files) is the worker's.
"""

from __future__ import annotations

import hashlib

from fallom_otel._media._queue import MediaQueue
from fallom_otel._media._sinks import Sink
from fallom_otel_semconv import messages as parts

__all__ = ["MediaRecorder"]


class MediaRecorder:
    """A :data:`~fallom_otel_instrumentors._content.MediaHandler`: ``(bytes, mime type, modality) -> part``.

    With a sink, the part is ``{"type": "uri", "modality", "mime_type", "uri": <sink URI of sha256(bytes)>}`` and the
    bytes are queued for upload. Without one (``media="none"``, or no export), and whenever the queue refuses them,
    the part is a metadata-only ``blob`` (mime type, size, sha256). Above :attr:`max_bytes` only the mime type and
    size are recorded.
    """

    __slots__ = ("_closed", "_queue", "max_bytes", "sink")

    def __init__(self, sink: Sink | None, max_bytes: int, queue: MediaQueue) -> None:
        """Create a recorder.

        Args:
            sink: Where the bytes go; None records metadata only.
            max_bytes: Largest decoded size uploaded (the instrumentors do not even decode larger payloads).
            queue: The upload queue.
        """
        self.sink = sink
        self.max_bytes = max_bytes
        self._queue = queue
        self._closed = False

    def __repr__(self) -> str:
        return f"MediaRecorder(sink={self.sink!r}, max_bytes={self.max_bytes})"

    def close(self) -> None:
        """Stop queueing (a newer ``init()`` or ``shutdown()`` replaced this recorder); metadata only from now on."""
        self._closed = True

    def __call__(self, data: bytes, mime_type: str, modality: str) -> parts.Part:
        """The part recorded instead of ``data``."""
        size = len(data)
        mime = mime_type or None
        if size > self.max_bytes:
            return parts.blob_part(modality, mime_type=mime, size=size)
        media_id = hashlib.sha256(data).hexdigest()
        sink = self.sink
        if sink is not None and not self._closed:
            uri = sink.uri(media_id)
            if self._queue.submit(sink, media_id, uri, data, mime_type):
                return parts.uri_part(modality, uri, mime_type=mime)
        return parts.blob_part(modality, mime_type=mime, size=size, sha256=media_id)
