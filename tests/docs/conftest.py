"""A local collector and the simulated provider, for running the examples and the README's snippets for real."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the docs tests need the collector extra (installed by make test)")

from fallom_otel._demo import simulated_provider_app
from fallom_otel.collector import Collector
from fallom_otel.collector._server import AppServer

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    with Collector(db=tmp_path / "traces.db", port=0) as running:
        yield running


@pytest.fixture(scope="session")
def simulator() -> Iterator[AppServer]:
    server = AppServer(simulated_provider_app(), host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_env(collector: Collector, simulator: AppServer, tmp_path: Path) -> dict[str, str]:
    """The environment a user gets from `fallom-otel serve --simulate`: no API key anywhere."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FALLOM_", "OTEL_", "OPENAI_", "ANTHROPIC_"))
    }
    env.update(
        FALLOM_BASE_URL=collector.url,
        OPENAI_BASE_URL=f"{simulator.url}/v1",
        OPENAI_API_KEY="simulated",
        ANTHROPIC_BASE_URL=simulator.url,
        ANTHROPIC_API_KEY="simulated",
        # Internal errors fail the run instead of being logged (as in the rest of the test suite).
        FALLOM_OTEL_RERAISE_INTERNAL_ERRORS="1",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(tmp_path),
        FALLOM_COLLECTOR_DB=str(collector.db_path),  # `fallom-otel traces` / `sessions` read this collector's calls
    )
    return env
