"""Attribute names, enum values, metric advice and module exports of fallom_otel_semconv.

Expected keys are built by joining their parts, so that no quoted key literal of the GenAI or Fallom
namespaces appears in this file (see tests/test_no_attribute_literals.py).
"""

from __future__ import annotations

import ast
import re
import sys
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import fallom_otel_semconv
from fallom_otel_semconv import _enum, common, fallom, gen_ai, messages, metrics
from fallom_otel_semconv import openai as semconv_openai

KEY_MODULES = (gen_ai, common, semconv_openai, fallom, metrics)
ALL_MODULES = (*KEY_MODULES, messages)

GA = "gen_ai"
FA = "fallom"

# String constants that are values, not keys.
VALUE_CONSTANTS = {"ERROR_TYPE_OTHER", "UNIT_SECONDS", "UNIT_TOKEN", "UNIT_USD"}
# Constants that deliberately repeat another constant's key.
ALIASES = {
    "BAGGAGE_CONFIG_KEY": "FALLOM_CONFIG_KEY",
    "BAGGAGE_SESSION_ID": "FALLOM_SESSION_ID",
    "BAGGAGE_CUSTOMER_ID": "FALLOM_CUSTOMER_ID",
}
# Prefix constants end with a dot.
PREFIXES = {"FALLOM_SESSION_METADATA_PREFIX"}

KEY_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
PREFIX_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+\.$")


def k(*parts: str) -> str:
    return ".".join(parts)


def string_constants(module: ModuleType) -> dict[str, str]:
    return {name: value for name, value in vars(module).items() if name.isupper() and isinstance(value, str)}


def key_constants() -> list[tuple[str, str, str]]:
    """(module name, constant name, key) of every key constant, aliases excluded."""
    found = []
    for module in KEY_MODULES:
        for name, value in string_constants(module).items():
            if name in VALUE_CONSTANTS or name in ALIASES:
                continue
            found.append((module.__name__, name, value))
    return found


# The span contract of DESIGN.md section 4, plus the metric attributes and metric names.
SPAN_CONTRACT_KEYS = [
    k(GA, "operation", "name"),
    k(GA, "provider", "name"),
    k(GA, "request", "model"),
    k(GA, "response", "model"),
    k(GA, "response", "id"),
    k(GA, "request", "max_tokens"),
    k(GA, "request", "temperature"),
    k(GA, "request", "top_p"),
    k(GA, "request", "top_k"),
    k(GA, "request", "stop_sequences"),
    k(GA, "request", "seed"),
    k(GA, "request", "frequency_penalty"),
    k(GA, "request", "presence_penalty"),
    k(GA, "request", "choice", "count"),
    k(GA, "request", "stream"),
    k(GA, "response", "finish_reasons"),
    k(GA, "usage", "input_tokens"),
    k(GA, "usage", "output_tokens"),
    k(GA, "usage", "cache_read", "input_tokens"),
    k(GA, "usage", "cache_write", "input_tokens"),
    k(GA, "usage", "reasoning", "output_tokens"),
    k(GA, "response", "time_to_first_chunk"),
    k(FA, "time_to_first_token_ms"),
    k(GA, "system_instructions"),
    k(GA, "input", "messages"),
    k(GA, "output", "messages"),
    k(GA, "tool", "definitions"),
    k(FA, "config_key"),
    k(FA, "session_id"),
    k(FA, "customer_id"),
    k(GA, "conversation", "id"),
    k(FA, "session", "tags"),
    k(FA, "cost", "usd"),
    k(FA, "cost", "input_usd"),
    k(FA, "cost", "output_usd"),
    k("error", "type"),
    k("server", "address"),
    k("server", "port"),
    k(GA, "token", "type"),
]

METRIC_NAMES = [
    k(GA, "client", "operation", "duration"),
    k(GA, "client", "token", "usage"),
    k(GA, "client", "operation", "time_to_first_chunk"),
    k(FA, "client", "cost"),
]

OTHER_EXPECTED_KEYS = [
    k(GA, "output", "type"),
    k(GA, "request", "encoding_formats"),
    k(GA, "usage", "cache_creation", "input_tokens"),
    k(GA, "embeddings", "dimension", "count"),
    k("openai", "api", "type"),
    k("openai", "request", "service_tier"),
    k("openai", "response", "service_tier"),
    k("openai", "response", "system_fingerprint"),
    k(FA, "cost", "source"),
]


def test_keys_are_unique_across_the_package():
    keys = [key for _, _, key in key_constants()]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    assert duplicates == []


def test_keys_are_well_formed():
    for module_name, name, key in key_constants():
        pattern = PREFIX_RE if name in PREFIXES else KEY_RE
        assert pattern.match(key), f"{module_name}.{name} = {key!r}"


def test_constant_names_are_upper_snake_of_their_keys():
    for module_name, name, key in key_constants():
        if name in PREFIXES:
            continue
        assert name == key.upper().replace(".", "_"), f"{module_name}.{name} = {key!r}"


@pytest.mark.parametrize("key", SPAN_CONTRACT_KEYS + METRIC_NAMES + OTHER_EXPECTED_KEYS)
def test_expected_key_is_defined(key):
    assert key in {key for _, _, key in key_constants()}


def test_no_unexpected_keys():
    expected = set(SPAN_CONTRACT_KEYS + METRIC_NAMES + OTHER_EXPECTED_KEYS) | {fallom.FALLOM_SESSION_METADATA_PREFIX}
    assert {key for _, _, key in key_constants()} == expected


def test_key_values_by_name():
    assert gen_ai.GEN_AI_REQUEST_MODEL == k(GA, "request", "model")
    assert gen_ai.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS == k(GA, "usage", "cache_write", "input_tokens")
    assert gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS == k(GA, "usage", "cache_creation", "input_tokens")
    assert common.SERVER_ADDRESS == k("server", "address")
    assert common.SERVER_PORT == k("server", "port")
    assert common.ERROR_TYPE == k("error", "type")
    assert common.ERROR_TYPE_OTHER == "_OTHER"
    assert semconv_openai.OPENAI_API_TYPE == k("openai", "api", "type")
    assert fallom.FALLOM_TIME_TO_FIRST_TOKEN_MS == k(FA, "time_to_first_token_ms")
    assert metrics.FALLOM_CLIENT_COST == k(FA, "client", "cost")


def test_session_metadata_key():
    assert fallom.FALLOM_SESSION_METADATA_PREFIX == k(FA, "session", "metadata", "")
    assert fallom.session_metadata_key("plan") == k(FA, "session", "metadata", "plan")
    assert KEY_RE.match(fallom.session_metadata_key("plan"))


def test_baggage_keys():
    assert fallom.BAGGAGE_CONFIG_KEY == fallom.FALLOM_CONFIG_KEY == k(FA, "config_key")
    assert fallom.BAGGAGE_SESSION_ID == fallom.FALLOM_SESSION_ID == k(FA, "session_id")
    assert fallom.BAGGAGE_CUSTOMER_ID == fallom.FALLOM_CUSTOMER_ID == k(FA, "customer_id")
    assert fallom.BAGGAGE_KEYS == (k(FA, "config_key"), k(FA, "session_id"), k(FA, "customer_id"))
    for alias, target in ALIASES.items():
        assert getattr(fallom, alias) == getattr(fallom, target)


# --- Enums ---------------------------------------------------------------------------------------------------

ENUM_VALUES: list[tuple[type[Enum], list[str]]] = [
    (
        gen_ai.GenAiOperationNameValues,
        [
            "chat",
            "text_completion",
            "generate_content",
            "embeddings",
            "retrieval",
            "execute_tool",
            "create_agent",
            "invoke_agent",
        ],
    ),
    (
        gen_ai.GenAiProviderNameValues,
        [
            "openai",
            "anthropic",
            "azure.ai.openai",
            "aws.bedrock",
            "gcp.vertex_ai",
            "gcp.gemini",
            "gcp.gen_ai",
            "azure.ai.inference",
            "cohere",
            "deepseek",
            "groq",
            "mistral_ai",
            "perplexity",
            "x_ai",
            "ibm.watsonx.ai",
        ],
    ),
    (gen_ai.GenAiOutputTypeValues, ["text", "json", "image", "speech"]),
    (gen_ai.GenAiTokenTypeValues, ["input", "output"]),
    (gen_ai.FinishReasonValues, ["stop", "length", "content_filter", "tool_call", "error"]),
    (gen_ai.RoleValues, ["system", "user", "assistant", "tool"]),
    (gen_ai.ModalityValues, ["image", "video", "audio", "document"]),
    (
        gen_ai.PartTypeValues,
        ["text", "tool_call", "tool_call_response", "uri", "blob", "file", "reasoning"],
    ),
    (semconv_openai.OpenAiApiTypeValues, ["chat_completions", "responses"]),
]


@pytest.mark.parametrize(("enum_cls", "values"), ENUM_VALUES, ids=[cls.__name__ for cls, _ in ENUM_VALUES])
def test_enum_values_exact(enum_cls, values):
    assert [member.value for member in enum_cls] == values
    assert issubclass(enum_cls, str)
    for member in enum_cls:
        assert member.name == member.value.upper().replace(".", "_")
        assert member == member.value
        assert str(member) == member.value
        assert f"{member}" == member.value


def test_enums_cover_every_enum_in_the_package():
    defined = {
        obj
        for module in ALL_MODULES
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, Enum) and obj.__module__ == module.__name__
    }
    assert defined == {cls for cls, _ in ENUM_VALUES}


# --- Metrics -------------------------------------------------------------------------------------------------


def test_metric_units():
    assert metrics.UNIT_SECONDS == "s"
    assert metrics.UNIT_TOKEN == "{token}"
    assert metrics.UNIT_USD == "USD"


def test_bucket_advice_exact():
    assert metrics.DURATION_BUCKETS == (
        0.01,
        0.02,
        0.04,
        0.08,
        0.16,
        0.32,
        0.64,
        1.28,
        2.56,
        5.12,
        10.24,
        20.48,
        40.96,
        81.92,
    )
    assert metrics.TOKEN_USAGE_BUCKETS == (
        1,
        4,
        16,
        64,
        256,
        1024,
        4096,
        16384,
        65536,
        262144,
        1048576,
        4194304,
        16777216,
        67108864,
    )
    assert len(metrics.DURATION_BUCKETS) == len(metrics.TOKEN_USAGE_BUCKETS) == 14
    assert metrics.TOKEN_USAGE_BUCKETS == tuple(4**i for i in range(14))
    assert list(metrics.DURATION_BUCKETS) == sorted(metrics.DURATION_BUCKETS)


# --- Package -------------------------------------------------------------------------------------------------


def test_versions():
    assert fallom_otel_semconv.SEMCONV_VERSION == "1.41.0"
    assert fallom_otel_semconv.SCHEMA_URL == "https://opentelemetry.io/schemas/1.41.0"
    assert fallom_otel_semconv.SCHEMA_URL.endswith("/" + fallom_otel_semconv.SEMCONV_VERSION)
    assert fallom_otel_semconv.__version__ == "0.1.0"


def test_submodules_exposed():
    assert fallom_otel_semconv.gen_ai.GEN_AI_REQUEST_MODEL == k(GA, "request", "model")
    for module in ALL_MODULES:
        assert getattr(fallom_otel_semconv, module.__name__.rsplit(".", 1)[1]) is module


def test_package_all():
    assert sorted(fallom_otel_semconv.__all__) == sorted(
        [
            "SCHEMA_URL",
            "SEMCONV_VERSION",
            "__version__",
            "common",
            "fallom",
            "gen_ai",
            "messages",
            "metrics",
            "openai",
        ]
    )


def public_top_level_names(module: ModuleType) -> set[str]:
    """Names bound at module top level by anything but an import statement, without a leading underscore."""
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        targets: list[Any] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        for target in targets:
            assert isinstance(target, ast.Name)
            names.add(target.id)
    return {name for name in names if not name.startswith("_")}


@pytest.mark.parametrize("module", ALL_MODULES, ids=lambda m: m.__name__)
def test_module_all_is_its_public_names(module):
    assert len(module.__all__) == len(set(module.__all__))
    assert set(module.__all__) == public_top_level_names(module)
    for name in module.__all__:
        assert hasattr(module, name)


@pytest.mark.parametrize("module", (fallom_otel_semconv, _enum, *ALL_MODULES), ids=lambda m: m.__name__)
def test_module_layout(module):
    source = Path(module.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    assert ast.get_docstring(tree), "module docstring"
    first_statement = tree.body[1]
    assert isinstance(first_statement, ast.ImportFrom)
    assert first_statement.module == "__future__"
    assert [alias.name for alias in first_statement.names] == ["annotations"]


def test_package_imports_only_the_standard_library():
    package_dir = Path(fallom_otel_semconv.__file__).parent
    for path in sorted(package_dir.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                assert node.module is not None
                roots = [node.module.split(".")[0]]
            else:
                continue
            for root in roots:
                assert root in sys.stdlib_module_names or root == "__future__", f"{path.name} imports {root}"
