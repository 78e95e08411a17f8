"""The one place where instrumentation errors are caught, so they never reach the caller.

Every guarded zone (building a span before the SDK call, recording the result after it, stamping attributes in a
span processor) runs inside :data:`guard`. A failure there is logged at debug level and the application goes on as
if uninstrumented. The project's own tests set ``FALLOM_OTEL_RERAISE_INTERNAL_ERRORS=1`` so a bug fails a test
instead of hiding; fault-injection tests unset it to prove the caller is unaffected.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = ["RERAISE_ENV", "Guard", "guard", "guarded_call"]

_logger = logging.getLogger("fallom_otel_instrumentors")

RERAISE_ENV = "FALLOM_OTEL_RERAISE_INTERNAL_ERRORS"
"""Set to ``1`` (the project's test suite does) to re-raise internal errors instead of swallowing them."""


class Guard:
    """A reusable context manager that swallows and logs ``Exception`` raised inside it.

    ``BaseException`` subclasses that are not ``Exception`` (``KeyboardInterrupt``, ``SystemExit``,
    ``GeneratorExit``, cancellation) pass through untouched: they are the application's, not ours.
    A class rather than ``@contextmanager`` because it sits on the hot path of every traced call.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        return _swallow(exc)


guard = Guard()
"""Use as ``with guard:`` around instrumentation code that must never raise into the application."""


def guarded_call(function: Callable[[Any], Any], argument: Any) -> Any:
    """``function(argument)``, or None when it raises an ``Exception`` (logged; re-raised under the project's tests).

    The per-chunk form of :data:`guard` for stream proxies: a ``try`` costs nothing on Python 3.11+, while entering
    and leaving a context manager costs a few hundred nanoseconds on every chunk.
    """
    try:
        return function(argument)
    except Exception as error:
        if not _swallow(error):
            raise
        return None


def _swallow(error: Exception) -> bool:
    _logger.debug("fallom-otel internal error; the application continues with less telemetry", exc_info=error)
    return os.environ.get(RERAISE_ENV) != "1"
