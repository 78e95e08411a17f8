"""Hooks: how a distribution (``fallom_otel``) adds behaviour to the instrumentors without them knowing it.

The instrumentors stay provider-SDK instrumentation and nothing else; cost, media upload and anything else
vendor-specific arrive here at ``instrument()`` time.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry.util.types import AttributeValue

from fallom_otel_instrumentors._content import MediaHandler

if TYPE_CHECKING:
    from fallom_otel_instrumentors._invocation import Invocation

__all__ = ["EndHook", "Hooks"]

EndHook = Callable[["Invocation", MutableMapping[str, AttributeValue]], None]
"""Called once per call, after the response (or stream) is complete and before the span ends, with the invocation
(provider, models, usage) and the attribute mapping about to be set on the span; it may add attributes (e.g. cost).
It runs in a guarded zone: an exception in it is logged, never raised to the caller."""


@dataclass(frozen=True)
class Hooks:
    """The extension points of the instrumentors.

    Attributes:
        on_end: See :data:`EndHook`; e.g. ``fallom_otel`` adds ``fallom.cost.*`` from the usage.
        media: Turns inline (base64) media found in content into the part recorded instead; see
            :data:`~fallom_otel_instrumentors.MediaHandler`.
    """

    on_end: tuple[EndHook, ...] = ()
    media: MediaHandler | None = None
