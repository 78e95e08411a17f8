"""init() settings: arguments, then FALLOM_* variables, then defaults; bad input is a clear error at init()."""

from __future__ import annotations

from typing import Any

import pytest

import fallom_otel
from fallom_otel._config import DEFAULT_BASE_URL, FallomConfig, resolve_config


def resolve(**overrides: Any) -> FallomConfig:
    arguments: dict[str, Any] = {
        "api_key": None,
        "base_url": None,
        "capture_content": None,
        "debug": None,
        "propagate": None,
        "export_all_spans": False,
    }
    arguments.update(overrides)
    return resolve_config(**arguments)


def test_defaults() -> None:
    config = resolve()
    assert config.base_url == DEFAULT_BASE_URL == "https://traces.fallom.com"
    assert config.traces_endpoint == "https://traces.fallom.com/v1/traces"
    assert config.api_key is None
    assert config.capture_content is True
    assert config.debug is False
    assert config.propagate is False
    assert config.exports is False  # no key, remote endpoint


def test_arguments_beat_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FALLOM_API_KEY", "from-env")
    monkeypatch.setenv("FALLOM_BASE_URL", "https://env.example.com")
    monkeypatch.setenv("FALLOM_CAPTURE_CONTENT", "false")
    monkeypatch.setenv("FALLOM_DEBUG", "true")
    config = resolve(api_key="from-arg", base_url="https://arg.example.com/", capture_content=True, debug=False)
    assert config.api_key == "from-arg"
    assert config.traces_endpoint == "https://arg.example.com/v1/traces"
    assert config.capture_content is True
    assert config.debug is False


def test_environment_beats_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FALLOM_API_KEY", "from-env")
    monkeypatch.setenv("FALLOM_BASE_URL", "https://env.example.com/prefix/")
    monkeypatch.setenv("FALLOM_CAPTURE_CONTENT", "OFF")
    monkeypatch.setenv("FALLOM_DEBUG", "1")
    monkeypatch.setenv("FALLOM_PROPAGATE", "yes")
    config = resolve()
    assert config.api_key == "from-env"
    assert config.base_url == "https://env.example.com/prefix"
    assert config.traces_endpoint == "https://env.example.com/prefix/v1/traces"
    assert (config.capture_content, config.debug, config.propagate) == (False, True, True)
    assert config.exports is True


def test_otlp_endpoint_variables_in_their_order(monkeypatch: pytest.MonkeyPatch) -> None:
    # OTEL_EXPORTER_OTLP_ENDPOINT is a base (the signal path is appended); the traces variable is used verbatim and
    # wins over it; FALLOM_BASE_URL wins over both.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    config = resolve()
    assert (config.base_url, config.traces_endpoint) == ("http://collector:4318", "http://collector:4318/v1/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces-only:4318/custom/path")
    assert resolve().traces_endpoint == "http://traces-only:4318/custom/path"
    monkeypatch.setenv("FALLOM_BASE_URL", "http://fallom-here:4318")
    assert resolve().traces_endpoint == "http://fallom-here:4318/v1/traces"
    monkeypatch.delenv("FALLOM_BASE_URL")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://collector:4317")
    with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_ENDPOINT"):
        resolve()


@pytest.mark.parametrize(
    "url",
    ["http://localhost:4318", "http://127.0.0.1:9", "http://127.3.4.5", "http://[::1]:4318", "http://app.localhost"],
)
def test_local_endpoints_export_without_key(url: str) -> None:
    config = resolve(base_url=url)
    assert config.endpoint_is_local and config.exports


def test_empty_key_means_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FALLOM_API_KEY", "")
    assert resolve().api_key is None
    assert resolve(api_key="  ").api_key is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"api_key": 123}, "api_key must be a str"),
        ({"base_url": b"https://x"}, "base_url must be a str"),
        ({"capture_content": "false"}, "capture_content must be a bool"),
        ({"debug": 1}, "debug must be a bool"),
        ({"propagate": "yes"}, "propagate must be a bool"),
        ({"export_all_spans": None}, "export_all_spans must be a bool"),
    ],
)
def test_wrong_types_raise_type_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        fallom_otel.init(**kwargs)


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("traces.fallom.com", "http:// or https:// URL"),
        ("ftp://traces.fallom.com", "http:// or https:// URL"),
        ("https://", "must include a host"),
        ("https://host/path?x=1", "query string"),
        ("https://host/#frag", "query string or fragment"),
        ("https://user:pw@host", "must not carry credentials"),
        ("https://host:99999", "invalid port"),
        ("https://host:abc", "invalid port"),
    ],
)
def test_malformed_url_raises_value_error(base_url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fallom_otel.init(api_key="k", base_url=base_url)


def test_malformed_env_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FALLOM_BASE_URL", "not a url")
    with pytest.raises(ValueError, match="FALLOM_BASE_URL"):
        fallom_otel.init(api_key="k")


def test_bad_boolean_env_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FALLOM_CAPTURE_CONTENT", "maybe")
    with pytest.raises(ValueError, match="FALLOM_CAPTURE_CONTENT must be true or false"):
        fallom_otel.init(api_key="k")


def test_key_with_spaces_is_rejected_without_echoing_it() -> None:
    with pytest.raises(ValueError) as excinfo:
        fallom_otel.init(api_key="fk secret\r\nX-Injected: 1")
    assert "secret" not in str(excinfo.value)


def test_failed_init_leaves_previous_setup_untouched() -> None:
    fallom_otel.init(base_url="http://127.0.0.1:9")
    from fallom_otel import _setup

    before = _setup.current_config()
    with pytest.raises(ValueError):
        fallom_otel.init(base_url="nope")
    assert _setup.current_config() is before
