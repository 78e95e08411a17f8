"""The collector's public surface is small, explicit and documented; the console script is declared."""

from __future__ import annotations

import importlib.metadata
import inspect
import re
from pathlib import Path

import fallom_otel.collector as collector


def test_all_is_pinned_and_documented() -> None:
    assert set(collector.__all__) == {"Collector", "Filters", "Limits", "Store", "create_app", "default_db_path"}
    for name in collector.__all__:
        obj = getattr(collector, name)
        assert inspect.getdoc(obj), name
        if inspect.isclass(obj):
            for member_name, member in vars(obj).items():
                if not member_name.startswith("_") and inspect.isfunction(member):
                    assert inspect.getdoc(member), f"{name}.{member_name}"


def test_console_script_and_extra_are_declared() -> None:
    [script] = importlib.metadata.entry_points(group="console_scripts", name="fallom-otel")
    assert script.value == "fallom_otel._cli:main"
    requires = importlib.metadata.requires("fallom-otel") or []
    extra = [r for r in requires if re.search(r"extra\s*==\s*[\"']collector[\"']", r)]
    for name in ("starlette", "uvicorn", "jinja2", "rich", "opentelemetry-proto"):
        assert any(r.startswith(name) for r in extra), name
    # The SDK itself stays light: none of the viewer's parts is an unconditional dependency.
    plain = [r for r in requires if "extra ==" not in r]
    assert not any(r.startswith(("starlette", "uvicorn", "jinja2", "rich")) for r in plain)


def test_templates_and_static_files_ship_inside_the_package() -> None:
    package = Path(collector.__file__).parent
    assert {p.name for p in (package / "templates").glob("*.html")} >= {"sessions.html", "session.html", "call.html"}
    assert (package / "static" / "style.css").is_file() and (package / "static" / "app.js").is_file()
