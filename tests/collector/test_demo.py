"""``fallom-otel demo`` in a fresh interpreter with no API keys: the simulated provider, two concurrent sessions, the
table it prints and what the collector stored."""

from __future__ import annotations

import json
import re

from fallom_otel._demo._run import demo_image
from fallom_otel.collector import Store
from fallom_otel_semconv import gen_ai
from tests.collector.conftest import DemoData


def _table_rows(output: str) -> list[list[str]]:
    """The body rows of the rich table the demo prints, as cells."""
    rows = []
    for line in output.splitlines():
        if line.startswith("│") and re.match(r"│\d\d:\d\d:\d\d\.\d{3}", line):
            rows.append([cell.strip() for cell in line.strip("│").split("│")])
    return rows


def test_demo_prints_the_calls_table_with_tokens_cost_and_ttft(demo_data: DemoData) -> None:
    out = demo_data.output
    assert "SIMULATED" in out and "simulated provider" in out
    assert "Viewer: http://127.0.0.1:" in out
    header = next(line for line in out.splitlines() if "TTFT" in line and "cost" in line)
    columns = [cell.strip() for cell in header.strip("┃").split("┃")]
    assert columns == ["time", "session", "model", "status", "duration", "TTFT", "in tokens", "out tokens", "cost"]
    rows = _table_rows(out)
    assert len(rows) == 6
    by_column = [dict(zip(columns, row, strict=True)) for row in rows]
    ok = [row for row in by_column if row["status"] == "ok"]
    failed = [row for row in by_column if row["status"] != "ok"]
    assert len(ok) == 5 and len(failed) == 1 and "NotFoundError" in failed[0]["status"]
    assert all(re.fullmatch(r"[\d,]+( \([\d,]+ cached\))?", row["in tokens"]) for row in ok)
    assert all(re.fullmatch(r"[\d,]+", row["out tokens"]) for row in ok)
    assert all(re.fullmatch(r"\$\d+\.\d+", row["cost"]) for row in ok), [row["cost"] for row in ok]
    assert sum(bool(re.fullmatch(r"\d+ ms", row["TTFT"])) for row in ok) == 2  # the two streams
    assert {row["model"] for row in by_column} == {"gpt-4o-mini", "claude-haiku-4-5", "gpt-imaginary-1"}


def test_demo_data_in_the_collector(demo_data: DemoData) -> None:
    with Store(demo_data.db, readonly=True) as store:
        sessions = {s["config_key"]: s for s in store.sessions()}
        assert set(sessions) == {"support-bot", "vision-assistant"}
        support, vision = sessions["support-bot"], sessions["vision-assistant"]
        assert (support["calls"], support["errors"], support["customer_id"]) == (4, 1, "alice")
        assert (vision["calls"], vision["errors"], vision["customer_id"]) == (2, 0, "bob")
        # The two sessions ran concurrently: their time ranges overlap.
        assert support["first_ns"] < vision["last_ns"] and vision["first_ns"] < support["last_ns"]

        calls = store.session_calls("support-bot", support["session_id"])
        tool_turn = store.call(calls[0]["id"])
        assert tool_turn is not None
        output = json.loads(json.loads(tool_turn["attributes"])[gen_ai.GEN_AI_OUTPUT_MESSAGES])
        assert output[0]["parts"][0]["type"] == "tool_call" and output[0]["parts"][0]["name"] == "get_weather"
        assert tool_turn["response_id"].startswith("chatcmpl-simulated-")
        streamed = [c for c in calls if c["stream"]]
        assert len(streamed) == 1 and streamed[0]["ttft_ms"] > 100 and streamed[0]["input_tokens"] > 0
        assert calls[-1]["status"] == "ERROR" and calls[-1]["error_type"] == "openai.NotFoundError"

        vision_calls = store.session_calls("vision-assistant", vision["session_id"])
        first, second = (store.call(c["id"]) for c in vision_calls)
        assert first is not None and second is not None
        assert first["response_id"].startswith("msg_simulated_")
        assert first["cache_write_tokens"] > 0 and second["cache_read_tokens"] > 0
        assert first["ttft_ms"] > 100
        # The image reached the media store, findable from the span's image part.
        assert store.counts()["media"] == 1
        [part] = [
            p
            for m in json.loads(json.loads(first["attributes"])[gen_ai.GEN_AI_INPUT_MESSAGES])
            for p in m["parts"]
            if p.get("modality") == "image"
        ]
        if part["type"] == "uri":  # uploaded by the SDK's media uploader
            media_id = part["uri"].rsplit("/", 1)[1]
        else:  # a metadata-only part: the demo's own copy is found by its sha256
            media_id = store.media_ids_by_sha256([part["sha256"]])[part["sha256"]]
        media = store.get_media(media_id)
        assert media is not None and media.content_type == "image/png"
        assert media.path.read_bytes() == demo_image()
