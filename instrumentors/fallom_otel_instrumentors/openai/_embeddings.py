"""Embeddings: request and response extraction of ``embeddings.create`` into the GenAI span contract.

Embeddings carry no message content in our contract: the input text and the vectors are never recorded, whatever
the content policy. The span gets the request model, ``encoding_format`` (as the caller sent it), the dimension
count (the ``dimensions`` asked for, else the length of the first returned vector), the response model and the
input token count (embeddings report no output tokens).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.util.types import AttributeValue

from fallom_otel_instrumentors._invocation import Invocation, TelemetryHandler
from fallom_otel_instrumentors._results import finish_result
from fallom_otel_instrumentors.openai._common import get, given, start_call, usage_int
from fallom_otel_semconv import gen_ai
from fallom_otel_semconv.gen_ai import GenAiOperationNameValues

EMBEDDINGS = GenAiOperationNameValues.EMBEDDINGS.value
_FLOAT32_BYTES = 4


class EmbeddingsEndpoint:
    """``Embeddings.create``, sync and async."""

    def start(
        self, handler: TelemetryHandler, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Invocation:
        """Start the span from the request keyword arguments (never reading ``input``)."""
        attributes: dict[str, AttributeValue] = {}
        encoding_format = given(kwargs.get("encoding_format"))
        if isinstance(encoding_format, str):
            attributes[gen_ai.GEN_AI_REQUEST_ENCODING_FORMATS] = (encoding_format,)
        invocation = start_call(handler, instance, EMBEDDINGS, kwargs, attributes)
        dimensions = given(kwargs.get("dimensions"))
        if isinstance(dimensions, int) and not isinstance(dimensions, bool):
            # Kept with the response attributes, so the response's vector length does not override it.
            invocation.attributes[gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dimensions
        return invocation

    def finish(self, invocation: Invocation, result: Any, kwargs: dict[str, Any]) -> Any:
        """Record the response model, usage and vector size; end the span."""
        return finish_result(invocation, result, record_embeddings, _NoChunks)


def record_embeddings(invocation: Invocation, response: Any) -> None:
    """Copy a ``CreateEmbeddingResponse``'s model, input tokens and (when not requested) dimension count."""
    invocation.response_model = get(response, "model")
    usage = get(response, "usage")
    if usage is not None:
        invocation.usage.input_tokens = usage_int(get(usage, "prompt_tokens"))
    if gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT not in invocation.attributes:
        data = get(response, "data") or ()
        count = _dimension_count(get(data[0], "embedding")) if data else None
        if count is not None:
            invocation.attributes[gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = count


def _dimension_count(vector: Any) -> int | None:
    if isinstance(vector, str):  # encoding_format="base64": little-endian float32s, counted without decoding
        payload = vector.rstrip("=")
        return (len(payload) * 3 // 4) // _FLOAT32_BYTES if payload else None
    if isinstance(vector, (list, tuple)) and vector:
        return len(vector)
    return None


class _NoChunks:
    """Embeddings never stream; this satisfies :func:`finish_result`'s accumulator factory."""

    def __init__(self, invocation: Invocation) -> None:
        del invocation

    def add(self, chunk: Any) -> bool:
        """Nothing to accumulate."""
        return False

    def finish(self, invocation: Invocation) -> None:
        """Nothing to record."""
