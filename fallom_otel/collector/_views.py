"""Presentation helpers shared by the web viewer and the terminal views.

Number formats, the session timeline, the chat rendering model of a call's messages, and the ``rich`` calls and
sessions tables.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from fallom_otel_semconv import gen_ai

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from ._store import Store

__all__ = [
    "Chat",
    "ChatMessage",
    "ChatPart",
    "build_chat",
    "calls_table",
    "console",
    "fmt_cost",
    "fmt_ms",
    "fmt_time",
    "fmt_tokens",
    "json_rows",
    "sessions_table",
    "timeline",
]

DASH = "—"
_MEDIA_PATH = re.compile(r"/v1/media/([A-Za-z0-9][A-Za-z0-9._-]{0,127})$")


# --- formats -------------------------------------------------------------------------------------------------------


def fmt_tokens(value: int | None) -> str:
    """``12,345``, or a dash when unknown."""
    return DASH if value is None else f"{value:,}"


def fmt_cost(value: float | None) -> str:
    """US dollars with enough digits for fractions of a cent (``$0.000412``), or a dash when unknown."""
    if value is None:
        return DASH
    if value == 0:
        return "$0"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) >= 0.01:
        return f"${value:.4f}"
    return f"${value:.6f}"


def fmt_ms(value: float | None) -> str:
    """``812 ms`` / ``1.24 s``, or a dash when unknown."""
    if value is None:
        return DASH
    if value < 1:
        return f"{value:.2f} ms"
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.2f} s"


def fmt_time(ns: int | None, *, with_date: bool = True) -> str:
    """A Unix time in nanoseconds as local time (``2026-12-04 23:41:02``)."""
    if not ns:
        return DASH
    moment = datetime.fromtimestamp(ns / 1e9)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S.%f")[: None if with_date else -3]


# --- timeline ------------------------------------------------------------------------------------------------------


def timeline(calls: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], float]:
    """Place each call on a common time axis.

    Args:
        calls: Rows with ``start_ns``, ``end_ns`` and ``ttft_ms``, in start order.

    Returns:
        The rows extended with ``offset_ms``, ``left`` and ``width`` (percent of the axis) and ``ttft_width``
        (percent of the bar), and the axis length in ms.
    """
    if not calls:
        return [], 0.0
    origin = min(c["start_ns"] for c in calls)
    end = max(max(c["end_ns"], c["start_ns"]) for c in calls)
    total = max(end - origin, 1)
    placed = []
    for call in calls:
        duration = max(call["end_ns"] - call["start_ns"], 0)
        ttft = call.get("ttft_ms")
        placed.append(
            {
                **call,
                "offset_ms": (call["start_ns"] - origin) / 1e6,
                "left": 100.0 * (call["start_ns"] - origin) / total,
                "width": max(100.0 * duration / total, 0.4),
                "ttft_width": min(100.0, 100.0 * ttft * 1e6 / duration) if ttft is not None and duration else None,
            }
        )
    return placed, total / 1e6


# --- chat ----------------------------------------------------------------------------------------------------------


@dataclass
class ChatPart:
    """One message part prepared for display.

    Attributes:
        type: The semconv part type (``text``, ``tool_call``, ``tool_call_response``, ``uri``, ``blob``, ``file``,
            ``reasoning``) or another type as sent.
        text: Text content (text, reasoning) or a pretty JSON rendering (tool arguments and results, unknown parts).
        name: Tool name (tool calls).
        id: Tool call id.
        image_src: Where the browser loads an image from, when there is one to show.
        mime_type: The media type, when known.
        size: Media size in bytes, when known.
        sha256: Media hash, when known.
        uri: The URI of a ``uri`` part.
        modality: ``image``, ``audio``, ``video``, ...
    """

    type: str
    text: str = ""
    name: str = ""
    id: str = ""
    image_src: str = ""
    mime_type: str = ""
    size: int | None = None
    sha256: str = ""
    uri: str = ""
    modality: str = ""


@dataclass
class ChatMessage:
    """A message prepared for display: role, parts, and the finish reason of an output message."""

    role: str
    parts: list[ChatPart] = field(default_factory=list)
    finish_reason: str = ""
    name: str = ""


@dataclass
class Chat:
    """A call's content: system instructions, input and output messages, tool definitions (None when absent)."""

    system: list[ChatPart]
    input: list[ChatMessage]
    output: list[ChatMessage]
    tools: list[dict[str, Any]]
    media_ids: dict[str, str]

    @property
    def empty(self) -> bool:
        """True when the span carried no content (capture off, or not a chat call)."""
        return not (self.system or self.input or self.output or self.tools)


def _loads(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _pretty(value: Any) -> str:
    value = _loads(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)


def _sha256s(messages: Iterable[Any]) -> Iterable[str]:
    for message in messages:
        parts = message.get("parts") if isinstance(message, dict) else None
        for part in parts if isinstance(parts, list) else [message]:
            if isinstance(part, dict) and isinstance(part.get("sha256"), str):
                yield part["sha256"]


def _part(raw: Any, media_ids: Mapping[str, str], local_media: Store | None) -> ChatPart:
    if not isinstance(raw, dict):
        return ChatPart("text", text=_pretty(raw))
    kind = str(raw.get("type", ""))
    part = ChatPart(
        kind,
        mime_type=str(raw.get("mime_type") or ""),
        modality=str(raw.get("modality") or ""),
        sha256=str(raw.get("sha256") or ""),
        size=raw.get("size") if isinstance(raw.get("size"), int) else None,
    )
    if kind in ("text", "reasoning"):
        part.text = str(raw.get("content", ""))
    elif kind == "tool_call":
        part.name = str(raw.get("name", ""))
        part.id = str(raw.get("id") or "")
        part.text = _pretty(raw.get("arguments")) if "arguments" in raw else ""
    elif kind == "tool_call_response":
        part.id = str(raw.get("id") or "")
        part.text = _pretty(raw.get("response"))
    elif kind == "uri":
        part.uri = str(raw.get("uri", ""))
        match = _MEDIA_PATH.search(part.uri)
        if match and local_media is not None and local_media.get_media(match.group(1)) is not None:
            part.image_src = f"/v1/media/{match.group(1)}"  # our own copy, whatever host the SDK uploaded to
        elif part.uri.startswith(("https://", "http://")) and _is_image(part):
            part.image_src = part.uri
    elif kind == "blob":
        media_id = media_ids.get(part.sha256)
        if media_id and _is_image(part):
            part.image_src = f"/v1/media/{media_id}"
    elif kind == "file":
        part.id = str(raw.get("file_id") or "")
    else:
        part.text = _pretty(raw)
    return part


def _is_image(part: ChatPart) -> bool:
    return part.modality == "image" or part.mime_type.startswith("image/")


def _messages(raw: Any, media_ids: Mapping[str, str], store: Store | None) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    for message in raw if isinstance(raw, list) else []:
        if not isinstance(message, dict):
            continue
        parts = message.get("parts")
        out.append(
            ChatMessage(
                role=str(message.get("role", "")),
                parts=[_part(p, media_ids, store) for p in (parts if isinstance(parts, list) else [])],
                finish_reason=str(message.get("finish_reason") or ""),
                name=str(message.get("name") or ""),
            )
        )
    return out


def build_chat(attributes: Mapping[str, Any], store: Store | None) -> Chat:
    """Turn a span's content attributes into the chat shown on the call page.

    Args:
        attributes: The span's attributes (JSON strings as recorded).
        store: Where to look up media by sha256 and media ids (None: no local media).

    Returns:
        The prepared content.
    """
    system = _loads(attributes.get(gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS))
    inputs = _loads(attributes.get(gen_ai.GEN_AI_INPUT_MESSAGES))
    outputs = _loads(attributes.get(gen_ai.GEN_AI_OUTPUT_MESSAGES))
    tools = _loads(attributes.get(gen_ai.GEN_AI_TOOL_DEFINITIONS))
    lists = [x for x in (system, inputs, outputs) if isinstance(x, list)]
    digests = [d for messages in lists for d in _sha256s(messages)]
    media_ids = store.media_ids_by_sha256(digests) if store is not None and digests else {}
    return Chat(
        system=[_part(p, media_ids, store) for p in (system if isinstance(system, list) else [])],
        input=_messages(inputs, media_ids, store),
        output=_messages(outputs, media_ids, store),
        tools=[t for t in tools if isinstance(t, dict)] if isinstance(tools, list) else [],
        media_ids=media_ids,
    )


# --- terminal tables -----------------------------------------------------------------------------------------------


def console(file: TextIO | None = None) -> Console:
    """A ``rich`` console; wide when not a terminal, so piped and captured tables are never squeezed."""
    from rich.console import Console

    target = file or sys.stdout
    return Console(file=target, highlight=False, width=None if target.isatty() else 180)


def _tokens_cell(call: Mapping[str, Any]) -> tuple[str, str]:
    tokens_in = fmt_tokens(call.get("input_tokens"))
    if call.get("cache_read_tokens"):
        tokens_in += f" ({call['cache_read_tokens']:,} cached)"
    tokens_out = fmt_tokens(call.get("output_tokens"))
    if call.get("reasoning_tokens"):
        tokens_out += f" ({call['reasoning_tokens']:,} reasoning)"
    return tokens_in, tokens_out


def calls_table(calls: Sequence[Mapping[str, Any]], *, title: str | None = None) -> Table:
    """A ``rich`` table of calls (time, session, model, status, duration, TTFT, tokens, cost)."""
    from rich.table import Table

    table = Table(title=title, header_style="bold", pad_edge=False)
    right = ("duration", "TTFT", "in tokens", "out tokens", "cost")
    for name in ("time", "session", "model", "status", *right):
        table.add_column(name, justify="right" if name in right else "left", no_wrap=name != "status")
    for call in calls:
        tokens_in, tokens_out = _tokens_cell(call)
        status = call.get("status") or "UNSET"
        error = call.get("error_type") or "error"
        table.add_row(
            fmt_time(call.get("start_ns"), with_date=False),
            call.get("session_id") or DASH,
            call.get("model") or DASH,
            f"[red]{error}[/red]" if status == "ERROR" else "[green]ok[/green]",
            fmt_ms(call.get("duration_ms")),
            fmt_ms(call.get("ttft_ms")),
            tokens_in,
            tokens_out,
            fmt_cost(call.get("cost_usd")),
        )
    return table


def sessions_table(sessions: Sequence[Mapping[str, Any]], *, title: str | None = None) -> Table:
    """A ``rich`` table of sessions (config key, id, customer, calls, errors, tokens, cost, time range)."""
    from rich.table import Table

    table = Table(title=title, header_style="bold", pad_edge=False)
    numbers = ("calls", "errors", "in tokens", "out tokens", "cost")
    for name in ("config key", "session", "customer", *numbers, "time range"):
        table.add_column(name, justify="right" if name in numbers else "left", no_wrap=True)
    for s in sessions:
        table.add_row(
            s["config_key"] or DASH,
            s["session_id"],
            s.get("customer_id") or DASH,
            f"{s['calls']:,}",
            f"[red]{s['errors']}[/red]" if s["errors"] else "0",
            fmt_tokens(s["input_tokens"]),
            fmt_tokens(s["output_tokens"]),
            fmt_cost(s.get("cost_usd")),
            f"{fmt_time(s['first_ns'])} → {fmt_time(s['last_ns'], with_date=False)}",
        )
    return table


def json_rows(rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows as a JSON array (one object per row, as stored)."""
    return json.dumps([dict(row) for row in rows], indent=2, ensure_ascii=False)
