"""Zero-code set-up: the ``fallom`` distro and configurator that ``opentelemetry-instrument`` loads.

``FALLOM_API_KEY=... opentelemetry-instrument python app.py`` runs, before the app:

1. :class:`FallomDistro` (entry point ``opentelemetry_distro: fallom``): sets environment defaults, so that a
   configurator other than ours never needs the gRPC exporter.
2. :class:`FallomConfigurator` (``opentelemetry_configurator: fallom``): ``fallom_otel.init()`` from the environment
   (``FALLOM_*``, then the OTLP endpoint variables), which installs the tracer provider, the session span processor
   and the OTLP/HTTP protobuf export to ``{base_url}/v1/traces``; nothing at all when ``OTEL_SDK_DISABLED=true``.
3. For each ``opentelemetry_instrumentor`` entry point not listed in ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``,
   :meth:`FallomDistro.load_instrumentor`:

   - ``fallom_openai`` / ``fallom_anthropic`` get ``fallom_otel``'s settings (the tracer provider, content capture,
     the cost and media hooks, metrics), exactly as ``init(instrument=True)`` gives them, and their SDK version range
     is enforced: OpenTelemetry's loader checks the distribution's ``instruments-any`` extra only, then asks distros
     to skip the per-instrumentor check, which would let an unsupported ``openai`` release through when
     ``anthropic`` satisfies the extra. A missing SDK is skipped quietly, an unsupported release with one error.
   - another GenAI instrumentor of an SDK whose Fallom instrumentor loads (OpenTelemetry's official ones,
     OpenLLMetry's, OpenInference's) is not loaded, with one warning naming it: two instrumentors on the same methods
     would record each call twice. Fallom's instrumentor wins; ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=fallom_openai``
     switches to the other one. At run time, peers activated in code are handled by
     ``fallom_otel_instrumentors._peers``.
   - any other instrumentor (httpx, web frameworks ...) loads as usual.

With ``opentelemetry-distro`` also installed, ``opentelemetry-instrument`` takes the first distro and configurator
it finds: set ``OTEL_PYTHON_DISTRO=fallom`` and ``OTEL_PYTHON_CONFIGURATOR=fallom``. If another configurator runs
instead (OpenTelemetry's ``configurator``, which builds exporters from ``OTEL_TRACES_EXPORTER``), the distro still
calls ``init()`` before loading our instrumentors; ``init()`` then attaches to that provider and forwards the GenAI
spans to Fallom.

Nothing here may break the application: a bad setting is logged, and the application runs untraced.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any

from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.instrumentation.environment_variables import OTEL_PYTHON_DISABLED_INSTRUMENTATIONS
from opentelemetry.sdk.environment_variables import (
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    OTEL_SDK_DISABLED,
)

__all__ = ["FallomConfigurator", "FallomDistro"]

_logger = logging.getLogger("fallom_otel")

_HTTP_PROTOBUF = "http/protobuf"
# Our instrumentors' entry points, by SDK; their classes live in this package.
_OUR_PACKAGE = "fallom_otel_instrumentors."
_OUR_ENTRY_POINTS = {"openai": "fallom_openai", "anthropic": "fallom_anthropic"}

_init_attempted = False


def sdk_disabled() -> bool:
    """True when ``OTEL_SDK_DISABLED`` is ``true`` (the SDK's own, case-insensitive reading)."""
    return os.environ.get(OTEL_SDK_DISABLED, "").strip().lower() == "true"


def init_from_environment() -> None:
    """Run ``fallom_otel.init()`` once from the environment; a bad setting is logged, never raised.

    ``FALLOM_BASE_URL`` wins, then ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (verbatim, as ``init()`` reads it), then
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces`` as OpenTelemetry exporters read it, then Fallom's default.
    """
    global _init_attempted
    if _init_attempted:
        return
    _init_attempted = True
    if sdk_disabled():
        _logger.debug("fallom-otel: OTEL_SDK_DISABLED is true; not configuring tracing")
        return
    for name in (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL):
        protocol = os.environ.get(name, "").strip().lower()
        if protocol and protocol != _HTTP_PROTOBUF:
            _logger.warning("fallom-otel exports over OTLP/HTTP protobuf; %s=%s does not apply to it", name, protocol)
            break
    from fallom_otel._setup import init

    try:
        init()
    except (TypeError, ValueError) as error:
        # A configuration mistake: the message says what to fix, a traceback would only add noise.
        _logger.error("fallom-otel: tracing is not configured: %s. The application runs untraced.", error)


class FallomConfigurator:
    """The ``fallom`` configurator: ``fallom_otel.init()`` driven by the environment.

    Loaded by ``opentelemetry-instrument`` (entry point ``opentelemetry_configurator: fallom``; name it with
    ``OTEL_PYTHON_CONFIGURATOR=fallom`` when another configurator is installed). It sets up tracing and export
    only; metrics and logs exporters are not configured here.
    """

    def configure(self, **kwargs: Any) -> None:
        """Set up tracing from ``FALLOM_*`` and ``OTEL_*`` variables; does nothing when the SDK is disabled.

        Args:
            **kwargs: What ``opentelemetry-instrument`` passes (``auto_instrumentation_version``); unused.
        """
        init_from_environment()


class FallomDistro(BaseDistro):  # type: ignore[misc]  # the OpenTelemetry base class is untyped
    """The ``fallom`` distro: Fallom's settings for its instrumentors, and no second GenAI instrumentor per SDK.

    Loaded by ``opentelemetry-instrument`` (entry point ``opentelemetry_distro: fallom``; name it with
    ``OTEL_PYTHON_DISTRO=fallom`` when ``opentelemetry-distro`` is installed too).
    """

    def _configure(self, **kwargs: Any) -> None:
        # Only a default: a configurator other than ours (OpenTelemetry's) then builds an OTLP/HTTP exporter for
        # ``OTEL_TRACES_EXPORTER=otlp`` instead of requiring the gRPC package, which fallom-otel never installs.
        os.environ.setdefault(OTEL_EXPORTER_OTLP_PROTOCOL, _HTTP_PROTOBUF)

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        """Activate one ``opentelemetry_instrumentor`` entry point (called by ``opentelemetry-instrument``).

        Args:
            entry_point: The entry point to load.
            **kwargs: What the loader passes (``skip_dep_check=True``).

        Raises:
            DependencyConflictError: A Fallom instrumentor's SDK is missing or outside the supported range; the
                loader logs it (at debug level when the SDK is simply not installed) and goes on.
        """
        from fallom_otel_instrumentors._peers import peer_of_instrumentor

        peer = peer_of_instrumentor(entry_point.value)
        if peer is not None and _ours_will_load(peer.sdk):
            dist = getattr(entry_point, "dist", None)
            _logger.warning(
                "fallom-otel: not loading %s (entry point %r): %s traces the same %s calls, and two instrumentors "
                "would record each call twice. To use %s instead, set %s=%s.",
                getattr(dist, "name", None) or peer.distribution,
                entry_point.name,
                _OUR_ENTRY_POINTS[peer.sdk],
                peer.sdk,
                peer.distribution,
                OTEL_PYTHON_DISABLED_INSTRUMENTATIONS,
                _OUR_ENTRY_POINTS[peer.sdk],
            )
            return
        instrumentor_class = entry_point.load()
        from fallom_otel_instrumentors._instrumentor import GenAIInstrumentor

        if not (isinstance(instrumentor_class, type) and issubclass(instrumentor_class, GenAIInstrumentor)):
            super().load_instrumentor(entry_point, **kwargs)
            return
        if sdk_disabled():
            _logger.debug("fallom-otel: OTEL_SDK_DISABLED is true; not loading %s", entry_point.name)
            return
        # Our configurator normally ran already; when another one did, attach to its provider now.
        init_from_environment()
        from fallom_otel._providers import settings

        kwargs.pop("skip_dep_check", None)  # enforce the SDK version range (see the module docstring)
        instrumentor_class().instrument(**{**kwargs, **settings(), "raise_exception_on_conflict": True})


def _ours_will_load(sdk: str) -> bool:
    """True when our instrumentor of ``sdk`` is enabled and its SDK is installed at a supported version."""
    excluded = {name.strip() for name in os.environ.get(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS, "").split(",")}
    if "*" in excluded or _OUR_ENTRY_POINTS[sdk] in excluded or sdk_disabled():
        return False
    supported: tuple[str, ...] = importlib.import_module(f"{_OUR_PACKAGE}{sdk}.package")._instruments
    return get_dependency_conflicts(supported) is None
