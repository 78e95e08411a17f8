"""Typed shapes and builders for the GenAI message, part and tool-definition JSON.

The TypedDicts mirror the GenAI semconv JSON schemas (``gen-ai-input-messages.json``,
``gen-ai-output-messages.json``, ``gen-ai-system-instructions.json``) and the tool-definition shape. They are the
values serialized (as compact JSON) into ``gen_ai.input.messages``, ``gen_ai.output.messages``,
``gen_ai.system_instructions`` (a bare list of parts) and ``gen_ai.tool.definitions``.

The builders never write ``None`` for an absent optional key: the key is left out. Enum members given for
``role``, ``modality`` or ``finish_reason`` are stored as their plain ``str`` value, so ``json.dumps`` output and
equality checks see plain strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any, Literal, TypeAlias, TypedDict

from .gen_ai import FinishReasonValues, ModalityValues, RoleValues

__all__ = [
    "BlobPart",
    "FilePart",
    "InputMessage",
    "OutputMessage",
    "Part",
    "ReasoningPart",
    "TextPart",
    "ToolCallPart",
    "ToolCallResponsePart",
    "ToolDefinition",
    "UriPart",
    "blob_part",
    "file_part",
    "input_message",
    "output_message",
    "reasoning_part",
    "text_part",
    "tool_call_part",
    "tool_call_response_part",
    "tool_definition",
    "uri_part",
]


# --- Parts ---------------------------------------------------------------------------------------------------


class TextPart(TypedDict):
    """Text content: ``{"type": "text", "content": ...}``."""

    type: Literal["text"]
    content: str


class _ToolCallPartRequired(TypedDict):
    type: Literal["tool_call"]
    name: str


class ToolCallPart(_ToolCallPartRequired, total=False):
    """A tool call requested by the model: ``{"type": "tool_call", "name", "id"?, "arguments"?}``.

    ``arguments`` is any JSON value; an object (parsed from the provider's JSON string) is preferred.
    """

    id: str
    arguments: Any


class _ToolCallResponsePartRequired(TypedDict):
    type: Literal["tool_call_response"]
    response: Any


class ToolCallResponsePart(_ToolCallResponsePartRequired, total=False):
    """The result of a tool call: ``{"type": "tool_call_response", "response", "id"?}``.

    The key is ``response`` (as in the JSON schema), not ``result``.
    """

    id: str


class _UriPartRequired(TypedDict):
    type: Literal["uri"]
    modality: str
    uri: str


class UriPart(_UriPartRequired, total=False):
    """Media referenced by URI: ``{"type": "uri", "modality", "uri", "mime_type"?}``. Never a ``data:`` URL."""

    mime_type: str


class _BlobPartRequired(TypedDict):
    type: Literal["blob"]
    modality: str


class BlobPart(_BlobPartRequired, total=False):
    """Inline media: ``{"type": "blob", "modality", "content"?, "mime_type"?, "size"?, "sha256"?}``.

    ``content`` is the base64 payload. The schema requires it; fallom-otel leaves it out and records only
    ``mime_type``, ``size`` (bytes) and ``sha256`` (hex digest) when it must not ship the payload.
    """

    content: str
    mime_type: str
    size: int
    sha256: str


class _FilePartRequired(TypedDict):
    type: Literal["file"]
    modality: str
    file_id: str


class FilePart(_FilePartRequired, total=False):
    """Media referenced by a provider file id: ``{"type": "file", "modality", "file_id", "mime_type"?}``."""

    mime_type: str


class ReasoningPart(TypedDict):
    """Reasoning (thinking) content: ``{"type": "reasoning", "content": ...}``."""

    type: Literal["reasoning"]
    content: str


Part: TypeAlias = TextPart | ToolCallPart | ToolCallResponsePart | UriPart | BlobPart | FilePart | ReasoningPart
"""Any message part; ``type`` is the discriminator."""


# --- Messages and tool definitions ---------------------------------------------------------------------------


class _InputMessageRequired(TypedDict):
    role: str
    parts: list[Part]


class InputMessage(_InputMessageRequired, total=False):
    """One input (chat history) message: ``{"role", "parts", "name"?}``."""

    name: str


class _OutputMessageRequired(TypedDict):
    role: str
    parts: list[Part]
    finish_reason: str


class OutputMessage(_OutputMessageRequired, total=False):
    """One output message, one per choice: ``{"role", "parts", "finish_reason", "name"?}``."""

    name: str


class _ToolDefinitionRequired(TypedDict):
    type: Literal["function"]
    name: str


class ToolDefinition(_ToolDefinitionRequired, total=False):
    """One tool offered to the model: ``{"type": "function", "name", "description"?, "parameters"?}``.

    ``parameters`` is the tool's JSON schema.
    """

    description: str
    parameters: Any


# --- Builders ------------------------------------------------------------------------------------------------


def _plain(value: str) -> str:
    """Return an enum member's plain ``str`` value; any other string unchanged."""
    if isinstance(value, Enum):
        return str(value.value)
    return value


def text_part(content: str) -> TextPart:
    """Build a ``text`` part.

    Args:
        content: The text.

    Returns:
        ``{"type": "text", "content": content}``.
    """
    return {"type": "text", "content": content}


def tool_call_part(name: str, *, id: str | None = None, arguments: Any = None) -> ToolCallPart:
    """Build a ``tool_call`` part.

    Args:
        name: The tool's name.
        id: The provider's tool-call id, if any.
        arguments: The call's arguments, preferably parsed into an object; left out when ``None``.

    Returns:
        The part, without the optional keys that are ``None``.
    """
    part: ToolCallPart = {"type": "tool_call", "name": name}
    if id is not None:
        part["id"] = id
    if arguments is not None:
        part["arguments"] = arguments
    return part


def tool_call_response_part(response: Any, *, id: str | None = None) -> ToolCallResponsePart:
    """Build a ``tool_call_response`` part.

    Args:
        response: The tool's result (any JSON value); stored under ``response``.
        id: The id of the tool call this answers, if any.

    Returns:
        The part, without ``id`` when it is ``None``.
    """
    part: ToolCallResponsePart = {"type": "tool_call_response", "response": response}
    if id is not None:
        part["id"] = id
    return part


def uri_part(modality: ModalityValues | str, uri: str, *, mime_type: str | None = None) -> UriPart:
    """Build a ``uri`` part.

    Args:
        modality: The media modality (``image``, ``video``, ``audio``, ``document`` or any string).
        uri: The media's URI (http(s), gs://, ...; never a ``data:`` URL).
        mime_type: The media's MIME type, if known.

    Returns:
        The part, without ``mime_type`` when it is ``None``.
    """
    part: UriPart = {"type": "uri", "modality": _plain(modality), "uri": uri}
    if mime_type is not None:
        part["mime_type"] = mime_type
    return part


def blob_part(
    modality: ModalityValues | str,
    *,
    content: str | None = None,
    mime_type: str | None = None,
    size: int | None = None,
    sha256: str | None = None,
) -> BlobPart:
    """Build a ``blob`` part: inline media, or only its metadata.

    Args:
        modality: The media modality (``image``, ``video``, ``audio``, ``document`` or any string).
        content: The base64-encoded payload; ``None`` for a metadata-only blob.
        mime_type: The media's MIME type, if known.
        size: The payload's size in bytes, if recorded.
        sha256: The hex SHA-256 digest of the payload, if recorded.

    Returns:
        The part, without the optional keys that are ``None``.
    """
    part: BlobPart = {"type": "blob", "modality": _plain(modality)}
    if content is not None:
        part["content"] = content
    if mime_type is not None:
        part["mime_type"] = mime_type
    if size is not None:
        part["size"] = size
    if sha256 is not None:
        part["sha256"] = sha256
    return part


def file_part(modality: ModalityValues | str, file_id: str, *, mime_type: str | None = None) -> FilePart:
    """Build a ``file`` part.

    Args:
        modality: The media modality (``image``, ``video``, ``audio``, ``document`` or any string).
        file_id: The provider's file id.
        mime_type: The file's MIME type, if known.

    Returns:
        The part, without ``mime_type`` when it is ``None``.
    """
    part: FilePart = {"type": "file", "modality": _plain(modality), "file_id": file_id}
    if mime_type is not None:
        part["mime_type"] = mime_type
    return part


def reasoning_part(content: str) -> ReasoningPart:
    """Build a ``reasoning`` part.

    Args:
        content: The reasoning (thinking) text.

    Returns:
        ``{"type": "reasoning", "content": content}``.
    """
    return {"type": "reasoning", "content": content}


def input_message(role: RoleValues | str, parts: Iterable[Part], *, name: str | None = None) -> InputMessage:
    """Build an input message.

    Args:
        role: The role (``system``, ``user``, ``assistant``, ``tool`` or any string).
        parts: The message's parts, in order (copied into a new list).
        name: The participant's name, if the message has one.

    Returns:
        The message, without ``name`` when it is ``None``.
    """
    message: InputMessage = {"role": _plain(role), "parts": list(parts)}
    if name is not None:
        message["name"] = name
    return message


def output_message(
    role: RoleValues | str,
    parts: Iterable[Part],
    finish_reason: FinishReasonValues | str,
    *,
    name: str | None = None,
) -> OutputMessage:
    """Build an output message (one per choice).

    Args:
        role: The role, normally ``assistant``.
        parts: The message's parts, in order (copied into a new list).
        finish_reason: Why the choice ended (``stop``, ``length``, ``content_filter``, ``tool_call``, ``error`` or
            any string).
        name: The participant's name, if the message has one.

    Returns:
        The message, without ``name`` when it is ``None``.
    """
    message: OutputMessage = {"role": _plain(role), "parts": list(parts), "finish_reason": _plain(finish_reason)}
    if name is not None:
        message["name"] = name
    return message


def tool_definition(name: str, *, description: str | None = None, parameters: Any = None) -> ToolDefinition:
    """Build a tool definition of type ``function``.

    Args:
        name: The tool's name.
        description: The tool's description, if any.
        parameters: The tool's parameters JSON schema, if any.

    Returns:
        The definition, without the optional keys that are ``None``.
    """
    definition: ToolDefinition = {"type": "function", "name": name}
    if description is not None:
        definition["description"] = description
    if parameters is not None:
        definition["parameters"] = parameters
    return definition
