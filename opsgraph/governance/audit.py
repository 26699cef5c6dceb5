"""Append-only audit store and run registry (SQLite).

Audit events can only be inserted: triggers reject UPDATE and DELETE. Each event has a
key unique within its thread, so a step replayed after a crash records nothing twice.
The run registry (one row per thread) is the mutable index behind ``opsgraph runs list``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from opsgraph.failures import StorageError
from opsgraph.locks import init_lock

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
    UNIQUE (thread_id, event_key)
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

# Columns added after the first release: (name, declaration). Added in place on older stores.
_RUN_COLUMNS = (("reason", "TEXT"), ("input_type", "TEXT"), ("input_data", "BLOB"),
                ("shadow", "INTEGER NOT NULL DEFAULT 0"))
_RUN_FIELDS = "thread_id, graph_id, title, status, created_at, updated_at, reason, shadow"


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
    """SQLite-backed append-only audit log plus the run registry."""

    def __init__(self, path: Path):
        """Open (creating on first use) the store at ``path``; a damaged file is a StorageError."""
        self.path = path
        # (thread_id, value) -> value with personal data masked; set by the run context when masking is on.
        self.redact: Callable[[str, Any], Any] | None = None
        self._lock = threading.Lock()
        # Several processes may open a fresh data home at once: one creates, the others wait.
        with init_lock(path.parent):
            self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._conn.executescript(_SCHEMA)
                _add_missing_columns(self._conn)
            except sqlite3.DatabaseError as exc:
                self._conn.close()
                raise StorageError(f"audit store {path} is damaged or not an opsgraph database ({exc}); "
                                   "move it aside to start a new one") from None

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def record(
        self, thread_id: str, event_key: str, kind: str, *, agent: str | None = None, name: str | None = None,
        args: Any = None, result: Any = None, ok: bool = True,
    ) -> bool:
        """Append an event; returns False when this (thread, key) was already recorded."""
        if self.redact is not None:
            args, result = self.redact(thread_id, args), self.redact(thread_id, result)
        row = (_now(), thread_id, event_key, agent, kind, name, _dump(args), _dump(result), int(ok))
        with self._lock:
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO audit_events (ts, thread_id, event_key, agent, kind, name, args, result, ok)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row,
            )
        return cursor.rowcount == 1

    def events(self, thread_id: str, kind: str | None = None) -> list[AuditEvent]:
        """Events of one thread in the order they were written."""
        sql = "SELECT seq, ts, thread_id, agent, kind, name, args, result, ok FROM audit_events WHERE thread_id = ?"
        params: tuple = (thread_id,)
        if kind:
            sql, params = sql + " AND kind = ?", (thread_id, kind)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY seq", params).fetchall()
        return [_event(r) for r in rows]

    def events_since(self, kind: str, since: str) -> list[AuditEvent]:
        """Events of ``kind`` in every thread recorded at or after ``since`` (ISO timestamp), oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, ts, thread_id, agent, kind, name, args, result, ok FROM audit_events"
                " WHERE kind = ? AND ts >= ? ORDER BY seq", (kind, since)).fetchall()
        return [_event(r) for r in rows]

    def budget_raises(self, thread_id: str) -> dict[str, Any]:
        """Every cap raised on ``thread_id`` (``budget_raised`` events), later raises winning."""
        from opsgraph.governance.budgets import merge_budget

        merged: dict[str, Any] = {}
        for event in self.events(thread_id, "budget_raised"):
            merged = merge_budget(merged, event.args if isinstance(event.args, dict) else {})
        return merged

    def register_run(self, thread_id: str, graph_id: str, title: str | None, status: str = "running", *,
                     shadow: bool = False) -> None:
        """Create or refresh the registry row of a thread (``shadow`` is fixed when the row is created)."""
        now = _now()
        with self._lock:
            self._conn.execute(
                "INSERT INTO runs (thread_id, graph_id, title, status, created_at, updated_at, shadow)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(thread_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at",
                (thread_id, graph_id, title, status, now, now, int(shadow)),
            )

    def record_start_input(self, thread_id: str, start_input: tuple[str, bytes]) -> None:
        """Keep the serialised input (type, bytes) a run was started with, so a run killed before its
        first checkpoint can be started again."""
        kind, data = start_input
        with self._lock:
            self._conn.execute("UPDATE runs SET input_type = ?, input_data = ? WHERE thread_id = ?",
                               (kind, data, thread_id))

    def set_status(self, thread_id: str, status: str, reason: str | None = None) -> None:
        """Update the status of a registered run; ``reason`` says why it failed (cleared otherwise)."""
        with self._lock:
            self._conn.execute("UPDATE runs SET status = ?, reason = ?, updated_at = ? WHERE thread_id = ?",
                               (status, reason, _now(), thread_id))

    def start_input(self, thread_id: str) -> tuple[str, bytes] | None:
        """The serialised input a run was registered with, or None when none was recorded."""
        with self._lock:
            row = self._conn.execute("SELECT input_type, input_data FROM runs WHERE thread_id = ?",
                                     (thread_id,)).fetchone()
        return (row[0], row[1]) if row and row[0] is not None else None

    def run(self, thread_id: str) -> RunInfo | None:
        """Registry row of ``thread_id``, or None."""
        with self._lock:
            row = self._conn.execute(f"SELECT {_RUN_FIELDS} FROM runs WHERE thread_id = ?", (thread_id,)).fetchone()
        return _run_info(row) if row else None

    def runs(self, limit: int = 50) -> list[RunInfo]:
        """Most recent runs first."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_RUN_FIELDS} FROM runs ORDER BY updated_at DESC LIMIT ?", (limit,),
            ).fetchall()
        return [_run_info(row) for row in rows]

    def request_stop(self, thread_id: str, stop: bool = True) -> None:
        """Set or clear the kill switch of a thread (checked at every step boundary)."""
        with self._lock:
            self._conn.execute("UPDATE runs SET stop_requested = ? WHERE thread_id = ?", (int(stop), thread_id))

    def stop_requested(self, thread_id: str) -> bool:
        """True when someone asked this thread to stop."""
        with self._lock:
            row = self._conn.execute("SELECT stop_requested FROM runs WHERE thread_id = ?", (thread_id,)).fetchone()
        return bool(row and row[0])


def _event(row: tuple) -> AuditEvent:
    return AuditEvent(row[0], row[1], row[2], row[3], row[4], row[5], _load(row[6]), _load(row[7]), bool(row[8]))


def _run_info(row: tuple) -> RunInfo:
    return RunInfo(*row[:-1], shadow=bool(row[-1]))


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Bring a store created by an older release up to the current run registry columns."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    for name, declaration in _RUN_COLUMNS:
        if name not in present:
            conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {declaration}")


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


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)
