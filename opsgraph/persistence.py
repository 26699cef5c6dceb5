"""Checkpointers: a SQLite file by default, Postgres when the checkpoint URL says so."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from langgraph.checkpoint.base import BaseCheckpointSaver

from opsgraph.failures import StorageError
from opsgraph.locks import init_lock
from opsgraph.shared_db import first_line, safe_url, setup_lock



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
        raise StorageError(f"cannot connect to Postgres at {safe_url(url)}: {first_line(exc)}") from None
    try:
        _setup_postgres(saver)
        yield saver
    finally:
        opened.__exit__(None, None, None)


def _setup_postgres(saver: BaseCheckpointSaver) -> None:
    """Create or migrate the checkpoint tables, one process at a time (advisory lock)."""
    with setup_lock(saver.conn, "checkpoint"):
        saver.setup()
