"""A streamed Anthropic call with an image, through a wrapped client.

The base64 image is never put in the span: fallom-otel uploads the bytes off the request path to
`{base_url}/v1/media/{sha256}` and records that URI instead (the local collector stores and shows it).
"""

from __future__ import annotations

import base64
import struct
import zlib

from anthropic import Anthropic
from anthropic.types import ImageBlockParam, MessageParam

import fallom_otel


def tiny_png(size: int = 32) -> bytes:
    """A small gradient PNG made in code, so the example downloads nothing."""
    raw = b"".join(
        b"\x00" + bytes(v for x in range(size) for v in (8 * x % 256, 8 * y % 256, 160)) for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


fallom_otel.init()
session = fallom_otel.session(config_key="vision", session_id="review-9", customer_id="designer-3")
client = session.wrap_anthropic(Anthropic())

image: ImageBlockParam = {
    "type": "image",
    "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(tiny_png()).decode()},
}
question: MessageParam = {"role": "user", "content": [image, {"type": "text", "text": "What is this?"}]}
with client.messages.stream(
    model="claude-haiku-4-5", max_tokens=200, system="Describe images in one sentence.", messages=[question]
) as stream:
    for text in stream.text_stream:
        print(text, end="", flush=True)
print()

fallom_otel.flush()
