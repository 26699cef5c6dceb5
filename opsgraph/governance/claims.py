"""Which process owns a thread, and which human decision answered a pending approval.

These facts are settled by the database that holds the checkpoints (the same SQLite file,
or the same Postgres database, where the tables live in the ``opsgraph`` schema), so every
process that can resume a thread sees them. With ``database_url`` alone set, checkpoints and
so these tables are in the shared database:

- thread claims: a thread id is taken by exactly one start (a unique insert; the second
  start finds the row and is refused);
- decisions: one row per (thread, interrupt). Deciding is a compare-and-set: the decision
  whose row was inserted wins; every later attempt reads the winner back and is refused;
- drive leases: one process at a time runs a thread's steps. Postgres uses a session
  advisory lock (released by the server if the process dies); SQLite uses a lease row that
  names the owning process and is taken over only when that process no longer exists.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import uuid
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

from opsgraph.locks import immediate_transaction
from opsgraph.errors import UserError
from opsgraph.shared_db import SCHEMA, connect, ensure_tables

_CLAIMS = ("CREATE TABLE IF NOT EXISTS {claims} (thread_id TEXT PRIMARY KEY, graph_id TEXT NOT NULL,"
           " claimed_at TEXT NOT NULL)")
_DECISIONS = ("CREATE TABLE IF NOT EXISTS {decisions} (thread_id TEXT NOT NULL, interrupt_id TEXT NOT NULL,"
              " decision TEXT NOT NULL, decided_by TEXT NOT NULL, decided_at TEXT NOT NULL,"
              " PRIMARY KEY (thread_id, interrupt_id))")
_LEASES = ("CREATE TABLE IF NOT EXISTS {leases} (thread_id TEXT PRIMARY KEY, owner TEXT NOT NULL,"
           " host TEXT NOT NULL, pid INTEGER NOT NULL, acquired_at TEXT NOT NULL)")
_SQLITE_TABLES = {"claims": "opsgraph_thread_claims", "decisions": "opsgraph_decisions", "leases": "opsgraph_leases"}
_POSTGRES_TABLES = {"claims": f"{SCHEMA}.thread_claims", "decisions": f"{SCHEMA}.decisions"}
# Earlier releases kept the Postgres tables in ``public``; their rows are copied over once, and the
# old tables are left alone (a process of the earlier release may still be using them).
_LEGACY_COPY = f"""DO $$ BEGIN
    IF to_regclass('public.opsgraph_thread_claims') IS NOT NULL THEN
        INSERT INTO {SCHEMA}.thread_claims SELECT thread_id, graph_id, claimed_at FROM public.opsgraph_thread_claims
        ON CONFLICT DO NOTHING;
    END IF;
    IF to_regclass('public.opsgraph_decisions') IS NOT NULL THEN
        INSERT INTO {SCHEMA}.decisions SELECT thread_id, interrupt_id, decision, decided_by, decided_at
        FROM public.opsgraph_decisions ON CONFLICT DO NOTHING;
    END IF;
END $$"""
_POSTGRES_VERSION = 1
# Namespace of opsgraph's Postgres advisory locks, so they never collide with another application's.
_LOCK_NAMESPACE = 7215


class ThreadBusyError(UserError):
    """Another process is running this thread's steps right now."""


@dataclass(frozen=True)
class Decided:
    """The decision recorded for one pending interrupt; ``won`` is True for the caller that recorded it."""

    interrupt_id: str
    decision: dict[str, Any]
    by: str
    at: str
    won: bool

    def refusal(self) -> str:
        """The one line a losing decision gets."""
        return f"already decided by {self.by} at {self.at}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class ClaimStore:
    """Thread claims, decisions and drive leases over one DB-API connection (see module doc)."""

    placeholder = "?"
    tables = _SQLITE_TABLES

    def __init__(self, conn: Any):
        self._conn = conn
        self._lock = threading.RLock()

    # -- plumbing ------------------------------------------------------------------------------
    def _sql(self, text: str) -> str:
        return text.format(**self.tables).replace("?", self.placeholder)

    def _execute(self, text: str, params: Sequence[Any] = ()) -> Any:
        with self._lock:
            return self._conn.execute(self._sql(text), tuple(params))

    def close(self) -> None:
        """Close the connection (releases any lease this process still holds on Postgres)."""
        with self._lock:
            self._conn.close()

    # -- thread claims ---------------------------------------------------------------------------
    def claim_thread(self, thread_id: str, graph_id: str) -> bool:
        """Take ``thread_id`` for a new run; False when any process took it before."""
        cursor = self._execute("INSERT INTO {claims} (thread_id, graph_id, claimed_at) VALUES (?, ?, ?)"
                               " ON CONFLICT (thread_id) DO NOTHING", (thread_id, graph_id, _now()))
        return cursor.rowcount == 1

    # -- decisions -------------------------------------------------------------------------------
    def decide(self, thread_id: str, interrupt_ids: Sequence[str], decision: dict[str, Any]) -> Decided:
        """Record ``decision`` for every pending interrupt, all or none; the result says who won.

        The insert is the compare-and-set: if any interrupt already has a decision, nothing is
        written and the earlier decision comes back with ``won=False``.
        """
        at, by, text = _now(), str(decision.get("by") or "operator"), json.dumps(decision, sort_keys=True)
        try:
            with self._lock, self._transaction():
                for interrupt_id in interrupt_ids:
                    cursor = self._conn.execute(self._sql(
                        "INSERT INTO {decisions} (thread_id, interrupt_id, decision, decided_by, decided_at)"
                        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (thread_id, interrupt_id) DO NOTHING"),
                        (thread_id, interrupt_id, text, by, at))
                    if cursor.rowcount != 1:
                        raise _Lost(interrupt_id)
        except _Lost as lost:
            winner = self.decision(thread_id, str(lost))
            if winner is None:  # cannot happen: a row made the insert a no-op and rows are never deleted
                raise RuntimeError(f"decision row for {thread_id}/{lost} vanished") from None
            return winner
        return Decided(interrupt_ids[0], decision, by, at, won=True)

    def decision(self, thread_id: str, interrupt_id: str) -> Decided | None:
        """The decision recorded for one interrupt, if any."""
        row = self._execute("SELECT interrupt_id, decision, decided_by, decided_at FROM {decisions}"
                            " WHERE thread_id = ? AND interrupt_id = ?", (thread_id, interrupt_id)).fetchone()
        return _decided(row)

    def last_decision(self, thread_id: str) -> Decided | None:
        """The most recent decision recorded on a thread, if any."""
        row = self._execute("SELECT interrupt_id, decision, decided_by, decided_at FROM {decisions}"
                            " WHERE thread_id = ? ORDER BY decided_at DESC LIMIT 1", (thread_id,)).fetchone()
        return _decided(row)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        raise NotImplementedError

    # -- leases ------------------------------------------------------------------------------------
    @contextmanager
    def lease(self, thread_id: str) -> Iterator[None]:
        """Hold the right to run ``thread_id``'s steps; raises ThreadBusyError when another process has it."""
        raise NotImplementedError
        yield  # pragma: no cover


class _Lost(Exception):
    """Internal: an interrupt already had a decision (rolls the transaction back)."""


def _decided(row: Sequence[Any] | None) -> Decided | None:
    if row is None:
        return None
    return Decided(str(row[0]), json.loads(row[1]), str(row[2]), str(row[3]), won=False)


def _busy(thread_id: str, since: str | None = None) -> ThreadBusyError:
    when = f" since {since}" if since else ""
    return ThreadBusyError(f"thread {thread_id!r} is being run by another process{when}; wait for it to pause "
                           f"or finish, or stop it with 'opsgraph runs stop {thread_id}'")


class SqliteClaimStore(ClaimStore):
    """Claims in a SQLite file (the checkpoint file); ``":memory:"`` for in-memory checkpointers."""

    def __init__(self, path: str):
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        for statement in (_CLAIMS, _DECISIONS, _LEASES):
            conn.execute(statement.format(**_SQLITE_TABLES))
        super().__init__(conn)
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def _transaction(self) -> AbstractContextManager[None]:
        # IMMEDIATE takes the write lock at once: two deciders serialise instead of both reading "free".
        return immediate_transaction(self._conn)

    @contextmanager
    def lease(self, thread_id: str) -> Iterator[None]:
        """Hold the lease row of ``thread_id`` (see ClaimStore.lease)."""
        owner = f"{self._owner}:{uuid.uuid4().hex[:6]}"
        self._take(thread_id, owner)
        try:
            yield
        finally:
            self._execute("DELETE FROM {leases} WHERE thread_id = ? AND owner = ?", (thread_id, owner))

    def _take(self, thread_id: str, owner: str) -> None:
        insert = ("INSERT INTO {leases} (thread_id, owner, host, pid, acquired_at) VALUES (?, ?, ?, ?, ?)"
                  " ON CONFLICT (thread_id) DO NOTHING")
        params = (thread_id, owner, socket.gethostname(), os.getpid(), _now())
        if self._execute(insert, params).rowcount == 1:
            return
        row = self._execute("SELECT owner, host, pid, acquired_at FROM {leases} WHERE thread_id = ?",
                            (thread_id,)).fetchone()
        if row is not None and _alive(str(row[1]), int(row[2])):
            raise _busy(thread_id, str(row[3]))
        # The holder died without releasing: remove exactly its row, then race for the lease again.
        if row is not None:
            self._execute("DELETE FROM {leases} WHERE thread_id = ? AND owner = ?", (thread_id, row[0]))
        if self._execute(insert, params).rowcount != 1:
            raise _busy(thread_id)


def _alive(host: str, pid: int) -> bool:
    """Whether the process holding a lease still runs (a lease from another host counts as alive)."""
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class PostgresClaimStore(ClaimStore):
    """Claims in the ``opsgraph`` schema of the Postgres database that holds the checkpoints.

    Leases are session advisory locks here, so there is no lease table.
    """

    placeholder = "%s"
    tables = _POSTGRES_TABLES

    def __init__(self, url: str):
        conn = connect(url)
        try:
            # Concurrent CREATE TABLE IF NOT EXISTS can still collide in Postgres; one creator at a time.
            ensure_tables(conn, "claims", _POSTGRES_VERSION,
                          [_CLAIMS.format(**_POSTGRES_TABLES), _DECISIONS.format(**_POSTGRES_TABLES), _LEGACY_COPY])
        except BaseException:
            conn.close()
            raise
        super().__init__(conn)
        self._held: set[str] = set()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._conn.transaction():
            yield

    @contextmanager
    def lease(self, thread_id: str) -> Iterator[None]:
        """Hold a session advisory lock on ``thread_id`` (see ClaimStore.lease)."""
        with self._lock:
            # Advisory locks are re-entrant within one session: refuse a second holder in this process too.
            if thread_id in self._held:
                raise _busy(thread_id)
            got = self._conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                                     (_LOCK_NAMESPACE, thread_id)).fetchone()[0]
            if not got:
                raise _busy(thread_id)
            self._held.add(thread_id)
        try:
            yield
        finally:
            with self._lock:
                self._held.discard(thread_id)
                self._conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (_LOCK_NAMESPACE, thread_id))


def open_claims(url: str) -> ClaimStore:
    """The claim store living in the same database as the checkpoints at ``url``."""
    from opsgraph.persistence import checkpoint_kind

    if checkpoint_kind(url) == "sqlite":
        return SqliteClaimStore(url[len("sqlite:///"):])
    return PostgresClaimStore(url)
