"""Run an application under ``opentelemetry-instrument`` in a subprocess, with a clean, explicit environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fallom_otel_instrumentors._safety import RERAISE_ENV

__all__ = ["APPS", "run_instrumented"]

APPS = Path(__file__).resolve().parent / "apps"

# Variables of the parent's environment that would change what the child does; the test names what it wants.
_CLEARED_PREFIXES = ("FALLOM_", "OTEL_", "ANTHROPIC_", "OPENAI_")


def run_instrumented(
    app: str, *args: str, env: dict[str, str] | None = None, python: str | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """Run ``python apps/<app> args...`` under the ``opentelemetry-instrument`` of ``python``'s environment.

    The child exits only after the at-exit flush, so everything it exported has reached the receiver by then.
    """
    interpreter = python or sys.executable
    # The launcher sits next to the interpreter of the virtual environment (never resolve the symlink: the venv's
    # bin/ is what makes the environment).
    launcher = Path(interpreter).parent / "opentelemetry-instrument"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(_CLEARED_PREFIXES)}
    child_env[RERAISE_ENV] = "1"  # an internal error fails the app, hence the test
    child_env["OTEL_BSP_SCHEDULE_DELAY"] = "50"
    child_env.update(env or {})
    return subprocess.run(
        [str(launcher), interpreter, str(APPS / app), *args],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
