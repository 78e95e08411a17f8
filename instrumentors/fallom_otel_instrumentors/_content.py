"""Content policy and serialization: whether prompts/completions are recorded, and how they become JSON.

One gate for all content. When capture is off, extractors are never asked for messages, tool definitions,
arguments, results or error text, so nothing of it can reach an exported byte.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from fallom_otel_semconv import messages as parts

__all__ = [
    "CAPTURE_ENV",
    "MediaHandler",
    "capture_from_env",
    "data_url_part",
    "dumps",
    "inline_media_part",
    "parse_json_arguments",
    "to_plain",
]

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""OpenTelemetry's switch for standalone instrumentors: ``NO_CONTENT`` (default), ``SPAN_ONLY``,
``SPAN_AND_EVENT``, ``EVENT_ONLY``; ``true``/``false`` are accepted too."""

_CAPTURE_ON = frozenset({"SPAN_ONLY", "SPAN_AND_EVENT", "TRUE", "1", "YES", "ON"})

MediaHandler = Callable[[bytes, str, str], "parts.Part"]
"""``(data, mime_type, modality) -> part``: turns inline media into the part recorded instead of the bytes.

``fallom_otel`` installs one that uploads the bytes off the request path and returns a ``uri`` part; without one,
the part is a metadata-only ``blob`` (mime type, byte size, sha256) and the bytes are never recorded.
"""


def capture_from_env() -> bool:
    """Read ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``: True for span capture modes and ``true``."""
    return os.environ.get(CAPTURE_ENV, "").strip().upper() in _CAPTURE_ON


def to_plain(value: Any) -> Any:
    """Turn SDK objects (pydantic models, TypedDict params, iterables) into JSON-ready values, never raising."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        try:
            return to_plain(model_dump(mode="json", exclude_unset=True))
        except TypeError:
            return to_plain(model_dump())
    if isinstance(value, (bytes, bytearray)):
        return {"type": "bytes", "size": len(value)}
    return str(value)


def _default(value: Any) -> Any:
    # json.dumps calls this only for values it cannot encode: never raise, never inline raw bytes.
    return to_plain(value)


# One encoder for every call: ``json.dumps`` with options builds a new encoder each time.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_default)


def dumps(value: Any) -> str:
    """Compact JSON (``separators=(",", ":")``), UTF-8 kept as is, SDK objects converted, never raising."""
    return _ENCODER.encode(value)


def parse_json_arguments(arguments: Any) -> Any:
    """Tool-call arguments arrive as a JSON string: record them as an object when they parse, else as given."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return to_plain(arguments)


def inline_media_part(b64_data: str, mime_type: str, modality: str, media_handler: MediaHandler | None) -> parts.Part:
    """The part recorded for inline (base64) media: never the payload itself.

    Args:
        b64_data: The base64 payload (standard or URL-safe alphabet, padded or not).
        mime_type: Its media type, e.g. ``image/png``.
        modality: ``image``, ``audio``, ``video`` or ``document``.
        media_handler: Turns the decoded bytes into a part (e.g. an uploaded ``uri``); None records metadata only.
    """
    data = _decode_base64(b64_data)
    if data is None:
        return parts.blob_part(modality, mime_type=mime_type or None)
    if media_handler is not None:
        return media_handler(data, mime_type, modality)
    return parts.blob_part(
        modality, mime_type=mime_type or None, size=len(data), sha256=hashlib.sha256(data).hexdigest()
    )


def data_url_part(url: str, modality: str, media_handler: MediaHandler | None) -> parts.Part:
    """A ``uri`` part for http(s)/gs URLs; a ``data:`` URL is inline media and never recorded raw."""
    if not url.startswith("data:"):
        return parts.uri_part(modality, url)
    header, _, payload = url.partition(",")
    mime_type = header[len("data:") :].split(";", 1)[0]
    return inline_media_part(payload, mime_type, modality, media_handler)


def _decode_base64(data: str) -> bytes | None:
    cleaned = "".join(data.split())
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        if "-" in cleaned or "_" in cleaned:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
