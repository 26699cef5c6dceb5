"""An exclusive lock per data home, held while a process creates shared files there.

Many processes may open a fresh data home at once (parallel runs, eval workers). Creating
the world database, the audit store, the checkpoint file or the Chroma store is done under
this lock, after checking again whether another process already did it, so no process
replaces a file that another has started writing to.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

LOCK_NAME = ".init.lock"


@contextmanager
def init_lock(directory: Path) -> Iterator[None]:
    """Hold the exclusive initialisation lock of ``directory`` (created if missing) for the block.

    ``fcntl.flock`` is released by the kernel when the process dies, so a crash mid-way
    never leaves the data home locked.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / LOCK_NAME, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def immediate_transaction(conn: "sqlite3.Connection") -> Iterator[None]:
    """A SQLite write transaction that takes the database's write lock at once (``BEGIN IMMEDIATE``),
    so two writers serialise instead of both reading before either writes; rolled back on error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
