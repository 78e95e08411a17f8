"""A loopback fake of the OpenAI and Anthropic HTTP APIs, for tests whose SDK calls must cross a real socket.

Subprocess tests (``opentelemetry-instrument python app.py``) cannot share an in-process ``MockTransport``, and an
HTTP client instrumentor only sees requests that go through the real transport. The bodies are hand-written from
the providers' documented response shapes. Every request is recorded (path, lower-cased headers, JSON body).

    with FakeLLM() as llm:
        client = OpenAI(base_url=llm.openai_base_url, api_key="sk-test")
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = [
    "ANTHROPIC_MESSAGE",
    "CHAT_COMPLETION",
    "EMBEDDINGS",
    "RESPONSE",
    "TEXT_COMPLETION",
    "FakeLLM",
    "LLMRequest",
]

CHAT_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-zero-code-1",
    "object": "chat.completion",
    "created": 1_741_569_952,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris.", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 14,
        "completion_tokens": 2,
        "total_tokens": 16,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    },
    "service_tier": "default",
    "system_fingerprint": "fp_0ba0d124f1",
}

RESPONSE: dict[str, Any] = {
    "id": "resp_zero_code_1",
    "object": "response",
    "created_at": 1_741_569_952,
    "status": "completed",
    "model": "gpt-4o-mini-2024-07-18",
    "output": [
        {
            "type": "message",
            "id": "msg_zero_code_1",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Paris.", "annotations": []}],
        }
    ],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "usage": {
        "input_tokens": 12,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 2,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 14,
    },
}

EMBEDDINGS: dict[str, Any] = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5, 0.125]}],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 3, "total_tokens": 3},
}

TEXT_COMPLETION: dict[str, Any] = {
    "id": "cmpl-zero-code-1",
    "object": "text_completion",
    "created": 1_741_569_952,
    "model": "gpt-3.5-turbo-instruct",
    "choices": [{"text": " Paris.", "index": 0, "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}

ANTHROPIC_MESSAGE: dict[str, Any] = {
    "id": "msg_zero_code_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Paris."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 12,
        "output_tokens": 3,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    },
}

_ROUTES: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": CHAT_COMPLETION,
    "/v1/completions": TEXT_COMPLETION,
    "/v1/responses": RESPONSE,
    "/v1/embeddings": EMBEDDINGS,
    "/v1/messages": ANTHROPIC_MESSAGE,
}


@dataclass(frozen=True)
class LLMRequest:
    """One request the fake answered."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeLLM:
    """A ``ThreadingHTTPServer`` on ``127.0.0.1`` answering the routes above with their fixed bodies."""

    def __init__(self) -> None:
        self.requests: list[LLMRequest] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                with fake._lock:
                    fake.requests.append(
                        LLMRequest(path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw or b"{}"))
                    )
                payload = _ROUTES.get(path)
                body = json.dumps(payload if payload is not None else {"error": {"message": "no route"}}).encode()
                self.send_response(200 if payload is not None else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # the stdlib's signature
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-llm", daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        """The ``base_url`` for ``OpenAI(...)``."""
        return self.url + "/v1"

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
