"""Append-only audit store and run registry (SQLite by default, Postgres when shared).

Audit events can only be inserted: triggers reject UPDATE and DELETE. Each event has a
key unique within its thread, so a step replayed after a crash records nothing twice, and
a hash chained to the thread's previous event, so a change made behind the store's back
(triggers dropped, file edited) shows up in :meth:`AuditStore.verify`.
The run registry (one row per thread) is the mutable index behind ``opsgraph runs list``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from opsgraph.failures import StorageError
from opsgraph.governance.audit_chain import (HASHED_FIELDS, ChainBreak, ChainedEvent, ChainHead, event_hash,
                                             find_break)
from opsgraph.locks import immediate_transaction, init_lock

if TYPE_CHECKING:
    from opsgraph.settings import Settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
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
    UNIQUE (thread_id, event_key)
);
CREATE TABLE IF NOT EXISTS audit_heads (
    thread_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    events INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_thread ON audit_events (thread_id, seq);
CREATE INDEX IF NOT EXISTS audit_by_kind ON audit_events (kind, ts);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TABLE IF NOT EXISTS runs (
    thread_id TEXT PRIMARY KEY,
    graph_id TEXT NOT NULL,
    title TEXT,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    stop_requested INTEGER NOT NULL DEFAULT 0
);
"""

# Columns added after the first release: (table, name, declaration). Added in place on older stores.
_ADDED_COLUMNS = (("runs", "reason", "TEXT"), ("runs", "input_type", "TEXT"), ("runs", "input_data", "BLOB"),
                  ("runs", "shadow", "INTEGER NOT NULL DEFAULT 0"),
                  ("audit_events", "prev_hash", "TEXT"), ("audit_events", "hash", "TEXT"))
_RUN_FIELDS = "thread_id, graph_id, title, status, created_at, updated_at, reason, shadow"
_INSERT_EVENT = ("INSERT INTO {events} (" + ", ".join(HASHED_FIELDS) + ", prev_hash, hash)"
                 " VALUES (" + ", ".join("?" * (len(HASHED_FIELDS) + 2)) + ")"
                 " ON CONFLICT (thread_id, event_key) DO NOTHING RETURNING seq")


@dataclass(frozen=True)
class AuditEvent:
    """One audited decision, tool call, refusal or approval."""

    seq: int
    ts: str
    thread_id: str
    agent: str | None
    kind: str
    name: str | None
    args: Any
    result: Any
    ok: bool


@dataclass(frozen=True)
class RunInfo:
    """Registry row of one thread."""

    thread_id: str
    graph_id: str
    title: str | None
    status: str
    created_at: str
    updated_at: str
    reason: str | None = None
    # A shadow run proposes writes without committing them (see opsgraph.governance.shadow).
    shadow: bool = False


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class AuditStore:
    """The audit log and run registry in a SQLite file (the embedded default).

    :class:`~opsgraph.governance.audit_postgres.PostgresAuditStore` offers the same API on
    the shared Postgres database; :func:`open_audit_store` picks one from the settings. SQL
    is written once, with ``?`` placeholders and ``{events}``/``{runs}`` for the table names.
    """

    placeholder = "?"
    tables = {"events": "audit_events", "runs": "runs", "heads": "audit_heads"}
    # (thread_id, value) -> value with personal data masked; set by the run context when masking is on.
    redact: Callable[[str, Any], Any] | None = None
    lock_row = ""  # SQLite: BEGIN IMMEDIATE already holds the whole database

    def __init__(self, path: Path):
        """Open (creating on first use) the store at ``path``; a damaged file is a StorageError."""
        self.path = path
        # Several processes may open a fresh data home at once: one creates, the others wait.
        with init_lock(path.parent):
            conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(_SCHEMA)
                _add_missing_columns(conn)
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise StorageError(f"audit store {path} is damaged or not an opsgraph database ({exc}); "
                                   "move it aside to start a new one") from None
        self._attach(conn)

    def _attach(self, conn: Any) -> None:
        # Graph nodes run in worker threads and share this one connection: one statement at a time.
        self._conn = conn
        self._lock = threading.Lock()

    def __enter__(self) -> "AuditStore":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    # -- plumbing ------------------------------------------------------------------------------
    def _sql(self, text: str) -> str:
        return text.format(**self.tables).replace("?", self.placeholder)

    def _write(self, text: str, params: tuple = ()) -> int:
        """Run one statement; the number of rows it changed."""
        with self._lock:
            return self._conn.execute(self._sql(text), params).rowcount

    def _one(self, text: str, params: tuple = ()) -> Any:
        with self._lock:
            return self._conn.execute(self._sql(text), params).fetchone()

    def _all(self, text: str, params: tuple = ()) -> list[Any]:
        with self._lock:
            return list(self._conn.execute(self._sql(text), params).fetchall())

    def _transaction(self) -> AbstractContextManager[None]:
        # IMMEDIATE takes the write lock at once: two writers of one thread's chain serialise.
        return immediate_transaction(self._conn)

    # -- audit events ----------------------------------------------------------------------------
    def record(
        self, thread_id: str, event_key: str, kind: str, *, agent: str | None = None, name: str | None = None,
        args: Any = None, result: Any = None, ok: bool = True,
    ) -> bool:
        """Append an event; returns False when this (thread, key) was already recorded.

        The unique (thread, key) pair settles it, so concurrent writers of the same event (a step
        replayed by two processes) store it once. The event is chained to the thread's previous one
        (see ``audit_chain``) in the same transaction, under a lock on the thread's chain head.
        """
        if self.redact is not None:
            args, result = self.redact(thread_id, args), self.redact(thread_id, result)
        fields = {"ts": _now(), "thread_id": thread_id, "event_key": event_key, "agent": agent, "kind": kind,
                  "name": name, "args": _dump(args), "result": _dump(result), "ok": int(ok)}
        with self._lock, self._transaction():
            head = self._locked_head(thread_id)
            digest = event_hash(head.hash, fields)
            inserted = self._conn.execute(self._sql(_INSERT_EVENT),
                                          (*(fields[k] for k in HASHED_FIELDS), head.hash, digest)).fetchall()
            if not inserted:
                return False
            self._conn.execute(self._sql("UPDATE {heads} SET seq = ?, hash = ?, events = events + 1"
                                         " WHERE thread_id = ?"), (inserted[0][0], digest, thread_id))
        return True

    def _locked_head(self, thread_id: str) -> ChainHead:
        """The thread's chain head, created empty if missing, locked until the transaction ends."""
        self._conn.execute(self._sql("INSERT INTO {heads} (thread_id, seq, hash, events) VALUES (?, 0, '', 0)"
                                     " ON CONFLICT (thread_id) DO NOTHING"), (thread_id,))
        row = self._conn.execute(self._sql("SELECT hash, events FROM {heads} WHERE thread_id = ?" + self.lock_row),
                                 (thread_id,)).fetchone()
        return ChainHead(str(row[0]), int(row[1]))

    def verify(self, thread_id: str | None = None) -> tuple[int, list[ChainBreak]]:
        """Recompute the hash chains (of ``thread_id``, or of every thread): how many events were
        checked, and the first break of each thread whose chain no longer holds."""
        threads = [thread_id] if thread_id else [r[0] for r in self._all(
            "SELECT thread_id FROM {events} UNION SELECT thread_id FROM {heads} ORDER BY 1")]
        checked, breaks = 0, []
        for thread in threads:
            events = self._chained_events(thread)
            row = self._one("SELECT hash, events FROM {heads} WHERE thread_id = ?", (thread,))
            found = find_break(thread, events, ChainHead(str(row[0]), int(row[1])) if row else None)
            checked += len(events)
            breaks += [found] if found is not None else []
        return checked, breaks

    def _chained_events(self, thread_id: str) -> list[ChainedEvent]:
        rows = self._all("SELECT seq, " + ", ".join(HASHED_FIELDS) + ", prev_hash, hash FROM {events}"
                         " WHERE thread_id = ? ORDER BY seq", (thread_id,))
        width = len(HASHED_FIELDS)
        return [ChainedEvent(r[0], dict(zip(HASHED_FIELDS, r[1:width + 1])), r[width + 1], r[width + 2]) for r in rows]

    def events(self, thread_id: str, kind: str | None = None) -> list[AuditEvent]:
        """Events of one thread in the order they were written."""
        sql = "SELECT seq, ts, thread_id, agent, kind, name, args, result, ok FROM {events} WHERE thread_id = ?"
        params: tuple = (thread_id,)
        if kind:
            sql, params = sql + " AND kind = ?", (thread_id, kind)
        rows = self._all(sql + " ORDER BY seq", params)
        return [_event(r) for r in rows]

    def events_since(self, kind: str, since: str) -> list[AuditEvent]:
        """Events of ``kind`` in every thread recorded at or after ``since`` (ISO timestamp), oldest first."""
        rows = self._all("SELECT seq, ts, thread_id, agent, kind, name, args, result, ok FROM {events}"
                         " WHERE kind = ? AND ts >= ? ORDER BY seq", (kind, since))
        return [_event(r) for r in rows]

    def budget_raises(self, thread_id: str) -> dict[str, Any]:
        """Every cap raised on ``thread_id`` (``budget_raised`` events), later raises winning."""
        from opsgraph.governance.budgets import merge_budget

        merged: dict[str, Any] = {}
        for event in self.events(thread_id, "budget_raised"):
            merged = merge_budget(merged, event.args if isinstance(event.args, dict) else {})
        return merged

    # -- run registry ------------------------------------------------------------------------------
    def register_run(self, thread_id: str, graph_id: str, title: str | None, status: str = "running", *,
                     shadow: bool = False) -> None:
        """Create or refresh the registry row of a thread (``shadow`` is fixed when the row is created)."""
        now = _now()
        self._write(
            "INSERT INTO {runs} (thread_id, graph_id, title, status, created_at, updated_at, shadow)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (thread_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at",
            (thread_id, graph_id, title, status, now, now, int(shadow)),
        )

    def record_start_input(self, thread_id: str, start_input: tuple[str, bytes]) -> None:
        """Keep the serialised input (type, bytes) a run was started with, so a run killed before its
        first checkpoint can be started again."""
        kind, data = start_input
        self._write("UPDATE {runs} SET input_type = ?, input_data = ? WHERE thread_id = ?", (kind, data, thread_id))

    def set_status(self, thread_id: str, status: str, reason: str | None = None) -> None:
        """Update the status of a registered run; ``reason`` says why it failed (cleared otherwise)."""
        self._write("UPDATE {runs} SET status = ?, reason = ?, updated_at = ? WHERE thread_id = ?",
                    (status, reason, _now(), thread_id))

    def start_input(self, thread_id: str) -> tuple[str, bytes] | None:
        """The serialised input a run was registered with, or None when none was recorded."""
        row = self._one("SELECT input_type, input_data FROM {runs} WHERE thread_id = ?", (thread_id,))
        return (row[0], bytes(row[1])) if row and row[0] is not None else None

    def run(self, thread_id: str) -> RunInfo | None:
        """Registry row of ``thread_id``, or None."""
        row = self._one(f"SELECT {_RUN_FIELDS} FROM {{runs}} WHERE thread_id = ?", (thread_id,))
        return _run_info(row) if row else None

    def runs(self, limit: int = 50) -> list[RunInfo]:
        """Most recent runs first."""
        rows = self._all(f"SELECT {_RUN_FIELDS} FROM {{runs}} ORDER BY updated_at DESC LIMIT ?", (limit,))
        return [_run_info(row) for row in rows]

    def request_stop(self, thread_id: str, stop: bool = True) -> None:
        """Set or clear the kill switch of a thread (checked at every step boundary)."""
        self._write("UPDATE {runs} SET stop_requested = ? WHERE thread_id = ?", (int(stop), thread_id))

    def stop_requested(self, thread_id: str) -> bool:
        """True when someone asked this thread to stop."""
        row = self._one("SELECT stop_requested FROM {runs} WHERE thread_id = ?", (thread_id,))
        return bool(row and row[0])


def _event(row: tuple) -> AuditEvent:
    return AuditEvent(row[0], row[1], row[2], row[3], row[4], row[5], _load(row[6]), _load(row[7]), bool(row[8]))


def _run_info(row: tuple) -> RunInfo:
    return RunInfo(*row[:-1], shadow=bool(row[-1]))


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Bring a store created by an older release up to the current columns (its events stay unchained)."""
    for table, name, declaration in _ADDED_COLUMNS:
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if name not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")


def count_runs(path: Path) -> int:
    """Runs registered in the audit store at ``path``, without creating it (0 when absent)."""
    if not path.is_file():
        return 0
    conn = sqlite3.connect(path, timeout=30)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        if "no such table" in str(exc):
            return 0
        raise StorageError(f"audit store {path} is damaged or not an opsgraph database ({exc}); "
                           "move it aside to start a new one") from None
    finally:
        conn.close()


def open_audit_store(settings: Settings) -> AuditStore:
    """The audit store of ``settings``: the shared Postgres database when ``database_url`` is set,
    else the SQLite file in the data home."""
    if settings.database_url:
        from opsgraph.governance.audit_postgres import PostgresAuditStore

        return PostgresAuditStore(settings.database_url)
    return AuditStore(settings.audit_path)


def count_recorded_runs(settings: Settings) -> int:
    """Runs registered in the audit store of ``settings``, without creating it (0 when absent)."""
    if settings.database_url:
        from opsgraph.governance.audit_postgres import count_postgres_runs

        return count_postgres_runs(settings.database_url)
    return count_runs(settings.audit_path)


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)
