"""The local collector (``fallom-otel serve``): an OTLP/HTTP receiver storing calls in SQLite, with a web viewer.

Needs the ``collector`` extra (``pip install 'fallom-otel[collector]'``). In code, e.g. in tests::

    from fallom_otel.collector import Collector

    with Collector(db=tmp_path / "traces.db", port=0) as collector:
        fallom_otel.init(base_url=collector.url)
        ...
        calls = collector.store.calls()
"""

from __future__ import annotations

try:
    from ._app import Limits, create_app
    from ._server import Collector, default_db_path
    from ._store import Filters, Store
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        f"fallom_otel.collector needs the collector extra: pip install 'fallom-otel[collector]' ({error})"
    ) from error

__all__ = ["Collector", "Filters", "Limits", "Store", "create_app", "default_db_path"]
