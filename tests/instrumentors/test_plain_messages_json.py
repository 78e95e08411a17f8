"""The fast paths for plain text messages produce exactly the JSON of the generic builders and encoder, or decline."""

from __future__ import annotations

from typing import Any

import pytest

from fallom_otel_instrumentors._content import dumps, dumps_output_messages, plain_text_messages_json
from fallom_otel_semconv import messages as parts

_TEXTS = [
    "",
    "plain ASCII",
    'quotes " and \\ backslashes / slashes',
    "control \n\r\t\b\f \x00 \x1f \x7f characters",
    "non-ASCII: é ü ß 日本語 😀 \u2028 \u2029",
    "a lone surrogate \ud800 kept as the encoder keeps it",
    "x" * 10_000,
]


@pytest.mark.parametrize("content", _TEXTS)
@pytest.mark.parametrize("role", ["system", "user", "assistant", "developer", "custom role é"])
def test_byte_identical_to_the_generic_builders(role: str, content: str) -> None:
    messages = [{"role": role, "content": content}, {"content": "second", "role": "user"}]
    expected = dumps([parts.input_message(m["role"], [parts.text_part(m["content"])]) for m in messages])
    assert plain_text_messages_json(messages) == expected


def test_empty_list() -> None:
    assert plain_text_messages_json([]) == dumps([]) == "[]"


@pytest.mark.parametrize(
    "message",
    [
        {"role": "tool", "content": "result", "tool_call_id": "c1"},
        {"role": "tool", "content": "result"},
        {"role": "", "content": "x"},
        {"role": None, "content": "x"},
        {"role": "user", "content": None},
        {"role": "user", "content": [{"type": "text", "text": "x"}]},
        {"role": "user", "content": "x", "name": "bob"},
        {"role": "user"},
        {"content": "x", "name": "bob"},
        ("role", "content"),
    ],
)
def test_declines_anything_else(message: Any) -> None:
    assert plain_text_messages_json([{"role": "user", "content": "ok"}, message]) is None


def test_declines_str_subclasses() -> None:
    class Text(str):
        pass

    assert plain_text_messages_json([{"role": "user", "content": Text("x")}]) is None
    assert plain_text_messages_json([{"role": Text("user"), "content": "x"}]) is None


@pytest.mark.parametrize("content", _TEXTS)
@pytest.mark.parametrize("reason", ["stop", "length", "tool_call", 'custom é " reason'])
def test_output_fast_path_is_byte_identical(content: str, reason: str) -> None:
    messages = [
        parts.output_message("assistant", [parts.text_part(content)], reason),
        parts.output_message("assistant", [parts.text_part("second choice")], "stop"),
    ]
    assert dumps_output_messages(messages) == dumps(messages)


@pytest.mark.parametrize(
    "message",
    [
        parts.output_message("assistant", [], "stop"),
        parts.output_message("assistant", [parts.text_part("a"), parts.text_part("b")], "stop"),
        parts.output_message(
            "assistant", [parts.tool_call_part("f", id="c1", arguments={"x": [1, None]})], "tool_call"
        ),
        parts.output_message("assistant", [parts.reasoning_part("thinking")], "stop"),
        parts.output_message("assistant", [parts.text_part("a")], "stop", name="bot"),
        {"parts": [parts.text_part("a")], "role": "assistant", "finish_reason": "stop"},
        {"role": "assistant", "parts": [{"content": "a", "type": "text"}], "finish_reason": "stop"},
        {"role": "assistant", "parts": ({"type": "text", "content": "a"},), "finish_reason": "stop"},
        {"role": "assistant", "parts": [{"type": "text", "content": None}], "finish_reason": "stop"},
        {"role": None, "parts": [{"type": "text", "content": "a"}], "finish_reason": "stop"},
        {"role": "assistant", "parts": [{"type": "text", "content": "a"}], "finish_reason": 3},
    ],
)
def test_output_other_shapes_fall_back_to_the_encoder(message: Any) -> None:
    messages = [parts.output_message("assistant", [parts.text_part("ok")], "stop"), message]
    assert dumps_output_messages(messages) == dumps(messages)
    assert dumps_output_messages([]) == "[]"
