"""The public surface of each import root is explicit and pinned here (changes to it are deliberate).

Pinned: ``__all__`` of the three distributions' roots and of the two provider instrumentor subpackages (their
instrumentors are public through the ``fallom_openai`` / ``fallom_anthropic`` entry points). Every public callable
there, every public method of a public class, and every public function or class of the semconv submodules has a
docstring; each distribution ships ``py.typed``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from types import ModuleType

import pytest

import fallom_otel
import fallom_otel_instrumentors
import fallom_otel_instrumentors.anthropic
import fallom_otel_instrumentors.openai
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
    fallom_otel_semconv: {
        "SCHEMA_URL",
        "SEMCONV_VERSION",
        "__version__",
        "common",
        "fallom",
        "gen_ai",
        "messages",
        "metrics",
        "openai",
    },
    fallom_otel_instrumentors.openai: {"OpenAIInstrumentor"},
    fallom_otel_instrumentors.anthropic: {"AnthropicInstrumentor"},
}
PUBLIC_MODULES = list(EXPECTED)
SEMCONV_SUBMODULES = [
    getattr(fallom_otel_semconv, name) for name in ("common", "fallom", "gen_ai", "messages", "metrics", "openai")
]


@pytest.mark.parametrize("module", list(EXPECTED), ids=lambda m: m.__name__)
def test_all_is_pinned(module: ModuleType) -> None:
    assert set(module.__all__) == EXPECTED[module]
    assert len(module.__all__) == len(set(module.__all__))
    for name in module.__all__:
        assert hasattr(module, name), name


def _our_public_methods(cls: type) -> list[tuple[str, object]]:
    """Public functions and properties a class of ours defines (or inherits from another class of ours)."""
    found: list[tuple[str, object]] = []
    for klass in cls.__mro__:
        if not klass.__module__.startswith(("fallom_otel", "fallom_otel_instrumentors", "fallom_otel_semconv")):
            continue
        for name, member in vars(klass).items():
            if name.startswith("_") and name != "__call__":  # other magic methods have their Python meaning
                continue
            if inspect.isfunction(member) or isinstance(member, (property, staticmethod, classmethod)):
                found.append((f"{klass.__qualname__}.{name}", member))
    return found


@pytest.mark.parametrize("module", PUBLIC_MODULES + SEMCONV_SUBMODULES, ids=lambda m: m.__name__)
def test_public_callables_have_docstrings(module: ModuleType) -> None:
    assert inspect.getdoc(module), f"{module.__name__} has no module docstring"
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert inspect.getdoc(obj), f"{module.__name__}.{name} has no docstring"
        if inspect.isclass(obj):
            for qualified, member in _our_public_methods(obj):
                target = member.fget if isinstance(member, property) else member
                assert inspect.getdoc(target), f"{module.__name__}.{qualified} has no docstring"


@pytest.mark.parametrize("module", [fallom_otel, fallom_otel_instrumentors, fallom_otel_semconv], ids=str)
def test_each_distribution_ships_py_typed(module: ModuleType) -> None:
    assert module.__file__ is not None
    assert (Path(module.__file__).parent / "py.typed").is_file()


def test_session_methods_are_documented() -> None:
    for name in ("wrap_openai", "wrap_anthropic", "context", "__call__"):
        assert inspect.getdoc(getattr(fallom_otel.Session, name)), name
