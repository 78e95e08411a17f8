"""Metric names, units and histogram bucket advice emitted by fallom-otel (GenAI semconv v1.41.0 client metrics)."""

from __future__ import annotations

__all__ = [
    "DURATION_BUCKETS",
    "FALLOM_CLIENT_COST",
    "GEN_AI_CLIENT_OPERATION_DURATION",
    "GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK",
    "GEN_AI_CLIENT_TOKEN_USAGE",
    "TOKEN_USAGE_BUCKETS",
    "UNIT_SECONDS",
    "UNIT_TOKEN",
    "UNIT_USD",
]

# --- Metric names ------------------------------------------------------------------------------------------------

GEN_AI_CLIENT_OPERATION_DURATION = "gen_ai.client.operation.duration"
"""Histogram of call durations, in `UNIT_SECONDS`, with `DURATION_BUCKETS`; ``error.type`` on failed calls.

Every metric here carries only low-cardinality attributes (``gen_ai.operation.name``, ``gen_ai.provider.name``,
``gen_ai.request.model``, ``gen_ai.response.model``, ``server.address``, ``server.port``, plus ``error.type`` /
``gen_ai.token.type`` where noted): never session, customer or conversation ids."""

GEN_AI_CLIENT_TOKEN_USAGE = "gen_ai.client.token.usage"
"""Histogram of billed tokens per call and token type (``gen_ai.token.type``), in `UNIT_TOKEN`, with
`TOKEN_USAGE_BUCKETS`. Recorded only when the provider reports usage."""

GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
"""Histogram of the time from request start to the first streamed chunk, in `UNIT_SECONDS`, with
`DURATION_BUCKETS`. Streams only."""

FALLOM_CLIENT_COST = "fallom.client.cost"
"""Counter of call cost in `UNIT_USD` (the span's ``fallom.cost.usd``), with the attributes of the GenAI client
metrics (operation, provider, request and response model, server address and port). Recorded only when the model's
price is known."""

# --- Units (UCUM) ------------------------------------------------------------------------------------------------

UNIT_SECONDS = "s"
"""Unit of the duration and time-to-first-chunk histograms."""

UNIT_TOKEN = "{token}"
"""Unit of the token usage histogram."""

UNIT_USD = "USD"
"""Unit of the cost counter."""

# --- Bucket advice (explicit_bucket_boundaries_advisory) ---------------------------------------------------------

DURATION_BUCKETS: tuple[float, ...] = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
"""Semconv bucket advice (seconds) for the duration and time-to-first-chunk histograms."""

TOKEN_USAGE_BUCKETS: tuple[int, ...] = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)
"""Semconv bucket advice (tokens) for the token usage histogram."""
