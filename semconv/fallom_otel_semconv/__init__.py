"""Attribute names, enum values and message JSON shapes emitted by fallom-otel.

The single source of every ``gen_ai.*``, ``openai.*``, ``fallom.*``, ``server.*`` and ``error.*`` key that
fallom-otel writes, following OpenTelemetry GenAI semantic conventions `SEMCONV_VERSION` (plus the ``cache_write``
rename that the official OpenTelemetry GenAI instrumentations already emit). No dependencies.

Submodules: `gen_ai` (GenAI span and metric attributes, enum values), `common` (server and error keys), `openai`
(OpenAI-specific keys), `fallom` (Fallom session, timing, cost and baggage keys), `metrics` (metric names, units,
bucket advice) and `messages` (message/part TypedDicts and builders).
"""

from __future__ import annotations

from . import common, fallom, gen_ai, messages, metrics, openai
from .version import __version__

__all__ = [
    "SCHEMA_URL",
    "SEMCONV_VERSION",
    "__version__",
    "common",
    "fallom",
    "gen_ai",
    "messages",
    "metrics",
    "openai",
]

SEMCONV_VERSION = "1.41.0"
"""The OpenTelemetry semantic-conventions release whose GenAI keys fallom-otel emits."""

SCHEMA_URL = "https://opentelemetry.io/schemas/1.41.0"
"""Schema URL of `SEMCONV_VERSION`; set as the tracer's and meter's ``schema_url``."""
