"""Another OpenAI instrumentor active in the same process: exactly one GenAI span per call, one warning naming it.

The rule (``fallom_otel_instrumentors._peers``): a peer whose wrapper is on the called method and whose instrumentor
is on keeps the call; fallom-otel steps aside, whichever of the two patched first.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

import fallom_otel
from fallom_otel import FallomInstrumentor
from fallom_otel_instrumentors import _peers
from fallom_otel_semconv import fallom as fallom_keys
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.peers.conftest import peer_instrumentor, require
from tests.zero_code.fake_llm import FakeLLM

# Outside `make test-peers` the packages are absent: skip the module at collection (there: fail).
require("opentelemetry.instrumentation.genai.openai")

# openai-v2 cannot be installed next to genai-openai (see the Makefile); its detection is the same code path.
OPENAI_PEERS = [
    peer
    for peer in _peers.PEERS
    if peer.sdk == "openai" and peer.distribution != "opentelemetry-instrumentation-openai-v2"
]
OUR_SCOPE = "fallom_otel_instrumentors.openai"

# OpenLLMetry's import warns about its pydantic models; that is not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Support for class-based `config` is deprecated")


def by_distribution(peer: _peers.Peer) -> str:
    return peer.distribution


def client(llm: FakeLLM) -> Any:
    openai = require("openai")
    return openai.OpenAI(base_url=llm.openai_base_url, api_key="sk-test-peers", max_retries=0)


def chat(openai_client: Any) -> None:
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])


def start(order: str, peer: _peers.Peer, receiver: OtlpReceiver) -> Any:
    """Turn on fallom-otel (process-wide) and the peer, in the given order; return the peer's instrumentor."""
    instrumentor_class = peer_instrumentor(peer)
    fallom_otel.init(api_key="k", base_url=receiver.url)  # sets the global provider the peer traces with
    if order == "peer_first":
        instrumentor_class().instrument()
        FallomInstrumentor().instrument()
    else:
        FallomInstrumentor().instrument()
        instrumentor_class().instrument()
    return instrumentor_class()


def exported(receiver: OtlpReceiver) -> list[ReceivedSpan]:
    assert fallom_otel.flush(5_000)
    return receiver.spans


def peer_warnings(caplog: pytest.LogCaptureFixture, peer: _peers.Peer) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "fallom_otel_instrumentors" and peer.distribution in r.getMessage()
    ]


@pytest.mark.parametrize("order", ["peer_first", "fallom_first"])
@pytest.mark.parametrize("peer", OPENAI_PEERS, ids=by_distribution)
def test_one_genai_span_per_call_and_one_warning(
    peer: _peers.Peer, order: str, receiver: OtlpReceiver, llm: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fallom_otel_instrumentors")
    start(order, peer, receiver)
    openai_client = client(llm)
    for _ in range(3):
        chat(openai_client)
    spans = exported(receiver)
    assert len(llm.requests) == 3
    # Three calls, three spans, all the peer's: fallom-otel stepped aside (no HTTP instrumentor is on here).
    assert len(spans) == 3, [(s.name, s.scope_name) for s in spans]
    assert not [s for s in spans if s.scope_name == OUR_SCOPE]
    [warning] = peer_warnings(caplog, peer)
    assert "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=openai" in warning


@pytest.mark.parametrize("peer", OPENAI_PEERS, ids=by_distribution)
def test_session_proxy_call_left_to_the_peer_still_carries_the_session(
    peer: _peers.Peer, receiver: OtlpReceiver, llm: FakeLLM
) -> None:
    fallom_otel.init(api_key="k", base_url=receiver.url)
    peer_instrumentor(peer)().instrument()
    session = fallom_otel.session(config_key="support-bot", session_id="conv-7")
    chat(session.wrap_openai(client(llm)))
    [span] = exported(receiver)
    assert span.scope_name != OUR_SCOPE
    assert span.attributes[fallom_keys.FALLOM_SESSION_ID] == "conv-7"


def test_a_method_the_peer_does_not_wrap_stays_ours(receiver: OtlpReceiver, llm: FakeLLM) -> None:
    # opentelemetry-instrumentation-genai-openai does not wrap the legacy completions endpoint.
    [peer] = [p for p in OPENAI_PEERS if p.distribution == "opentelemetry-instrumentation-genai-openai"]
    start("peer_first", peer, receiver)
    client(llm).embeddings.create(model="text-embedding-3-small", input="hi")  # the peer's
    client(llm).completions.create(model="gpt-3.5-turbo-instruct", prompt="hi")  # ours
    spans = exported(receiver)
    assert len(spans) == 2, [(s.name, s.scope_name) for s in spans]
    assert [s.scope_name == OUR_SCOPE for s in spans] == [False, True]
    assert spans[1].name == "text_completion gpt-3.5-turbo-instruct"


@pytest.mark.parametrize(
    "peer",
    [p for p in OPENAI_PEERS if p.distribution != "opentelemetry-instrumentation-openai"],
    ids=by_distribution,
)
def test_a_peer_turned_off_leaves_the_calls_to_us(peer: _peers.Peer, receiver: OtlpReceiver, llm: FakeLLM) -> None:
    # (OpenLLMetry's OpenAI uninstrument() leaves its wrappers active, so it is not in this list.) The peer patched
    # last: a peer's unwrap() removes the outermost layer, which would be ours had we patched last.
    instrumentor = start("fallom_first", peer, receiver)
    instrumentor.uninstrument()
    chat(client(llm))
    [span] = exported(receiver)
    assert span.scope_name == OUR_SCOPE


def our_layers() -> int:
    from openai.resources.chat.completions import Completions

    wrappers = _peers._layers(vars(Completions)["create"])
    return sum(_peers._module_of(w) == "fallom_otel_instrumentors._wrap" for w in wrappers)


def test_uninstrument_never_strips_a_peer_wrapped_around_us(receiver: OtlpReceiver, llm: FakeLLM) -> None:
    [peer] = [p for p in OPENAI_PEERS if p.distribution == "opentelemetry-instrumentation-genai-openai"]
    instrumentor = start("fallom_first", peer, receiver)  # the peer's wrapper is outside ours
    FallomInstrumentor().uninstrument()
    chat(client(llm))
    [span] = exported(receiver)
    assert span.scope_name != OUR_SCOPE  # the peer still traces: its layer was not removed by our uninstrument
    instrumentor.uninstrument()
    FallomInstrumentor().instrument()  # our buried layer is reused, not stacked
    assert our_layers() == 1
    chat(client(llm))
    spans = exported(receiver)
    assert [s.scope_name for s in spans[1:]] == [OUR_SCOPE]


def test_several_active_peers_are_each_named_once(
    receiver: OtlpReceiver, llm: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fallom_otel_instrumentors")
    fallom_otel.init(api_key="k", base_url=receiver.url, instrument=True)
    for peer in OPENAI_PEERS:
        peer_instrumentor(peer)().instrument()
    openai_client = client(llm)
    chat(openai_client)
    chat(openai_client)
    spans = exported(receiver)
    assert spans
    assert not [s for s in spans if s.scope_name == OUR_SCOPE]  # the peers duplicate each other; we add nothing
    for peer in OPENAI_PEERS:
        assert len(peer_warnings(caplog, peer)) == 1, peer.distribution
