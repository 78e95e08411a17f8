"""Builders and shapes of fallom_otel_semconv.messages."""

from __future__ import annotations

import json
from typing import Any, get_type_hints

import pytest

from fallom_otel_semconv import messages as m
from fallom_otel_semconv.gen_ai import FinishReasonValues, ModalityValues, PartTypeValues, RoleValues


def roundtrip(value: Any) -> Any:
    return json.loads(json.dumps(value))


def assert_plain_strings(value: Any) -> None:
    """Every str in the structure is exactly a str (no enum member, no subclass)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str
            assert_plain_strings(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain_strings(item)
    elif isinstance(value, str):
        assert type(value) is str, repr(value)


# --- Parts ---------------------------------------------------------------------------------------------------


def test_text_part():
    assert m.text_part("hello") == {"type": "text", "content": "hello"}


def test_reasoning_part():
    assert m.reasoning_part("thinking") == {"type": "reasoning", "content": "thinking"}


def test_tool_call_part_minimal_and_full():
    assert m.tool_call_part("get_weather") == {"type": "tool_call", "name": "get_weather"}
    assert m.tool_call_part("get_weather", id="call_1", arguments={"location": "Paris"}) == {
        "type": "tool_call",
        "name": "get_weather",
        "id": "call_1",
        "arguments": {"location": "Paris"},
    }


def test_tool_call_part_keeps_falsy_non_none_arguments():
    assert m.tool_call_part("noop", arguments={}) == {"type": "tool_call", "name": "noop", "arguments": {}}
    assert m.tool_call_part("noop", id="") == {"type": "tool_call", "name": "noop", "id": ""}


def test_tool_call_response_part_uses_response_key():
    part = m.tool_call_response_part("rainy, 57F")
    assert part == {"type": "tool_call_response", "response": "rainy, 57F"}
    assert "result" not in part
    assert m.tool_call_response_part({"ok": True}, id="call_1") == {
        "type": "tool_call_response",
        "response": {"ok": True},
        "id": "call_1",
    }


def test_uri_part():
    assert m.uri_part("image", "https://example.com/a.png") == {
        "type": "uri",
        "modality": "image",
        "uri": "https://example.com/a.png",
    }
    assert m.uri_part(ModalityValues.IMAGE, "https://example.com/a.png", mime_type="image/png") == {
        "type": "uri",
        "modality": "image",
        "uri": "https://example.com/a.png",
        "mime_type": "image/png",
    }


def test_blob_part_full():
    assert m.blob_part(ModalityValues.IMAGE, content="aGk=", mime_type="image/png", size=2, sha256="ab" * 32) == {
        "type": "blob",
        "modality": "image",
        "content": "aGk=",
        "mime_type": "image/png",
        "size": 2,
        "sha256": "ab" * 32,
    }


def test_blob_part_metadata_only_has_no_content_key():
    part = m.blob_part("image", mime_type="image/jpeg", size=1024, sha256="00" * 32)
    assert part == {"type": "blob", "modality": "image", "mime_type": "image/jpeg", "size": 1024, "sha256": "00" * 32}
    assert "content" not in part
    assert m.blob_part("audio") == {"type": "blob", "modality": "audio"}


def test_blob_part_keeps_zero_size():
    assert m.blob_part("image", size=0) == {"type": "blob", "modality": "image", "size": 0}


def test_file_part():
    assert m.file_part("document", "file-abc") == {"type": "file", "modality": "document", "file_id": "file-abc"}
    assert m.file_part(ModalityValues.DOCUMENT, "file-abc", mime_type="application/pdf") == {
        "type": "file",
        "modality": "document",
        "file_id": "file-abc",
        "mime_type": "application/pdf",
    }


def test_part_types_match_part_type_enum():
    parts = [
        m.text_part("a"),
        m.tool_call_part("t"),
        m.tool_call_response_part("r"),
        m.uri_part("image", "https://x"),
        m.blob_part("image"),
        m.file_part("image", "f"),
        m.reasoning_part("r"),
    ]
    assert [part["type"] for part in parts] == [member.value for member in PartTypeValues]


def test_part_union_covers_every_part_typeddict():
    part_classes = {
        m.TextPart,
        m.ToolCallPart,
        m.ToolCallResponsePart,
        m.UriPart,
        m.BlobPart,
        m.FilePart,
        m.ReasoningPart,
    }
    assert set(m.Part.__args__) == part_classes


@pytest.mark.parametrize(
    ("cls", "required", "optional"),
    [
        (m.TextPart, {"type", "content"}, set()),
        (m.ToolCallPart, {"type", "name"}, {"id", "arguments"}),
        (m.ToolCallResponsePart, {"type", "response"}, {"id"}),
        (m.UriPart, {"type", "modality", "uri"}, {"mime_type"}),
        (m.BlobPart, {"type", "modality"}, {"content", "mime_type", "size", "sha256"}),
        (m.FilePart, {"type", "modality", "file_id"}, {"mime_type"}),
        (m.ReasoningPart, {"type", "content"}, set()),
        (m.InputMessage, {"role", "parts"}, {"name"}),
        (m.OutputMessage, {"role", "parts", "finish_reason"}, {"name"}),
        (m.ToolDefinition, {"type", "name"}, {"description", "parameters"}),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_typeddict_required_and_optional_keys(cls, required, optional):
    assert cls.__required_keys__ == required
    assert cls.__optional_keys__ == optional
    assert set(get_type_hints(cls)) == required | optional


# --- Messages ------------------------------------------------------------------------------------------------


def test_input_message():
    parts = [m.text_part("Weather in Paris?")]
    message = m.input_message("user", parts)
    assert message == {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}
    assert "name" not in message
    assert message["parts"] is not parts
    assert m.input_message(RoleValues.USER, parts, name="alice") == {
        "role": "user",
        "parts": [{"type": "text", "content": "Weather in Paris?"}],
        "name": "alice",
    }


def test_input_message_accepts_any_iterable_of_parts():
    message = m.input_message("user", (m.text_part(text) for text in ["a", "b"]))
    assert message["parts"] == [{"type": "text", "content": "a"}, {"type": "text", "content": "b"}]


def test_output_message():
    message = m.output_message(RoleValues.ASSISTANT, [m.text_part("Rainy.")], FinishReasonValues.STOP)
    assert message == {
        "role": "assistant",
        "parts": [{"type": "text", "content": "Rainy."}],
        "finish_reason": "stop",
    }
    named: dict[str, Any] = dict(m.output_message("assistant", [], "tool_call", name="bot"))
    assert named == {
        "role": "assistant",
        "parts": [],
        "finish_reason": "tool_call",
        "name": "bot",
    }


def test_custom_strings_are_kept():
    assert m.input_message("developer", [])["role"] == "developer"
    assert m.output_message("assistant", [], "pause_turn")["finish_reason"] == "pause_turn"
    assert m.uri_part("pointcloud", "https://x")["modality"] == "pointcloud"


def test_tool_definition():
    assert m.tool_definition("get_weather") == {"type": "function", "name": "get_weather"}
    schema = {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}
    assert m.tool_definition("get_weather", description="Current weather", parameters=schema) == {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather",
        "parameters": schema,
    }


# --- Enum inputs and JSON -------------------------------------------------------------------------------------


def test_enum_inputs_stored_as_plain_strings():
    values = [
        m.input_message(RoleValues.TOOL, [m.uri_part(ModalityValues.VIDEO, "https://x")])["role"],
        m.output_message(RoleValues.ASSISTANT, [], FinishReasonValues.CONTENT_FILTER)["finish_reason"],
        m.uri_part(ModalityValues.VIDEO, "https://x")["modality"],
        m.blob_part(ModalityValues.AUDIO)["modality"],
        m.file_part(ModalityValues.IMAGE, "f")["modality"],
    ]
    assert values == ["tool", "content_filter", "video", "audio", "image"]
    for value in values:
        assert type(value) is str
        assert not isinstance(value, RoleValues | FinishReasonValues | ModalityValues)


def test_semconv_example_json_round_trip():
    conversation = [
        m.input_message(
            RoleValues.USER,
            [
                m.text_part("Weather in Paris?"),
                m.uri_part(ModalityValues.IMAGE, "https://example.com/p.png", mime_type="image/png"),
            ],
        ),
        m.input_message(
            RoleValues.ASSISTANT, [m.tool_call_part("get_weather", id="call_1", arguments={"location": "Paris"})]
        ),
        m.input_message(RoleValues.TOOL, [m.tool_call_response_part("rainy, 57F", id="call_1")]),
    ]
    expected = [
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "Weather in Paris?"},
                {"type": "uri", "modality": "image", "uri": "https://example.com/p.png", "mime_type": "image/png"},
            ],
        },
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "name": "get_weather", "id": "call_1", "arguments": {"location": "Paris"}}],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "response": "rainy, 57F", "id": "call_1"}]},
    ]
    assert conversation == expected
    assert roundtrip(conversation) == expected
    assert_plain_strings(conversation)
    compact = json.dumps(conversation, separators=(",", ":"))
    assert "null" not in compact
    assert "Role" not in compact and "Modality" not in compact


def test_output_and_tool_definitions_json_round_trip():
    outputs = [
        m.output_message(
            RoleValues.ASSISTANT,
            [m.reasoning_part("Check the tool."), m.tool_call_part("get_weather", arguments={"location": "Paris"})],
            FinishReasonValues.TOOL_CALL,
        )
    ]
    tools = [m.tool_definition("get_weather", parameters={"type": "object"})]
    system = [m.text_part("Be brief.")]
    blobs = [m.blob_part(ModalityValues.IMAGE, mime_type="image/png", size=3, sha256="cd" * 32)]
    for value in (outputs, tools, system, blobs):
        assert roundtrip(value) == value
        assert_plain_strings(value)
        assert "null" not in json.dumps(value)
    assert json.dumps(outputs[0]["finish_reason"]) == '"tool_call"'
