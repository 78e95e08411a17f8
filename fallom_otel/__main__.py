"""``python -m fallom_otel``: the ``fallom-otel`` command."""

from __future__ import annotations

from fallom_otel._cli import main

raise SystemExit(main())
