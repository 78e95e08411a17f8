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
    "FALLOM_MEDIA",
    "FALLOM_MEDIA_MAX_BYTES",
    "FALLOM_METRICS",
    "FALLOM_PRICES",
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

FALLOM_MEDIA = "FALLOM_MEDIA"
"""Where inline (base64) images, audio and documents go: ``fallom`` (uploaded to ``{base_url}/v1/media/{sha256}``,
the span records that URI), an ``http(s)://`` URL (uploaded to ``{url}/v1/media/{sha256}`` instead, e.g. Fallom's
while spans go through a local OpenTelemetry Collector), ``file:///dir`` or a directory path (written to
``<dir>/<sha256>``), or ``none`` (the span records only mime type, size and sha256). Default: ``fallom``."""

FALLOM_MEDIA_MAX_BYTES = "FALLOM_MEDIA_MAX_BYTES"
"""Largest decoded size of one piece of inline media that is uploaded; larger ones are recorded as metadata only
(mime type, size). Default: ``20971520`` (20 MiB)."""

FALLOM_PRICES = "FALLOM_PRICES"
"""Path of a JSON file of your own model prices (USD per million tokens), the format of ``init(prices=...)``, e.g.
``{"my-fine-tune": {"input_mtok": 3.0, "output_mtok": 12.0}}``. They win over genai-prices' data. Default: none."""

FALLOM_METRICS = "FALLOM_METRICS"
"""``true``/``false``: GenAI metrics. ``true`` exports them to ``{base_url}/v1/metrics`` unless the application set
its own meter provider (then that one is used); ``false`` records none. Default (unset): the application's meter
provider when it set one, else no metrics."""
