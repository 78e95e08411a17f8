"""Fixtures for the collector tests: a live collector on a free loopback port, raw HTTP helpers, real OTel SDK
exporters pointed at it, and the demo's data (the demo run once per test session in a fresh interpreter)."""

from __future__ import annotations

import gzip
import http.client
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from fallom_otel.collector import Collector, Limits

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def request(
    url: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Answer:
    """One HTTP request on a fresh connection (so a refused request can never poison the next one)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    with Collector(db=tmp_path / "traces.db", port=0) as running:
        yield running


@pytest.fixture
def small_collector(tmp_path: Path) -> Iterator[Collector]:
    """A collector with tiny limits (64 KiB bodies, 256 KiB decompressed, 32 KiB media) and an API key."""
    limits = Limits(max_body_bytes=64 * 1024, max_decompressed_bytes=256 * 1024)
    with Collector(
        db=tmp_path / "small.db", port=0, api_key="s3cret", limits=limits, max_media_bytes=32 * 1024
    ) as running:
        yield running


def sdk_tracer(url: str, *, compression: Compression = Compression.Gzip, headers: dict[str, str] | None = None) -> Any:
    """A real SDK TracerProvider exporting each span synchronously over OTLP/HTTP protobuf to ``url``."""
    provider = TracerProvider(resource=Resource.create({"service.name": "collector-test"}))
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", compression=compression, headers=headers, timeout=5)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@dataclass(frozen=True)
class DemoData:
    db: Path
    output: str


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> DemoData:
    """``python -m fallom_otel demo --no-wait`` into a fresh database, in a fresh interpreter, no API keys."""
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FALLOM_", "OTEL_", "OPENAI_", "ANTHROPIC_"))}
    env["FALLOM_OTEL_RERAISE_INTERNAL_ERRORS"] = "1"  # an internal bug fails the demo instead of hiding
    completed = subprocess.run(
        [sys.executable, "-m", "fallom_otel", "demo", "--db", str(db), "--no-wait"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return DemoData(db, completed.stdout)
