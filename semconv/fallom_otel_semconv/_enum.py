"""Private base class for the package's string enums."""

from __future__ import annotations

from enum import Enum

__all__ = ["StrValueEnum"]


class StrValueEnum(str, Enum):
    """A ``str`` enum whose ``str()`` and f-string form is its value on every Python version.

    A plain ``class X(str, Enum)`` formats as ``X.MEMBER`` in ``str()`` (and, from Python 3.11, in f-strings too),
    which would put ``GenAiOperationNameValues.CHAT`` into a span name. Members of subclasses are ``str`` instances,
    compare equal to their values and serialize as plain strings with ``json``; use ``.value`` where an exact
    ``str`` (not a subclass) is required, e.g. as an OpenTelemetry attribute value.
    """

    def __str__(self) -> str:
        """Return the member's value."""
        return str(self.value)
