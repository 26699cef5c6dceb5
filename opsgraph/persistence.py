"""Checkpointers: a SQLite file by default, Postgres when the checkpoint URL says so."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from langgraph.checkpoint.base import BaseCheckpointSaver


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

    path.parent.mkdir(parents=True, exist_ok=True)
    # Graph nodes may run in worker threads; SqliteSaver serialises access with its own lock.
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
    finally:
        conn.close()


def _postgres(url: str) -> Iterator[BaseCheckpointSaver]:
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
        yield saver
