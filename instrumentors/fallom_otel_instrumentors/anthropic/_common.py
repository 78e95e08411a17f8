"""Request-side helpers shared by the Anthropic endpoints: provider, server, parameters, usage, finish reasons."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from fallom_otel_instrumentors._invocation import Invocation, TelemetryHandler
from fallom_otel_instrumentors.anthropic._native import register_span
from fallom_otel_instrumentors.openai._common import get, given, usage_int
from fallom_otel_semconv import gen_ai
from fallom_otel_semconv.gen_ai import FinishReasonValues, GenAiOperationNameValues, GenAiProviderNameValues

__all__ = [
    "CHAT",
    "cache_write_split",
    "finish_reason",
    "get",
    "given",
    "record_usage",
    "request_attributes",
    "start_call",
    "usage_int",
]

CHAT = GenAiOperationNameValues.CHAT.value
ANTHROPIC = GenAiProviderNameValues.ANTHROPIC.value
BEDROCK = GenAiProviderNameValues.AWS_BEDROCK.value
VERTEX = GenAiProviderNameValues.GCP_VERTEX_AI.value

# Anthropic's stop reasons, mapped to the semconv values; anything else (``pause_turn`` ...) is kept as sent.
_FINISH_REASONS = {
    "end_turn": FinishReasonValues.STOP.value,
    "stop_sequence": FinishReasonValues.STOP.value,
    "max_tokens": FinishReasonValues.LENGTH.value,
    "tool_use": FinishReasonValues.TOOL_CALL.value,
    "refusal": FinishReasonValues.CONTENT_FILTER.value,
}

# Client class -> provider name, decided once per class.
_PROVIDERS: dict[type, str] = {}


def finish_reason(reason: Any) -> str | None:
    """Map an Anthropic ``stop_reason`` to the semconv value."""
    if not isinstance(reason, str):
        return None
    return _FINISH_REASONS.get(reason, reason)


def provider_of(client: Any) -> str:
    """``gen_ai.provider.name`` from the client class: Bedrock and Vertex clients, else ``anthropic``."""
    cls = type(client)
    provider = _PROVIDERS.get(cls)
    if provider is None:
        names = " ".join(f"{base.__module__}.{base.__name__}" for base in cls.__mro__)
        if "Bedrock" in names or ".lib.bedrock" in names:
            provider = BEDROCK
        elif "Vertex" in names or ".lib.vertex" in names:
            provider = VERTEX
        else:
            provider = ANTHROPIC
        _PROVIDERS[cls] = provider
    return provider


def server_of(client: Any) -> tuple[str | None, int | None]:
    """``(server.address, server.port)`` from the client's base URL."""
    url = getattr(client, "base_url", None)
    host = getattr(url, "host", None)
    if not host:
        return None, None
    port = getattr(url, "port", None)
    if port is None:
        port = 443 if getattr(url, "scheme", "https") == "https" else 80
    return str(host), int(port)


def request_attributes(kwargs: Mapping[str, Any], *, stream: bool) -> dict[str, AttributeValue]:
    """The sampling parameters of a Messages request.

    Releases that dropped ``temperature`` / ``top_p`` / ``top_k`` from the method signature still send them through
    ``extra_body``, which is read when the keyword is absent.
    """
    attributes: dict[str, AttributeValue] = {}
    extra = given(kwargs.get("extra_body"))
    if isinstance(extra, Mapping) and extra:
        kwargs = {**extra, **{k: v for k, v in kwargs.items() if given(v) is not None}}
    max_tokens = given(kwargs.get("max_tokens"))
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool):
        attributes[gen_ai.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    for key, attribute in (
        ("temperature", gen_ai.GEN_AI_REQUEST_TEMPERATURE),
        ("top_p", gen_ai.GEN_AI_REQUEST_TOP_P),
    ):
        value = given(kwargs.get(key))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[attribute] = float(value)
    top_k = given(kwargs.get("top_k"))
    if isinstance(top_k, (int, float)) and not isinstance(top_k, bool):
        attributes[gen_ai.GEN_AI_REQUEST_TOP_K] = int(top_k)
    stop = given(kwargs.get("stop_sequences"))
    if isinstance(stop, str):
        attributes[gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES] = (stop,)
    elif isinstance(stop, (list, tuple)) and stop:
        attributes[gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES] = tuple(str(s) for s in stop)
    if stream or given(kwargs.get("stream")) is True:
        attributes[gen_ai.GEN_AI_REQUEST_STREAM] = True
    return attributes


def start_call(
    handler: TelemetryHandler, instance: Any, kwargs: Mapping[str, Any], attributes: dict[str, AttributeValue]
) -> Invocation:
    """Start the span of one Messages call: provider and server from the client, model from the arguments."""
    client = getattr(instance, "_client", None)
    address, port = server_of(client)
    model = given(kwargs.get("model"))
    invocation = handler.start(
        CHAT,
        provider_of(client),
        model if isinstance(model, str) else None,
        server_address=address,
        server_port=port,
        attributes=attributes,
    )
    register_span(invocation.span)
    return invocation


def record_usage(invocation: Invocation, usage: Any) -> None:
    """Copy an Anthropic ``Usage`` into the invocation; the input count includes cache reads and writes."""
    if usage is None:
        return
    target = invocation.usage
    cache_read = usage_int(get(usage, "cache_read_input_tokens"))
    cache_write = usage_int(get(usage, "cache_creation_input_tokens"))
    target.cache_read_input_tokens = cache_read
    target.cache_write_input_tokens = cache_write
    target.input_tokens = billed_input(usage_int(get(usage, "input_tokens")), cache_read, cache_write)
    target.output_tokens = usage_int(get(usage, "output_tokens"))
    split = cache_write_split(usage)
    if split is not None:
        target.cache_write_5m_input_tokens, target.cache_write_1h_input_tokens = split
    reasoning = usage_int(get(get(usage, "output_tokens_details"), "thinking_tokens"))
    if reasoning is not None:
        target.reasoning_output_tokens = reasoning


def cache_write_split(usage: Any) -> tuple[int | None, int | None] | None:
    """``(5-minute, 1-hour)`` cache-write tokens from ``usage.cache_creation``; None when the usage has no split.

    A 1-hour cache write is billed at twice the base input rate, a 5-minute one at 1.25 times, so the cost needs the
    split; without it (older API versions) every write is a 5-minute write, the only lifetime those versions had.
    """
    creation = get(usage, "cache_creation")
    if creation is None:
        return None
    five = usage_int(get(creation, "ephemeral_5m_input_tokens"))
    hour = usage_int(get(creation, "ephemeral_1h_input_tokens"))
    if five is None and hour is None:
        return None
    return five, hour


def billed_input(input_tokens: int | None, cache_read: int | None, cache_write: int | None) -> int | None:
    """``input_tokens + cache_read + cache_creation``; None when the uncached count is unknown."""
    if input_tokens is None:
        return None
    return input_tokens + (cache_read or 0) + (cache_write or 0)
