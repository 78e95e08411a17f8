"""The collector's SQLite schema and statements: the call table, the session and model summaries, the media table."""

from __future__ import annotations

from ._ingest import CALL_COLUMNS

__all__ = ["COL", "INSERT", "LIST_COLUMNS", "MODEL_UPSERT", "SCHEMA", "SCHEMA_VERSION", "SESSION_UPSERT"]

SCHEMA_VERSION = 1

_COLUMN_TYPES = {
    "start_ns": "INTEGER",
    "end_ns": "INTEGER",
    "duration_ms": "REAL",
    "is_call": "INTEGER NOT NULL",
    "input_tokens": "INTEGER",
    "output_tokens": "INTEGER",
    "cache_read_tokens": "INTEGER",
    "cache_write_tokens": "INTEGER",
    "reasoning_tokens": "INTEGER",
    "cost_usd": "REAL",
    "cost_input_usd": "REAL",
    "cost_output_usd": "REAL",
    "ttft_ms": "REAL",
    "ttfc_ms": "REAL",
    "stream": "INTEGER",
    "received_ns": "INTEGER",
}
_CALL_DDL = ",\n  ".join(f"{name} {_COLUMN_TYPES.get(name, 'TEXT')}" for name in CALL_COLUMNS)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS calls (
  id INTEGER PRIMARY KEY,
  {_CALL_DDL}
);
CREATE INDEX IF NOT EXISTS calls_session ON calls (config_key, session_id, start_ns);
CREATE INDEX IF NOT EXISTS calls_time ON calls (start_ns);
CREATE INDEX IF NOT EXISTS calls_model ON calls (model, start_ns);
CREATE INDEX IF NOT EXISTS calls_trace ON calls (trace_id, span_id);
CREATE INDEX IF NOT EXISTS calls_errors ON calls (start_ns) WHERE status = 'ERROR';
CREATE TABLE IF NOT EXISTS sessions (
  config_key TEXT NOT NULL,
  session_id TEXT NOT NULL,
  customer_id TEXT,
  calls INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cache_read_tokens INTEGER NOT NULL,
  reasoning_tokens INTEGER NOT NULL,
  cost_usd REAL,
  first_ns INTEGER NOT NULL,
  last_ns INTEGER NOT NULL,
  PRIMARY KEY (config_key, session_id)
);
CREATE INDEX IF NOT EXISTS sessions_last ON sessions (last_ns);
CREATE INDEX IF NOT EXISTS sessions_config ON sessions (config_key, last_ns);
CREATE TABLE IF NOT EXISTS models (
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  calls INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cache_read_tokens INTEGER NOT NULL,
  cache_write_tokens INTEGER NOT NULL,
  reasoning_tokens INTEGER NOT NULL,
  cost_usd REAL,
  duration_ms REAL NOT NULL,
  ttft_ms REAL NOT NULL,
  ttft_count INTEGER NOT NULL,
  PRIMARY KEY (provider, model)
);
CREATE TABLE IF NOT EXISTS media (
  id TEXT PRIMARY KEY,
  sha256 TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  created_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS media_sha256 ON media (sha256);
PRAGMA user_version = {SCHEMA_VERSION};
"""

INSERT = f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) VALUES ({', '.join('?' * len(CALL_COLUMNS))})"
COL = {name: index for index, name in enumerate(CALL_COLUMNS)}
# Columns read by lists and timelines (never the attribute JSON, which can be large).
LIST_COLUMNS = (
    "id, trace_id, span_id, parent_span_id, name, start_ns, end_ns, duration_ms, operation, provider, model, "
    "input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd, ttft_ms, "
    "stream, status, status_message, error_type, config_key, session_id, customer_id, service_name"
)

SESSION_UPSERT = """
INSERT INTO sessions (config_key, session_id, customer_id, calls, errors, input_tokens, output_tokens,
                      cache_read_tokens, reasoning_tokens, cost_usd, first_ns, last_ns)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (config_key, session_id) DO UPDATE SET
  customer_id = coalesce(excluded.customer_id, customer_id),
  calls = calls + excluded.calls,
  errors = errors + excluded.errors,
  input_tokens = input_tokens + excluded.input_tokens,
  output_tokens = output_tokens + excluded.output_tokens,
  cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
  reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
  cost_usd = CASE WHEN excluded.cost_usd IS NULL THEN cost_usd
                  ELSE coalesce(cost_usd, 0) + excluded.cost_usd END,
  first_ns = min(first_ns, excluded.first_ns),
  last_ns = max(last_ns, excluded.last_ns)
"""

MODEL_UPSERT = """
INSERT INTO models (provider, model, calls, errors, input_tokens, output_tokens, cache_read_tokens,
                    cache_write_tokens, reasoning_tokens, cost_usd, duration_ms, ttft_ms, ttft_count)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (provider, model) DO UPDATE SET
  calls = calls + excluded.calls,
  errors = errors + excluded.errors,
  input_tokens = input_tokens + excluded.input_tokens,
  output_tokens = output_tokens + excluded.output_tokens,
  cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
  cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
  reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
  cost_usd = CASE WHEN excluded.cost_usd IS NULL THEN cost_usd
                  ELSE coalesce(cost_usd, 0) + excluded.cost_usd END,
  duration_ms = duration_ms + excluded.duration_ms,
  ttft_ms = ttft_ms + excluded.ttft_ms,
  ttft_count = ttft_count + excluded.ttft_count
"""
