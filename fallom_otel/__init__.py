"""fallom-otel: OpenTelemetry-native tracing of OpenAI and Anthropic calls, exported to Fallom.

Usage::

    import fallom_otel
    from openai import OpenAI

    fallom_otel.init(api_key="...")  # or FALLOM_API_KEY
    session = fallom_otel.session(config_key="my-app", session_id="session-123", customer_id="user-456")
    openai = session.wrap_openai(OpenAI())
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fallom_otel._session import MetadataValue, Session, current_session, session
from fallom_otel._session_processor import SessionSpanProcessor
from fallom_otel._setup import flush, init, shutdown
from fallom_otel.version import __version__

if TYPE_CHECKING:
    from fallom_otel._instrument import FallomInstrumentor

__all__ = [
    "FallomInstrumentor",
    "MetadataValue",
    "Session",
    "SessionSpanProcessor",
    "__version__",
    "current_session",
    "flush",
    "init",
    "session",
    "shutdown",
]


def __getattr__(name: str) -> Any:
    # ``FallomInstrumentor`` pulls in opentelemetry-instrumentation (~25 ms): load it only when it is asked for.
    if name == "FallomInstrumentor":
        from fallom_otel._instrument import FallomInstrumentor

        return FallomInstrumentor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
