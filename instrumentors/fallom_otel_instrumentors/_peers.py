"""Other instrumentors of the same SDK methods ("peers"): detect them, warn once, never two GenAI spans per call.

The peers are the instrumentors users commonly have next to ours, all ``BaseInstrumentor`` subclasses that patch
with wrapt: OpenTelemetry's official ones (``opentelemetry-instrumentation-genai-openai``,
``opentelemetry-instrumentation-openai-v2``, ``opentelemetry-instrumentation-genai-anthropic``), OpenLLMetry's
(``opentelemetry-instrumentation-openai`` / ``-anthropic``) and OpenInference's
(``openinference-instrumentation-openai`` / ``-anthropic``). They wrap the same resource methods we wrap
(``Completions.create``, ``Messages.create`` ...), except OpenInference's OpenAI instrumentor, which wraps the
client's ``request`` method underneath every endpoint.

Why this design:

- Whoever patches last is the outer wrapper, and nobody controls that order: our patches go on when the SDK module
  is first imported (often while a peer's ``instrument()`` imports it), and ``opentelemetry-instrument`` loads
  entry points in installation order. So the rule must give the same answer whether we are outside or inside.
- Context keys cannot give that. OpenTelemetry's ``suppress_instrumentation`` key would silence the peer but also
  every HTTP client instrumentor, and the httpx span must stay a child of the GenAI span. Peer-specific keys
  (OpenLLMetry's ``suppress_language_model_instrumentation``, util-genai's inference context) only help when we are
  the outer wrapper: an outer peer has started its span before any code of ours runs. "Outermost wins" would make
  the winner depend on import order.
- Re-ordering the wrappers (moving ours outside) is not an option either: the peers' ``uninstrument()`` removes the
  outermost layer, which would then be ours.

The rule: **a call is left to a peer when that peer's wrapper is installed on the very method being called
(anywhere in the wrapper chain, outside or inside ours; for OpenInference's OpenAI instrumentor, on the client's
``request``) and the peer's instrumentor reports itself instrumented.** Our wrapper then calls the SDK untouched and
the peer's span is the call's only GenAI span. This is the same whichever patched first, it is decided per method
(a peer that covers chat completions only leaves ``responses.create`` to us), and it never leaves a call untraced
because of a peer's disabled leftover wrapper (its instrumentor says it is off). Calls made through a Fallom session
proxy keep the session current, so a session span processor still stamps the session on the peer's span. The first
time a peer is seen, one warning names its distribution and says how to switch.

Under ``opentelemetry-instrument`` with the ``fallom`` distro the choice is made earlier and the other way round:
the distro does not load a peer for an SDK whose Fallom instrumentor loads (see ``fallom_otel._distro``), so nothing
is wrapped twice and Fallom's span wins; disabling ours (``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=fallom_openai``)
lets the peer load instead.

Cost on the request path: when no peer package is imported, a few ``sys.modules`` lookups. Otherwise the class
attributes are read without importing anything, and the wrapper chains are walked again only when the outermost
object of a patch point changed (cached by identity).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import wrapt
from opentelemetry.instrumentation.utils import unwrap

__all__ = [
    "PEERS",
    "MethodPeers",
    "Peer",
    "instrumented",
    "ours_in_chain",
    "peer_aware_gate",
    "peer_of_instrumentor",
    "unwrap_ours",
]

_logger = logging.getLogger("fallom_otel_instrumentors")

_T = TypeVar("_T")

# wrapt 2 derives its function wrappers from ``BaseObjectProxy`` (``ObjectProxy`` is a subclass of it); wrapt 1 only
# has ``ObjectProxy``.
_PROXY: type = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)

# The module of our wrapt wrapper functions (``_wrap.sync_traced`` / ``async_traced``): how a layer is known as ours.
_OUR_WRAPPER_MODULE = "fallom_otel_instrumentors._wrap"


@dataclass(frozen=True)
class Peer:
    """Another instrumentor of a provider SDK that fallom-otel instruments.

    Attributes:
        distribution: The distribution users install (named in the warning).
        sdk: The SDK it instruments (``openai`` or ``anthropic``).
        package: The import package of its wrapper functions; a wrapt layer whose wrapper comes from it is the peer's.
        instrumentors: ``module:Class`` of its instrumentor(s); the peer is active when one reports itself
            instrumented (OpenLLMetry's OpenAI instrumentor delegates to a second class).
        entry_point: Its ``opentelemetry_instrumentor`` entry point name.
        client_methods: ``(module, Class, method)`` it patches below the resource methods (OpenInference wraps the
            OpenAI client's ``request``); a call of any endpoint goes through them.
    """

    distribution: str
    sdk: str
    package: str
    instrumentors: tuple[str, ...]
    entry_point: str
    client_methods: tuple[tuple[str, str, str], ...] = ()


PEERS: tuple[Peer, ...] = (
    Peer(
        "opentelemetry-instrumentation-genai-openai",
        "openai",
        "opentelemetry.instrumentation.genai.openai",
        ("opentelemetry.instrumentation.genai.openai:OpenAIInstrumentor",),
        "openai",
    ),
    Peer(
        "opentelemetry-instrumentation-openai-v2",
        "openai",
        "opentelemetry.instrumentation.openai_v2",
        ("opentelemetry.instrumentation.openai_v2:OpenAIInstrumentor",),
        "openai",
    ),
    Peer(
        "opentelemetry-instrumentation-openai",
        "openai",
        "opentelemetry.instrumentation.openai",
        (
            "opentelemetry.instrumentation.openai:OpenAIInstrumentor",
            "opentelemetry.instrumentation.openai.v1:OpenAIV1Instrumentor",
        ),
        "openai",
    ),
    Peer(
        "openinference-instrumentation-openai",
        "openai",
        "openinference.instrumentation.openai",
        ("openinference.instrumentation.openai:OpenAIInstrumentor",),
        "openai",
        client_methods=(("openai", "OpenAI", "request"), ("openai", "AsyncOpenAI", "request")),
    ),
    Peer(
        "opentelemetry-instrumentation-genai-anthropic",
        "anthropic",
        "opentelemetry.instrumentation.genai.anthropic",
        ("opentelemetry.instrumentation.genai.anthropic:AnthropicInstrumentor",),
        "anthropic",
    ),
    Peer(
        "opentelemetry-instrumentation-anthropic",
        "anthropic",
        "opentelemetry.instrumentation.anthropic",
        ("opentelemetry.instrumentation.anthropic:AnthropicInstrumentor",),
        "anthropic",
    ),
    Peer(
        "openinference-instrumentation-anthropic",
        "anthropic",
        "openinference.instrumentation.anthropic",
        ("openinference.instrumentation.anthropic:AnthropicInstrumentor",),
        "anthropic",
    ),
)

_warned: set[str] = set()
_warned_lock = threading.Lock()


def peer_of_instrumentor(reference: str) -> Peer | None:
    """The peer whose instrumentor ``reference`` (an entry point value, ``module:Class``) names, if any."""
    module = reference.partition(":")[0].strip()
    for peer in PEERS:
        if any(module == item.partition(":")[0] for item in peer.instrumentors):
            return peer
    return None


def instrumented(peer: Peer) -> bool:
    """True when one of ``peer``'s instrumentors is loaded and reports itself instrumented (nothing is imported)."""
    for reference in peer.instrumentors:
        module_name, _, class_name = reference.partition(":")
        cls = getattr(sys.modules.get(module_name), class_name, None)
        # BaseInstrumentor keeps its singleton in the class's own ``_instance``; never construct one (some peers'
        # constructors reset their configuration).
        instance = vars(cls).get("_instance") if isinstance(cls, type) else None
        if getattr(instance, "_is_instrumented_by_opentelemetry", False) is True:
            return True
    return False


def _static_attribute(module_name: str, cls_name: str, name: str) -> Any:
    """The raw class attribute (no descriptor binding, no import); None when absent."""
    cls: Any = sys.modules.get(module_name)
    for part in cls_name.split("."):  # a nested class is named with dots
        cls = getattr(cls, part, None)
    if not isinstance(cls, type):
        return None
    for klass in cls.__mro__:
        found = vars(klass).get(name)
        if found is not None:
            return found
    return None


def _layers(obj: Any) -> list[Any]:
    """The wrapper functions of the wrapt layers around ``obj``, outermost first."""
    wrappers: list[Any] = []
    # A bounded walk: wrapt chains are a few layers deep; the bound guards against a proxy cycle.
    for _ in range(32):
        if not isinstance(obj, _PROXY):
            break
        wrappers.append(getattr(obj, "_self_wrapper", None))
        obj = getattr(obj, "__wrapped__", None)
    return wrappers


def _module_of(wrapper: Any) -> str:
    module = getattr(wrapper, "__module__", None)
    if not isinstance(module, str):  # e.g. functools.partial: look at the function it calls
        module = getattr(getattr(wrapper, "func", None), "__module__", None)
    return module if isinstance(module, str) else type(wrapper).__module__


def _belongs(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


class MethodPeers:
    """Which peers wrap one patched SDK method, kept up to date cheaply on every call."""

    __slots__ = ("_candidates", "_found", "_lock", "_points", "_seen", "description")

    def __init__(self, module: str, cls: str, method: str) -> None:
        """Watch ``module.cls.method`` (and the client-level methods of the peers of its SDK)."""
        sdk = module.partition(".")[0]
        self.description = f"{cls}.{method}"
        self._candidates = tuple(peer for peer in PEERS if peer.sdk == sdk)
        points: list[tuple[str, str, str]] = [(module, cls, method)]
        for peer in self._candidates:
            points.extend(point for point in peer.client_methods if point not in points)
        self._points = tuple(points)
        self._seen: tuple[Any, ...] | None = None
        self._found: tuple[Peer, ...] = ()
        self._lock = threading.Lock()

    def active(self) -> Peer | None:
        """A peer that traces calls of this method now, or None; each active peer is warned about once."""
        modules = sys.modules
        for peer in self._candidates:
            if peer.package in modules:
                break
        else:
            return None  # the fast path: no peer is even imported (a plain loop: no generator per call)
        current = tuple(_static_attribute(*point) for point in self._points)
        seen = self._seen
        if seen is None or any(a is not b for a, b in zip(current, seen, strict=True)):
            found: list[Peer] = []
            for obj in current:
                for wrapper in _layers(obj):
                    module = _module_of(wrapper)
                    found.extend(p for p in self._candidates if _belongs(module, p.package) and p not in found)
            with self._lock:
                self._found, self._seen = tuple(found), current
        keeper: Peer | None = None
        for peer in self._found:
            if instrumented(peer):
                if peer.distribution not in _warned:  # every active peer is named, once each
                    _warn_once(peer, self.description)
                keeper = keeper or peer
        return keeper


def peer_aware_gate(gate: Callable[[], _T | None], module: str, cls: str, method: str) -> Callable[[], _T | None]:
    """Wrap a handler gate so it returns None (do not trace) while a peer traces ``module.cls.method``."""
    peers = MethodPeers(module, cls, method)

    def gated() -> _T | None:
        handler = gate()
        if handler is not None and peers.active() is not None:
            return None
        return handler

    return gated


def _warn_once(peer: Peer, method: str) -> None:
    with _warned_lock:
        if peer.distribution in _warned:
            return
        _warned.add(peer.distribution)
    _logger.warning(
        "fallom-otel: %s is also instrumenting the %s SDK (first seen on %s). Calls it traces are left to it, so "
        "each call has one GenAI span, and fallom-otel does not trace them. To trace them with fallom-otel instead, "
        "stop instrumenting with %s (with opentelemetry-instrument: OTEL_PYTHON_DISTRO=fallom, or "
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=%s).",
        peer.distribution,
        peer.sdk,
        method,
        peer.distribution,
        peer.entry_point,
    )


def ours_in_chain(target: Any, method: str) -> bool:
    """True when one of our wrappers is somewhere in the wrapper chain of ``target.method``."""
    obj = vars(target).get(method) if isinstance(target, type) else getattr(target, method, None)
    return any(_module_of(wrapper) == _OUR_WRAPPER_MODULE for wrapper in _layers(obj))


def unwrap_ours(target: Any, method: str) -> bool:
    """Remove our wrapper from ``target.method`` when it is the outermost layer; never a peer's layer.

    ``opentelemetry.instrumentation.utils.unwrap`` removes whatever layer is outermost: after a peer wrapped ours,
    that would be the peer's. Our layer buried under a peer's stays in place instead; it calls straight through while
    our instrumentor is off, and a later ``instrument()`` reuses it rather than stacking a second one.

    Returns:
        True when our layer was removed; False when there was none on the outside.
    """
    obj = vars(target).get(method) if isinstance(target, type) else None
    layers: Sequence[Any] = _layers(obj)
    if layers and _module_of(layers[0]) == _OUR_WRAPPER_MODULE:
        unwrap(target, method)
        return True
    return False
