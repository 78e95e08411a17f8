"""Zero code with one provider SDK: its instrumentor loads; the other one is skipped without noise.

``make test-single-sdk`` runs this file in a venv with ``anthropic`` and without ``openai`` (and sets
FALLOM_REQUIRE_SINGLE_SDK=1, so that a venv that has ``openai`` after all fails instead of skipping).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator

import pytest

from fallom_otel_semconv import gen_ai
from tests.otlp_receiver import OtlpReceiver
from tests.zero_code.fake_llm import ANTHROPIC_MESSAGE, FakeLLM
from tests.zero_code.runner import run_instrumented

# Read at import: the autouse fixture of tests/conftest.py clears FALLOM_* variables before each test.
SINGLE_SDK_REQUIRED = os.environ.get("FALLOM_REQUIRE_SINGLE_SDK") == "1"


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


def run_anthropic_app(receiver: OtlpReceiver, llm: FakeLLM) -> str:
    env = {"FALLOM_API_KEY": "k", "FALLOM_BASE_URL": receiver.url}
    result = run_instrumented("anthropic_app.py", llm.url, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [ANTHROPIC_MESSAGE["id"]]
    [span] = receiver.spans  # one GenAI span: the SDK's own span for the call is replaced by ours
    assert span.name == "chat claude-sonnet-4-5"
    assert span.scope_name == "fallom_otel_instrumentors.anthropic"
    assert span.attributes[gen_ai.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert span.attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 12
    return result.stderr


def test_anthropic_instrumentor_loads_by_entry_point(receiver: OtlpReceiver, llm: FakeLLM) -> None:
    run_anthropic_app(receiver, llm)


def test_without_openai_only_anthropic_loads_and_nothing_complains(receiver: OtlpReceiver, llm: FakeLLM) -> None:
    if importlib.util.find_spec("openai") is not None:
        if SINGLE_SDK_REQUIRED:
            pytest.fail("openai is installed in the single-SDK venv")
        pytest.skip("needs a venv without openai (make test-single-sdk)")
    stderr = run_anthropic_app(receiver, llm)
    # fallom_openai's missing SDK is a debug-level skip of the loader: nothing reaches the application's stderr.
    assert "fallom_openai" not in stderr
    assert "Traceback" not in stderr
