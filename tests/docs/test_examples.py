"""Every script in examples/ runs against the local collector and the simulated provider, and its calls arrive."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest
import yaml

from fallom_otel.collector import Collector

from .conftest import BIN, ROOT

EXAMPLES = ROOT / "examples"


def _run(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, f"{argv} exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done.stdout


def _calls(collector: Collector, expected: int) -> list[dict[str, Any]]:
    assert collector.store is not None
    deadline = time.monotonic() + 10
    calls = collector.store.calls(limit=100)
    while len(calls) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
        calls = collector.store.calls(limit=100)
    return sorted(calls, key=lambda call: call["start_ns"])


def test_every_example_is_covered() -> None:
    scripts = {path.name for path in EXAMPLES.glob("*.py")}
    assert scripts == set(SESSIONS_OF), "add the new example to SESSIONS_OF (and to examples/README.md)"


# example -> the (config key, session id, customer id, provider) of each call it makes, in order of start.
SESSIONS_OF: dict[str, list[tuple[str | None, str | None, str | None, str]]] = {
    "openai_quickstart.py": [("my-app", "session-123", "user-456", "openai")],
    "openai_streaming.py": [("travel-agent", "trip-42", "user-7", "openai")] * 2,
    "anthropic_stream.py": [("vision", "review-9", "designer-3", "anthropic")],
    "web_handler.py": [("web-assistant", "conv-a", "alice", "openai"), ("web-assistant", "conv-b", "bob", "openai")],
    "instrument_everything.py": [
        ("my-agent", "conv-1", "user-1", "openai"),
        ("my-agent", "conv-2", "user-2", "openai"),
        ("my-agent", "conv-1", "user-1", "anthropic"),
        ("my-agent", "conv-2", "user-2", "anthropic"),
    ],
    "zero_code_app.py": [(None, None, None, "openai")],
}


@pytest.mark.parametrize("script", sorted(SESSIONS_OF))
def test_example_runs_and_is_traced(script: str, collector: Collector, app_env: dict[str, str]) -> None:
    if script == "zero_code_app.py":
        argv = [str(BIN / "opentelemetry-instrument"), sys.executable, str(EXAMPLES / script)]
    else:
        argv = [sys.executable, str(EXAMPLES / script)]
    output = _run(argv, app_env)
    assert output.strip(), "the example prints the model's answers"

    expected = SESSIONS_OF[script]
    calls = _calls(collector, len(expected))
    got = sorted((c["config_key"], c["session_id"], c["customer_id"], c["provider"]) for c in calls)
    assert got == sorted(expected, key=lambda row: tuple(str(v) for v in row))
    for call in calls:
        assert call["status"] != "ERROR", call
        assert call["input_tokens"] and call["output_tokens"], call
        assert call["cost_usd"] is not None and call["cost_usd"] > 0, call


def test_streaming_examples_record_time_to_first_token(collector: Collector, app_env: dict[str, str]) -> None:
    _run([sys.executable, str(EXAMPLES / "openai_streaming.py")], app_env)
    streamed = [call for call in _calls(collector, 2) if call["stream"]]
    assert len(streamed) == 1 and streamed[0]["ttft_ms"] > 0


def test_image_example_uploads_the_image_and_keeps_base64_out_of_the_span(
    collector: Collector, app_env: dict[str, str]
) -> None:
    _run([sys.executable, str(EXAMPLES / "anthropic_stream.py")], app_env)
    (call,) = _calls(collector, 1)
    assert collector.store is not None
    stored = collector.store.call(call["id"])
    assert stored is not None
    text = str(stored)
    assert "/v1/media/" in text and "iVBORw0KGgo" not in text  # a URI, not the PNG's base64
    deadline = time.monotonic() + 10
    while not collector.store.counts().get("media") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert collector.store.counts().get("media") == 1


def test_collector_config_example_parses() -> None:
    config = yaml.safe_load((EXAMPLES / "collector" / "otelcol.yaml").read_text())
    pipeline = config["service"]["pipelines"]["traces"]
    for kind in ("receivers", "processors", "exporters"):
        for name in pipeline[kind]:
            assert name in config[kind], f"{kind[:-1]} {name} is used but not defined"
    assert config["exporters"]["otlphttp/fallom"]["headers"]["Authorization"] == "Bearer ${env:FALLOM_API_KEY}"
