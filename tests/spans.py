"""Helpers that start spans the way an application or an instrumentor would."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from fallom_otel_semconv import gen_ai

LLM_ATTRIBUTES = {
    gen_ai.GEN_AI_OPERATION_NAME: gen_ai.GenAiOperationNameValues.CHAT.value,
    gen_ai.GEN_AI_PROVIDER_NAME: gen_ai.GenAiProviderNameValues.OPENAI.value,
    gen_ai.GEN_AI_REQUEST_MODEL: "gpt-4o",
}


def make_llm_span(name: str = "chat gpt-4o", tracer_provider: trace.TracerProvider | None = None) -> Span:
    """Start and end a GenAI-marked CLIENT span (what an instrumentor emits) and return it."""
    tracer = trace.get_tracer("tests.llm", tracer_provider=tracer_provider)
    with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=LLM_ATTRIBUTES) as span:
        return span


def make_app_span(name: str = "app-work", tracer_provider: trace.TracerProvider | None = None) -> Span:
    """Start and end a plain application span and return it."""
    tracer = trace.get_tracer("tests.app", tracer_provider=tracer_provider)
    with tracer.start_as_current_span(name) as span:
        return span
