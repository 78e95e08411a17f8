"""Hand-written provider answers (the documented Chat Completions, Responses and Messages shapes), and the calls
that send one inline image through each SDK."""

from __future__ import annotations

from typing import Any

from tests.instrumentors.anthropic.conftest import FakeAnthropic
from tests.instrumentors.openai.conftest import FakeOpenAI

CHAT_PATH = "/v1/chat/completions"
RESPONSES_PATH = "/v1/responses"
MESSAGES_PATH = "/v1/messages"


def chat_completion(message: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1741570283,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "message": message or {"role": "assistant", "content": "A field of coloured noise.", "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 1_117, "completion_tokens": 9, "total_tokens": 1_126},
    }


def response(output: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
        "object": "response",
        "created_at": 1741476542,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "model": "gpt-4.1-2025-04-14",
        "output": output
        if output is not None
        else [
            {
                "type": "message",
                "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e6",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "A field of coloured noise.", "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {"input_tokens": 1_286, "output_tokens": 9, "total_tokens": 1_295},
    }


def message(*content: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": list(content) or [{"type": "text", "text": "A field of coloured noise."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1_530, "output_tokens": 9},
    }


def send_image(provider: str, b64: str, fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic) -> None:
    """One call of ``provider`` (``chat``, ``responses``, ``anthropic``) with the base64 PNG inline."""
    if provider == "chat":
        fake_openai.json(CHAT_PATH, chat_completion())
        fake_openai.client().chat.completions.create(
            model="gpt-4o",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is in this picture?"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}"}},
                    ],
                }
            ],
        )
    elif provider == "responses":
        fake_openai.json(RESPONSES_PATH, response())
        fake_openai.client().responses.create(
            model="gpt-4.1",
            input=[
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "What is in this picture?"},
                        {"type": "input_image", "image_url": f"data:image/png;base64,{b64}", "detail": "auto"},
                    ],
                }
            ],
        )
    else:
        fake_anthropic.json(MESSAGES_PATH, message())
        fake_anthropic.client().messages.create(
            model="claude-sonnet-4-5",
            max_tokens=256,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64}},
                        {"type": "text", "text": "What is in this picture?"},
                    ],
                }
            ],
        )
