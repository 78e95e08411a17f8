"""Fixtures for the media tests: a real 5 MB PNG, the three provider clients over the SDKs' MockTransport, and
tracing through ``fallom_otel.init(instrument=True)`` (the path that installs the media handler) to the receiver."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import fallom_otel
from fallom_otel._media._queue import QUEUE
from fallom_otel_semconv import gen_ai
from tests.instrumentors.anthropic.conftest import FakeAnthropic
from tests.instrumentors.openai.conftest import FakeOpenAI, Tracing
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

API_KEY = "fallom-test-key"


def png(width: int, height: int, seed: int) -> bytes:
    """A valid RGB PNG of noise (incompressible, so the file is about ``width * height * 3`` bytes)."""
    rng = random.Random(seed)
    rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b"")


@dataclass(frozen=True)
class Media:
    data: bytes
    b64: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def data_url(self) -> str:
        return f"data:image/png;base64,{self.b64}"

    def slices(self, count: int = 256) -> list[bytes]:
        """``count`` 64-character slices spread over the whole base64 text (first and last included)."""
        step = max(1, (len(self.b64) - 64) // (count - 1))
        starts = [*range(0, len(self.b64) - 64, step), len(self.b64) - 64]
        return [self.b64[i : i + 64].encode() for i in starts]


def media_of(data: bytes) -> Media:
    return Media(data, base64.b64encode(data).decode())


@pytest.fixture(scope="session")
def big_png() -> Media:
    """A 5 MB PNG (1300 x 1300 RGB noise)."""
    image = media_of(png(1300, 1300, seed=5))
    assert len(image.data) > 5_000_000
    return image


@pytest.fixture(autouse=True)
def fresh_media_queue() -> Iterator[None]:
    QUEUE.reset_stats()
    yield
    QUEUE.reset_stats()


# Process-wide tracing into the receiver, read back span by span: the OpenAI suite's helper, under the name these
# tests use.
MediaTracing = Tracing


def start_tracing(receiver: OtlpReceiver, **init_kwargs: Any) -> MediaTracing:
    init_kwargs.setdefault("api_key", API_KEY)
    fallom_otel.init(base_url=receiver.url, instrument=True, **init_kwargs)
    return MediaTracing(receiver)


@pytest.fixture
def media_tracing(receiver: OtlpReceiver) -> MediaTracing:
    return start_tracing(receiver)


def messages(span: ReceivedSpan, key: str = gen_ai.GEN_AI_INPUT_MESSAGES) -> Any:
    return json.loads(span.attributes[key])


def all_parts(value: Any) -> list[dict[str, Any]]:
    """Every part (a dict with a ``type``) anywhere in a decoded messages attribute."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if "type" in value:
            found.append(value)
        for item in value.values():
            found.extend(all_parts(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(all_parts(item))
    return found


def media_parts(span: ReceivedSpan, key: str = gen_ai.GEN_AI_INPUT_MESSAGES) -> list[dict[str, Any]]:
    return [p for p in all_parts(messages(span, key)) if p["type"] in ("uri", "blob")]


@pytest.fixture
def fake_openai() -> FakeOpenAI:
    return FakeOpenAI()


@pytest.fixture
def fake_anthropic() -> FakeAnthropic:
    return FakeAnthropic()
