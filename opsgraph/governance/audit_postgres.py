"""The audit store and run registry in the shared Postgres database (``database_url``).

Same API and the same rules as the SQLite store: events are append-only (a trigger rejects
UPDATE, DELETE and TRUNCATE), one event per (thread, key) settled by the unique index with
``ON CONFLICT DO NOTHING``, so processes on several machines can write at once; each event is
chained to its thread's previous one while the thread's chain head row is locked. The tables
live in the ``opsgraph`` schema and are created by the first process that needs them.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from opsgraph.governance.audit import AuditStore
from opsgraph.shared_db import SCHEMA, connect, ensure_tables, table_exists

COMPONENT = "audit"
VERSION = 1

_TABLES = (
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.audit_events (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        ts TEXT NOT NULL,
        thread_id TEXT NOT NULL,
        event_key TEXT NOT NULL,
        agent TEXT,
        kind TEXT NOT NULL,
        name TEXT,
        args TEXT,
        result TEXT,
        ok INTEGER NOT NULL DEFAULT 1,
        prev_hash TEXT,
        hash TEXT,
        UNIQUE (thread_id, event_key))""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.audit_heads (
        thread_id TEXT PRIMARY KEY,
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL,
        events INTEGER NOT NULL)""",
    f"CREATE INDEX IF NOT EXISTS audit_by_thread ON {SCHEMA}.audit_events (thread_id, seq)",
    f"CREATE INDEX IF NOT EXISTS audit_by_kind ON {SCHEMA}.audit_events (kind, ts)",
    f"""CREATE OR REPLACE FUNCTION {SCHEMA}.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$""",
    f"""CREATE OR REPLACE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON {SCHEMA}.audit_events
        FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.audit_append_only()""",
    f"""CREATE OR REPLACE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {SCHEMA}.audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.audit_append_only()""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.runs (
        thread_id TEXT PRIMARY KEY,
        graph_id TEXT NOT NULL,
        title TEXT,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        stop_requested INTEGER NOT NULL DEFAULT 0,
        reason TEXT,
        input_type TEXT,
        input_data BYTEA,
        shadow INTEGER NOT NULL DEFAULT 0)""",
    f"CREATE INDEX IF NOT EXISTS runs_by_update ON {SCHEMA}.runs (updated_at DESC)",
)


class PostgresAuditStore(AuditStore):
    """The audit log and run registry in the ``opsgraph`` schema of a shared Postgres database."""

    placeholder = "%s"
    tables = {"events": f"{SCHEMA}.audit_events", "runs": f"{SCHEMA}.runs", "heads": f"{SCHEMA}.audit_heads"}
    lock_row = " FOR UPDATE"  # writers of one thread's chain, on any machine, take turns on its head row

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._conn.transaction():
            yield

    def __init__(self, url: str):
        """Connect to ``url`` and create the tables on first use (one process at a time)."""
        self.url = url
        conn = connect(url)
        try:
            ensure_tables(conn, COMPONENT, VERSION, _TABLES)
        except BaseException:
            conn.close()
            raise
        self._attach(conn)


def count_postgres_runs(url: str) -> int:
    """Runs registered in the shared database at ``url``, without creating any table (0 when none)."""
    with connect(url) as conn:
        if not table_exists(conn, f"{SCHEMA}.runs"):
            return 0
        return int(conn.execute(f"SELECT COUNT(*) FROM {SCHEMA}.runs").fetchone()[0])
