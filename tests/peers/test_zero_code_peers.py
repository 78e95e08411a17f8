"""Zero code next to other OpenAI instrumentors and opentelemetry-distro (all installed by ``make test-peers``).

With ``OTEL_PYTHON_DISTRO=fallom`` / ``OTEL_PYTHON_CONFIGURATOR=fallom`` (the documented set-up when
opentelemetry-distro is installed too), fallom_openai wins: the peers' entry points are not loaded, each with one
warning; ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=fallom_openai`` switches to them.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from fallom_otel_instrumentors import _peers
from fallom_otel_semconv import gen_ai
from tests.otlp_receiver import OtlpReceiver
from tests.peers.conftest import require
from tests.zero_code.fake_llm import CHAT_COMPLETION, FakeLLM
from tests.zero_code.runner import run_instrumented

# Outside `make test-peers` the packages are absent: skip the module at collection (there: fail).
require("opentelemetry.distro")

OUR_SCOPE = "fallom_otel_instrumentors.openai"


def installed_openai_peers() -> list[_peers.Peer]:
    """The OpenAI peers whose entry point is installed here (at least one is required)."""
    require("opentelemetry.distro")
    require("opentelemetry.instrumentation.genai.openai")
    values = {ep.value for ep in entry_points(group="opentelemetry_instrumentor")}
    found = [
        peer
        for peer in _peers.PEERS
        if peer.sdk == "openai" and any(_peers.peer_of_instrumentor(value) == peer for value in values)
    ]
    assert found
    return found


def run(receiver: OtlpReceiver, llm: FakeLLM, **extra: str) -> str:
    env = {
        "FALLOM_API_KEY": "k",
        "FALLOM_BASE_URL": receiver.url,
        "OTEL_PYTHON_DISTRO": "fallom",
        "OTEL_PYTHON_CONFIGURATOR": "fallom",
        **extra,
    }
    result = run_instrumented("openai_app.py", llm.openai_base_url, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [CHAT_COMPLETION["id"]]
    return result.stderr


def test_fallom_wins_and_each_peer_is_named_once(receiver: OtlpReceiver, llm: FakeLLM) -> None:
    peers = installed_openai_peers()
    stderr = run(receiver, llm)
    [span] = [s for s in receiver.spans if gen_ai.GEN_AI_OPERATION_NAME in s.attributes]
    assert span.scope_name == OUR_SCOPE
    # opentelemetry-instrumentation-httpx is installed here and loads too: its span is a child of ours.
    [http] = [s for s in receiver.spans if s.scope_name == "opentelemetry.instrumentation.httpx"]
    assert http.parent_span_id == span.span_id
    for peer in peers:
        assert stderr.count(f"not loading {peer.distribution} ") == 1, stderr
    assert "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=fallom_openai" in stderr


def test_disabling_ours_switches_to_the_peers(receiver: OtlpReceiver, llm: FakeLLM) -> None:
    installed_openai_peers()
    stderr = run(receiver, llm, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="fallom_openai")
    spans = receiver.spans
    assert spans, stderr
    assert not [s for s in spans if s.scope_name == OUR_SCOPE]
    assert "not loading" not in stderr
