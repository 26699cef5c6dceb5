"""Checkpointers: a SQLite file by default, Postgres when the checkpoint URL says so."""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit, urlunsplit

from langgraph.checkpoint.base import BaseCheckpointSaver

from opsgraph.failures import StorageError
from opsgraph.locks import init_lock

# Key of the Postgres advisory lock held while one process creates or migrates the checkpoint
# tables; the others wait instead of racing to create the same types and tables.
SETUP_LOCK_KEY = 0x6F70_7367_7270_6801
SETUP_POLL_S = 0.05
SETUP_WAIT_S = 300


class CheckpointURLError(ValueError):
    """The checkpoint URL is not a sqlite or postgres URL."""


def checkpoint_kind(url: str) -> str:
    """``sqlite`` or ``postgres`` for a checkpoint URL."""
    if url.startswith("sqlite:///"):
        return "sqlite"
    if url.startswith(("postgres://", "postgresql://")):
        return "postgres"
    raise CheckpointURLError(
        f"checkpoint URL {url!r} is not supported; use sqlite:///path/to/file.db or postgresql://user@host/db"
    )


@contextmanager
def open_checkpointer(url: str) -> Iterator[BaseCheckpointSaver]:
    """Open the checkpointer for ``url`` (tables created on first use) and close it afterwards."""
    kind = checkpoint_kind(url)
    if kind == "sqlite":
        yield from _sqlite(Path(url[len("sqlite:///"):]))
    else:
        yield from _postgres(url)


def _sqlite(path: Path) -> Iterator[BaseCheckpointSaver]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    # Graph nodes may run in worker threads; SqliteSaver serialises access with its own lock.
    with init_lock(path.parent):
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            saver = SqliteSaver(conn)
            saver.setup()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StorageError(f"checkpoint database {path} is damaged or not SQLite ({exc}); "
                               "move it aside (its runs cannot be resumed) or restore it from a backup") from None
    try:
        yield saver
    finally:
        conn.close()


def _postgres(url: str) -> Iterator[BaseCheckpointSaver]:
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg import OperationalError

    try:
        opened = PostgresSaver.from_conn_string(url)
        saver = opened.__enter__()
    except OperationalError as exc:
        raise StorageError(f"cannot connect to Postgres at {_safe_url(url)}: {_first_line(exc)}") from None
    try:
        _setup_postgres(saver)
        yield saver
    finally:
        opened.__exit__(None, None, None)


def _setup_postgres(saver: BaseCheckpointSaver) -> None:
    """Create or migrate the checkpoint tables, one process at a time (advisory lock)."""
    deadline = time.monotonic() + SETUP_WAIT_S
    with saver.conn.cursor() as cur:
        # Poll instead of blocking in pg_advisory_lock: a session blocked there is an open
        # transaction, which CREATE INDEX CONCURRENTLY in the holder's migrations waits for (deadlock).
        while not _locked(cur.execute("SELECT pg_try_advisory_lock(%s) AS locked", (SETUP_LOCK_KEY,)).fetchone()):
            if time.monotonic() > deadline:
                raise StorageError(f"another process has held the checkpoint setup lock for {SETUP_WAIT_S} s; "
                                   "is a migration stuck?")
            time.sleep(SETUP_POLL_S)
    try:
        saver.setup()
    finally:
        with saver.conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_KEY,))


def _locked(row: Any) -> bool:
    # The saver's connection returns rows as dicts; a plain connection returns tuples.
    return bool(row["locked"] if isinstance(row, dict) else row[0])


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _safe_url(url: str) -> str:
    """``url`` with any password replaced, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
