"""The ``fallom`` distro in process: what it hands our instrumentors, version floors, and which peers it skips."""

from __future__ import annotations

import logging
import os
from collections.abc import Collection
from importlib.metadata import EntryPoint, entry_points, version
from typing import Any

import pytest
from opentelemetry.instrumentation.dependencies import DependencyConflictError
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from fallom_otel import _distro, _setup
from fallom_otel._distro import FallomConfigurator, FallomDistro
from fallom_otel._providers import settings
from fallom_otel_instrumentors.openai import OpenAIInstrumentor
from tests.otlp_receiver import OtlpReceiver

GROUP = "opentelemetry_instrumentor"
OPENAI_EP = EntryPoint("fallom_openai", "fallom_otel_instrumentors.openai:OpenAIInstrumentor", GROUP)


class FutureOpenAIInstrumentor(OpenAIInstrumentor):
    """Our OpenAI instrumentor as a release that supports only a future openai major (the installed one is older)."""

    _instance = None  # its own singleton, not OpenAIInstrumentor's

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 99",)


class AbsentSdkInstrumentor(OpenAIInstrumentor):
    """An instrumentor of ours whose SDK is not installed at all."""

    _instance = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("fallom-test-absent-sdk >= 1",)


@pytest.fixture(autouse=True)
def fresh_distro_state(monkeypatch: pytest.MonkeyPatch) -> None:
    # One zero-code start-up per process is what the module models; each test is a new start-up.
    monkeypatch.setattr(_distro, "_init_attempted", False)


def test_entry_points_are_registered() -> None:
    assert {(e.name, e.value) for e in entry_points(group="opentelemetry_distro")} >= {
        ("fallom", "fallom_otel._distro:FallomDistro")
    }
    assert {(e.name, e.value) for e in entry_points(group="opentelemetry_configurator")} >= {
        ("fallom", "fallom_otel._distro:FallomConfigurator")
    }
    ours = {e.name: e.value for e in entry_points(group=GROUP) if e.name.startswith("fallom_")}
    assert ours == {
        "fallom_openai": "fallom_otel_instrumentors.openai:OpenAIInstrumentor",
        "fallom_anthropic": "fallom_otel_instrumentors.anthropic:AnthropicInstrumentor",
    }


def test_distro_defaults_to_http_protobuf_and_keeps_a_user_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL", raising=False)
    FallomDistro().configure()
    assert os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    FallomDistro().configure()
    assert os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/json"


def test_our_instrumentor_gets_fallom_settings(receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FALLOM_BASE_URL", receiver.url)
    FallomConfigurator().configure(auto_instrumentation_version="test")
    FallomDistro().load_instrumentor(OPENAI_EP, skip_dep_check=True)
    instrumentor = OpenAIInstrumentor()
    assert instrumentor.is_instrumented_by_opentelemetry
    handler = instrumentor.handler
    assert handler is not None
    expected = settings()
    # Fallom's content default (on), not OpenTelemetry's (off); the provider init() set up; the same hooks.
    assert handler.capture_content is True
    assert handler.configured_with == (_setup.tracer_provider(), True)
    assert handler.hooks == expected["hooks"]


def test_distro_initialises_when_another_configurator_ran(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FALLOM_BASE_URL", receiver.url)
    assert _setup.current_config() is None
    FallomDistro().load_instrumentor(OPENAI_EP, skip_dep_check=True)
    config = _setup.current_config()
    assert config is not None
    assert config.traces_endpoint == receiver.traces_endpoint


def test_version_floor_is_enforced(caplog: pytest.LogCaptureFixture) -> None:
    entry_point = EntryPoint("fallom_openai", f"{__name__}:FutureOpenAIInstrumentor", GROUP)
    with pytest.raises(DependencyConflictError) as raised:
        FallomDistro().load_instrumentor(entry_point, skip_dep_check=True)
    conflict = raised.value.conflict
    assert conflict.required == "openai >= 99"
    assert conflict.found == f"openai {version('openai')}"
    assert not FutureOpenAIInstrumentor().is_instrumented_by_opentelemetry
    # The loader logs a version conflict as an error (the default distro would have instrumented anyway).
    with caplog.at_level(logging.DEBUG):
        conflict._log(logging.getLogger("test"), "fallom_openai")
    assert [r.levelname for r in caplog.records if r.name == "test"] == ["ERROR"]


def test_missing_sdk_is_a_quiet_skip(caplog: pytest.LogCaptureFixture) -> None:
    entry_point = EntryPoint("fallom_openai", f"{__name__}:AbsentSdkInstrumentor", GROUP)
    with pytest.raises(DependencyConflictError) as raised:
        FallomDistro().load_instrumentor(entry_point, skip_dep_check=True)
    assert raised.value.conflict.found is None
    with caplog.at_level(logging.DEBUG):
        raised.value.conflict._log(logging.getLogger("test"), "fallom_openai")
    assert [r.levelname for r in caplog.records if r.name == "test"] == ["DEBUG"]


def test_sdk_disabled_loads_nothing_of_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "TRUE")
    FallomConfigurator().configure()
    FallomDistro().load_instrumentor(OPENAI_EP, skip_dep_check=True)
    assert _setup.current_config() is None
    assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry


PEER_ENTRY_POINTS = [
    EntryPoint("openai", "opentelemetry.instrumentation.genai.openai:OpenAIInstrumentor", GROUP),
    EntryPoint("openai", "opentelemetry.instrumentation.openai_v2:OpenAIInstrumentor", GROUP),
    EntryPoint("openai", "opentelemetry.instrumentation.openai:OpenAIInstrumentor", GROUP),
    EntryPoint("openai", "openinference.instrumentation.openai:OpenAIInstrumentor", GROUP),
]


@pytest.mark.parametrize("peer", PEER_ENTRY_POINTS, ids=lambda ep: ep.value.partition(":")[0])
def test_peer_of_an_sdk_we_instrument_is_not_loaded(peer: EntryPoint, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="fallom_otel")
    FallomDistro().load_instrumentor(peer, skip_dep_check=True)  # not even imported: these are not installed here
    [record] = caplog.records
    message = record.getMessage()
    assert "not loading" in message
    assert "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=fallom_openai" in message


@pytest.mark.parametrize("peer", PEER_ENTRY_POINTS, ids=lambda ep: ep.value.partition(":")[0])
def test_peer_loads_when_ours_is_disabled(peer: EntryPoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "httpx, fallom_openai")
    # The peers are not installed in this venv (tests/peers runs them for real): the distro's attempt to load one
    # surfaces as the ModuleNotFoundError the loader skips it on.
    with pytest.raises(ModuleNotFoundError):
        FallomDistro().load_instrumentor(peer, skip_dep_check=True)


class RecordingInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Neither ours nor a GenAI peer (think httpx): records how it was instrumented."""

    calls: list[dict[str, Any]] = []

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        RecordingInstrumentor.calls.append(kwargs)

    def _uninstrument(self, **kwargs: Any) -> None:
        pass


def test_other_instrumentors_load_as_usual() -> None:
    entry_point = EntryPoint("recording", f"{__name__}:RecordingInstrumentor", GROUP)
    FallomDistro().load_instrumentor(entry_point, skip_dep_check=True)
    try:
        assert RecordingInstrumentor().is_instrumented_by_opentelemetry
        assert RecordingInstrumentor.calls == [{}]  # no Fallom settings forced on it
    finally:
        RecordingInstrumentor().uninstrument()


def test_instruments_any_extra_matches_each_instrumentors_range() -> None:
    # opentelemetry-instrument checks the distribution's `instruments-any` extra before loading either entry point:
    # it must list exactly the ranges the instrumentors enforce, so either SDK alone lets its instrumentor load.
    from importlib.metadata import distribution

    from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts
    from packaging.requirements import Requirement

    from fallom_otel_instrumentors.anthropic.package import _instruments as anthropic_range
    from fallom_otel_instrumentors.openai.package import _instruments as openai_range

    dist = distribution("fallom-otel-instrumentors")
    declared = [Requirement(req) for req in dist.requires or ()]
    extra = {
        (r.name, r.specifier)
        for r in declared
        if r.marker is not None and r.marker.evaluate({"extra": "instruments-any"}) and not r.marker.evaluate()
    }
    enforced = {(r.name, r.specifier) for r in map(Requirement, (*openai_range, *anthropic_range))}
    assert extra == enforced
    assert get_dist_dependency_conflicts(dist) is None  # both SDKs are installed here
