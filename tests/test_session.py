"""Sessions: validation, scoping (with / async with / decorator), isolation, and W3C baggage."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator

import fallom_otel
from fallom_otel import Session
from fallom_otel_semconv import fallom as fallom_keys
from fallom_otel_semconv import gen_ai
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.spans import make_llm_span


def session_id_of(span: ReceivedSpan) -> Any:
    return span.attributes.get(fallom_keys.FALLOM_SESSION_ID)


# --- validation ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"config_key": 1}, TypeError, "config_key must be a str"),
        ({"session_id": None}, TypeError, "session_id must be a str"),
        ({"customer_id": 7}, TypeError, "customer_id must be a str"),
        ({"config_key": ""}, ValueError, "config_key must not be empty"),
        ({"session_id": "x" * 257}, ValueError, "at most 256 characters"),
        ({"session_id": "caf\u00e9"}, ValueError, "printable ASCII"),
        ({"customer_id": "line\nbreak"}, ValueError, "printable ASCII"),
        ({"metadata": ["a"]}, TypeError, "metadata must be a mapping"),
        ({"metadata": {"ok": [1]}}, TypeError, "must be str, int, float or bool"),
        ({"metadata": {"bad key": "v"}}, ValueError, "metadata key 'bad key'"),
        ({"metadata": {f"k{i}": i for i in range(65)}}, ValueError, "at most 64 entries"),
        ({"tags": "one-string"}, TypeError, "tags must be a list of str"),
        ({"tags": ["ok", 3]}, TypeError, "each tag must be a str"),
        ({"tags": [""]}, ValueError, "each tag must be 1-128 characters"),
        ({"propagate": "yes"}, TypeError, "propagate must be a bool"),
    ],
)
def test_bad_values_raise_clear_errors_at_session_time(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    arguments: dict[str, Any] = {"config_key": "cfg", "session_id": "s-1"}
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        fallom_otel.session(**arguments)


def test_session_values_and_attributes() -> None:
    s = fallom_otel.session(
        config_key="my-agent",
        session_id="session-123",
        customer_id="user-456",
        metadata={"plan": "pro", "seats": 3},
        tags=["beta", "eu", "beta"],
    )
    assert (s.config_key, s.session_id, s.customer_id) == ("my-agent", "session-123", "user-456")
    assert s.tags == ("beta", "eu")
    assert dict(s.span_attributes) == {
        fallom_keys.FALLOM_CONFIG_KEY: "my-agent",
        fallom_keys.FALLOM_SESSION_ID: "session-123",
        fallom_keys.FALLOM_CUSTOMER_ID: "user-456",
        gen_ai.GEN_AI_CONVERSATION_ID: "session-123",
        fallom_keys.session_metadata_key("plan"): "pro",
        fallom_keys.session_metadata_key("seats"): 3,
        fallom_keys.FALLOM_SESSION_TAGS: ("beta", "eu"),
    }
    with pytest.raises(TypeError):
        s.metadata["plan"] = "free"  # type: ignore[index]


# --- scoping ------------------------------------------------------------------------------------------------------


def test_with_block_scopes_and_nests() -> None:
    outer = fallom_otel.session("cfg", "outer")
    inner = fallom_otel.session("cfg", "inner")
    assert fallom_otel.current_session() is None
    with outer as entered:
        assert entered is outer
        assert fallom_otel.current_session() is outer
        with inner:
            assert fallom_otel.current_session() is inner
        assert fallom_otel.current_session() is outer
    assert fallom_otel.current_session() is None


def test_with_block_restores_context_on_exception() -> None:
    s = fallom_otel.session("cfg", "s")
    with pytest.raises(RuntimeError, match="boom"):
        with s:
            raise RuntimeError("boom")
    assert fallom_otel.current_session() is None


def test_same_session_entered_twice_nests() -> None:
    s = fallom_otel.session("cfg", "s")
    with s, s:
        assert fallom_otel.current_session() is s
    assert fallom_otel.current_session() is None


async def test_async_with_and_decorators() -> None:
    s = fallom_otel.session("cfg", "async-1")
    async with s:
        assert fallom_otel.current_session() is s
    assert fallom_otel.current_session() is None

    @s
    def sync_work(x: int) -> tuple[int, Session | None]:
        return x * 2, fallom_otel.current_session()

    @s
    async def async_work(x: int) -> tuple[int, Session | None]:
        await asyncio.sleep(0)
        return x + 1, fallom_otel.current_session()

    assert sync_work(4) == (8, s)
    assert await async_work(4) == (5, s)
    assert sync_work.__name__ == "sync_work"
    assert fallom_otel.current_session() is None


def test_decorating_a_generator_is_refused() -> None:
    s = fallom_otel.session("cfg", "s")

    def gen() -> Any:
        yield 1

    with pytest.raises(TypeError, match="generator"):
        s(gen)


# --- isolation, end to end ----------------------------------------------------------------------------------------


def test_threads_and_tasks_are_isolated(receiver: OtlpReceiver) -> None:
    fallom_otel.init(api_key="k", base_url=receiver.url)
    tracer = trace.get_tracer("tests.isolation")
    barrier = threading.Barrier(50)

    def thread_worker(i: int) -> None:
        with fallom_otel.session("cfg", f"thread-{i}", f"cust-thread-{i}"):
            barrier.wait()  # all 50 sessions are open at the same time
            for _ in range(2):
                with tracer.start_as_current_span(f"thread-{i}"):
                    pass

    threads = [threading.Thread(target=thread_worker, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    async def task_worker(i: int, started: asyncio.Event, all_started: list[int]) -> None:
        async with fallom_otel.session("cfg", f"task-{i}", f"cust-task-{i}"):
            all_started.append(i)
            if len(all_started) == 50:
                started.set()
            await started.wait()  # interleave: every task's session is open while the others run
            for _ in range(2):
                with tracer.start_as_current_span(f"task-{i}"):
                    await asyncio.sleep(0)

    async def run_tasks() -> None:
        started, all_started = asyncio.Event(), []  # type: ignore[var-annotated]
        await asyncio.gather(*(task_worker(i, started, all_started) for i in range(50)))

    asyncio.run(run_tasks())
    assert fallom_otel.flush(10_000)
    spans = receiver.wait_for_spans(200)
    assert len(spans) == 200
    mismatched = [
        s.name
        for s in spans
        if session_id_of(s) != s.name or s.attributes.get(fallom_keys.FALLOM_CUSTOMER_ID) != f"cust-{s.name}"
    ]
    assert mismatched == []  # zero cross-talk
    assert len({session_id_of(s) for s in spans}) == 100


# --- baggage ------------------------------------------------------------------------------------------------------


def test_sessions_stay_in_process_by_default() -> None:
    with fallom_otel.session("cfg", "private", "cust"):
        assert baggage.get_all() == {}
        carrier: dict[str, str] = {}
        W3CBaggagePropagator().inject(carrier)
        assert carrier == {}


def test_propagate_writes_w3c_baggage() -> None:
    with fallom_otel.session("cfg", "shared-1", "cust-1", propagate=True):
        carrier: dict[str, str] = {}
        W3CBaggagePropagator().inject(carrier)
    entries = dict(pair.split("=", 1) for pair in carrier["baggage"].split(","))
    assert entries == {
        fallom_keys.BAGGAGE_CONFIG_KEY: "cfg",
        fallom_keys.BAGGAGE_SESSION_ID: "shared-1",
        fallom_keys.BAGGAGE_CUSTOMER_ID: "cust-1",
    }


def test_init_propagate_sets_the_default(receiver: OtlpReceiver) -> None:
    fallom_otel.init(base_url=receiver.url, propagate=True)
    assert fallom_otel.session("cfg", "s").propagate is True
    assert fallom_otel.session("cfg", "s", propagate=False).propagate is False


def test_incoming_baggage_is_honoured_downstream(receiver: OtlpReceiver) -> None:
    # Upstream service: a propagating session, injected into outgoing headers.
    with fallom_otel.session("cfg-up", "conv-77", "cust-77", propagate=True):
        headers: dict[str, str] = {}
        W3CBaggagePropagator().inject(headers)
    # Downstream service: extracts the headers into its context, with no session of its own.
    fallom_otel.init(api_key="k", base_url=receiver.url)
    token = otel_context.attach(W3CBaggagePropagator().extract(headers))
    try:
        make_llm_span("downstream")
    finally:
        otel_context.detach(token)
    assert fallom_otel.flush(5_000)
    [span] = receiver.wait_for_spans(1)
    assert span.attributes[fallom_keys.FALLOM_SESSION_ID] == "conv-77"
    assert span.attributes[fallom_keys.FALLOM_CONFIG_KEY] == "cfg-up"
    assert span.attributes[fallom_keys.FALLOM_CUSTOMER_ID] == "cust-77"
    assert span.attributes[gen_ai.GEN_AI_CONVERSATION_ID] == "conv-77"


def test_in_process_session_wins_over_incoming_baggage_and_bad_baggage_is_ignored(receiver: OtlpReceiver) -> None:
    fallom_otel.init(api_key="k", base_url=receiver.url)
    ctx = baggage.set_baggage(fallom_keys.BAGGAGE_SESSION_ID, "from-baggage")
    token = otel_context.attach(ctx)
    try:
        with fallom_otel.session("cfg", "local"):
            make_llm_span("local-wins")
    finally:
        otel_context.detach(token)
    token = otel_context.attach(baggage.set_baggage(fallom_keys.BAGGAGE_SESSION_ID, "x" * 300))
    try:
        make_llm_span("too-long-ignored")
    finally:
        otel_context.detach(token)
    assert fallom_otel.flush(5_000)
    spans = {s.name: s for s in receiver.wait_for_spans(2)}
    assert session_id_of(spans["local-wins"]) == "local"
    assert session_id_of(spans["too-long-ignored"]) is None
