"""Anthropic content blocks as GenAI message parts (only ever called with content capture on).

Text becomes ``text``; images and documents become ``uri`` (URL sources), ``file`` (file sources) or, for base64
sources, whatever the media handler makes of the bytes (never the payload itself); ``tool_use`` becomes
``tool_call`` (its ``input`` as the arguments object); ``tool_result`` becomes ``tool_call_response``;
``thinking`` becomes ``reasoning``. ``redacted_thinking`` becomes a ``reasoning`` part with empty content: the
model reasoned, and what it reasoned is encrypted, so nothing of it is recorded.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.util.types import AttributeValue

from fallom_otel_instrumentors._content import MediaHandler, dumps, inline_media_part, to_plain
from fallom_otel_instrumentors.anthropic._common import get, given
from fallom_otel_semconv import gen_ai
from fallom_otel_semconv import messages as parts
from fallom_otel_semconv.gen_ai import ModalityValues

__all__ = ["block_part", "content_attributes", "content_parts", "output_message"]

_IMAGE = ModalityValues.IMAGE.value
_DOCUMENT = ModalityValues.DOCUMENT.value
_TOOL_CALLS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})


def content_attributes(kwargs: dict[str, Any], media: MediaHandler | None) -> dict[str, AttributeValue]:
    """System instructions, input messages and tool definitions of a Messages request."""
    attributes: dict[str, AttributeValue] = {}
    system = given(kwargs.get("system"))
    if system is not None:
        instructions = content_parts(system, media)
        if instructions:
            attributes[gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS] = dumps(instructions)
    messages = given(kwargs.get("messages"))
    if _is_sequence(messages):
        attributes[gen_ai.GEN_AI_INPUT_MESSAGES] = dumps(
            [
                parts.input_message(str(get(m, "role") or "user"), content_parts(get(m, "content"), media))
                for m in messages
            ]
        )
    tools = given(kwargs.get("tools"))
    if _is_sequence(tools):
        definitions = [d for d in (_tool_definition(t) for t in tools) if d is not None]
        if definitions:
            attributes[gen_ai.GEN_AI_TOOL_DEFINITIONS] = dumps(definitions)
    return attributes


def content_parts(content: Any, media: MediaHandler | None) -> list[parts.Part]:
    """A message's ``content`` (a string or a list of blocks) as parts; unknown blocks are left out."""
    if content is None:
        return []
    if isinstance(content, str):
        return [parts.text_part(content)]
    if not _is_sequence(content):
        return []
    return [part for part in (block_part(block, media) for block in content) if part is not None]


def block_part(block: Any, media: MediaHandler | None) -> parts.Part | None:
    """One content block (request param dict or response model) as a part, or None for a kind not recorded."""
    kind = get(block, "type")
    if kind == "text":
        return parts.text_part(str(get(block, "text") or ""))
    if kind in _TOOL_CALLS:
        call_id = get(block, "id")
        return parts.tool_call_part(
            str(get(block, "name") or ""),
            id=call_id if isinstance(call_id, str) else None,
            arguments=to_plain(get(block, "input")),
        )
    if kind == "tool_result" or (isinstance(kind, str) and kind.endswith("_tool_result")):
        call_id = get(block, "tool_use_id")
        return parts.tool_call_response_part(
            _tool_result(get(block, "content"), media), id=call_id if isinstance(call_id, str) else None
        )
    if kind == "thinking":
        return parts.reasoning_part(str(get(block, "thinking") or ""))
    if kind == "redacted_thinking":
        return parts.reasoning_part("")
    if kind == "image":
        return _source_part(get(block, "source"), _IMAGE, media)
    if kind == "document":
        return _source_part(get(block, "source"), _DOCUMENT, media)
    return None


def _source_part(source: Any, modality: str, media: MediaHandler | None) -> parts.Part:
    kind = get(source, "type")
    media_type = get(source, "media_type")
    mime_type = media_type if isinstance(media_type, str) else None
    if kind == "base64":
        data = get(source, "data")
        if isinstance(data, str):
            return inline_media_part(data, mime_type or "", modality, media)
    elif kind == "url":
        url = get(source, "url")
        if isinstance(url, str):
            return parts.uri_part(modality, url, mime_type=mime_type)
    elif kind == "file":
        file_id = get(source, "file_id")
        if isinstance(file_id, str):
            return parts.file_part(modality, file_id, mime_type=mime_type)
    elif kind == "text":
        return parts.text_part(str(get(source, "data") or ""))
    elif kind == "content":
        texts = [str(get(b, "text") or "") for b in get(source, "content") or () if get(b, "type") == "text"]
        return parts.text_part("\n".join(texts))
    return parts.blob_part(modality, mime_type=mime_type)


def _tool_result(content: Any, media: MediaHandler | None) -> Any:
    """A tool result's content: a string as is; blocks as one string when all text, else as a list of parts."""
    if content is None or isinstance(content, str):
        return content
    if not _is_sequence(content):
        return _without_inline_media(to_plain(content), media)
    converted = [block_part(block, media) or _without_inline_media(to_plain(block), media) for block in content]
    if converted and all(isinstance(p, dict) and p.get("type") == "text" for p in converted):
        return "\n".join(str(p.get("content", "")) for p in converted)
    return converted


def _without_inline_media(value: Any, media: MediaHandler | None) -> Any:
    """A plain value with every nested image/document block or base64 source turned into a part.

    Server tool results (``web_fetch_tool_result`` holds a fetched PDF as a base64 ``document``) and blocks we do not
    know are recorded as plain data: this keeps their inline payloads out of the span like everywhere else.
    """
    if isinstance(value, list):
        return [_without_inline_media(item, media) for item in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("type")
    source = value.get("source")
    if kind in (_IMAGE, _DOCUMENT) and isinstance(source, dict):
        return _source_part(source, kind, media)
    if kind == "base64" and isinstance(value.get("data"), str):
        return _source_part(value, _DOCUMENT, media)
    return {key: _without_inline_media(item, media) for key, item in value.items()}


def _tool_definition(tool: Any) -> parts.ToolDefinition | None:
    name = get(tool, "name")
    if not isinstance(name, str):
        return None
    description = get(tool, "description")
    return parts.tool_definition(
        name,
        description=description if isinstance(description, str) else None,
        parameters=to_plain(get(tool, "input_schema")),
    )


def output_message(content: Any, reason: str, media: MediaHandler | None = None) -> parts.OutputMessage:
    """The assistant message of a response (its content blocks) with its finish reason."""
    return parts.output_message("assistant", content_parts(content, media), reason)


def _is_sequence(value: Any) -> bool:
    # Lists and tuples only: a caller's generator must reach the SDK unconsumed.
    return isinstance(value, (list, tuple))
