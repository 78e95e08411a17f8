"""A simulated LLM provider for the demo: the OpenAI and Anthropic HTTP APIs, answered locally.

It speaks the documented wire formats so the real ``openai`` and ``anthropic`` SDK clients talk to it unchanged:

* ``POST /v1/chat/completions``: a ``chat.completion`` object, or with ``"stream": true`` an SSE stream of
  ``chat.completion.chunk`` objects ending in ``data: [DONE]`` (a usage chunk with empty ``choices`` first when
  ``stream_options.include_usage`` is set). With ``tools`` and no tool result yet, the model "calls" the first tool.
* ``POST /v1/messages``: a ``message`` object, or with ``"stream": true`` the named SSE events ``message_start``,
  ``content_block_start``, ``ping``, ``content_block_delta`` (``text_delta``), ``content_block_stop``,
  ``message_delta`` (cumulative ``usage.output_tokens``) and ``message_stop``. A system prompt marked with
  ``cache_control`` is "written" to the cache on first use and "read" afterwards, so the usage shows both.
* An unknown model gets the provider's 404 error body (OpenAI ``model_not_found``, Anthropic ``not_found_error``).

Every id says ``simulated`` (``chatcmpl-simulated-...``, ``msg_simulated_...``), as does the ``x-simulated`` header.
Streams are paced (a first-token delay, then a chunk every few tens of milliseconds) so durations and TTFT look real.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["ANTHROPIC_MODELS", "OPENAI_MODELS", "simulated_provider_app"]

OPENAI_MODELS = frozenset({"gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"})
ANTHROPIC_MODELS = frozenset({"claude-haiku-4-5", "claude-sonnet-4-5"})
_FIRST_TOKEN_S = 0.28
_CHUNK_S = 0.03
_THINK_S = 0.45  # latency of a non-streamed answer
_HEADERS = {"x-simulated": "true"}


def _tokens(text: str) -> int:
    """A rough token count (about four characters per token), enough for believable usage numbers."""
    return max(1, round(len(text) / 4))


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, dict):
                if part.get("type") in ("image", "image_url", "input_image"):
                    out.append("x" * 340)  # images cost tokens too
                out.append(str(part.get("text") or part.get("content") or ""))
        return " ".join(out)
    return ""


def _has_image(content: Any) -> bool:
    return isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") in ("image", "image_url") for p in content
    )


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


def _sse(data: Any, event: str | None = None) -> bytes:
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


# --- OpenAI ---------------------------------------------------------------------------------------------------------


def _openai_reply(messages: list[dict[str, Any]]) -> str:
    last = _text_of(messages[-1].get("content")) if messages else ""
    if "packing" in last.lower():
        return (
            "Packing list: compact umbrella, waterproof jacket, a warm layer for the evening.\n"
            "Also: comfortable shoes that survive puddles, and a tote for the market."
        )
    tool_results = [m for m in messages if m.get("role") == "tool"]
    if tool_results:
        try:
            weather = json.loads(str(tool_results[-1].get("content") or "{}"))
        except ValueError:
            weather = {}
        return (
            f"It is {weather.get('temperature_c', 14)}°C and {weather.get('conditions', 'light rain')} in "
            f"{weather.get('city', 'Paris')} right now, with showers likely this afternoon. Yes, bring an umbrella "
            "(a compact one is enough) and a light waterproof jacket."
        )
    return "Here is a short, simulated answer from the demo provider."


def _openai_usage(prompt: int, completion: int, cached: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


async def _chat_completions(request: Request) -> Response:
    body = await request.json()
    model = str(body.get("model", ""))
    if model not in OPENAI_MODELS:
        error = {
            "error": {
                "message": f"The model `{model}` does not exist or you do not have access to it.",
                "type": "invalid_request_error",
                "param": None,
                "code": "model_not_found",
            }
        }
        await asyncio.sleep(0.08)
        return JSONResponse(error, status_code=404, headers=_HEADERS)
    messages: list[dict[str, Any]] = body.get("messages") or []
    prompt = sum(_tokens(_text_of(m.get("content"))) + 4 for m in messages) + 60 * len(body.get("tools") or [])
    cached = (prompt // 2) // 64 * 64 if len(messages) > 2 else 0  # later turns hit the prompt cache
    completion_id = f"chatcmpl-simulated-{secrets.token_hex(8)}"
    created = int(time.time())
    tools = body.get("tools") or []
    wants_tool = bool(tools) and not any(m.get("role") == "tool" for m in messages)
    tool_call: dict[str, Any] | None = None
    if wants_tool:
        name = tools[0].get("function", {}).get("name", "tool")
        tool_call = {
            "id": f"call_simulated_{secrets.token_hex(6)}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps({"city": "Paris", "unit": "celsius"})},
        }
    reply = "" if tool_call else _openai_reply(messages)
    completion = _tokens(reply or json.dumps(tool_call))
    finish = "tool_calls" if tool_call else "stop"
    base = {"id": completion_id, "created": created, "model": model, "system_fingerprint": "fp_simulated"}
    if not body.get("stream"):
        await asyncio.sleep(_THINK_S)
        message: dict[str, Any] = {"role": "assistant", "content": reply or None, "refusal": None}
        if tool_call:
            message["tool_calls"] = [tool_call]
        payload = {
            **base,
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": _openai_usage(prompt, completion, cached),
            "service_tier": "default",
        }
        return JSONResponse(payload, headers={**_HEADERS, "x-request-id": f"req_simulated_{secrets.token_hex(8)}"})

    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    async def events() -> AsyncIterator[bytes]:
        chunk = {**base, "object": "chat.completion.chunk"}
        await asyncio.sleep(_FIRST_TOKEN_S / 2)
        first_delta = {"role": "assistant", "content": "", "refusal": None}
        yield _sse({**chunk, "choices": [{"index": 0, "delta": first_delta, "logprobs": None, "finish_reason": None}]})
        await asyncio.sleep(_FIRST_TOKEN_S / 2)
        if tool_call:
            call = {"index": 0, "id": tool_call["id"], "type": "function", "function": {"name": "", "arguments": ""}}
            call["function"]["name"] = tool_call["function"]["name"]
            deltas: list[dict[str, Any]] = [{"tool_calls": [call]}]
            deltas += [
                {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
                for piece in _words(tool_call["function"]["arguments"])
            ]
        else:
            deltas = [{"content": word} for word in _words(reply)]
        for delta in deltas:
            yield _sse({**chunk, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]})
            await asyncio.sleep(_CHUNK_S)
        yield _sse({**chunk, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}]})
        if include_usage:
            yield _sse({**chunk, "choices": [], "usage": _openai_usage(prompt, completion, cached)})
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers=_HEADERS)


# --- Anthropic ------------------------------------------------------------------------------------------------------


class _PromptCache:
    """Remembers cache_control-marked prompt prefixes, so a second call reads what the first one wrote."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def use(self, marked: str) -> tuple[int, int]:
        """``(cache_write, cache_read)`` tokens for a marked prefix (``(0, 0)`` when nothing is marked)."""
        if not marked:
            return 0, 0
        key = hashlib.sha256(marked.encode()).hexdigest()
        tokens = _tokens(marked) + 1024  # Anthropic caches at least 1,024 tokens; the demo prompt "is" that long
        if key in self._seen:
            return 0, tokens
        self._seen.add(key)
        return tokens, 0


def _marked_system(system: Any) -> str:
    if isinstance(system, list):
        return " ".join(str(b.get("text", "")) for b in system if isinstance(b, dict) and b.get("cache_control"))
    return ""


def _anthropic_reply(messages: list[dict[str, Any]]) -> str:
    last = messages[-1].get("content") if messages else ""
    if _has_image(last):
        return (
            "The image is a small square with a smooth diagonal gradient from deep indigo in the top-left corner to "
            "warm amber in the bottom-right, with a soft white circle in the middle. It looks like an abstract "
            "sunrise or an app icon."
        )
    if "title" in _text_of(last).lower():
        return 'Title suggestion: "Amber Sunrise over Indigo". Alternative: "Dawn, Abstracted".'
    return "Here is a short, simulated answer from the demo provider."


def _anthropic_error(model: str) -> Response:
    body = {"type": "error", "error": {"type": "not_found_error", "message": f"model: {model}"}}
    return JSONResponse(body, status_code=404, headers=_HEADERS)


def _messages_endpoint(cache: _PromptCache) -> Any:
    async def messages(request: Request) -> Response:
        body = await request.json()
        model = str(body.get("model", ""))
        if model not in ANTHROPIC_MODELS:
            await asyncio.sleep(0.08)
            return _anthropic_error(model)
        msgs: list[dict[str, Any]] = body.get("messages") or []
        system = body.get("system")
        cache_write, cache_read = cache.use(_marked_system(system))
        uncached = sum(_tokens(_text_of(m.get("content"))) for m in msgs) + 8
        if isinstance(system, str):
            uncached += _tokens(system)
        reply = _anthropic_reply(msgs)
        output = _tokens(reply)
        message_id = f"msg_simulated_{secrets.token_hex(10)}"
        usage = {
            "input_tokens": uncached,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "output_tokens": output,
            "service_tier": "standard",
        }
        headers = {**_HEADERS, "request-id": f"req_simulated_{secrets.token_hex(8)}"}
        if not body.get("stream"):
            await asyncio.sleep(_THINK_S)
            payload = {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": reply}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": usage,
            }
            return JSONResponse(payload, headers=headers)

        async def events() -> AsyncIterator[bytes]:
            start: dict[str, Any] = {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {**usage, "output_tokens": 1},
            }
            await asyncio.sleep(_FIRST_TOKEN_S / 2)
            yield _sse({"type": "message_start", "message": start}, "message_start")
            block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
            yield _sse(block, "content_block_start")
            yield _sse({"type": "ping"}, "ping")
            await asyncio.sleep(_FIRST_TOKEN_S / 2)
            for word in _words(reply):
                delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}}
                yield _sse(delta, "content_block_delta")
                await asyncio.sleep(_CHUNK_S)
            yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
            end = {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": output},
            }
            yield _sse(end, "message_delta")
            yield _sse({"type": "message_stop"}, "message_stop")

        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    return messages


def simulated_provider_app() -> Starlette:
    """The simulated provider as an ASGI app (OpenAI under ``/v1/chat/completions``, Anthropic ``/v1/messages``)."""
    return Starlette(
        routes=[
            Route("/v1/chat/completions", _chat_completions, methods=["POST"]),
            Route("/v1/messages", _messages_endpoint(_PromptCache()), methods=["POST"]),
        ]
    )
