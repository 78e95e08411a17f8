"""Chat completions: request, response and stream extraction into the GenAI span contract.

Covers ``chat.completions.create`` and ``parse``, and the ``stream()`` helper, which calls ``create``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry.util.types import AttributeValue

from fallom_otel_instrumentors._content import (
    MediaHandler,
    data_url_part,
    dumps,
    inline_media_part,
    parse_json_arguments,
    plain_text_messages_json,
    to_plain,
)
from fallom_otel_instrumentors._invocation import Invocation, TelemetryHandler
from fallom_otel_instrumentors._stream import HIDE
from fallom_otel_instrumentors.openai._common import (
    common_request_attributes,
    file_part_of,
    finish_reason,
    get,
    given,
    record_completion_usage,
    start_call,
    with_stream_usage,
)
from fallom_otel_instrumentors.openai._results import finish_usage_on_request
from fallom_otel_semconv import gen_ai
from fallom_otel_semconv import messages as parts
from fallom_otel_semconv import openai as openai_keys
from fallom_otel_semconv.gen_ai import (
    FinishReasonValues,
    GenAiOperationNameValues,
    GenAiOutputTypeValues,
    ModalityValues,
)

CHAT = GenAiOperationNameValues.CHAT.value
_IMAGE = ModalityValues.IMAGE.value
_AUDIO = ModalityValues.AUDIO.value
_AUDIO_FORMATS = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac"}
_OUTPUT_TYPES = {
    "json_schema": GenAiOutputTypeValues.JSON.value,
    "json_object": GenAiOutputTypeValues.JSON.value,
    "text": GenAiOutputTypeValues.TEXT.value,
}

_TRUNCATED = FinishReasonValues.ERROR.value


class ChatEndpoint:
    """``Completions.create`` / ``parse``, sync and async."""

    def start(
        self, handler: TelemetryHandler, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Invocation:
        """Start the span from the request keyword arguments."""
        attributes = common_request_attributes(kwargs)
        attributes[openai_keys.OPENAI_API_TYPE] = openai_keys.OpenAiApiTypeValues.CHAT_COMPLETIONS.value
        response_format = given(kwargs.get("response_format"))
        if response_format is not None:
            format_type = get(response_format, "type")
            if format_type in _OUTPUT_TYPES:
                attributes[gen_ai.GEN_AI_OUTPUT_TYPE] = _OUTPUT_TYPES[format_type]
            elif isinstance(response_format, type):  # parse(response_format=PydanticModel)
                attributes[gen_ai.GEN_AI_OUTPUT_TYPE] = GenAiOutputTypeValues.JSON.value
        tier = given(kwargs.get("service_tier"))
        if isinstance(tier, str) and tier != "auto":
            attributes[openai_keys.OPENAI_REQUEST_SERVICE_TIER] = tier
        if handler.capture_content:
            attributes.update(_content_attributes(kwargs, handler.hooks.media))
        return start_call(handler, instance, CHAT, kwargs, attributes)

    def prepare(self, invocation: Invocation, kwargs: dict[str, Any]) -> dict[str, Any]:
        """With the opt-in ``stream_usage``, ask a stream for its usage chunk (on a copy of the arguments)."""
        return with_stream_usage(invocation, kwargs)

    def finish(self, invocation: Invocation, result: Any, kwargs: dict[str, Any]) -> Any:
        """Record the completion, or follow the stream."""
        return finish_usage_on_request(invocation, result, kwargs, record_completion, ChatStreamAccumulator)


def _content_attributes(kwargs: dict[str, Any], media: MediaHandler | None) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {}
    messages = given(kwargs.get("messages"))
    # Plain text messages (the common case) take a fast path with the same JSON; anything else the generic one.
    plain = plain_text_messages_json(messages) if type(messages) is list else None
    if plain is not None:
        attributes[gen_ai.GEN_AI_INPUT_MESSAGES] = plain
    elif isinstance(messages, Iterable) and not isinstance(messages, (str, bytes)):
        attributes[gen_ai.GEN_AI_INPUT_MESSAGES] = dumps([_input_message(m, media) for m in messages])
    tools = given(kwargs.get("tools"))
    # ``is not None`` first: most calls have no tools, and the abstract Iterable check is slow.
    if tools is not None and isinstance(tools, Iterable) and not isinstance(tools, (str, bytes)):
        definitions = [d for d in (_tool_definition(t) for t in tools) if d is not None]
        if definitions:
            attributes[gen_ai.GEN_AI_TOOL_DEFINITIONS] = dumps(definitions)
    return attributes


def _input_message(message: Any, media: MediaHandler | None) -> parts.InputMessage:
    role = str(get(message, "role") or "user")
    message_parts: list[parts.Part] = []
    if role == "tool":
        message_parts.append(
            parts.tool_call_response_part(to_plain(get(message, "content")), id=get(message, "tool_call_id"))
        )
    else:
        message_parts.extend(_content_parts(get(message, "content"), media))
        for call in get(message, "tool_calls") or ():
            function = get(call, "function")
            message_parts.append(
                parts.tool_call_part(
                    str(get(function, "name") or ""),
                    id=get(call, "id"),
                    arguments=parse_json_arguments(get(function, "arguments")),
                )
            )
        legacy_call = get(message, "function_call")
        if legacy_call is not None:
            message_parts.append(
                parts.tool_call_part(
                    str(get(legacy_call, "name") or ""), arguments=parse_json_arguments(get(legacy_call, "arguments"))
                )
            )
    name = get(message, "name")
    return parts.input_message(role, message_parts, name=name if isinstance(name, str) else None)


def _content_parts(content: Any, media: MediaHandler | None) -> list[parts.Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [parts.text_part(content)]
    result: list[parts.Part] = []
    for item in content if isinstance(content, Iterable) else ():
        kind = get(item, "type")
        if kind == "text":
            result.append(parts.text_part(str(get(item, "text") or "")))
        elif kind == "refusal":
            result.append(parts.text_part(str(get(item, "refusal") or "")))
        elif kind == "image_url":
            url = get(get(item, "image_url"), "url")
            if isinstance(url, str):
                result.append(data_url_part(url, _IMAGE, media))
        elif kind == "input_audio":
            audio = get(item, "input_audio")
            data, fmt = get(audio, "data"), get(audio, "format")
            if isinstance(data, str):
                result.append(inline_media_part(data, _audio_mime_type(fmt), _AUDIO, media))
        elif kind == "file":
            result.append(file_part_of(get(item, "file"), media))
    return result


def _audio_mime_type(fmt: Any) -> str:
    # Chat audio formats (``wav``, ``mp3``, ``flac``, ``opus``, ``pcm16``...) as media types; unknown: sniffed later.
    if not isinstance(fmt, str) or not fmt or fmt.startswith("pcm"):
        return ""
    return _AUDIO_FORMATS.get(fmt, f"audio/{fmt}")


def _tool_definition(tool: Any) -> parts.ToolDefinition | None:
    function = get(tool, "function")
    name = get(function, "name")
    if not isinstance(name, str):
        return None
    description = get(function, "description")
    return parts.tool_definition(
        name,
        description=description if isinstance(description, str) else None,
        parameters=to_plain(get(function, "parameters")),
    )


def record_completion(invocation: Invocation, completion: Any) -> None:
    """Copy a ``ChatCompletion``'s id, model, finish reasons, usage and (with capture) output into the span."""
    invocation.response_id = get(completion, "id")
    invocation.response_model = get(completion, "model")
    _record_tier_and_fingerprint(invocation, completion)
    choices = get(completion, "choices") or ()
    reasons = [finish_reason(get(c, "finish_reason")) or "" for c in choices]
    invocation.finish_reasons = reasons
    record_completion_usage(invocation, get(completion, "usage"))
    if invocation.capture_content:
        media = invocation.handler.hooks.media
        invocation.output_messages = [
            _output_message(get(c, "message"), reason, media) for c, reason in zip(choices, reasons, strict=False)
        ]


def _record_tier_and_fingerprint(invocation: Invocation, source: Any) -> None:
    tier = get(source, "service_tier")
    if isinstance(tier, str):
        invocation.attributes[openai_keys.OPENAI_RESPONSE_SERVICE_TIER] = tier
    fingerprint = get(source, "system_fingerprint")
    if isinstance(fingerprint, str):
        invocation.attributes[openai_keys.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = fingerprint


def _output_message(message: Any, reason: str, media: MediaHandler | None) -> parts.OutputMessage:
    message_parts: list[parts.Part] = []
    content = get(message, "content")
    if isinstance(content, str):
        message_parts.append(parts.text_part(content))
    audio = get(message, "audio")
    if audio is not None:
        # Spoken output (``modalities=["audio"]``) arrives inline as base64: recorded like inline input media.
        data = get(audio, "data")
        if isinstance(data, str) and data:
            message_parts.append(inline_media_part(data, "", _AUDIO, media))
        transcript = get(audio, "transcript")
        if isinstance(transcript, str) and transcript and not isinstance(content, str):
            message_parts.append(parts.text_part(transcript))
    refusal = get(message, "refusal")
    if isinstance(refusal, str):
        message_parts.append(parts.text_part(refusal))
    for call in get(message, "tool_calls") or ():
        function = get(call, "function")
        message_parts.append(
            parts.tool_call_part(
                str(get(function, "name") or ""),
                id=get(call, "id"),
                arguments=parse_json_arguments(get(function, "arguments")),
            )
        )
    return parts.output_message(str(get(message, "role") or "assistant"), message_parts, reason)


class _ChoiceBuffer:
    __slots__ = ("finish_reason", "refusal", "role", "text", "tool_calls")

    def __init__(self) -> None:
        self.role = "assistant"
        self.text: list[str] = []
        self.refusal: list[str] = []
        self.tool_calls: dict[int, list[Any]] = {}  # index -> [id, name, argument pieces]
        self.finish_reason: str | None = None


class ChatStreamAccumulator:
    """Folds ``ChatCompletionChunk`` deltas into per-choice strings; never keeps chunk objects."""

    __slots__ = ("_capture", "_choices", "_fingerprint", "_hide_usage", "_id", "_model", "_tier", "_usage")

    def __init__(self, invocation: Invocation, *, hide_usage: bool = False) -> None:
        self._capture = invocation.capture_content
        self._hide_usage = hide_usage  # the usage chunk was requested by us, not by the caller
        self._choices: dict[int, _ChoiceBuffer] = {}
        self._id: str | None = None
        self._model: str | None = None
        self._tier: str | None = None
        self._fingerprint: str | None = None
        self._usage: Any = None

    def add(self, chunk: Any) -> int:
        """Fold one chunk in; True when it carried generated content, HIDE for the usage chunk we asked for."""
        if self._id is None:
            self._id = getattr(chunk, "id", None)
            self._model = getattr(chunk, "model", None)
            self._tier = getattr(chunk, "service_tier", None)
            self._fingerprint = getattr(chunk, "system_fingerprint", None)
        usage = getattr(chunk, "usage", None)
        choices = getattr(chunk, "choices", None)
        if usage is not None:
            self._usage = usage
            if self._hide_usage and not choices:
                return HIDE
        content = False
        for choice in choices or ():
            buffer = self._choices.get(choice.index)
            if buffer is None:
                buffer = self._choices[choice.index] = _ChoiceBuffer()
            delta = choice.delta
            if delta is not None:
                text = delta.content
                if text:
                    content = True
                    if self._capture:
                        buffer.text.append(text)
                refusal = getattr(delta, "refusal", None)
                if refusal:
                    content = True
                    if self._capture:
                        buffer.refusal.append(refusal)
                calls = delta.tool_calls
                if calls:
                    content = True
                    for call in calls:
                        self._add_tool_call(buffer, call)
            if choice.finish_reason is not None:
                buffer.finish_reason = choice.finish_reason
        return content

    def _add_tool_call(self, buffer: _ChoiceBuffer, call: Any) -> None:
        slot = buffer.tool_calls.get(call.index)
        if slot is None:
            slot = buffer.tool_calls[call.index] = [None, None, []]
        if call.id:
            slot[0] = call.id
        function = call.function
        if function is not None:
            if function.name:
                slot[1] = function.name
            if function.arguments and self._capture:
                slot[2].append(function.arguments)

    def finish(self, invocation: Invocation) -> None:
        """Write what the stream delivered into the invocation."""
        invocation.response_id = self._id
        invocation.response_model = self._model
        if self._tier is not None:
            invocation.attributes[openai_keys.OPENAI_RESPONSE_SERVICE_TIER] = self._tier
        if self._fingerprint is not None:
            invocation.attributes[openai_keys.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = self._fingerprint
        ordered = [self._choices[i] for i in sorted(self._choices)]
        # A choice the stream never finished (closed early, cut, failed) ended abnormally: semconv's ``error``.
        reasons = [finish_reason(b.finish_reason) or _TRUNCATED for b in ordered]
        if reasons:
            invocation.finish_reasons = reasons
        record_completion_usage(invocation, self._usage)
        if self._capture:
            invocation.output_messages = [_buffered_message(b, r) for b, r in zip(ordered, reasons, strict=False)]


def _buffered_message(buffer: _ChoiceBuffer, reason: str) -> parts.OutputMessage:
    message_parts: list[parts.Part] = []
    if buffer.text:
        message_parts.append(parts.text_part("".join(buffer.text)))
    if buffer.refusal:
        message_parts.append(parts.text_part("".join(buffer.refusal)))
    for index in sorted(buffer.tool_calls):
        call_id, name, pieces = buffer.tool_calls[index]
        message_parts.append(
            parts.tool_call_part(name or "", id=call_id, arguments=parse_json_arguments("".join(pieces)))
        )
    return parts.output_message(buffer.role, message_parts, reason)
