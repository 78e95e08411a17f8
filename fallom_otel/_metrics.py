"""Which meter provider the instrumentors record GenAI metrics into, and the ``fallom.client.cost`` counter.

- ``metrics=False``: no metrics at all (no instruments, nothing per call).
- An application meter provider set globally (``metrics.set_meter_provider``): it is used and never replaced; the
  metrics go wherever the application's readers send them.
- Otherwise, ``metrics=True`` creates a private SDK meter provider exporting OTLP/HTTP protobuf to
  ``{base_url}/v1/metrics`` with the same Bearer header as the spans. It is not made global (the application keeps
  the freedom to set its own); ``flush()`` / ``shutdown()`` flush and stop it with the spans.
- The default (``metrics=None``) records into the application's provider when there is one, and nothing otherwise.
"""

from __future__ import annotations

import logging
import threading

from opentelemetry.metrics import Counter, MeterProvider
from opentelemetry.sdk.resources import Resource

from fallom_otel._config import FallomConfig
from fallom_otel._export import run_bounded
from fallom_otel.version import __version__
from fallom_otel_instrumentors._metrics import global_meter_provider
from fallom_otel_semconv import SCHEMA_URL, metrics

__all__ = ["MetricsPipeline", "cost_counter", "meter_provider_for"]

_logger = logging.getLogger("fallom_otel")

METRICS_PATH = "/v1/metrics"


class MetricsPipeline:
    """The meter provider ``init(metrics=True)`` owns: OTLP/HTTP to ``{base_url}/v1/metrics``."""

    def __init__(self, config: FallomConfig) -> None:
        """Create the provider, its periodic reader and the exporter.

        Args:
            config: The ``init()`` settings (base URL and API key).
        """
        # Imported here: the metrics SDK and its exporter cost ~18 ms of imports that only metrics=True needs.
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        self.endpoint = config.base_url + METRICS_PATH
        headers = {"authorization": f"Bearer {config.api_key}"} if config.api_key else None
        # The interval comes from OTEL_METRIC_EXPORT_INTERVAL (default 60 s), as for any OpenTelemetry reader.
        reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=self.endpoint, headers=headers))
        self.provider = SdkMeterProvider(resource=Resource.create(), metric_readers=[reader], shutdown_on_exit=False)
        self._shut_down = False
        self._lock = threading.Lock()

    def force_flush(self, timeout_millis: int) -> bool:
        """Collect and export now, waiting at most ``timeout_millis``."""
        return run_bounded(lambda: self.provider.force_flush(timeout_millis), timeout_millis, "fallom-otel-metrics")

    def shutdown_within(self, timeout_millis: int) -> None:
        """Export what was recorded and stop (idempotent), waiting at most ``timeout_millis``."""
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
        if not run_bounded(
            lambda: self.provider.shutdown(timeout_millis=timeout_millis), timeout_millis, "fallom-otel-metrics"
        ):
            _logger.warning(
                "fallom-otel gave up delivering metrics to %s after %d ms. The application is unaffected.",
                self.endpoint,
                timeout_millis,
            )


def meter_provider_for(config: FallomConfig | None, own: MetricsPipeline | None) -> MeterProvider | None:
    """The meter provider the instrumentors should record into (see the module docstring), or None."""
    if config is not None and config.metrics is False:
        return None
    app = global_meter_provider()
    if app is not None:
        return app
    return own.provider if own is not None else None


_counters_lock = threading.Lock()
_counter: tuple[MeterProvider, Counter] | None = None


def cost_counter(provider: MeterProvider | None) -> Counter | None:
    """The ``fallom.client.cost`` counter on ``provider`` (one instance per provider), or None without one."""
    global _counter
    if provider is None:
        return None
    with _counters_lock:
        if _counter is None or _counter[0] is not provider:
            meter = provider.get_meter("fallom_otel", __version__, schema_url=SCHEMA_URL)
            counter = meter.create_counter(
                metrics.FALLOM_CLIENT_COST, unit=metrics.UNIT_USD, description="Cost of GenAI calls in US dollars."
            )
            _counter = (provider, counter)
        return _counter[1]
