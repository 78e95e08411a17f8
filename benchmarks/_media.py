"""``make bench`` group 8: the calling thread's cost of inline media (issue #6), in a fresh interpreter.

Measures, for one 5 MB PNG sent as a base64 data URL:

- the work the instrumentation adds on the calling thread, piece by piece: base64 decode, sha256 (the
  content-addressed id), and the whole media handler (decode + hash + hand-off to the upload queue);
- the whole ``chat.completions.create`` call: bare SDK, instrumented with a text prompt, instrumented with the image
  (uploads go to a local directory through the background worker, so no network time is involved).

Prints one JSON line on stdout. Usage: ``python _media.py --receiver URL [--quick]``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import statistics
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from typing import Any

from _fixtures import MODEL, sync_client


def _png(width: int, height: int) -> bytes:
    rng = random.Random(5)
    rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b"")


def main() -> None:
    """Measure and print one JSON line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--receiver", required=True)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = 5 if args.quick else 40

    image = _png(1300, 1300)
    b64 = base64.b64encode(image).decode()
    data_url = f"data:image/png;base64,{b64}"

    import fallom_otel
    from fallom_otel import _media
    from fallom_otel_instrumentors._content import _decode_base64, data_url_part

    client = sync_client()

    def call(content: Any) -> None:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])

    with_image: Any = [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": data_url}}]
    result: dict[str, Any] = {"image_bytes": len(image), "base64_chars": len(b64)}
    samples: dict[str, list[float]] = {}

    def sample(name: str, action: Callable[[], object], count: int) -> None:
        for _ in range(count):
            started = time.perf_counter()
            action()
            samples.setdefault(name, []).append((time.perf_counter() - started) * 1000)

    from fallom_otel import FallomInstrumentor

    with tempfile.TemporaryDirectory() as directory:
        fallom_otel.init(base_url=args.receiver, media=directory)
        handler = _media.handler()
        assert handler is not None
        # Bare and traced batches alternate, so both see the same allocator and cache state (a 5 MB request makes
        # the process map and fault fresh pages; whichever phase ran first would otherwise look slower).
        for round_ in range(runs // 5 + 1):
            FallomInstrumentor().uninstrument()
            sample("bare_text", lambda: call("What is this?"), 5)
            sample("bare_image", lambda: call(with_image), 5)
            sample("decode", lambda: _decode_base64(b64), 5)
            sample("sha256", lambda: hashlib.sha256(image).hexdigest(), 5)
            sample("handler", lambda: data_url_part(data_url, "image", handler), 5)
            FallomInstrumentor().instrument()
            sample("traced_text", lambda: call("What is this?"), 5)
            sample("traced_image", lambda: call(with_image), 5)
            if round_ == 0:
                samples.clear()  # the first round warms everything up
        for name, values in samples.items():
            result[f"{name}_ms"] = statistics.median(values)
        assert fallom_otel.flush(30_000)
        result["stats"] = _media.stats()
        result["files"] = len(os.listdir(directory))
        fallom_otel.shutdown()
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
