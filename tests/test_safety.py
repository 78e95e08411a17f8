"""Instrumentation errors never reach the application (and fail the project's own tests instead of hiding)."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import trace

import fallom_otel
from fallom_otel import _session_processor
from fallom_otel_instrumentors import guard
from fallom_otel_instrumentors._safety import RERAISE_ENV
from tests.otlp_receiver import OtlpReceiver


def test_guard_reraises_under_the_projects_tests() -> None:
    with pytest.raises(ZeroDivisionError):
        with guard:
            1 / 0  # noqa: B018


def test_guard_swallows_and_logs_in_production(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(RERAISE_ENV)
    caplog.set_level(logging.DEBUG, logger="fallom_otel_instrumentors")
    reached = []
    with guard:
        reached.append("before")
        raise KeyError("extractor bug")
    assert reached == ["before"]
    [record] = [r for r in caplog.records if r.name == "fallom_otel_instrumentors"]
    assert record.levelno == logging.DEBUG
    assert record.exc_info is not None and record.exc_info[0] is KeyError


def test_guard_lets_the_applications_base_exceptions_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RERAISE_ENV)
    with pytest.raises(KeyboardInterrupt):
        with guard:
            raise KeyboardInterrupt
    with pytest.raises(SystemExit):
        with guard:
            raise SystemExit(3)


def test_broken_session_processor_never_breaks_span_creation(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(RERAISE_ENV)

    def broken(ctx: object) -> None:
        raise RuntimeError("injected fault in the session lookup")

    monkeypatch.setattr(_session_processor, "session_from_context", broken)
    fallom_otel.init(api_key="k", base_url=receiver.url)
    with fallom_otel.session("cfg", "s"):
        with trace.get_tracer("t").start_as_current_span("still-works") as span:
            value = 41 + 1
    assert value == 42 and span.get_span_context().is_valid
    assert fallom_otel.flush(5_000)
    assert [s.name for s in receiver.wait_for_spans(1)] == ["still-works"]


def test_broken_session_processor_fails_the_projects_tests(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ctx: object) -> None:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(_session_processor, "session_from_context", broken)
    fallom_otel.init(api_key="k", base_url=receiver.url)
    with pytest.raises(RuntimeError, match="injected fault"):
        trace.get_tracer("t").start_span("x")
