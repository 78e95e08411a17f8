"""OpenTelemetry GenAI instrumentation of the official ``openai`` SDK.

Usage::

    from fallom_otel_instrumentors.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument()  # optional: tracer_provider=..., capture_content=True

Every call of ``chat.completions.create`` / ``parse`` / ``stream()``, ``responses.create`` / ``parse`` /
``stream()``, ``embeddings.create`` and the legacy ``completions.create``, sync and async, through any client
(``OpenAI``, ``AsyncOpenAI``, ``AzureOpenAI``, ``with_options()`` copies, ``with_raw_response``,
``with_streaming_response``) becomes one CLIENT span following the GenAI semantic conventions. Other endpoints
pass through untouched.

Configuration: content (prompts, completions, tool definitions) is recorded only when ``capture_content=True`` is
passed or ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is ``SPAN_ONLY`` / ``SPAN_AND_EVENT`` / ``true``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from fallom_otel_instrumentors._instrumentor import GenAIInstrumentor, Patch
from fallom_otel_instrumentors.openai._chat import ChatEndpoint
from fallom_otel_instrumentors.openai._completions import CompletionsEndpoint
from fallom_otel_instrumentors.openai._embeddings import EmbeddingsEndpoint
from fallom_otel_instrumentors.openai._responses import ResponsesEndpoint
from fallom_otel_instrumentors.openai.package import _instruments

__all__ = ["OpenAIInstrumentor"]

_CHAT_MODULE = "openai.resources.chat.completions"
# Before ``parse()`` moved to ``chat.completions`` (openai 1.92), it lived here and posted directly (no ``create``).
_BETA_CHAT_MODULE = "openai.resources.beta.chat.completions"


class OpenAIInstrumentor(GenAIInstrumentor):
    """Instruments the ``openai`` SDK (entry point ``fallom_openai``)."""

    _scope_name = "fallom_otel_instrumentors.openai"

    def instrumentation_dependencies(self) -> Collection[str]:
        """The supported ``openai`` releases."""
        return _instruments

    def patches(self) -> Sequence[Patch]:
        """The wrap table: each SDK method and the endpoint that extracts it."""
        chat = ChatEndpoint()
        return (
            Patch(_CHAT_MODULE, "Completions", "create", chat, is_async=False),
            Patch(_CHAT_MODULE, "AsyncCompletions", "create", chat, is_async=True),
            Patch(_CHAT_MODULE, "Completions", "parse", chat, is_async=False),
            Patch(_CHAT_MODULE, "AsyncCompletions", "parse", chat, is_async=True),
            Patch(_BETA_CHAT_MODULE, "Completions", "parse", chat, is_async=False),
            Patch(_BETA_CHAT_MODULE, "AsyncCompletions", "parse", chat, is_async=True),
            Patch("openai.resources.embeddings", "Embeddings", "create", EmbeddingsEndpoint(), is_async=False),
            Patch("openai.resources.embeddings", "AsyncEmbeddings", "create", EmbeddingsEndpoint(), is_async=True),
            Patch("openai.resources.completions", "Completions", "create", CompletionsEndpoint(), is_async=False),
            Patch("openai.resources.completions", "AsyncCompletions", "create", CompletionsEndpoint(), is_async=True),
            Patch("openai.resources.responses", "Responses", "create", ResponsesEndpoint(), is_async=False),
            Patch("openai.resources.responses", "AsyncResponses", "create", ResponsesEndpoint(), is_async=True),
            Patch("openai.resources.responses", "Responses", "parse", ResponsesEndpoint(), is_async=False),
            Patch("openai.resources.responses", "AsyncResponses", "parse", ResponsesEndpoint(), is_async=True),
        )
