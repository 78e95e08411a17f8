"""OpenAI-specific semantic-convention keys and values emitted by fallom-otel (GenAI semconv v1.41.0 OpenAI page)."""

from __future__ import annotations

from ._enum import StrValueEnum

__all__ = [
    "OPENAI_API_TYPE",
    "OPENAI_REQUEST_SERVICE_TIER",
    "OPENAI_RESPONSE_SERVICE_TIER",
    "OPENAI_RESPONSE_SYSTEM_FINGERPRINT",
    "OpenAiApiTypeValues",
]

OPENAI_API_TYPE = "openai.api.type"
"""Which OpenAI API was called (see `OpenAiApiTypeValues`). Set on OpenAI chat spans."""

OPENAI_REQUEST_SERVICE_TIER = "openai.request.service_tier"
"""The service tier requested, when sent and not ``auto``."""

OPENAI_RESPONSE_SERVICE_TIER = "openai.response.service_tier"
"""The service tier the response reports, when present."""

OPENAI_RESPONSE_SYSTEM_FINGERPRINT = "openai.response.system_fingerprint"
"""The response's ``system_fingerprint``, when present."""


class OpenAiApiTypeValues(StrValueEnum):
    """Values of `OPENAI_API_TYPE`."""

    CHAT_COMPLETIONS = "chat_completions"
    """The Chat Completions API (``client.chat.completions``)."""
    RESPONSES = "responses"
    """The Responses API (``client.responses``)."""
