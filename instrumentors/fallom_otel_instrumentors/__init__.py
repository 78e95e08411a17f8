"""OpenTelemetry GenAI instrumentors for the official ``openai`` and ``anthropic`` SDKs.

The provider subpackages are imported on demand, so this package imports without either SDK installed.
They know nothing about Fallom: sessions, cost and media handling reach them as hooks at ``instrument()`` time.
"""

from __future__ import annotations

from fallom_otel_instrumentors._safety import guard
from fallom_otel_instrumentors._scope import activate_call_tracing, call_tracing_active
from fallom_otel_instrumentors.version import __version__

__all__ = ["__version__", "activate_call_tracing", "call_tracing_active", "guard"]
