"""SQLite storage of the local collector: the call table, session and model summaries, and the media store.

One writer connection (serialised by a lock; every export request is one transaction with ``executemany``) and one
reader connection per thread, in WAL mode so the viewer reads while spans are written. The ``sessions`` and
``models`` tables are summaries maintained on insert, so the sessions page costs the same with 100 or 100,000
stored calls. Media objects live as files in a folder next to the database, their metadata in the ``media`` table.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._ingest import BadRequest, CallRow
from ._schema import COL, INSERT, LIST_COLUMNS, MODEL_UPSERT, SCHEMA, SESSION_UPSERT

__all__ = ["DEFAULT_MAX_MEDIA_BYTES", "DEFAULT_MAX_MEDIA_TOTAL_BYTES", "Filters", "MediaObject", "Store"]

DEFAULT_MAX_MEDIA_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_MEDIA_TOTAL_BYTES = 1024 * 1024 * 1024
_MEDIA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SHA256_ID = re.compile(r"^[0-9a-f]{64}$")
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_IN_CHUNK = 500  # ids per IN (...) query, well under SQLite's parameter limit


@dataclass(frozen=True)
class Filters:
    """Viewer and CLI filters; ``None`` means no filter.

    Attributes:
        config_key: Only this config key.
        model: Only calls of this model (response model, else request model).
        status: ``"error"`` (failed calls / sessions with a failure) or ``"ok"`` (none failed).
    """

    config_key: str | None = None
    model: str | None = None
    status: str | None = None

    @property
    def active(self) -> bool:
        """True when any filter is set."""
        return bool(self.config_key or self.model or self.status)


@dataclass(frozen=True)
class MediaObject:
    """A stored media object.

    Attributes:
        id: Its id (the sha256 of the bytes for media uploaded by fallom-otel).
        path: The file holding the bytes.
        content_type: The MIME type given at upload.
        size: Size in bytes.
    """

    id: str
    path: Path
    content_type: str
    size: int


def _add(total: list[Any], index: int, value: Any) -> None:
    if value is not None:
        total[index] = value if total[index] is None else total[index] + value


class Store:
    """The collector's SQLite database (see the module docstring). Thread-safe."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        readonly: bool = False,
        max_media_bytes: int = DEFAULT_MAX_MEDIA_BYTES,
        max_media_total_bytes: int = DEFAULT_MAX_MEDIA_TOTAL_BYTES,
    ) -> None:
        """Open (and create, unless ``readonly``) the database.

        Args:
            path: The SQLite file; media go to a ``<name>-media`` folder next to it.
            readonly: Open for reading only (the CLI views); the file must exist.
            max_media_bytes: Largest media object accepted.
            max_media_total_bytes: Total media bytes kept; uploads beyond it are refused.

        Raises:
            FileNotFoundError: ``readonly`` and the database does not exist.
        """
        self.path = Path(path).expanduser().resolve()
        self.media_dir = self.path.with_name(self.path.name + "-media")
        self.readonly = readonly
        self.max_media_bytes = max_media_bytes
        self.max_media_total_bytes = max_media_total_bytes
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closed = False
        if readonly:
            if not self.path.is_file():
                raise FileNotFoundError(f"no collector database at {self.path}")
            self._writer: sqlite3.Connection | None = None
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = self._connect()
            self._writer.executescript(SCHEMA)

    # -- connections -----------------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self.readonly:
            conn = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, check_same_thread=False, timeout=30)
        else:
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes, fast commits
        conn.row_factory = sqlite3.Row
        with self._connections_lock:
            self._connections.append(conn)
        return conn

    def _read(self) -> sqlite3.Connection:
        if self._closed:
            raise RuntimeError("the store is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close every connection. Idempotent."""
        self._closed = True
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except sqlite3.ProgrammingError:  # closed from its own thread already
                pass

    # -- ingest ----------------------------------------------------------------------------------------------------

    def insert(self, rows: Sequence[CallRow]) -> int:
        """Insert call rows in one transaction, skipping spans already stored (exporter retries).

        Args:
            rows: Rows in `CALL_COLUMNS` order.

        Returns:
            How many rows were new.
        """
        if not rows:
            return 0
        writer = self._writer
        if writer is None:
            raise RuntimeError("the store is read-only")
        unique: dict[tuple[str, str], CallRow] = {(row[0], row[1]): row for row in rows}
        with self._write_lock:
            writer.execute("BEGIN IMMEDIATE")
            try:
                existing = self._existing(writer, unique)
                new = [row for key, row in unique.items() if key not in existing]
                writer.executemany(INSERT, new)
                sessions, models = _summaries(new)
                if sessions:
                    writer.executemany(SESSION_UPSERT, sessions)
                if models:
                    writer.executemany(MODEL_UPSERT, models)
                writer.execute("COMMIT")
            except BaseException:
                writer.execute("ROLLBACK")
                raise
        return len(new)

    @staticmethod
    def _existing(conn: sqlite3.Connection, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        # By trace id (an index search per trace; a row-value IN would scan the whole index), filtered here.
        wanted = set(keys)
        traces = sorted({trace_id for trace_id, _ in wanted})
        found: set[tuple[str, str]] = set()
        for start in range(0, len(traces), _IN_CHUNK):
            chunk = traces[start : start + _IN_CHUNK]
            query = f"SELECT trace_id, span_id FROM calls WHERE trace_id IN ({', '.join('?' * len(chunk))})"
            found.update(key for key in map(tuple, conn.execute(query, chunk)) if key in wanted)
        return found

    # -- media -----------------------------------------------------------------------------------------------------

    def put_media(self, media_id: str, data: bytes, content_type: str) -> bool:
        """Store a media object (atomically; the same id again replaces it).

        Args:
            media_id: The id from the URL; a 64-hex-digit id must be the sha256 of ``data``.
            data: The bytes.
            content_type: The MIME type (anything unparsable is stored as ``application/octet-stream``).

        Returns:
            True when the id is new.

        Raises:
            BadRequest: 400 for a bad id or a sha256 mismatch, 413 above ``max_media_bytes``, 507 when the media
                store is full.
        """
        writer = self._writer
        if writer is None:
            raise RuntimeError("the store is read-only")
        if not _MEDIA_ID.match(media_id):
            raise BadRequest(400, "invalid media id (1-128 characters of A-Z a-z 0-9 . _ -)")
        if len(data) > self.max_media_bytes:
            raise BadRequest(413, f"media object of {len(data)} bytes exceeds the limit of {self.max_media_bytes}")
        digest = hashlib.sha256(data).hexdigest()
        if _SHA256_ID.match(media_id) and digest != media_id:
            raise BadRequest(400, f"media id {media_id} is not the sha256 of the body ({digest})")
        mime = content_type.split(";", 1)[0].strip().lower()
        if not _MIME.match(mime):
            mime = "application/octet-stream"
        with self._write_lock:
            row = writer.execute("SELECT size FROM media WHERE id = ?", (media_id,)).fetchone()
            used = writer.execute("SELECT coalesce(sum(size), 0) FROM media").fetchone()[0]
            if used - (row["size"] if row else 0) + len(data) > self.max_media_total_bytes:
                raise BadRequest(507, f"the media store is full ({self.max_media_total_bytes} bytes)")
            self.media_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.media_dir, prefix=".upload-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, self.media_dir / media_id)
            except OSError:
                Path(tmp).unlink(missing_ok=True)
                raise
            writer.execute(
                "INSERT INTO media (id, sha256, content_type, size, created_ns) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET sha256 = excluded.sha256, content_type = excluded.content_type, "
                "size = excluded.size",
                (media_id, digest, mime, len(data), time.time_ns()),
            )
        return row is None

    def get_media(self, media_id: str) -> MediaObject | None:
        """Return a stored media object, or None."""
        if not _MEDIA_ID.match(media_id):
            return None
        row = self._read().execute("SELECT content_type, size FROM media WHERE id = ?", (media_id,)).fetchone()
        if row is None:
            return None
        path = self.media_dir / media_id
        if not path.is_file():
            return None
        return MediaObject(media_id, path, row["content_type"], row["size"])

    def media_ids_by_sha256(self, digests: Iterable[str]) -> dict[str, str]:
        """Map each sha256 (lowercase hex) that a stored object has to that object's id."""
        wanted = sorted({d for d in digests if _SHA256_ID.match(d)})
        found: dict[str, str] = {}
        conn = self._read()
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            query = f"SELECT sha256, id FROM media WHERE sha256 IN ({', '.join('?' * len(chunk))})"
            found.update((digest, media_id) for digest, media_id in conn.execute(query, chunk))
        return found

    # -- queries ---------------------------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Stored calls (GenAI spans), spans, sessions and media objects."""
        conn = self._read()
        calls = conn.execute("SELECT coalesce(sum(calls), 0) FROM models").fetchone()[0]
        spans = conn.execute("SELECT coalesce(max(id), 0) FROM calls").fetchone()[0]
        sessions = conn.execute("SELECT count(*) FROM sessions").fetchone()[0]
        media = conn.execute("SELECT count(*) FROM media").fetchone()[0]
        return {"calls": calls, "spans": spans, "sessions": sessions, "media": media}

    def sessions(self, filters: Filters = Filters(), *, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Sessions, most recently active first, with their summaries."""
        where, params = [], []
        if filters.config_key:
            where.append("s.config_key = ?")
            params.append(filters.config_key)
        if filters.status == "error":
            where.append("s.errors > 0")
        elif filters.status == "ok":
            where.append("s.errors = 0")
        if filters.model:
            where.append(
                "EXISTS (SELECT 1 FROM calls c WHERE c.config_key IS nullif(s.config_key, '') "
                "AND c.session_id = s.session_id AND c.model = ?)"
            )
            params.append(filters.model)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        query = f"SELECT s.* FROM sessions s {clause} ORDER BY s.last_ns DESC LIMIT ? OFFSET ?"
        return [dict(row) for row in self._read().execute(query, [*params, limit, offset])]

    def session(self, config_key: str, session_id: str) -> dict[str, Any] | None:
        """One session's summary, or None."""
        row = (
            self._read()
            .execute("SELECT * FROM sessions WHERE config_key = ? AND session_id = ?", (config_key, session_id))
            .fetchone()
        )
        return dict(row) if row else None

    def session_calls(self, config_key: str, session_id: str, *, limit: int = 2000) -> list[dict[str, Any]]:
        """A session's calls in start order."""
        query = (
            f"SELECT {LIST_COLUMNS} FROM calls WHERE config_key IS ? AND session_id = ? AND is_call = 1 "
            "ORDER BY start_ns, id LIMIT ?"
        )
        rows = self._read().execute(query, (config_key or None, session_id, limit))
        return [dict(row) for row in rows]

    def calls(
        self, filters: Filters = Filters(), *, session_id: str | None = None, limit: int = 50, before: int | None = None
    ) -> list[dict[str, Any]]:
        """Calls, newest first (``before``: only calls with a smaller row id, for paging)."""
        where, params = self._call_filters(filters)
        if session_id:
            where.append("session_id = ?")
            params.append(session_id)
        if before is not None:
            where.append("id < ?")
            params.append(before)
        query = f"SELECT {LIST_COLUMNS} FROM calls WHERE {' AND '.join(where)} ORDER BY start_ns DESC, id DESC LIMIT ?"
        return [dict(row) for row in self._read().execute(query, [*params, limit])]

    @staticmethod
    def _call_filters(filters: Filters) -> tuple[list[str], list[Any]]:
        where: list[str] = ["is_call = 1"]
        params: list[Any] = []
        if filters.config_key:
            where.append("config_key = ?")
            params.append(filters.config_key)
        if filters.model:
            where.append("model = ?")
            params.append(filters.model)
        if filters.status == "error":
            where.append("status = 'ERROR'")
        elif filters.status == "ok":
            where.append("status != 'ERROR'")
        return where, params

    def call(self, call_id: int) -> dict[str, Any] | None:
        """One stored span with every column (attributes, resource and events as JSON text), or None."""
        row = self._read().execute("SELECT * FROM calls WHERE id = ?", (call_id,)).fetchone()
        return dict(row) if row else None

    def children(self, trace_id: str, span_id: str) -> list[dict[str, Any]]:
        """Spans whose parent is the given span (e.g. a tool span under an agent span)."""
        query = f"SELECT {LIST_COLUMNS} FROM calls WHERE trace_id = ? AND parent_span_id = ? ORDER BY start_ns"
        return [dict(row) for row in self._read().execute(query, (trace_id, span_id))]

    def model_totals(self, filters: Filters = Filters()) -> list[dict[str, Any]]:
        """Totals per provider and model (from the summary table without filters, else aggregated)."""
        conn = self._read()
        if not filters.active:
            rows = conn.execute("SELECT * FROM models ORDER BY calls DESC, model")
            return [dict(row) for row in rows]
        where, params = self._call_filters(filters)
        query = f"""
            SELECT coalesce(provider, '') AS provider, coalesce(model, '') AS model, count(*) AS calls,
                   sum(status = 'ERROR') AS errors, coalesce(sum(input_tokens), 0) AS input_tokens,
                   coalesce(sum(output_tokens), 0) AS output_tokens,
                   coalesce(sum(cache_read_tokens), 0) AS cache_read_tokens,
                   coalesce(sum(cache_write_tokens), 0) AS cache_write_tokens,
                   coalesce(sum(reasoning_tokens), 0) AS reasoning_tokens, sum(cost_usd) AS cost_usd,
                   coalesce(sum(duration_ms), 0) AS duration_ms, coalesce(sum(ttft_ms), 0) AS ttft_ms,
                   count(ttft_ms) AS ttft_count
            FROM calls WHERE {" AND ".join(where)} GROUP BY 1, 2 ORDER BY calls DESC, model"""
        return [dict(row) for row in conn.execute(query, params)]

    def config_keys(self) -> list[str]:
        """Every config key that has a session."""
        return [row[0] for row in self._read().execute("SELECT DISTINCT config_key FROM sessions ORDER BY 1") if row[0]]

    def models(self) -> list[str]:
        """Every model that has a call."""
        rows = self._read().execute("SELECT DISTINCT model FROM models WHERE model != '' ORDER BY 1")
        return [row[0] for row in rows]

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def iter_calls(self, filters: Filters = Filters(), *, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every call, newest first, read in pages (for exports)."""
        before: int | None = None
        while True:
            page = self.calls(filters, limit=batch, before=before)
            yield from page
            if len(page) < batch:
                return
            before = min(row["id"] for row in page)


def _summaries(rows: Sequence[CallRow]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Per-session and per-model increments of a batch of new rows (GenAI calls only)."""
    c = COL
    sessions: dict[tuple[str, str], list[Any]] = {}
    models: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        if not row[c["is_call"]]:
            continue
        error = 1 if row[c["status"]] == "ERROR" else 0
        start, end = row[c["start_ns"]], row[c["end_ns"]]
        session_id = row[c["session_id"]]
        if session_id:
            key = (row[c["config_key"]] or "", session_id)
            s = sessions.get(key)
            if s is None:
                s = sessions[key] = [key[0], key[1], None, 0, 0, 0, 0, 0, 0, None, start, max(start, end)]
            if row[c["customer_id"]]:
                s[2] = row[c["customer_id"]]
            s[3] += 1
            s[4] += error
            s[5] += row[c["input_tokens"]] or 0
            s[6] += row[c["output_tokens"]] or 0
            s[7] += row[c["cache_read_tokens"]] or 0
            s[8] += row[c["reasoning_tokens"]] or 0
            _add(s, 9, row[c["cost_usd"]])
            s[10] = min(s[10], start)
            s[11] = max(s[11], end)
        mkey = (row[c["provider"]] or "", row[c["model"]] or "")
        m = models.get(mkey)
        if m is None:
            m = models[mkey] = [mkey[0], mkey[1], 0, 0, 0, 0, 0, 0, 0, None, 0.0, 0.0, 0]
        m[2] += 1
        m[3] += error
        m[4] += row[c["input_tokens"]] or 0
        m[5] += row[c["output_tokens"]] or 0
        m[6] += row[c["cache_read_tokens"]] or 0
        m[7] += row[c["cache_write_tokens"]] or 0
        m[8] += row[c["reasoning_tokens"]] or 0
        _add(m, 9, row[c["cost_usd"]])
        m[10] += row[c["duration_ms"]] or 0.0
        ttft = row[c["ttft_ms"]]
        if ttft is not None:
            m[11] += ttft
            m[12] += 1
    return [tuple(s) for s in sessions.values()], [tuple(m) for m in models.values()]
