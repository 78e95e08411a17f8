"""The Responses API: request, response and stream extraction into the GenAI span contract.

Covers ``responses.create`` (streamed or not) and ``responses.parse``, sync and async. The ``responses.stream()``
helper calls ``create(stream=True)`` and is traced through it; resuming a stored stream (``stream(response_id=...)``)
goes through ``retrieve``, which is not traced: it reads an existing response, it is not a new model call.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.util.types import AttributeValue

from fallom_otel_instrumentors._content import (
    MediaHandler,
    data_url_part,
    dumps,
    inline_media_part,
    parse_json_arguments,
    to_plain,
)
from fallom_otel_instrumentors._invocation import Invocation, TelemetryHandler
from fallom_otel_instrumentors._results import finish_result
from fallom_otel_instrumentors.openai._common import file_part_of, get, given, start_call, usage_int
from fallom_otel_semconv import common, gen_ai
from fallom_otel_semconv import messages as parts
from fallom_otel_semconv import openai as openai_keys
from fallom_otel_semconv.gen_ai import (
    FinishReasonValues,
    GenAiOperationNameValues,
    GenAiOutputTypeValues,
    ModalityValues,
    RoleValues,
)

CHAT = GenAiOperationNameValues.CHAT.value
_API_TYPE = openai_keys.OpenAiApiTypeValues.RESPONSES.value
_USER = RoleValues.USER.value
_ASSISTANT = RoleValues.ASSISTANT.value
_TOOL = RoleValues.TOOL.value
_IMAGE = ModalityValues.IMAGE.value
_IMAGE_FORMATS = {"svg": "image/svg+xml", "jpg": "image/jpeg"}
_STOP = FinishReasonValues.STOP.value
_LENGTH = FinishReasonValues.LENGTH.value
_TOOL_CALL = FinishReasonValues.TOOL_CALL.value
_ERROR = FinishReasonValues.ERROR.value
_JSON = GenAiOutputTypeValues.JSON.value
_OUTPUT_TYPES = {"json_schema": _JSON, "json_object": _JSON, "text": GenAiOutputTypeValues.TEXT.value}
# ``incomplete_details.reason`` mapped to the semconv finish reasons; other reasons are kept as sent.
_INCOMPLETE_REASONS = {"max_output_tokens": _LENGTH, "content_filter": FinishReasonValues.CONTENT_FILTER.value}


class ResponsesEndpoint:
    """``Responses.create`` / ``parse``, sync and async."""

    def start(
        self, handler: TelemetryHandler, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Invocation:
        """Start the span from the request keyword arguments."""
        attributes = _request_attributes(kwargs)
        if handler.capture_content:
            attributes.update(_content_attributes(kwargs, handler.hooks.media))
        return start_call(handler, instance, CHAT, kwargs, attributes)

    def finish(self, invocation: Invocation, result: Any, kwargs: dict[str, Any]) -> Any:
        """Record the response, or follow the stream."""
        return finish_result(invocation, result, record_response, ResponsesStreamAccumulator)


def _request_attributes(kwargs: dict[str, Any]) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {openai_keys.OPENAI_API_TYPE: _API_TYPE}
    max_tokens = given(kwargs.get("max_output_tokens"))
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool):
        attributes[gen_ai.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    for key, attribute in (("temperature", gen_ai.GEN_AI_REQUEST_TEMPERATURE), ("top_p", gen_ai.GEN_AI_REQUEST_TOP_P)):
        value = given(kwargs.get(key))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[attribute] = float(value)
    if given(kwargs.get("stream")) is True:
        attributes[gen_ai.GEN_AI_REQUEST_STREAM] = True
    if isinstance(given(kwargs.get("text_format")), type):  # parse(text_format=PydanticModel)
        attributes[gen_ai.GEN_AI_OUTPUT_TYPE] = _JSON
    else:
        output_type = _OUTPUT_TYPES.get(get(get(given(kwargs.get("text")), "format"), "type"))
        if output_type is not None:
            attributes[gen_ai.GEN_AI_OUTPUT_TYPE] = output_type
    tier = given(kwargs.get("service_tier"))
    if isinstance(tier, str) and tier != "auto":
        attributes[openai_keys.OPENAI_REQUEST_SERVICE_TIER] = tier
    return attributes


def _content_attributes(kwargs: dict[str, Any], media: MediaHandler | None) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {}
    instructions = given(kwargs.get("instructions"))
    if isinstance(instructions, str):
        attributes[gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS] = dumps([parts.text_part(instructions)])
    items = given(kwargs.get("input"))
    if isinstance(items, str):
        attributes[gen_ai.GEN_AI_INPUT_MESSAGES] = dumps([parts.input_message(_USER, [parts.text_part(items)])])
    elif isinstance(items, (list, tuple)):  # never iterate a one-shot iterator the SDK still has to read
        attributes[gen_ai.GEN_AI_INPUT_MESSAGES] = dumps(_input_messages(items, media))
    tools = given(kwargs.get("tools"))
    if isinstance(tools, (list, tuple)):
        definitions = [d for d in map(_tool_definition, tools) if d is not None]
        if definitions:
            attributes[gen_ai.GEN_AI_TOOL_DEFINITIONS] = dumps(definitions)
    return attributes


def _input_messages(items: list[Any] | tuple[Any, ...], media: MediaHandler | None) -> list[parts.InputMessage]:
    messages: list[parts.InputMessage] = []
    item_parts: list[parts.Part]
    for item in items:
        kind = get(item, "type")
        if kind == "function_call":
            role, item_parts = _ASSISTANT, [_tool_call_part(item)]
        elif kind == "function_call_output":
            response = _tool_output(get(item, "output"), media)
            role, item_parts = _TOOL, [parts.tool_call_response_part(response, id=_str(get(item, "call_id")))]
        elif kind == "reasoning":
            role, item_parts = _ASSISTANT, _reasoning_parts(item)
        elif kind is None or kind == "message":
            role, item_parts = str(get(item, "role") or _USER), _content_parts(get(item, "content"), media)
        else:
            continue  # built-in tool calls, item references: no chat content of their own
        if role == _ASSISTANT and messages and messages[-1]["role"] == _ASSISTANT:
            # One assistant turn is echoed back as several items (reasoning, text, calls): keep it one message,
            # shaped like the output message it came from.
            messages[-1]["parts"].extend(item_parts)
        else:
            messages.append(parts.input_message(role, item_parts))
    return messages


def _content_parts(content: Any, media: MediaHandler | None) -> list[parts.Part]:
    if isinstance(content, str):
        return [parts.text_part(content)]
    result: list[parts.Part] = []
    for item in content if isinstance(content, (list, tuple)) else ():
        kind = get(item, "type")
        if kind == "input_text" or kind == "output_text":
            result.append(parts.text_part(str(get(item, "text") or "")))
        elif kind == "refusal":
            result.append(parts.text_part(str(get(item, "refusal") or "")))
        elif kind == "input_image":
            url, file_id = get(item, "image_url"), get(item, "file_id")
            if isinstance(url, str):
                result.append(data_url_part(url, _IMAGE, media))
            elif isinstance(file_id, str):
                result.append(parts.file_part(_IMAGE, file_id))
        elif kind == "input_file":
            result.append(file_part_of(item, media))
    return result


def _tool_output(output: Any, media: MediaHandler | None) -> Any:
    # A list output holds input_text/input_image/input_file items: as parts, so inline media is never recorded raw.
    if isinstance(output, (list, tuple)):
        return _content_parts(output, media)
    return output if isinstance(output, str) else to_plain(output)


def _tool_call_part(item: Any) -> parts.ToolCallPart:
    # ``call_id`` (not the item ``id``) is what the later ``function_call_output`` refers to.
    return parts.tool_call_part(
        str(get(item, "name") or ""),
        id=_str(get(item, "call_id")),
        arguments=parse_json_arguments(get(item, "arguments")),
    )


def _reasoning_parts(item: Any) -> list[parts.Part]:
    pieces = [*(get(item, "summary") or ()), *(get(item, "content") or ())]
    texts = (get(piece, "text") for piece in pieces)
    return [parts.reasoning_part(text) for text in texts if isinstance(text, str) and text]


def _tool_definition(tool: Any) -> parts.ToolDefinition | None:
    if get(tool, "type") != "function":
        return None  # built-in tools (web_search, file_search, ...) have no schema of ours to record
    function = get(tool, "function") or tool  # parse() also accepts the chat shape of openai.pydantic_function_tool()
    name = get(function, "name")
    if not isinstance(name, str):
        return None
    description = get(function, "description")
    return parts.tool_definition(
        name,
        description=description if isinstance(description, str) else None,
        parameters=to_plain(get(function, "parameters")),
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def record_response(invocation: Invocation, response: Any, output: Any = None) -> None:
    """Copy a ``Response``'s id, model, finish reason, usage, tier and (with capture) output into the span.

    A ``failed`` response also sets ``invocation.error_type`` to the provider's error code, so the span ends ERROR.

    Args:
        invocation: The call being traced.
        response: The ``Response`` (or ``ParsedResponse``).
        output: Its output items when the response itself omits them (a stream's final event may); by default
            ``response.output``.
    """
    invocation.response_id = _str(get(response, "id"))
    invocation.response_model = _str(get(response, "model"))
    tier = get(response, "service_tier")
    if isinstance(tier, str):
        invocation.attributes[openai_keys.OPENAI_RESPONSE_SERVICE_TIER] = tier
    if output is None:
        output = get(response, "output") or ()
    status = get(response, "status")
    reason = _finish_reason(status, response, output)
    if reason is not None:
        invocation.finish_reasons = [reason]
    if status == "failed":
        invocation.error_type = str(get(get(response, "error"), "code") or common.ERROR_TYPE_OTHER)
    _record_usage(invocation, get(response, "usage"))
    if invocation.capture_content:
        message_parts = _output_parts(output, invocation.handler.hooks.media)
        if reason is not None or message_parts:
            invocation.output_messages = [parts.output_message(_ASSISTANT, message_parts, reason or "")]


def _finish_reason(status: Any, response: Any, output: Any) -> str | None:
    if status == "completed":
        return _TOOL_CALL if any(get(item, "type") == "function_call" for item in output) else _STOP
    if status == "incomplete":
        reason = get(get(response, "incomplete_details"), "reason")
        return _INCOMPLETE_REASONS.get(reason, reason) if isinstance(reason, str) else _LENGTH
    if status == "failed":
        return _ERROR
    return None  # queued / in_progress (background responses): nothing has finished yet


def _record_usage(invocation: Invocation, usage: Any) -> None:
    if usage is None:
        return
    target = invocation.usage
    target.input_tokens = usage_int(get(usage, "input_tokens"))
    target.output_tokens = usage_int(get(usage, "output_tokens"))
    details = get(usage, "input_tokens_details")
    target.cache_read_input_tokens = usage_int(get(details, "cached_tokens"))
    target.cache_write_input_tokens = usage_int(get(details, "cache_write_tokens"))
    target.reasoning_output_tokens = usage_int(get(get(usage, "output_tokens_details"), "reasoning_tokens"))


def _output_parts(output: Any, media: MediaHandler | None) -> list[parts.Part]:
    result: list[parts.Part] = []
    for item in output:
        kind = get(item, "type")
        if kind == "message":
            result.extend(_content_parts(get(item, "content"), media))
        elif kind == "function_call":
            result.append(_tool_call_part(item))
        elif kind == "reasoning":
            result.extend(_reasoning_parts(item))
        elif kind == "image_generation_call":
            # The generated image arrives inline as base64 (``result``): recorded like any inline media, never raw.
            image = get(item, "result")
            if isinstance(image, str) and image:
                fmt = get(item, "output_format")
                mime_type = _IMAGE_FORMATS.get(fmt, f"image/{fmt}") if isinstance(fmt, str) else ""
                result.append(inline_media_part(image, mime_type, _IMAGE, media))
    return result


_TEXT, _CALL, _REASONING = "text", "call", "reasoning"
_STARTED = frozenset({"response.created", "response.in_progress", "response.queued"})
_FINISHED = frozenset({"response.completed", "response.incomplete", "response.failed"})
# Events carrying generated content (they stamp the time to first token), and the part their deltas build when
# content is captured (None: not kept).
_DELTAS: dict[str, str | None] = {
    "response.output_text.delta": _TEXT,
    "response.refusal.delta": _TEXT,
    "response.function_call_arguments.delta": _CALL,
    "response.reasoning_summary_text.delta": _REASONING,
    "response.reasoning_text.delta": _REASONING,
    "response.custom_tool_call_input.delta": None,
    "response.audio.delta": None,
    "response.audio.transcript.delta": None,
}


class _Slot:
    """The deltas of one output item still in progress, for a stream that ends before the item is done."""

    __slots__ = ("call_id", "kind", "name", "pieces")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.pieces: list[str] = []
        self.name: str | None = None
        self.call_id: str | None = None

    def part(self) -> parts.Part:
        text = "".join(self.pieces)
        if self.kind == _CALL:
            return parts.tool_call_part(self.name or "", id=self.call_id, arguments=parse_json_arguments(text))
        return parts.reasoning_part(text) if self.kind == _REASONING else parts.text_part(text)


class ResponsesStreamAccumulator:
    """Follows Responses stream events into the span; never keeps the events themselves.

    Kept: the final ``Response`` of the terminal event, and the finished output items (only their type without
    content capture), because the terminal event may omit ``output`` (the SDK's own helper then rebuilds it from
    ``response.output_item.done`` too). With capture on, the deltas of items still in progress are kept as strings
    so a stream cut short still shows its partial output.
    """

    __slots__ = ("_capture", "_done", "_error", "_final", "_id", "_model", "_slots", "_tier")

    def __init__(self, invocation: Invocation) -> None:
        self._capture = invocation.capture_content
        self._id: str | None = None
        self._model: str | None = None
        self._tier: str | None = None
        self._final: Any = None
        self._error: str | None = None
        self._done: dict[int, Any] = {}  # output_index -> finished item (or {"type": ...} without capture)
        self._slots: dict[tuple[int, str], _Slot] = {}  # (output_index, kind) -> deltas; capture on only

    def add(self, chunk: Any) -> bool:
        """Fold one event in; True when it carried generated content."""
        kind = getattr(chunk, "type", None)
        if kind in _DELTAS:
            if self._capture:
                slot_kind = _DELTAS[kind]
                if slot_kind is not None:
                    self._slot(chunk.output_index, slot_kind).pieces.append(chunk.delta)
            return True
        if kind == "response.output_item.done":
            self._item_done(chunk.output_index, chunk.item)
        elif kind == "response.output_item.added":
            item = getattr(chunk, "item", None)  # may be None: providers can leave gaps in the indexes
            if self._capture and getattr(item, "type", None) == "function_call":
                slot = self._slot(chunk.output_index, _CALL)
                slot.name, slot.call_id = _str(getattr(item, "name", None)), _str(getattr(item, "call_id", None))
        elif kind in _FINISHED:
            self._final = chunk.response
            self._slots.clear()
        elif kind in _STARTED:
            if self._id is None:
                response = chunk.response
                self._id, self._model = _str(response.id), _str(response.model)
                self._tier = _str(getattr(response, "service_tier", None))
        elif kind == "error":
            self._error = _str(getattr(chunk, "code", None)) or common.ERROR_TYPE_OTHER
        elif kind is None and getattr(chunk, "event", None) == "error":
            # Older SDKs (openai 1.x) yield a named event outside ``response.*`` as ``{"data": <event>, "event":
            # <name>}`` cast to an event model: no ``type``; the ``error`` event's fields are in ``data``.
            self._error = _str(get(getattr(chunk, "data", None), "code")) or common.ERROR_TYPE_OTHER
        return False

    def _slot(self, index: int, kind: str) -> _Slot:
        slot = self._slots.get((index, kind))
        if slot is None:
            slot = self._slots[(index, kind)] = _Slot(kind)
        return slot

    def _item_done(self, index: int, item: Any) -> None:
        # Without capture only the type is kept: a function_call makes the finish reason tool_call.
        self._done[index] = item if self._capture else {"type": getattr(item, "type", None)}
        for kind in (_TEXT, _CALL, _REASONING):
            self._slots.pop((index, kind), None)

    def finish(self, invocation: Invocation) -> None:
        """Write what the stream delivered into the invocation (an ``error`` event sets ``error_type``)."""
        final = self._final
        if final is not None:
            output = get(final, "output")
            record_response(
                invocation, final, [self._done[i] for i in sorted(self._done)] if output is None else output
            )
        else:
            self._finish_partial(invocation)
        if self._error is not None and invocation.error_type is None:
            invocation.error_type = self._error

    def _finish_partial(self, invocation: Invocation) -> None:
        invocation.response_id = self._id
        invocation.response_model = self._model
        if self._tier is not None:
            invocation.attributes[openai_keys.OPENAI_RESPONSE_SERVICE_TIER] = self._tier
        if self._id is None and not self._done and not self._slots:
            return  # nothing arrived
        # The stream ended before its final event (cut, closed early, an error event): the output is truncated.
        invocation.finish_reasons = [_ERROR]
        if self._capture:
            media = invocation.handler.hooks.media
            pieces = [(index, _output_parts([item], media)) for index, item in self._done.items()]
            pieces += [(index, [slot.part()]) for (index, _), slot in self._slots.items()]
            pieces.sort(key=lambda piece: piece[0])
            message_parts = [part for _, item_parts in pieces for part in item_parts]
            invocation.output_messages = [parts.output_message(_ASSISTANT, message_parts, _ERROR)]
