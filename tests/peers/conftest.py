"""Fixtures for the coexistence tests: peer instrumentors (test-only packages), a loopback fake API, clean classes.

The peers are installed only in the venv of ``make test-peers``, which sets FALLOM_REQUIRE_PEERS=1: there a missing
peer fails the test; elsewhere the tests that need one are skipped (and reported as skipped).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from fallom_otel_instrumentors import _peers
from tests.zero_code.fake_llm import FakeLLM

# Read at import: the autouse fixture of tests/conftest.py clears FALLOM_* variables before each test.
PEERS_REQUIRED = os.environ.get("FALLOM_REQUIRE_PEERS") == "1"


def require(module: str) -> ModuleType:
    """Import a test-only package, skipping the test where it is not installed (failing under make test-peers)."""
    if PEERS_REQUIRED:
        return importlib.import_module(module)
    imported: ModuleType = pytest.importorskip(module)
    return imported


def peer_instrumentor(peer: _peers.Peer) -> Any:
    """The peer's (first) instrumentor class."""
    module_name, _, class_name = peer.instrumentors[0].partition(":")
    return getattr(require(module_name), class_name)


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_peers, "_warned", set())


@pytest.fixture(autouse=True)
def clean_sdk_classes() -> Iterator[None]:
    """Uninstrument every peer and restore the SDK methods afterwards.

    Some peers cannot fully undo their patches (OpenLLMetry's OpenAI ``uninstrument()`` leaves its wrappers in
    place), so the class attributes are put back as they were before the test.
    """
    saved: list[tuple[type, str, Any]] = []
    if "openai" in sys.modules or importlib.util.find_spec("openai") is not None:
        from fallom_otel_instrumentors.openai import OpenAIInstrumentor

        points = {(p.module, p.cls, p.method) for p in OpenAIInstrumentor().patches()}
        points |= {("openai", "OpenAI", "request"), ("openai", "AsyncOpenAI", "request")}
        for module_name, cls_name, method in sorted(points):
            try:
                cls = getattr(importlib.import_module(module_name), cls_name, None)
            except ImportError:
                continue
            if isinstance(cls, type) and method in vars(cls):
                saved.append((cls, method, vars(cls)[method]))
    yield
    for peer in _peers.PEERS:
        for reference in peer.instrumentors:
            module_name, _, class_name = reference.partition(":")
            cls = getattr(sys.modules.get(module_name), class_name, None)
            instance = vars(cls).get("_instance") if isinstance(cls, type) else None
            if instance is not None and instance.is_instrumented_by_opentelemetry:
                instance.uninstrument()
    for cls, method, original in saved:
        setattr(cls, method, original)
