"""The upload queue: bounded by count and bytes, served by one background daemon thread per process.

The calling thread only ever :meth:`MediaQueue.submit` s (a dictionary look-up and an append under a lock; never a
wait, never a raise). The worker stores each piece through its sink, retrying 429/5xx/connection errors with
exponential backoff and jitter (honouring ``Retry-After`` within a cap). A full queue or a final failure drops the
bytes with a counter and a rate-limited log line. Ids already uploaded or queued are remembered (bounded LRU), so the
same bytes sent again are not uploaded again. After ``os.fork()`` the child starts with an empty queue and its own
worker (the parent still uploads what it had queued).
"""

from __future__ import annotations

import collections
import logging
import os
import random
import threading
import time
from typing import Any

from fallom_otel._media._sinks import Sink
from fallom_otel_instrumentors import guard

__all__ = ["QUEUE", "MediaQueue"]

_logger = logging.getLogger("fallom_otel")

MAX_ITEMS = 256
MAX_BYTES = 128 * 1024 * 1024
SEEN_IDS = 4096
MAX_ATTEMPTS = 5
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
# A dead media endpoint must not flood the application's logs: one line, then at most one per interval.
_WARNING_INTERVAL_S = 60.0

_COUNTERS = (
    "submitted",  # accepted into the queue
    "deduplicated",  # already uploaded or queued: not queued again
    "uploaded",
    "uploaded_bytes",
    "retries",
    "dropped_queue_full",
    "dropped_failed",  # final failure after the retries (or a permanent error)
    "dropped_shutdown",  # still queued when shutdown() gave up waiting
)


class _Item:
    __slots__ = ("data", "key", "media_id", "mime_type", "sink")

    def __init__(self, sink: Sink, media_id: str, key: str, data: bytes, mime_type: str) -> None:
        self.sink = sink
        self.media_id = media_id
        self.key = key
        self.data = data
        self.mime_type = mime_type


class MediaQueue:
    """A bounded upload queue with one lazily started worker thread (see the module docstring)."""

    def __init__(
        self,
        *,
        max_items: int = MAX_ITEMS,
        max_bytes: int = MAX_BYTES,
        max_attempts: int = MAX_ATTEMPTS,
        backoff_base: float = BACKOFF_BASE_S,
        backoff_cap: float = BACKOFF_CAP_S,
    ) -> None:
        """Create an idle queue; the worker starts with the first submitted item.

        Args:
            max_items: Most items waiting at once.
            max_bytes: Most bytes waiting at once.
            max_attempts: Store attempts per item (the first one included).
            backoff_base: First retry delay in seconds (doubled per attempt, with jitter).
            backoff_cap: Longest wait between attempts, ``Retry-After`` included.
        """
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._reset()
        self._counts = dict.fromkeys(_COUNTERS, 0)
        self._last_warning = float("-inf")

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._items: collections.deque[_Item] = collections.deque()
        self._bytes = 0
        self._busy = 0  # items a worker holds outside the deque (two only briefly, across a shutdown)
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # --- calling thread ---------------------------------------------------------------------------------------

    def submit(self, sink: Sink, media_id: str, key: str, data: bytes, mime_type: str) -> bool:
        """Queue ``data`` for upload unless it is already uploaded or queued; never blocks, never raises.

        Args:
            sink: Where it goes.
            media_id: Its content-addressed id.
            key: What makes it unique across sinks (its URI).
            data: The bytes (kept by reference, not copied).
            mime_type: Its media type, or ``""``.

        Returns:
            True when the URI will hold the bytes (queued now, or before); False when the queue is full.
        """
        size = len(data)
        with self._cond:
            if key in self._seen:
                self._seen.move_to_end(key)
                self._counts["deduplicated"] += 1
                return True
            if len(self._items) >= self.max_items or self._bytes + size > self.max_bytes:
                self._counts["dropped_queue_full"] += 1
                warn = self._should_warn()
            else:
                self._items.append(_Item(sink, media_id, key, data, mime_type))
                self._bytes += size
                self._remember(key)
                self._counts["submitted"] += 1
                if self._thread is None or not self._thread.is_alive():
                    self._start_worker()
                self._cond.notify_all()
                return True
        if warn:
            _logger.warning(
                "fallom-otel: the media upload queue is full (%d items, %d bytes at most); a %d-byte %s was not "
                "uploaded and the span records only its metadata. The application is unaffected.",
                self.max_items,
                self.max_bytes,
                size,
                mime_type or "file",
            )
        return False

    # --- life cycle -------------------------------------------------------------------------------------------

    def flush(self, timeout_s: float) -> bool:
        """Wait until every queued item is stored or dropped; False when ``timeout_s`` ran out first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._items and not self._busy, max(0.0, timeout_s))

    def shutdown(self, timeout_s: float) -> bool:
        """Flush within ``timeout_s``, then stop the worker and drop what is left (a later submit restarts it).

        Returns:
            True when everything queued was delivered (or finally failed) in time.
        """
        drained = self.flush(timeout_s)
        with self._cond:
            self._stop.set()
            dropped = len(self._items)
            self._counts["dropped_shutdown"] += dropped
            self._bytes -= sum(len(item.data) for item in self._items)
            self._items.clear()
            self._thread = None
            self._stop = threading.Event()  # for the next worker; the old one sees its own event set
            self._cond.notify_all()
        if dropped:
            _logger.warning("fallom-otel: %d media upload(s) were still queued at shutdown and were dropped.", dropped)
        return drained

    def stats(self) -> dict[str, int]:
        """Counters since the process started (or forked), plus the items and bytes waiting now."""
        with self._cond:
            result = dict(self._counts)
            result["queued"] = len(self._items) + self._busy
            result["queued_bytes"] = self._bytes
            return result

    def reset_stats(self) -> None:
        """Zero the counters, forget which ids were uploaded and re-arm the warnings (tests and diagnostics)."""
        with self._cond:
            self._counts = dict.fromkeys(_COUNTERS, 0)
            self._seen.clear()
            self._last_warning = float("-inf")

    def after_fork_in_child(self) -> None:
        """Start over in a forked child: fresh lock, empty queue, no worker (the parent uploads its own items)."""
        counts = self._counts
        seen = self._seen
        self._reset()
        self._seen = seen  # what the parent uploads stays known
        self._counts = counts

    # --- worker -----------------------------------------------------------------------------------------------

    def _start_worker(self) -> None:
        stop = self._stop
        thread = threading.Thread(target=self._run, args=(stop,), name="fallom-otel-media", daemon=True)
        self._thread = thread
        thread.start()

    def _run(self, stop: threading.Event) -> None:
        while True:
            with self._cond:
                while not self._items and not stop.is_set():
                    self._cond.wait()
                if stop.is_set():
                    return
                item = self._items.popleft()
                self._busy += 1
            outcome: tuple[bool, str] = (False, "internal error")
            with guard:  # a bug in a sink must cost this item only, never the worker (or the caller)
                outcome = self._deliver(item, stop)
            self._finish(item, *outcome)

    def _deliver(self, item: _Item, stop: threading.Event) -> tuple[bool, str]:
        delay = self.backoff_base
        detail = ""
        for attempt in range(1, self.max_attempts + 1):
            result = item.sink.put(item.media_id, item.data, item.mime_type)
            if result.ok:
                return True, ""
            detail = result.detail
            if not result.retry or attempt == self.max_attempts:
                break
            wait = result.retry_after if result.retry_after is not None else delay * (0.5 + random.random() / 2)
            delay *= 2
            with self._cond:
                self._counts["retries"] += 1
            if stop.wait(min(wait, self.backoff_cap)):
                return False, f"{detail}; shutting down"
        return False, detail

    def _finish(self, item: _Item, delivered: bool, detail: str) -> None:
        with self._cond:
            if delivered:
                self._counts["uploaded"] += 1
                self._counts["uploaded_bytes"] += len(item.data)
                warn = False
            else:
                self._counts["dropped_failed"] += 1
                self._seen.pop(item.key, None)  # the next occurrence may try again
                warn = self._should_warn()
            failed = self._counts["dropped_failed"]
        if warn:
            _logger.warning(
                "fallom-otel could not upload media to %s (%s); %d byte(s) dropped (%d upload(s) failed so far). "
                "The application is unaffected.",
                item.sink,
                detail,
                len(item.data),
                failed,
            )
        with self._cond:
            # Only now is the item done: a flush() that returns has seen its outcome, log line included.
            self._busy -= 1
            self._bytes -= len(item.data)
            self._cond.notify_all()

    # --- helpers (lock held) ----------------------------------------------------------------------------------

    def _remember(self, key: str) -> None:
        self._seen[key] = None
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)

    def _should_warn(self) -> bool:
        now = time.monotonic()
        if now - self._last_warning >= _WARNING_INTERVAL_S:
            self._last_warning = now
            return True
        return False


QUEUE = MediaQueue()
"""The process's one upload queue."""


def _after_fork_in_child(*_: Any) -> None:
    QUEUE.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
