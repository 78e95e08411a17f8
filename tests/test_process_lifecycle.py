"""Process life cycle, in real subprocesses: at-exit flush, bounded exit with a dead backend, fork."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from fallom_otel_semconv import fallom as fallom_keys
from tests.otlp_receiver import OtlpReceiver


def run_script(source: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("FALLOM_", "OTEL_"))}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_spans_are_flushed_at_exit_without_an_explicit_flush(receiver: OtlpReceiver) -> None:
    script = """
        import sys
        from opentelemetry import trace
        import fallom_otel

        fallom_otel.init(api_key="k", base_url=sys.argv[1])
        with fallom_otel.session("cfg", "exit-session"):
            for i in range(3):
                with trace.get_tracer("script").start_as_current_span(f"exit-span-{i}"):
                    pass
        # no flush(), no shutdown(): the at-exit hook must deliver the spans
    """
    # A 60 s schedule delay: only the exit hook can have sent them.
    result = run_script(script, receiver.url, env={"OTEL_BSP_SCHEDULE_DELAY": "60000"})
    assert result.returncode == 0, result.stderr
    spans = receiver.wait_for_spans(3)
    assert sorted(s.name for s in spans) == ["exit-span-0", "exit-span-1", "exit-span-2"]
    assert {s.attributes[fallom_keys.FALLOM_SESSION_ID] for s in spans} == {"exit-session"}


def test_exit_with_dead_backend_is_bounded() -> None:
    rx = OtlpReceiver().start()
    dead_url = rx.url
    rx.stop()
    script = """
        import sys
        from opentelemetry import trace
        import fallom_otel

        fallom_otel.init(api_key="k", base_url=sys.argv[1])
        for i in range(100):
            with trace.get_tracer("script").start_as_current_span("s"):
                pass
        print("work done", flush=True)
    """
    started = time.monotonic()
    result = run_script(script, dead_url, env={"OTEL_BSP_SCHEDULE_DELAY": "60000"})
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout == "work done\n"
    # The exit hook waits at most 5 s for the backend (plus interpreter start-up), never the exporter's 10 s+ retries.
    assert elapsed < 9.0, f"exit took {elapsed:.1f} s"
    assert "dropped" in result.stderr  # the loss is reported on the fallom_otel logger


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_spans_created_in_a_forked_child_are_exported(receiver: OtlpReceiver) -> None:
    script = """
        import os, sys
        from opentelemetry import trace
        import fallom_otel

        fallom_otel.init(api_key="k", base_url=sys.argv[1])
        tracer = trace.get_tracer("script")
        with tracer.start_as_current_span("parent-before-fork"):
            pass
        parent_exporter = fallom_otel._setup._state.switch.pipeline.exporter
        pid = os.fork()
        if pid == 0:
            if fallom_otel._setup._state.switch.pipeline.exporter is parent_exporter:
                os._exit(4)  # the child must not reuse the parent's exporter and its pooled connections
            with fallom_otel.session("cfg", "child-session"):
                with tracer.start_as_current_span("child-span"):
                    pass
            delivered = fallom_otel.flush(5000)
            os._exit(0 if delivered else 3)
        _, status = os.waitpid(pid, 0)
        with tracer.start_as_current_span("parent-after-fork"):
            pass
        fallom_otel.flush(5000)
        sys.exit(os.waitstatus_to_exitcode(status))
    """
    result = run_script(script, receiver.url, env={"OTEL_BSP_SCHEDULE_DELAY": "60000"})
    assert result.returncode == 0, result.stderr
    spans = receiver.wait_for_spans(3)
    names = sorted(s.name for s in spans)
    assert names == ["child-span", "parent-after-fork", "parent-before-fork"]  # each exactly once
    [child] = [s for s in spans if s.name == "child-span"]
    assert child.attributes[fallom_keys.FALLOM_SESSION_ID] == "child-session"
    assert all(r.headers["authorization"] == "Bearer k" for r in receiver.trace_requests)
    assert len(receiver.trace_requests) >= 2  # the child sent its own request over its own connection
