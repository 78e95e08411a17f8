"""Attribute names come only from fallom_otel_semconv: no quoted GenAI or Fallom key literal elsewhere.

Scans every ``.py`` file of the repository (tracked or not) outside the ``semconv/`` distribution folder and
fails listing ``file:line`` for each string literal that starts with one of the two namespaces followed by a dot.
The pattern is assembled from pieces so that this file does not match it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

_QUOTE = "[" + "\"'" + "]"
_NAMESPACES = "|".join(["gen_ai", "fallom"])
LITERAL_PATTERN = re.compile(_QUOTE + "(" + _NAMESPACES + r")\.[a-z_]")

# Directory names never descended into, at any depth.
SKIPPED_DIR_NAMES = frozenset({".venv", "__pycache__", "build", "dist", ".git"})
# Top-level folders that may define the names.
SKIPPED_TOP_LEVEL = frozenset({"semconv"})


def iter_python_files(root: Path) -> list[Path]:
    """Every ``.py`` file under ``root``, skipping virtualenvs, caches, build output and the semconv folder."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        current = Path(dirpath)
        dirnames[:] = sorted(
            name
            for name in dirnames
            # Hidden folders (.venv, .venv-3.10, .git, tool caches) hold no project code.
            if name not in SKIPPED_DIR_NAMES
            and not name.startswith(".")
            and not (current == root and name in SKIPPED_TOP_LEVEL)
        )
        found.extend(current / name for name in sorted(filenames) if name.endswith(".py"))
    return found


def find_attribute_literals(root: Path) -> list[str]:
    """Return ``relative/path.py:line: text`` for every forbidden literal under ``root``."""
    hits: list[str] = []
    for path in iter_python_files(root):
        text = path.read_text(encoding="utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), start=1):
            if LITERAL_PATTERN.search(line):
                hits.append(f"{path.relative_to(root).as_posix()}:{lineno}: {line.strip()}")
    return hits


def test_no_attribute_name_literals_outside_semconv():
    hits = find_attribute_literals(REPO_ROOT)
    assert not hits, "attribute names must come from fallom_otel_semconv:\n" + "\n".join(hits)


def test_scanner_detects_planted_literals(tmp_path):
    quote = '"'
    planted = "MODEL = " + quote + "gen_ai" + ".request.model" + quote + "\n"
    planted_single = "x = {'" + "fallom" + ".session_id': 1}\n"

    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "clean.py").write_text("import os\nNAME = 'gen_ai_like'\n", encoding="utf-8")
    (tmp_path / "pkg" / "sub" / "bad.py").write_text("import os\n\n" + planted, encoding="utf-8")
    (tmp_path / "top.py").write_text(planted_single, encoding="utf-8")
    (tmp_path / "notes.txt").write_text(planted, encoding="utf-8")
    for skipped in (".venv/lib", ".venv-3.10/lib", "semconv/fallom_otel_semconv", "pkg/__pycache__", "build", "dist"):
        (tmp_path / skipped).mkdir(parents=True, exist_ok=True)
        (tmp_path / skipped / "names.py").write_text(planted, encoding="utf-8")
    # Only the top-level semconv folder is exempt; a nested one is scanned.
    (tmp_path / "pkg" / "semconv").mkdir()
    (tmp_path / "pkg" / "semconv" / "nested.py").write_text(planted, encoding="utf-8")

    hits = sorted(find_attribute_literals(tmp_path))

    assert hits == [
        "pkg/semconv/nested.py:1: " + planted.strip(),
        "pkg/sub/bad.py:3: " + planted.strip(),
        "top.py:1: " + planted_single.strip(),
    ]


def test_this_file_does_not_match_its_own_pattern():
    assert not LITERAL_PATTERN.search(Path(__file__).read_text(encoding="utf-8"))
