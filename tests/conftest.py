"""Shared fixtures: a clean environment and clean OpenTelemetry globals for every test, and the OTLP receiver."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.util._once import Once

import fallom_otel
from fallom_otel_instrumentors._safety import RERAISE_ENV
from tests.otlp_receiver import OtlpReceiver


def reset_tracer_provider() -> None:
    """Forget the global tracer provider so the next test can set one (OpenTelemetry allows it once per process)."""
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("FALLOM_", "OTEL_", "ANTHROPIC_", "OPENAI_")):
            monkeypatch.delenv(name)
    # Internal errors fail tests instead of hiding; fault-injection tests unset this on purpose.
    monkeypatch.setenv(RERAISE_ENV, "1")
    # Export batches quickly so end-to-end tests do not wait for the 5 s default.
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    reset_tracer_provider()
    yield
    fallom_otel.shutdown(timeout_millis=2_000)
    _unpatch_providers()
    reset_tracer_provider()


def _unpatch_providers() -> None:
    """Leave no provider patches (process-wide or session-only) behind for the next test."""
    from fallom_otel import FallomInstrumentor
    from fallom_otel_instrumentors.anthropic import AnthropicInstrumentor
    from fallom_otel_instrumentors.openai import OpenAIInstrumentor

    if FallomInstrumentor().is_instrumented_by_opentelemetry:
        FallomInstrumentor().uninstrument()
    for instrumentor in (OpenAIInstrumentor(), AnthropicInstrumentor()):
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
        instrumentor.disable_for_sessions()


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as rx:
        yield rx
