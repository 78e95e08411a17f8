"""Startup cost in a fresh interpreter: ``import fallom_otel`` + ``init()`` + ``instrument()``, timed by phase.

Run by ``bench.py`` as ``python _startup.py RECEIVER_URL``; prints one JSON line. It imports nothing of the
benchmark's own, so no module that fallom-otel needs is loaded before the clock starts. ``openai`` is imported first
and timed on its own: an application that traces it has imported it anyway, and ``instrument()`` (which imports the
patched module) would otherwise be charged with the SDK's own import time.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    """Time each phase once and print the result."""
    receiver = sys.argv[1]
    clock = time.perf_counter_ns
    started = clock()
    import openai  # noqa: F401 - the application's own import, timed separately

    openai_ready = clock()
    import fallom_otel

    imported = clock()
    fallom_otel.init(base_url=receiver, capture_content=True)
    initialised = clock()
    from opentelemetry import trace

    from fallom_otel_instrumentors.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=trace.get_tracer_provider(), capture_content=True)
    instrumented = clock()
    result = {
        "openai_import_ms": (openai_ready - started) / 1e6,
        "import_ms": (imported - openai_ready) / 1e6,
        "init_ms": (initialised - imported) / 1e6,
        "instrument_ms": (instrumented - initialised) / 1e6,
        "total_ms": (instrumented - openai_ready) / 1e6,
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
