"""Fallom's own span attribute and baggage keys (the names Fallom's backend reads)."""

from __future__ import annotations

__all__ = [
    "BAGGAGE_CONFIG_KEY",
    "BAGGAGE_CUSTOMER_ID",
    "BAGGAGE_KEYS",
    "BAGGAGE_SESSION_ID",
    "FALLOM_CONFIG_KEY",
    "FALLOM_COST_INPUT_USD",
    "FALLOM_COST_OUTPUT_USD",
    "FALLOM_COST_SOURCE",
    "FALLOM_COST_USD",
    "FALLOM_CUSTOMER_ID",
    "FALLOM_SESSION_ID",
    "FALLOM_SESSION_METADATA_PREFIX",
    "FALLOM_SESSION_TAGS",
    "FALLOM_TIME_TO_FIRST_TOKEN_MS",
    "session_metadata_key",
]

# --- Session (stamped on every span started inside a session) --------------------------------------------------

FALLOM_CONFIG_KEY = "fallom.config_key"
"""The session's config key (groups calls by feature or prompt configuration). Inside a session."""

FALLOM_SESSION_ID = "fallom.session_id"
"""The session id. Inside a session; `gen_ai.GEN_AI_CONVERSATION_ID` carries the same value."""

FALLOM_CUSTOMER_ID = "fallom.customer_id"
"""The customer (end user) id, when the session has one."""

FALLOM_SESSION_METADATA_PREFIX = "fallom.session.metadata."
"""Prefix of the optional session metadata keys; build them with `session_metadata_key`."""

FALLOM_SESSION_TAGS = "fallom.session.tags"
"""Optional session tags (string array), when given."""

# --- Timing -----------------------------------------------------------------------------------------------------

FALLOM_TIME_TO_FIRST_TOKEN_MS = "fallom.time_to_first_token_ms"
"""Milliseconds from request start to the first chunk carrying generated content (text, tool-call arguments,
reasoning): the time to first token users mean (double; streams only)."""

# --- Cost (only when the model's price is known; never 0 for an unknown price) -----------------------------------

FALLOM_COST_USD = "fallom.cost.usd"
"""Total cost of the call in US dollars (double), when the price is known."""

FALLOM_COST_INPUT_USD = "fallom.cost.input_usd"
"""Input part of `FALLOM_COST_USD` (cache reads and writes at their own rates), when the price is known."""

FALLOM_COST_OUTPUT_USD = "fallom.cost.output_usd"
"""Output part of `FALLOM_COST_USD`, when the price is known."""

FALLOM_COST_SOURCE = "fallom.cost.source"
"""Where the prices used for the cost came from, set with the cost attributes: ``genai-prices <version>`` (plus
``(prices updated <date>)`` for a refreshed snapshot), ``user`` for ``init(prices=...)``, ``user:<file name>`` for a
``FALLOM_PRICES`` file."""

# --- W3C baggage (only when a session propagates across services) -----------------------------------------------

BAGGAGE_CONFIG_KEY = FALLOM_CONFIG_KEY
"""Baggage entry carrying the session's config key to downstream services."""

BAGGAGE_SESSION_ID = FALLOM_SESSION_ID
"""Baggage entry carrying the session id to downstream services."""

BAGGAGE_CUSTOMER_ID = FALLOM_CUSTOMER_ID
"""Baggage entry carrying the customer id to downstream services."""

BAGGAGE_KEYS: tuple[str, str, str] = (BAGGAGE_CONFIG_KEY, BAGGAGE_SESSION_ID, BAGGAGE_CUSTOMER_ID)
"""Every baggage entry fallom-otel writes and honours."""


def session_metadata_key(name: str) -> str:
    """Return the span attribute key of one session metadata entry.

    Args:
        name: The metadata entry's name, e.g. ``"plan"``.

    Returns:
        `FALLOM_SESSION_METADATA_PREFIX` followed by ``name``, e.g. ``fallom.session.metadata.plan``.
    """
    return FALLOM_SESSION_METADATA_PREFIX + name
