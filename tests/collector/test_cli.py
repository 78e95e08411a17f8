"""The ``fallom-otel`` command: ``traces`` and ``sessions`` over the demo's database, ``serve`` as a real process
(console script and ``python -m``), and the clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.collector.conftest import REPO, DemoData, request, sdk_tracer

SCRIPT = Path(sys.executable).with_name("fallom-otel")


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FALLOM_", "OTEL_"))}
    completed = subprocess.run(
        [sys.executable, "-m", "fallom_otel", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    if check:
        assert completed.returncode == 0, completed.stderr
    return completed


def test_traces_json_and_table(demo_data: DemoData) -> None:
    calls = json.loads(_run("traces", "--db", str(demo_data.db), "--json").stdout)
    assert len(calls) == 6
    assert calls == sorted(calls, key=lambda c: c["start_ns"], reverse=True)
    assert {c["config_key"] for c in calls} == {"support-bot", "vision-assistant"}
    session = next(c["session_id"] for c in calls if c["config_key"] == "vision-assistant")
    only = json.loads(_run("traces", "--db", str(demo_data.db), "--json", "--session", session).stdout)
    assert len(only) == 2 and {c["session_id"] for c in only} == {session}
    errors = json.loads(_run("traces", "--db", str(demo_data.db), "--json", "--errors").stdout)
    assert [c["error_type"] for c in errors] == ["openai.NotFoundError"]
    table = _run("traces", "--db", str(demo_data.db), "--limit", "3").stdout
    assert "latest 3 calls" in table and "TTFT" in table and table.count("│") >= 3 * 10


def test_sessions_json_and_table(demo_data: DemoData) -> None:
    sessions = json.loads(_run("sessions", "--db", str(demo_data.db), "--json").stdout)
    assert sorted((s["config_key"], s["calls"], s["errors"]) for s in sessions) == [
        ("support-bot", 4, 1),
        ("vision-assistant", 2, 0),
    ]
    table = _run("sessions", "--db", str(demo_data.db)).stdout
    assert "support-bot" in table and "vision-assistant" in table and "alice" in table


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    completed = _run("traces", "--db", str(tmp_path / "nope.db"), check=False)
    assert completed.returncode == 1 and "no collector database" in completed.stderr
    assert not (tmp_path / "nope.db").exists()


def test_serve_as_a_console_script(tmp_path: Path) -> None:
    assert SCRIPT.exists(), "the fallom-otel console script is not installed (pip install -e '.[collector]')"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FALLOM_", "OTEL_"))}
    process = subprocess.Popen(
        [str(SCRIPT), "serve", "--port", "0", "--db", str(tmp_path / "served.db"), "--api-key", "k"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("fallom-otel collector listening on http://127.0.0.1:"), first
        url = first.split()[-1]
        deadline = time.monotonic() + 10
        while True:
            try:
                if request(url, "GET", "/healthz").status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        provider = sdk_tracer(url, headers={"Authorization": "Bearer k"})
        with provider.get_tracer("t").start_as_current_span("work"):
            pass
        provider.shutdown()
        assert json.loads(request(url, "GET", "/healthz").body)["spans"] == 1
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    traces = _run("traces", "--db", str(tmp_path / "served.db"), "--json")
    assert json.loads(traces.stdout) == []  # a plain span is stored but is not a GenAI call


def test_serve_on_a_busy_port_fails_cleanly(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        completed = _run("serve", "--port", str(port), "--db", str(tmp_path / "x.db"), check=False)
    assert completed.returncode == 1 and "cannot listen on 127.0.0.1" in completed.stderr


def test_help_lists_the_commands() -> None:
    out = _run("--help").stdout
    for command in ("serve", "traces", "sessions", "demo"):
        assert command in out
