"""``fallom-otel demo``: a short realistic app traced into the local collector.

Runs against a simulated provider when no API keys are set. Private: reached through the ``fallom-otel demo`` command.
"""

from __future__ import annotations

from ._run import run_demo
from ._simulated import simulated_provider_app

__all__ = ["run_demo", "simulated_provider_app"]
