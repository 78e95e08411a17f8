"""The demo app: two concurrent sessions of a small assistant, traced with fallom-otel into the local collector.

Session "support-bot" (OpenAI): a chat with a weather tool (tool call, tool result, answer), a streamed follow-up
with usage, and one call to a model that does not exist (the failing call). Session "vision-assistant" (Anthropic):
a streamed question about an image with a cached system prompt, then a non-streamed follow-up that reads the cache.

Without ``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY`` the calls go to the simulated provider (``_simulated.py``) on a
loopback port; with a key, that provider's calls go to the real API.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import struct
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import fallom_otel
from fallom_otel.collector import Collector
from fallom_otel.collector._server import AppServer
from fallom_otel.collector._views import calls_table
from fallom_otel.collector._views import console as make_console

from ._simulated import simulated_provider_app

__all__ = ["DemoResult", "demo_image", "run_demo"]

OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-haiku-4-5"
MISSING_MODEL = "gpt-imaginary-1"
_WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"],
        },
    },
}
_VISION_SYSTEM = (
    "You are a concise visual assistant for a design team. Describe images precisely: shapes, colours, composition, "
    "mood. Keep answers under 60 words."
)


@dataclass
class DemoResult:
    """What the demo did: the collector URL, the database, the sessions it created and their calls."""

    url: str
    db_path: Path
    sessions: list[tuple[str, str]]
    calls: list[dict[str, Any]]
    simulated: list[str]


def demo_image(size: int = 96) -> bytes:
    """A small PNG (a diagonal indigo-to-amber gradient with a white disc), built in code so nothing is downloaded."""
    rows = []
    centre, radius2 = size / 2, (size * 0.22) ** 2
    for y in range(size):
        row = bytearray([0])  # filter type 0 per scanline
        for x in range(size):
            t = (x + y) / (2 * (size - 1))
            r, g, b = int(55 + t * 190), int(48 + t * 130), int(163 - t * 120)
            if (x - centre) ** 2 + (y - centre) ** 2 <= radius2:
                r, g, b = 250, 248, 240
            row += bytes((r, g, b))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def _support_session(client: Any, say: Callable[[str], None]) -> None:
    """OpenAI: a tool call round trip, a streamed follow-up, and a call that fails."""
    import openai

    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a friendly travel assistant. Use tools for live data."},
        {"role": "user", "content": "What's the weather in Paris right now, and should I bring an umbrella?"},
    ]
    first = client.chat.completions.create(model=OPENAI_MODEL, messages=messages, tools=[_WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]
    say(f"support-bot: model asked for {call.function.name}({call.function.arguments})")
    weather = {"city": "Paris", "temperature_c": 14, "conditions": "light rain"}
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps(weather)},
    ]
    answer = client.chat.completions.create(model=OPENAI_MODEL, messages=messages, tools=[_WEATHER_TOOL])
    say(f"support-bot: {answer.choices[0].message.content}")
    messages += [
        {"role": "assistant", "content": answer.choices[0].message.content},
        {"role": "user", "content": "Great. Give me a two-line packing list."},
    ]
    stream = client.chat.completions.create(
        model=OPENAI_MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    say(f"support-bot (streamed): {text.splitlines()[0] if text else ''} ...")
    try:
        client.chat.completions.create(model=MISSING_MODEL, messages=[{"role": "user", "content": "Hello?"}])
    except openai.NotFoundError as error:
        say(f"support-bot: {MISSING_MODEL!r} failed as intended ({type(error).__name__} {error.status_code})")


def _vision_session(client: Any, image: bytes, say: Callable[[str], None]) -> None:
    """Anthropic: a streamed question about an image (cached system prompt), then a follow-up reading the cache."""
    system = [{"type": "text", "text": _VISION_SYSTEM, "cache_control": {"type": "ephemeral"}}]
    question = {
        "role": "user",
        "content": [
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(image).decode()},
            },
            {"type": "text", "text": "What is in this picture?"},
        ],
    }
    with client.messages.stream(model=ANTHROPIC_MODEL, max_tokens=300, system=system, messages=[question]) as stream:
        description = "".join(stream.text_stream)
    say(f"vision-assistant (streamed): {description[:90]}...")
    follow_up = client.messages.create(
        model=ANTHROPIC_MODEL,
        max_tokens=100,
        system=system,
        messages=[
            question,
            {"role": "assistant", "content": description},
            {"role": "user", "content": "Suggest a title for it."},
        ],
    )
    say(f"vision-assistant: {follow_up.content[0].text}")


def run_demo(
    *,
    db: str | os.PathLike[str] | None = None,
    port: int = 0,
    wait: bool = False,
    out: TextIO | None = None,
) -> DemoResult:
    """Start the collector, run the demo app against it, print the calls table and the viewer URL.

    Args:
        db: The collector's SQLite file (default: the collector's default database).
        port: The collector's port (0: a free one).
        wait: Keep serving the viewer until Ctrl-C after printing.
        out: Where to print (default: stdout).

    Returns:
        What was run and stored.
    """
    import anthropic
    import openai

    console = make_console(out)
    lock = threading.Lock()

    def say(line: str) -> None:
        with lock:
            console.print(f"  {line}", markup=False)

    real_openai = bool(os.environ.get("OPENAI_API_KEY"))
    real_anthropic = bool(os.environ.get("ANTHROPIC_API_KEY"))
    simulated = [name for name, real in (("OpenAI", real_openai), ("Anthropic", real_anthropic)) if not real]
    collector = Collector(db=db, port=port).start()
    provider: AppServer | None = None
    try:
        console.print(f"[bold]fallom-otel demo[/bold]: collector at {collector.url} (database {collector.db_path})")
        if simulated:
            provider = AppServer(simulated_provider_app())
            provider.start()
            console.print(
                f"[yellow bold]SIMULATED[/yellow bold] {' and '.join(simulated)}: no API key in the environment, so "
                f"those calls go to the built-in simulated provider at {provider.url} (real SDK clients, the real "
                "wire format; ids say 'simulated'). Set OPENAI_API_KEY / ANTHROPIC_API_KEY to use the real APIs."
            )
        fallom_otel.init(base_url=collector.url, capture_content=True)
        image = demo_image()  # sent inline (base64); fallom-otel uploads it to the collector's media store

        run = secrets.token_hex(3)
        support = fallom_otel.session(config_key="support-bot", session_id=f"demo-{run}-alice", customer_id="alice")
        vision = fallom_otel.session(config_key="vision-assistant", session_id=f"demo-{run}-bob", customer_id="bob")
        sim_url = provider.url if provider is not None else ""
        openai_client = (
            openai.OpenAI(max_retries=1)
            if real_openai
            else openai.OpenAI(base_url=f"{sim_url}/v1", api_key="simulated", max_retries=0)
        )
        anthropic_client = (
            anthropic.Anthropic(max_retries=1)
            if real_anthropic
            else anthropic.Anthropic(base_url=sim_url, api_key="simulated", max_retries=0)
        )
        console.print("Running two sessions concurrently:")
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="demo-session") as pool:
            futures = [
                pool.submit(_support_session, support.wrap_openai(openai_client), say),
                pool.submit(_vision_session, vision.wrap_anthropic(anthropic_client), image, say),
            ]
            for future in futures:
                future.result()
        fallom_otel.flush(10_000)

        store = collector.store
        assert store is not None
        keys = [("support-bot", support.session_id), ("vision-assistant", vision.session_id)]
        calls = sorted(
            (call for key, session_id in keys for call in store.session_calls(key, session_id)),
            key=lambda call: call["start_ns"],
        )
        console.print()
        console.print(calls_table(calls, title=f"{len(calls)} calls traced by fallom-otel (demo run {run})"))
        console.print()
        console.print(f"Viewer: [bold]{collector.url}/[/bold]   (sessions → timeline → call)")
        db_hint = f" --db {collector.db_path}"
        console.print(f"CLI:    fallom-otel traces{db_hint}   ·   fallom-otel sessions{db_hint}")
        result = DemoResult(collector.url, collector.db_path, keys, calls, simulated)
        if wait:
            console.print("Serving the viewer; press Ctrl-C to stop.")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                console.print("stopped")
        return result
    finally:
        fallom_otel.shutdown(timeout_millis=5_000)
        collector.stop()
        if provider is not None:
            provider.stop()
