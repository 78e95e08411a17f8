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
import sys
from collections.abc import Callable, Mapping
from typing import Any

from fallom_otel_semconv import messages as parts

__all__ = [
    "CAPTURE_ENV",
    "MediaHandler",
    "capture_from_env",
    "data_url_part",
    "dumps",
    "dumps_output_messages",
    "inline_media_part",
    "parse_json_arguments",
    "plain_text_messages_json",
    "sniff_mime_type",
    "to_plain",
]

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""OpenTelemetry's switch for standalone instrumentors: ``NO_CONTENT`` (default), ``SPAN_ONLY``,
``SPAN_AND_EVENT``, ``EVENT_ONLY``; ``true``/``false`` are accepted too."""

_CAPTURE_ON = frozenset({"SPAN_ONLY", "SPAN_AND_EVENT", "TRUE", "1", "YES", "ON"})

MediaHandler = Callable[[bytes, str, str], "parts.Part"]
"""``(data, mime_type, modality) -> part``: turns inline media into the part recorded instead of the bytes.

``fallom_otel`` installs one that uploads the bytes off the request path and returns a ``uri`` part; without one,
the part is a metadata-only ``blob`` (mime type, byte size, sha256) and the bytes are never recorded. It runs on the
calling thread: it must be quick and must not block. An optional ``max_bytes`` attribute (int) on the handler caps
the decoded size it is given; larger payloads are not decoded and become a metadata-only ``blob`` part.
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


# The string encoder ``_ENCODER`` uses for every str (``ensure_ascii=False``): the C one when available.
_encode_str: Callable[[str], str] = json.encoder.encode_basestring


def plain_text_messages_json(messages: list[Any]) -> str | None:
    """The input-messages JSON of a list of plain ``{"role": str, "content": str}`` dicts, or None for any other list.

    Byte-identical to ``dumps([parts.input_message(role, [parts.text_part(content)]) for ...])``, the JSON the
    extractors build for such messages, in a quarter of the time: most prompts are exactly this shape, and the
    generic path (dicts of parts, then the encoder) is a visible share of a traced call. A ``tool`` message, an empty
    role, any other key or any non-``str`` value returns None: the caller then takes the generic path.
    """
    pieces = []
    for message in messages:
        if type(message) is not dict or len(message) != 2:
            return None
        role = message.get("role")
        content = message.get("content")
        if type(role) is not str or not role or role == "tool" or type(content) is not str:
            return None
        pieces.append(
            '{"role":' + _encode_str(role) + ',"parts":[{"type":"text","content":' + _encode_str(content) + "}]}"
        )
    return "[" + ",".join(pieces) + "]"


_OUTPUT_KEYS = ("role", "parts", "finish_reason")
_TEXT_PART_KEYS = ("type", "content")


def dumps_output_messages(messages: list[Any]) -> str:
    """:func:`dumps` of output messages, with a fast path for the common one-text-part answers (same bytes).

    A message built as ``output_message(role, [text_part(content)], finish_reason)`` (keys in that order, exact
    ``str`` values) is written directly; any other list is left to :func:`dumps`.
    """
    pieces = []
    for message in messages:
        if type(message) is not dict or tuple(message) != _OUTPUT_KEYS:
            return dumps(messages)
        role, message_parts, reason = message.values()
        if type(role) is not str or type(reason) is not str or type(message_parts) is not list:
            return dumps(messages)
        if len(message_parts) != 1:
            return dumps(messages)
        part = message_parts[0]
        if type(part) is not dict or tuple(part) != _TEXT_PART_KEYS:
            return dumps(messages)
        kind, content = part.values()
        if kind != "text" or type(kind) is not str or type(content) is not str:
            return dumps(messages)
        pieces.append(
            '{"role":'
            + _encode_str(role)
            + ',"parts":[{"type":"text","content":'
            + _encode_str(content)
            + '}],"finish_reason":'
            + _encode_str(reason)
            + "}"
        )
    return "[" + ",".join(pieces) + "]"


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

    The payload is decoded on the calling thread (the handler needs the bytes to name them); nothing of the caller's
    request is copied or changed. A handler may carry a ``max_bytes`` attribute: a payload whose decoded size is
    clearly above it is not decoded at all, and the part records its mime type and size only.

    Args:
        b64_data: The base64 payload (standard or URL-safe alphabet, padded or not, whitespace ignored).
        mime_type: Its media type, e.g. ``image/png``; empty when unknown (then sniffed from the first bytes).
        modality: ``image``, ``audio``, ``video`` or ``document``.
        media_handler: Turns the decoded bytes into a part (e.g. an uploaded ``uri``); None records metadata only.
    """
    max_bytes = getattr(media_handler, "max_bytes", None)
    if isinstance(max_bytes, int):
        size = _decoded_size(b64_data)
        # Whitespace inside the payload makes the estimate a little high: only skip what is surely too large.
        if size > max_bytes + max_bytes // 32 + 3:
            return parts.blob_part(modality, mime_type=mime_type or None, size=size)
    data = _decode_base64(b64_data)
    if data is None:
        return parts.blob_part(modality, mime_type=mime_type or None)
    mime_type = mime_type or sniff_mime_type(data)
    if media_handler is not None:
        return media_handler(data, mime_type, modality)
    return parts.blob_part(
        modality, mime_type=mime_type or None, size=len(data), sha256=hashlib.sha256(data).hexdigest()
    )


def data_url_part(url: str, modality: str, media_handler: MediaHandler | None) -> parts.Part:
    """A ``uri`` part for http(s)/gs URLs; a ``data:`` URL is inline media and never recorded raw."""
    if not url.startswith("data:"):
        return parts.uri_part(modality, url)
    comma = url.find(",")
    if comma < 0:
        return parts.blob_part(modality)
    mime_type = url[len("data:") : comma].split(";", 1)[0].strip().lower()
    if ";base64" not in url[:comma].lower():
        # A percent-encoded (not base64) data URL: tiny by nature (SVG, text); its metadata is all that is kept.
        return parts.blob_part(modality, mime_type=mime_type or None, size=len(url) - comma - 1)
    return inline_media_part(url[comma + 1 :], mime_type, modality, media_handler)


# Leading bytes of the formats providers accept, for media sent without a declared type.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"ID3", "audio/mpeg"),
    (b"\xff\xfb", "audio/mpeg"),
    (b"\xff\xf3", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
)


def sniff_mime_type(data: bytes) -> str:
    """The media type told by ``data``'s first bytes (PNG, JPEG, GIF, WebP, PDF, WAV, MP3, Ogg, FLAC), else ``""``."""
    for signature, mime_type in _SIGNATURES:
        if data.startswith(signature):
            return mime_type
    if data[:4] == b"RIFF":
        kind = data[8:12]
        if kind == b"WEBP":
            return "image/webp"
        if kind == b"WAVE":
            return "audio/wav"
    return ""


def _decoded_size(data: str) -> int:
    """The decoded size of a base64 string without decoding it (exact when it holds no whitespace)."""
    if data[-1:].isspace():
        data = data.rstrip()
    # Count the padding by hand: ``rstrip("=")`` would copy a multi-megabyte payload.
    length = len(data)
    while length and data[length - 1] == "=":
        length -= 1
    return length // 4 * 3 + max(0, length % 4 - 1)


def _decode_base64(data: str) -> bytes | None:
    # The common case (standard alphabet, padded, no whitespace) decodes in one strict C pass straight from the
    # string's own buffer, with no copy of the payload; anything else (URL-safe, unpadded, wrapped lines) takes the
    # tolerant path.
    try:
        return _strict_decode(data)
    except (binascii.Error, ValueError):
        pass
    cleaned = "".join(data.split())
    unpadded = cleaned.rstrip("=")
    padded = unpadded + "=" * (-len(unpadded) % 4)
    try:
        if "-" in cleaned or "_" in cleaned:
            return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _strict_decode(data: str) -> bytes:
    if sys.version_info >= (3, 11):
        # ``a2b_base64`` reads an ASCII ``str`` in place; ``b64decode`` would first encode it to a bytes copy.
        return binascii.a2b_base64(data, strict_mode=True)
    return base64.b64decode(data, validate=True)
