"""Request-side helpers shared by the OpenAI endpoints: sentinels, server address, provider, parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from fallom_otel_instrumentors._content import MediaHandler, data_url_part, inline_media_part
from fallom_otel_instrumentors._invocation import Invocation, TelemetryHandler
from fallom_otel_semconv import gen_ai
from fallom_otel_semconv import messages as parts
from fallom_otel_semconv.gen_ai import FinishReasonValues, GenAiProviderNameValues, ModalityValues

OPENAI = GenAiProviderNameValues.OPENAI.value
AZURE = GenAiProviderNameValues.AZURE_AI_OPENAI.value

_SENTINELS = frozenset({"NotGiven", "Omit"})
_MISSING = object()

# OpenAI's finish reasons, mapped to the semconv values; anything else is kept as sent.
_FINISH_REASONS = {
    "tool_calls": FinishReasonValues.TOOL_CALL.value,
    "function_call": FinishReasonValues.TOOL_CALL.value,
}


def given(value: Any) -> Any:
    """The value, or None for the SDK's ``NOT_GIVEN`` / ``omit`` sentinels."""
    if value is None or type(value).__name__ in _SENTINELS:
        return None
    return value


def get(obj: Any, key: str) -> Any:
    """Read ``key`` from a request dict or a response/SDK object alike (None when absent)."""
    # Plain dicts and pydantic models are nearly all there is: test them before the (slow) abstract Mapping check.
    if type(obj) is dict:
        return obj.get(key)
    if obj is None:  # an absent parent (``get(get(x, "a"), "b")``): skip the getattr and the abstract Mapping check
        return None
    value = getattr(obj, key, _MISSING)
    if value is not _MISSING:
        return value
    return obj.get(key) if isinstance(obj, Mapping) else None


def finish_reason(reason: Any) -> str | None:
    """Map an OpenAI finish reason to the semconv value."""
    if not isinstance(reason, str):
        return None
    return _FINISH_REASONS.get(reason, reason)


def server_of(instance: Any) -> tuple[str | None, int | None, str]:
    """``(server.address, server.port, gen_ai.provider.name)`` from the resource's client."""
    client = getattr(instance, "_client", None)
    provider = AZURE if "Azure" in type(client).__name__ else OPENAI
    url = getattr(client, "base_url", None)
    host = getattr(url, "host", None)
    if not host:
        return None, None, provider
    port = getattr(url, "port", None)
    if port is None:
        port = 443 if getattr(url, "scheme", "https") == "https" else 80
    return str(host), int(port), provider


def start_call(
    handler: TelemetryHandler,
    instance: Any,
    operation: str,
    kwargs: Mapping[str, Any],
    attributes: dict[str, AttributeValue],
) -> Invocation:
    """Start the span of one OpenAI call: provider and server from the client, model from the arguments."""
    address, port, provider = server_of(instance)
    model = given(kwargs.get("model"))
    return handler.start(
        operation,
        provider,
        model if isinstance(model, str) else None,
        server_address=address,
        server_port=port,
        attributes=attributes,
    )


_FLOAT_PARAMETERS = (
    ("temperature", gen_ai.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", gen_ai.GEN_AI_REQUEST_TOP_P),
    ("frequency_penalty", gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY),
)


def common_request_attributes(kwargs: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """Sampling parameters shared by chat completions and legacy completions."""
    attributes: dict[str, AttributeValue] = {}
    max_tokens = given(kwargs.get("max_completion_tokens")) or given(kwargs.get("max_tokens"))
    if isinstance(max_tokens, int):
        attributes[gen_ai.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    # Below, the type checks already exclude the SDK's sentinels (neither numbers, strings nor lists, nor True):
    # no ``given()`` needed, which saves a call per parameter on every request.
    for key, attribute in _FLOAT_PARAMETERS:
        value = kwargs.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[attribute] = float(value)
    seed = kwargs.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        attributes[gen_ai.GEN_AI_REQUEST_SEED] = seed
    stop = kwargs.get("stop")
    if isinstance(stop, str):
        attributes[gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES] = (stop,)
    elif isinstance(stop, (list, tuple)) and stop:
        attributes[gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES] = tuple(str(s) for s in stop)
    n = kwargs.get("n")
    if isinstance(n, int) and n != 1:
        attributes[gen_ai.GEN_AI_REQUEST_CHOICE_COUNT] = n
    if kwargs.get("stream") is True:
        attributes[gen_ai.GEN_AI_REQUEST_STREAM] = True
    return attributes


def usage_int(value: Any) -> int | None:
    """A token count, or None for anything that is not a non-negative int."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def injects_stream_usage(invocation: Invocation, kwargs: Mapping[str, Any]) -> bool:
    """True when the opt-in ``stream_usage`` adds ``include_usage`` to a stream the caller did not ask usage for."""
    if not invocation.handler.stream_usage or given(kwargs.get("stream")) is not True:
        return False
    options = given(kwargs.get("stream_options"))
    # An explicit choice of the caller (True or False) is respected.
    return not (isinstance(options, Mapping) and "include_usage" in options)


def with_stream_usage(invocation: Invocation, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments to call the SDK with: a copy asking for the usage chunk when :func:`injects_stream_usage`."""
    if not injects_stream_usage(invocation, kwargs):
        return kwargs
    options = given(kwargs.get("stream_options"))
    call_kwargs = dict(kwargs)
    call_kwargs["stream_options"] = {**(options if isinstance(options, Mapping) else {}), "include_usage": True}
    return call_kwargs


def record_completion_usage(invocation: Invocation, usage: Any) -> None:
    """Copy a ``CompletionUsage`` (chat and legacy completions) into the invocation; None leaves usage unknown."""
    if usage is None:
        return
    target = invocation.usage
    target.input_tokens = usage_int(get(usage, "prompt_tokens"))
    target.output_tokens = usage_int(get(usage, "completion_tokens"))
    prompt_details = get(usage, "prompt_tokens_details")
    target.cache_read_input_tokens = usage_int(get(prompt_details, "cached_tokens"))
    # Newer releases also report prompt-cache writes; like reads, they are already inside prompt_tokens.
    target.cache_write_input_tokens = usage_int(get(prompt_details, "cache_write_tokens"))
    target.reasoning_output_tokens = usage_int(get(get(usage, "completion_tokens_details"), "reasoning_tokens"))


_FILE_MODALITY = ModalityValues.DOCUMENT.value


def file_part_of(item: Any, media: MediaHandler | None) -> parts.Part:
    """The part for a file input (chat ``file`` / Responses ``input_file``): an id, inline data or a URL."""
    file_id = get(item, "file_id")
    if isinstance(file_id, str):
        return parts.file_part(_FILE_MODALITY, file_id)
    data = get(item, "file_data")
    if isinstance(data, str):
        if data.startswith("data:"):
            return data_url_part(data, _FILE_MODALITY, media)
        return inline_media_part(data, "", _FILE_MODALITY, media)
    url = get(item, "file_url")
    if isinstance(url, str):
        return data_url_part(url, _FILE_MODALITY, media)  # a data: URL here is inline media too, never recorded raw
    return parts.blob_part(_FILE_MODALITY)
