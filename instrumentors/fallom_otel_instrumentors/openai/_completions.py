"""Legacy text completions: request, response and stream extraction of ``completions.create``.

Each prompt string becomes a ``user`` input message (token-array prompts carry no text and are not recorded); each
choice's ``text`` becomes an ``assistant`` output message. Content is recorded only when capture is on.
"""

from __future__ import annotations

from typing import Any

from fallom_otel_instrumentors._content import dumps
from fallom_otel_instrumentors._invocation import Invocation, TelemetryHandler
from fallom_otel_instrumentors._stream import HIDE
from fallom_otel_instrumentors.openai._common import (
    common_request_attributes,
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
from fallom_otel_semconv.gen_ai import FinishReasonValues, GenAiOperationNameValues, RoleValues

TEXT_COMPLETION = GenAiOperationNameValues.TEXT_COMPLETION.value
_USER = RoleValues.USER.value
_ASSISTANT = RoleValues.ASSISTANT.value

_TRUNCATED = FinishReasonValues.ERROR.value


class CompletionsEndpoint:
    """``Completions.create`` (legacy ``/completions``), sync and async, streamed or not."""

    def start(
        self, handler: TelemetryHandler, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Invocation:
        """Start the span from the request keyword arguments."""
        attributes = common_request_attributes(kwargs)
        if handler.capture_content:
            prompts = _prompt_texts(given(kwargs.get("prompt")))
            if prompts:
                attributes[gen_ai.GEN_AI_INPUT_MESSAGES] = dumps(
                    [parts.input_message(_USER, [parts.text_part(p)]) for p in prompts]
                )
        return start_call(handler, instance, TEXT_COMPLETION, kwargs, attributes)

    def prepare(self, invocation: Invocation, kwargs: dict[str, Any]) -> dict[str, Any]:
        """With the opt-in ``stream_usage``, ask a stream for its usage chunk (on a copy of the arguments)."""
        return with_stream_usage(invocation, kwargs)

    def finish(self, invocation: Invocation, result: Any, kwargs: dict[str, Any]) -> Any:
        """Record the completion, or follow the stream."""
        return finish_usage_on_request(invocation, result, kwargs, record_completion, CompletionStreamAccumulator)


def _prompt_texts(prompt: Any) -> list[str]:
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, (list, tuple)) and all(isinstance(p, str) for p in prompt):
        return list(prompt)
    return []  # token arrays: no text to record


def record_completion(invocation: Invocation, completion: Any) -> None:
    """Copy a ``Completion``'s id, model, finish reasons, usage and (with capture) output texts into the span."""
    invocation.response_id = get(completion, "id")
    invocation.response_model = get(completion, "model")
    _record_fingerprint(invocation, get(completion, "system_fingerprint"))
    choices = sorted(get(completion, "choices") or (), key=lambda c: get(c, "index") or 0)
    reasons = [finish_reason(get(c, "finish_reason")) or "" for c in choices]
    invocation.finish_reasons = reasons
    record_completion_usage(invocation, get(completion, "usage"))
    if invocation.capture_content:
        invocation.output_messages = [
            _output_message(get(c, "text"), reason) for c, reason in zip(choices, reasons, strict=False)
        ]


def _record_fingerprint(invocation: Invocation, fingerprint: Any) -> None:
    if isinstance(fingerprint, str):
        invocation.attributes[openai_keys.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = fingerprint


def _output_message(text: Any, reason: str) -> parts.OutputMessage:
    message_parts = [parts.text_part(text)] if isinstance(text, str) and text else []
    return parts.output_message(_ASSISTANT, message_parts, reason)


class _ChoiceBuffer:
    __slots__ = ("finish_reason", "text")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.finish_reason: str | None = None


class CompletionStreamAccumulator:
    """Folds streamed ``Completion`` chunks into per-choice strings; never keeps chunk objects."""

    __slots__ = ("_capture", "_choices", "_fingerprint", "_hide_usage", "_id", "_model", "_usage")

    def __init__(self, invocation: Invocation, *, hide_usage: bool = False) -> None:
        self._capture = invocation.capture_content
        self._hide_usage = hide_usage  # the usage chunk was requested by us, not by the caller
        self._choices: dict[int, _ChoiceBuffer] = {}
        self._id: str | None = None
        self._model: str | None = None
        self._fingerprint: str | None = None
        self._usage: Any = None

    def add(self, chunk: Any) -> int:
        """Fold one chunk in; True when it carried generated text, HIDE for the usage chunk we asked for."""
        if self._id is None:
            self._id = getattr(chunk, "id", None)
            self._model = getattr(chunk, "model", None)
        if self._fingerprint is None:
            self._fingerprint = getattr(chunk, "system_fingerprint", None)
        usage = getattr(chunk, "usage", None)
        choices = getattr(chunk, "choices", None)
        if usage is not None:
            self._usage = usage
            if self._hide_usage and not choices:
                return HIDE
        content = False
        for choice in choices or ():
            index = getattr(choice, "index", 0)
            buffer = self._choices.get(index)
            if buffer is None:
                buffer = self._choices[index] = _ChoiceBuffer()
            text = getattr(choice, "text", None)
            if text:
                content = True
                if self._capture:
                    buffer.text.append(text)
            reason = getattr(choice, "finish_reason", None)
            if reason is not None:
                buffer.finish_reason = reason
        return content

    def finish(self, invocation: Invocation) -> None:
        """Write what the stream delivered into the invocation."""
        invocation.response_id = self._id
        invocation.response_model = self._model
        _record_fingerprint(invocation, self._fingerprint)
        ordered = [self._choices[i] for i in sorted(self._choices)]
        # A choice the stream never finished (closed early, cut, failed) ended abnormally: semconv's ``error``.
        reasons = [finish_reason(b.finish_reason) or _TRUNCATED for b in ordered]
        if reasons:
            invocation.finish_reasons = reasons
        record_completion_usage(invocation, self._usage)
        if self._capture:
            invocation.output_messages = [
                _output_message("".join(b.text), r) for b, r in zip(ordered, reasons, strict=False)
            ]
