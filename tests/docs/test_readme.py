"""Every snippet in README.md is executed (or, for commands that cannot run here, checked), so the docs cannot rot.

- ```python blocks run as scripts against the local collector and the simulated provider, no API keys.
- ```bash blocks run line by line in bash with the same environment, except three kinds of line checked instead of
  run: `make <target>` (the target must exist; CI runs `make test`, and `make demo` has its own test),
  `pip install ...` (each requirement must name one of this repository's distributions and existing extras), and
  `fallom-otel serve ...` (it serves until stopped: its arguments must parse).
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from fallom_otel.collector import Collector

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
_FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
BLOCKS = [(lang, body) for lang, body in _FENCE.findall(README)]
PYTHON = [body for lang, body in BLOCKS if lang == "python"]
SHELL = [body for lang, body in BLOCKS if lang in ("bash", "sh", "shell")]

_DISTRIBUTIONS = ("fallom-otel", "fallom-otel-instrumentors", "fallom-otel-semconv")


def _first_line(body: str) -> str:
    return next((line for line in body.splitlines() if line.strip()), "")[:60]


def test_readme_has_snippets_of_every_kind() -> None:
    assert len(PYTHON) >= 5 and len(SHELL) >= 3
    assert {lang for lang, _ in BLOCKS} <= {"python", "bash", "text"}, "a new fence language needs a check here"


@pytest.fixture
def readme_env(app_env: dict[str, str]) -> dict[str, str]:
    # The snippets read the key as the product page does; the local collector accepts any key.
    return {**app_env, "FALLOM_API_KEY": "fk-readme-test"}


@pytest.mark.parametrize("body", PYTHON, ids=_first_line)
def test_python_snippet_runs(body: str, readme_env: dict[str, str], collector: Collector, tmp_path: Path) -> None:
    script = tmp_path / "snippet.py"
    script.write_text(body, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], env=readme_env, cwd=ROOT, capture_output=True, text=True, timeout=90, check=False
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    calls = body.count(".create(")
    if calls:
        # A snippet that calls a model must have been traced into the collector (flush() ran before it exited).
        assert collector.store is not None
        assert collector.store.counts()["calls"] >= calls, f"{calls} call(s) in the snippet, none traced"


def _checked_line(line: str) -> bool:
    """Check a line that cannot run here; False when the line is to be run."""
    words = line.split()
    if words[:1] == ["make"]:
        makefile = (ROOT / "Makefile").read_text()
        for target in words[1:]:
            if "=" not in target:
                assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"no make target {target!r}"
        return True
    if words[:2] == ["pip", "install"]:
        for requirement in words[2:]:
            requirement = requirement.strip("'\"")
            name, _, extras = requirement.partition("[")
            name = re.split(r"[<>=!~ ]", name)[0]
            assert name in _DISTRIBUTIONS, f"{name!r} is not one of this repository's distributions"
            known = metadata.metadata(name).get_all("Provides-Extra") or []
            for extra in filter(None, extras.rstrip("]").split(",")):
                assert extra.strip() in known, f"{name} has no extra {extra!r}"
        return True
    if words[:2] == ["fallom-otel", "serve"]:
        from fallom_otel._cli import _parser

        _parser().parse_args(words[1:])  # SystemExit(2) on an argument that does not exist
        return True
    return False


@pytest.mark.parametrize("body", SHELL, ids=_first_line)
def test_shell_snippet_runs_or_is_checked(body: str, readme_env: dict[str, str], collector: Collector) -> None:
    runnable = []
    for raw in body.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#") and not _checked_line(line):
            runnable.append(line)
    if not runnable:
        return
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(runnable)],
        env=readme_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{runnable}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
