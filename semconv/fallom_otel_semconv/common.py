"""General (non-GenAI) OpenTelemetry semantic-convention keys and values emitted by fallom-otel."""

from __future__ import annotations

__all__ = [
    "ERROR_TYPE",
    "ERROR_TYPE_OTHER",
    "SERVER_ADDRESS",
    "SERVER_PORT",
]

SERVER_ADDRESS = "server.address"
"""Host of the API endpoint, from the client's base URL. Set at span start."""

SERVER_PORT = "server.port"
"""Port of the API endpoint (int), from the client's base URL; set whenever `SERVER_ADDRESS` is. Set at span start."""

ERROR_TYPE = "error.type"
"""On failed calls (with status ERROR): the exception's qualified type name, or the provider's error code."""

ERROR_TYPE_OTHER = "_OTHER"
"""Value of `ERROR_TYPE` when no better one is known (e.g. a stream abandoned before it was consumed)."""
