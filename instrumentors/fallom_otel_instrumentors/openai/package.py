"""The ``openai`` releases this instrumentor supports (checked by ``instrument()`` and ``instruments-any``)."""

from __future__ import annotations

_instruments = ("openai >= 1.92.0, < 4",)
