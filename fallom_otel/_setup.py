"""``init()``, ``flush()`` and ``shutdown()``: the tracer provider policy and the export pipeline's life cycle.

Provider policy (DESIGN §7):

- no provider set yet: create an SDK ``TracerProvider`` (resource and sampler from the ``OTEL_*`` variables), make
  it global and export all of its spans;
- an SDK provider already set by the app: add our processors to it, never replace it, and by default forward only
  GenAI spans to Fallom (the app's own exporters keep seeing everything);
- a provider that is not the SDK's: warn and use a private SDK provider for fallom-otel's own spans.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

from fallom_otel import _media, _price_data
from fallom_otel._config import FallomConfig, resolve_config
from fallom_otel._export import ExportPipeline, ExportSwitch
from fallom_otel._metrics import MetricsPipeline, meter_provider_for
from fallom_otel._session_processor import SessionSpanProcessor
from fallom_otel_instrumentors._metrics import global_meter_provider

_logger = logging.getLogger("fallom_otel")
_LOGGERS = ("fallom_otel", "fallom_otel_instrumentors")

# At exit, queued spans get this long to reach the backend; a dead one must not hold the process much longer.
_EXIT_TIMEOUT_MILLIS = 5_000


@dataclass
class _State:
    config: FallomConfig
    provider: SdkTracerProvider
    owned: bool  # created by fallom-otel (global or private) rather than by the app
    switch: ExportSwitch


_lock = threading.RLock()
_state: _State | None = None
# Providers fallom-otel created, and the switch added to each provider: both outlive shutdown(), so a later
# init() recognises its own provider and reuses the switch instead of adding a second one.
_owned: weakref.WeakSet[SdkTracerProvider] = weakref.WeakSet()
_switches: weakref.WeakKeyDictionary[SdkTracerProvider, ExportSwitch] = weakref.WeakKeyDictionary()
_private_provider: SdkTracerProvider | None = None
_metrics_pipeline: MetricsPipeline | None = None  # the meter provider init(metrics=True) created, if any
_hooks_registered = False
_warned_no_key = False
_debug_handler: logging.Handler | None = None


def init(
    api_key: str | None = None,
    base_url: str | None = None,
    capture_content: bool | None = None,
    debug: bool | None = None,
    *,
    propagate: bool | None = None,
    export_all_spans: bool = False,
    instrument: bool = False,
    stream_usage: bool | None = None,
    media: str | None = None,
    media_max_bytes: int | None = None,
    prices: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    metrics: bool | None = None,
) -> None:
    """Set up tracing of LLM calls and export to Fallom.

    Each argument falls back to its ``FALLOM_*`` environment variable, then to the default. Without
    ``instrument=True``, ``init()`` patches nothing process-wide: calls are traced through
    :meth:`Session.wrap_openai` / :meth:`Session.wrap_anthropic`. Calling it again reconfigures export; it never
    stacks exporters.

    Args:
        api_key: Fallom API key (``FALLOM_API_KEY``), sent as ``Authorization: Bearer``. Without a key and with
            a non-local endpoint, one warning is logged and nothing is exported.
        base_url: Where spans go (``FALLOM_BASE_URL``, default ``https://traces.fallom.com``); traces are sent to
            ``{base_url}/v1/traces`` as OTLP/HTTP protobuf.
        capture_content: Record prompts and completions (``FALLOM_CAPTURE_CONTENT``, default True).
        debug: Log at debug level on the ``fallom_otel`` logger (``FALLOM_DEBUG``, default False).
        propagate: Default for :func:`session`'s ``propagate`` (``FALLOM_PROPAGATE``, default False).
        export_all_spans: When attaching to the app's own tracer provider, forward all its spans to Fallom
            instead of GenAI spans only.
        instrument: Also trace every call of every installed provider SDK, process-wide
            (as ``FallomInstrumentor().instrument()``).
        stream_usage: Ask OpenAI chat / legacy-completion streams for their usage chunk when the caller did not
            (``FALLOM_STREAM_USAGE``, default False). The request gets ``stream_options.include_usage`` on a copy of
            the arguments and the extra chunk is hidden from the caller, so token counts are known for every stream.
        media: Where inline (base64) images, audio and documents go (``FALLOM_MEDIA``, default ``"fallom"``): they
            are never put in a span. ``"fallom"`` uploads them in the background to ``{base_url}/v1/media/{sha256}``
            and the span records that URI; an ``"https://..."`` URL uploads to ``{url}/v1/media/{sha256}`` instead
            (e.g. Fallom's, while spans go through a local OpenTelemetry Collector); ``"file:///dir"`` (or a directory
            path) writes ``<dir>/<sha256>`` files;
            ``"none"`` records only their mime type, size and sha256. URL images are always recorded as URLs.
        media_max_bytes: Largest decoded size of one piece of media that is uploaded (``FALLOM_MEDIA_MAX_BYTES``,
            default 20 MiB); larger ones are recorded as mime type and size only.
        prices: Your own model prices, in US dollars per million tokens, used before genai-prices' data (for
            fine-tunes, self-hosted OpenAI-compatible models, negotiated rates): a mapping such as
            ``{"my-fine-tune": {"input_mtok": 3.0, "output_mtok": 12.0, "cache_read_mtok": 0.3}}``, or the path of a
            JSON file holding one (``FALLOM_PRICES``). Keys are model names (``"ft:gpt-4o-mini:*"`` matches by
            prefix) or a provider name (``"openai"``, ``"anthropic"``, ``"azure.ai.openai"``, ...) holding model
            entries for that provider only. ``input_mtok`` and ``output_mtok`` are required; ``cache_read_mtok``,
            ``cache_write_mtok`` and ``cache_write_1h_mtok`` default to the input rate. A bad entry raises here.
        metrics: GenAI metrics (``FALLOM_METRICS``): ``gen_ai.client.operation.duration``,
            ``gen_ai.client.token.usage``, ``gen_ai.client.operation.time_to_first_chunk`` and ``fallom.client.cost``.
            True exports them over OTLP/HTTP to ``{base_url}/v1/metrics``, unless the application set its own global
            meter provider, which is then used; False records none; None (default) records into the application's
            meter provider when it set one, else none.

    Raises:
        TypeError: An argument has the wrong type.
        ValueError: An argument or environment variable has an invalid value (for example a malformed URL).
    """
    global _state, _warned_no_key
    if not isinstance(instrument, bool):
        raise TypeError(f"instrument must be a bool, got {type(instrument).__name__}")
    config = resolve_config(
        api_key=api_key,
        base_url=base_url,
        capture_content=capture_content,
        debug=debug,
        propagate=propagate,
        export_all_spans=export_all_spans,
        stream_usage=stream_usage,
        media=media,
        media_max_bytes=media_max_bytes,
        prices=prices,
        metrics=metrics,
    )
    _configure_logging(config.debug)
    with _lock:
        _register_process_hooks()
        if _state is not None:
            provider, owned = _state.provider, _state.owned
        else:
            provider, owned = _resolve_provider()
        switch = _attach(provider)
        pipeline: ExportPipeline | None = None
        if config.exports:
            pipeline = ExportPipeline(config)
        elif not _warned_no_key:
            _warned_no_key = True
            _logger.warning(
                "fallom-otel: no API key (pass api_key= or set FALLOM_API_KEY) for %s; spans will not be exported. "
                "The application is unaffected.",
                config.traces_endpoint,
            )
        previous = switch.swap(pipeline, genai_only=not (owned or config.export_all_spans))
        _state = _State(config=config, provider=provider, owned=owned, switch=switch)
        previous_metrics = _swap_metrics(config)
        _media.configure(config)
    from fallom_otel._providers import refresh_settings

    refresh_settings()
    if instrument:
        from fallom_otel._instrument import FallomInstrumentor

        FallomInstrumentor().instrument()
    if previous is not None:
        # Deliver what the old pipeline still holds without making init() wait for its backend.
        threading.Thread(target=previous.shutdown, name="fallom-otel-retire", daemon=True).start()
    if previous_metrics is not None:
        threading.Thread(
            target=previous_metrics.shutdown_within, args=(30_000,), name="fallom-otel-retire-metrics", daemon=True
        ).start()
    # Load the price data in the background now, so the first traced call does not wait for it.
    _price_data.warm_up()
    _logger.debug(
        "fallom-otel initialised: endpoint=%s api_key=%s capture_content=%s propagate=%s provider=%s export=%s",
        config.traces_endpoint,
        "set" if config.api_key else "none",
        config.capture_content,
        config.propagate,
        "fallom-owned" if owned else "application's",
        "all spans" if (owned or config.export_all_spans) else "GenAI spans only",
    )


def flush(timeout_millis: int = 30_000) -> bool:
    """Export every span queued so far and finish the queued media uploads, waiting at most ``timeout_millis``.

    Call it before a short-lived process (a script, a serverless handler) ends.

    Args:
        timeout_millis: The longest to wait, in milliseconds.

    Returns:
        True when everything queued was accepted by the backend in time; False when the wait timed out, an
        export failed (the spans were dropped and a warning logged), or ``init()`` was not called. A media upload
        that failed for good is dropped with a warning and does not make this False.
    """
    with _lock:
        state = _state
    if state is None:
        return False
    deadline = time.monotonic() + timeout_millis / 1000
    spans = state.switch.force_flush(timeout_millis)
    metrics_pipeline = _metrics_pipeline
    if metrics_pipeline is not None:
        remaining = max(int((deadline - time.monotonic()) * 1000), 0)
        spans = metrics_pipeline.force_flush(remaining) and spans
    # Media uploads queued so far (their URIs are already in the spans) get the rest of the time.
    return _media.flush(deadline - time.monotonic()) and spans


def shutdown(timeout_millis: int = 30_000) -> None:
    """Flush and stop exporting. ``init()`` may be called again afterwards.

    The tracer provider is left in place (OpenTelemetry allows setting the global provider only once).

    Args:
        timeout_millis: The longest to wait for queued spans to be delivered, in milliseconds.
    """
    global _state
    with _lock:
        state, _state = _state, None
        if state is None:
            return
        pipeline = state.switch.swap(None, genai_only=True)
        metrics_pipeline = _swap_metrics(None)
    deadline = time.monotonic() + timeout_millis / 1000
    if pipeline is not None:
        pipeline.shutdown_within(timeout_millis)
    if metrics_pipeline is not None:
        metrics_pipeline.shutdown_within(max(int((deadline - time.monotonic()) * 1000), 0))
    _media.shutdown(deadline - time.monotonic())


def current_config() -> FallomConfig | None:
    """The configuration of the last ``init()``, or None before it (or after ``shutdown()``)."""
    state = _state
    return state.config if state is not None else None


def meter_provider() -> MeterProvider | None:
    """The meter provider fallom-otel's instrumentors should record metrics into, or None for no metrics."""
    return meter_provider_for(current_config(), _metrics_pipeline)


def _swap_metrics(config: FallomConfig | None) -> MetricsPipeline | None:
    """Install the metrics pipeline ``config`` asks for (None: none) and return the previous one to retire."""
    global _metrics_pipeline
    previous = _metrics_pipeline
    wanted = config is not None and config.metrics is True and config.exports and global_meter_provider() is None
    _metrics_pipeline = MetricsPipeline(config) if wanted and config is not None else None
    return previous


def tracer_provider() -> trace.TracerProvider:
    """The provider fallom-otel's instrumentors should use: ours when private, else the global one."""
    state = _state
    if state is not None:
        return state.provider
    return trace.get_tracer_provider()


def _resolve_provider() -> tuple[SdkTracerProvider, bool]:
    global _private_provider
    current = trace.get_tracer_provider()
    if isinstance(current, trace.ProxyTracerProvider):
        provider = SdkTracerProvider(resource=Resource.create(), shutdown_on_exit=False)
        trace.set_tracer_provider(provider)
        if trace.get_tracer_provider() is provider:
            _owned.add(provider)
            return provider, True
        current = trace.get_tracer_provider()  # another thread won the race: treat it as the app's
    if isinstance(current, SdkTracerProvider):
        return current, current in _owned
    if _private_provider is None:
        _logger.warning(
            "fallom-otel: the global tracer provider (%s) is not the OpenTelemetry SDK's; fallom-otel exports its "
            "own spans through a private SDK provider, and your provider does not see them.",
            type(current).__name__,
        )
        _private_provider = SdkTracerProvider(resource=Resource.create(), shutdown_on_exit=False)
        _owned.add(_private_provider)
    return _private_provider, True


def _attach(provider: SdkTracerProvider) -> ExportSwitch:
    switch = _switches.get(provider)
    if switch is None:
        provider.add_span_processor(SessionSpanProcessor())
        switch = ExportSwitch()
        provider.add_span_processor(switch)
        _switches[provider] = switch
    return switch


def _configure_logging(debug: bool) -> None:
    global _debug_handler
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG if debug else logging.NOTSET)
        if _debug_handler is not None:
            logger.removeHandler(_debug_handler)
    _debug_handler = None
    if debug and not logging.getLogger().handlers:
        # The app configured no logging: without a handler, debug records would go nowhere.
        _debug_handler = logging.StreamHandler(sys.stderr)
        _debug_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        for name in _LOGGERS:
            logging.getLogger(name).addHandler(_debug_handler)


def _register_process_hooks() -> None:
    global _hooks_registered
    if _hooks_registered:
        return
    _hooks_registered = True
    atexit.register(_at_exit)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)


def _at_exit() -> None:
    shutdown(_EXIT_TIMEOUT_MILLIS)


def _after_fork_in_child() -> None:
    global _lock
    # Another thread of the parent may have held the lock at fork time; in the child it would never be released.
    _lock = threading.RLock()
    state = _state
    if state is None or state.switch.pipeline is None:
        return
    # The parent's exporter shares pooled connections with the parent: give the child its own pipeline.
    stale = state.switch.swap(ExportPipeline(state.config), genai_only=state.switch.genai_only)
    if stale is not None:
        # Its queue was emptied by the SDK's own fork hook; stopping it closes the child's copies of the sockets.
        stale.shutdown_within(0)
