"""The public surface of each import root is explicit and pinned here (changes to it are deliberate)."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import ModuleType

import pytest

import fallom_otel
import fallom_otel_instrumentors
import fallom_otel_semconv

EXPECTED = {
    fallom_otel: {
        "FallomInstrumentor",
        "MetadataValue",
        "Session",
        "SessionSpanProcessor",
        "__version__",
        "current_session",
        "flush",
        "init",
        "session",
        "shutdown",
    },
    fallom_otel_instrumentors: {"__version__", "activate_call_tracing", "call_tracing_active", "guard"},
}


@pytest.mark.parametrize("module", list(EXPECTED), ids=lambda m: m.__name__)
def test_all_is_pinned(module: ModuleType) -> None:
    assert set(module.__all__) == EXPECTED[module]
    assert len(module.__all__) == len(set(module.__all__))
    for name in module.__all__:
        assert hasattr(module, name), name


@pytest.mark.parametrize("module", [fallom_otel, fallom_otel_instrumentors, fallom_otel_semconv], ids=str)
def test_public_callables_have_docstrings(module: ModuleType) -> None:
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert inspect.getdoc(obj), f"{module.__name__}.{name} has no docstring"


@pytest.mark.parametrize("module", [fallom_otel, fallom_otel_instrumentors, fallom_otel_semconv], ids=str)
def test_each_distribution_ships_py_typed(module: ModuleType) -> None:
    assert module.__file__ is not None
    assert (Path(module.__file__).parent / "py.typed").is_file()


def test_session_methods_are_documented() -> None:
    for name in ("wrap_openai", "wrap_anthropic", "context", "__call__"):
        assert inspect.getdoc(getattr(fallom_otel.Session, name)), name
