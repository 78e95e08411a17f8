"""Messages: request, response and raw-event stream extraction into the GenAI span contract.

Covers ``messages.create`` (also with ``stream=True``) and ``parse``, first-party and beta, sync and async.
"""

from __future__ import annotations

from typing import Any

from fallom_otel_instrumentors._content import parse_json_arguments
from fallom_otel_instrumentors._invocation import Invocation, TelemetryHandler
from fallom_otel_instrumentors._results import finish_result
from fallom_otel_instrumentors.anthropic._common import (
    billed_input,
    cache_write_split,
    finish_reason,
    get,
    record_usage,
    request_attributes,
    start_call,
    usage_int,
)
from fallom_otel_instrumentors.anthropic._parts import block_part, content_attributes, output_message
from fallom_otel_semconv import messages as parts
from fallom_otel_semconv.gen_ai import FinishReasonValues

__all__ = ["AnthropicStreamAccumulator", "MessagesEndpoint", "record_message", "start_messages"]

_TRUNCATED = FinishReasonValues.ERROR.value
_STREAMED_KINDS = frozenset({"text", "thinking", "redacted_thinking", "tool_use", "server_tool_use", "mcp_tool_use"})


def start_messages(
    handler: TelemetryHandler, instance: Any, kwargs: dict[str, Any], *, stream: bool = False
) -> Invocation:
    """Start the span of a Messages request (``stream``: the method always streams, as ``stream()`` does)."""
    attributes = request_attributes(kwargs, stream=stream)
    if handler.capture_content:
        attributes.update(content_attributes(kwargs, handler.hooks.media))
    return start_call(handler, instance, kwargs, attributes)


class MessagesEndpoint:
    """``Messages.create`` / ``parse``, first-party and beta, sync and async."""

    def start(
        self, handler: TelemetryHandler, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Invocation:
        """Start the span from the request keyword arguments."""
        return start_messages(handler, instance, kwargs)

    def finish(self, invocation: Invocation, result: Any, kwargs: dict[str, Any]) -> Any:
        """Record the message, or follow the raw event stream."""
        return finish_result(invocation, result, record_message, AnthropicStreamAccumulator)


def record_message(invocation: Invocation, message: Any) -> None:
    """Copy a ``Message``'s id, model, stop reason, usage and (with capture) content into the span."""
    invocation.response_id = get(message, "id")
    invocation.response_model = get(message, "model")
    reason = finish_reason(get(message, "stop_reason"))
    if reason is not None:
        invocation.finish_reasons = [reason]
    record_usage(invocation, get(message, "usage"))
    if invocation.capture_content:
        invocation.output_messages = [
            output_message(get(message, "content"), reason or "", invocation.handler.hooks.media)
        ]


class _Block:
    __slots__ = ("call_id", "kind", "name", "part", "pieces")

    def __init__(self, kind: str, call_id: Any, name: Any, initial: Any) -> None:
        self.kind = kind
        self.part: parts.Part | None = None  # a block that arrives whole (server tool results)
        self.call_id = call_id if isinstance(call_id, str) else None
        self.name = name if isinstance(name, str) else ""
        self.pieces: list[str] = [initial] if isinstance(initial, str) and initial else []


class AnthropicStreamAccumulator:
    """Folds raw ``MessageStreamEvent``s into a few strings and counters; never keeps event objects.

    Output tokens come from ``message_delta`` (cumulative: assigned, never added to ``message_start``'s placeholder);
    input and cache counts from ``message_start``, replaced by ``message_delta``'s when it carries them.
    """

    __slots__ = (
        "_blocks",
        "_cache_read",
        "_cache_write",
        "_cache_write_split",
        "_capture",
        "_id",
        "_input",
        "_media",
        "_model",
        "_output",
        "_reasoning",
        "_started",
        "_stop_reason",
    )

    def __init__(self, invocation: Invocation) -> None:
        self._capture = invocation.capture_content
        self._media = invocation.handler.hooks.media
        self._blocks: dict[int, _Block] = {}
        self._id: str | None = None
        self._model: str | None = None
        self._stop_reason: str | None = None
        self._started = False
        self._input: int | None = None
        self._output: int | None = None
        self._cache_read: int | None = None
        self._cache_write: int | None = None
        self._cache_write_split: tuple[int | None, int | None] | None = None
        self._reasoning: int | None = None

    def add(self, event: Any) -> int:
        """Fold one event in; True when it carried generated content (text, tool input, thinking)."""
        kind = getattr(event, "type", None)
        if kind == "content_block_delta":
            delta = event.delta
            delta_kind = delta.type
            if delta_kind == "text_delta":
                self._append(event.index, delta.text)
                return True
            if delta_kind == "input_json_delta":
                self._append(event.index, delta.partial_json)
                return True
            if delta_kind == "thinking_delta":
                self._append(event.index, delta.thinking)
                return True
            return False
        if kind == "content_block_start":
            if self._capture:
                self._start_block(event.index, event.content_block)
            return False
        if kind == "message_start":
            self._on_start(event.message)
        elif kind == "message_delta":
            self._on_delta(event)
        return False

    def _append(self, index: int, piece: Any) -> None:
        if self._capture and isinstance(piece, str):
            block = self._blocks.get(index)
            if block is not None:
                block.pieces.append(piece)

    def _start_block(self, index: int, block: Any) -> None:
        kind = str(getattr(block, "type", ""))
        if kind == "text":
            initial: Any = getattr(block, "text", None)
        elif kind == "thinking":
            initial = getattr(block, "thinking", None)
        else:
            initial = None  # tool input arrives as JSON pieces; the block's ``input`` is an empty placeholder
        buffered = self._blocks[index] = _Block(kind, getattr(block, "id", None), getattr(block, "name", None), initial)
        if kind not in _STREAMED_KINDS:
            buffered.part = block_part(block, self._media)

    def _on_start(self, message: Any) -> None:
        self._started = True
        self._id = getattr(message, "id", None)
        self._model = getattr(message, "model", None)
        self._read_usage(getattr(message, "usage", None))
        # message_start's output count is a placeholder, not a count: usage is never guessed, so only a
        # message_delta may set it.
        self._output = None

    def _on_delta(self, event: Any) -> None:
        reason = getattr(event.delta, "stop_reason", None)
        if reason is not None:
            self._stop_reason = reason
        self._read_usage(getattr(event, "usage", None))

    def _read_usage(self, usage: Any) -> None:
        if usage is None:
            return
        for name, slot in (
            ("input_tokens", "_input"),
            ("cache_read_input_tokens", "_cache_read"),
            ("cache_creation_input_tokens", "_cache_write"),
            ("output_tokens", "_output"),
        ):
            value = usage_int(getattr(usage, name, None))
            if value is not None:
                setattr(self, slot, value)
        split = cache_write_split(usage)
        if split is not None:
            self._cache_write_split = split
        reasoning = usage_int(get(getattr(usage, "output_tokens_details", None), "thinking_tokens"))
        if reasoning is not None:
            self._reasoning = reasoning

    def finish(self, invocation: Invocation) -> None:
        """Write what the stream delivered into the invocation."""
        invocation.response_id = self._id
        invocation.response_model = self._model
        reason = finish_reason(self._stop_reason)
        if reason is None and self._started:
            reason = _TRUNCATED  # the message never finished (closed early, cut, failed)
        if reason is not None:
            invocation.finish_reasons = [reason]
        usage = invocation.usage
        usage.cache_read_input_tokens = self._cache_read
        usage.cache_write_input_tokens = self._cache_write
        usage.input_tokens = billed_input(self._input, self._cache_read, self._cache_write)
        usage.output_tokens = self._output
        if self._cache_write_split is not None:
            usage.cache_write_5m_input_tokens, usage.cache_write_1h_input_tokens = self._cache_write_split
        if self._reasoning is not None:
            usage.reasoning_output_tokens = self._reasoning
        if self._capture and self._started:
            blocks = [self._part(self._blocks[i]) for i in sorted(self._blocks)]
            invocation.output_messages = [
                parts.output_message("assistant", [p for p in blocks if p is not None], reason or "")
            ]

    @staticmethod
    def _part(block: _Block) -> parts.Part | None:
        if block.kind not in _STREAMED_KINDS:
            return block.part
        text = "".join(block.pieces)
        if block.kind == "text":
            return parts.text_part(text)
        if block.kind == "thinking" or block.kind == "redacted_thinking":
            return parts.reasoning_part(text)
        return parts.tool_call_part(block.name, id=block.call_id, arguments=parse_json_arguments(text or "{}"))
