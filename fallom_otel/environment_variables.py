"""Names of the environment variables fallom-otel reads.

``init()`` reads its arguments first, then these variables, then the defaults. The usual ``OTEL_*`` variables
(service name, resource attributes, sampler, batch processor, OTLP exporter headers/timeout/compression) keep
their OpenTelemetry meaning and are read by the OpenTelemetry SDK itself.
"""

from __future__ import annotations

__all__ = [
    "FALLOM_API_KEY",
    "FALLOM_BASE_URL",
    "FALLOM_CAPTURE_CONTENT",
    "FALLOM_DEBUG",
    "FALLOM_PROPAGATE",
    "FALLOM_STREAM_USAGE",
]

FALLOM_API_KEY = "FALLOM_API_KEY"
"""The Fallom API key, sent as ``Authorization: Bearer <key>`` on every export. Default: none."""

FALLOM_BASE_URL = "FALLOM_BASE_URL"
"""Where spans go: ``{base_url}/v1/traces``. Default: ``https://traces.fallom.com``."""

FALLOM_CAPTURE_CONTENT = "FALLOM_CAPTURE_CONTENT"
"""``true``/``false``: record prompts, completions, tool arguments and images. Default: ``true``."""

FALLOM_DEBUG = "FALLOM_DEBUG"
"""``true``/``false``: debug logging on the ``fallom_otel`` logger. Default: ``false``."""

FALLOM_PROPAGATE = "FALLOM_PROPAGATE"
"""``true``/``false``: sessions also write W3C baggage so downstream services join them. Default: ``false``."""

FALLOM_STREAM_USAGE = "FALLOM_STREAM_USAGE"
"""``true``/``false``: ask OpenAI chat and legacy-completion streams for their usage chunk
(``stream_options.include_usage``) when the caller did not, hiding that chunk from the caller. Default: ``false``."""
