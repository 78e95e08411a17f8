"""The three distributions are released together: one version, pinned exactly between them."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import fallom_otel
import fallom_otel_instrumentors
import fallom_otel_semconv

ROOT = Path(__file__).resolve().parent.parent
PYPROJECTS = ("fallom-otel", "fallom-otel-instrumentors", "fallom-otel-semconv")


def test_one_version_for_all_three() -> None:
    versions = {fallom_otel.__version__, fallom_otel_instrumentors.__version__, fallom_otel_semconv.__version__}
    assert len(versions) == 1, versions
    [version] = versions
    for distribution in PYPROJECTS:
        assert metadata.version(distribution) == version


def test_sibling_pins_are_exact_and_match() -> None:
    version = fallom_otel.__version__
    pins: list[str] = []
    for distribution in PYPROJECTS:
        requirements = metadata.requires(distribution) or []
        pins += [r.replace(" ", "") for r in requirements if r.startswith("fallom-otel")]
    assert sorted(pins) == sorted(
        [
            f"fallom-otel-semconv=={version}",
            f"fallom-otel-instrumentors=={version}",
            f"fallom-otel-semconv=={version}",
        ]
    )


def test_changelog_has_unreleased_on_top() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings and headings[0] == "## [Unreleased]"
