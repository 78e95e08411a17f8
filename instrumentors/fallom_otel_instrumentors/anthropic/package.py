"""The ``anthropic`` releases this instrumentor supports (checked by ``instrument()`` and ``instruments-any``)."""

from __future__ import annotations

_instruments = ("anthropic >= 1.0.0, < 3",)
