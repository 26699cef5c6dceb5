"""The LangGraph store: data shared across threads (long-term memory, per-user facts).

A ``SqliteStore`` in the data home (``store.db``) by default; a ``PostgresStore`` in the
``opsgraph`` schema of the shared database when ``database_url`` is set, so every process on
every machine reads what another wrote. Every graph the product compiles gets it, and nodes
and tools reach it the LangGraph way: ``runtime.store`` in a node, an ``InjectedStore``
argument in a tool.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from langgraph.store.base import BaseStore

from opsgraph.failures import StorageError
from opsgraph.locks import init_lock
from opsgraph.settings import Settings
from opsgraph.shared_db import SCHEMA, connect, setup_lock


@contextmanager
def open_store(settings: Settings) -> Iterator[BaseStore]:
    """Open the store of ``settings`` (tables created on first use) and close it afterwards."""
    if settings.database_url:
        yield from _postgres(settings.database_url)
    else:
        yield from _sqlite(settings.store_path)


def _sqlite(path: Path) -> Iterator[BaseStore]:
    from langgraph.store.sqlite import SqliteStore

    # Several processes may open a fresh data home at once: one creates the tables, the others wait.
    with init_lock(path.parent):
        # Autocommit: the store opens its own transactions; graph nodes in worker threads share
        # this connection under the store's lock.
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            store = SqliteStore(conn)
            store.setup()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StorageError(f"store database {path} is damaged or not SQLite ({exc}); "
                               "move it aside to start a new one") from None
    try:
        yield store
    finally:
        conn.close()


def _postgres(url: str) -> Iterator[BaseStore]:
    store = open_postgres_store(url)
    try:
        yield store
    finally:
        store.conn.close()


def open_postgres_store(url: str) -> BaseStore:
    """A ``PostgresStore`` in the shared database's ``opsgraph`` schema, tables created on first use.

    The caller closes ``store.conn``. No vector index: searches by meaning are ranked in the
    process (see opsgraph.memory.ranked), so the database needs no pgvector extension.
    """
    from langgraph.store.postgres import PostgresStore
    from psycopg.rows import dict_row

    # PostgresStore names its tables without a schema; the search path puts them in ours.
    conn = connect(url, prepare_threshold=0, row_factory=dict_row, options=f"-c search_path={SCHEMA}")
    try:
        store = PostgresStore(conn)
        with setup_lock(conn, what="store"):
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            store.setup()
    except BaseException:
        conn.close()
        raise
    return store
