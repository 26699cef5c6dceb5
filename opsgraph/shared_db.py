"""The shared Postgres database: connections, the ``opsgraph`` schema and its one-time setup.

Every opsgraph table in a shared database lives in the ``opsgraph`` schema, never in
``public``, so it cannot collide with another application's tables (or with LangGraph
Server's own). Tables are created on first use by whichever process gets there first: many
processes on many machines may start at once, so setup runs under an advisory lock and
every statement is idempotent. Each component records the version of its tables in
``opsgraph.schema_versions``; a process that finds its version there skips setup entirely.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

from opsgraph.failures import StorageError

SCHEMA = "opsgraph"
# Key of the advisory lock held while one process creates or migrates any opsgraph tables in a
# database: the opsgraph schema, LangGraph's checkpoint tables and its store. One key for all, so
# no two setups (LangGraph's run CREATE INDEX CONCURRENTLY) ever run side by side and wait on each other.
SETUP_LOCK_KEY = 0x6F70_7367_7270_6801
SETUP_POLL_S = 0.05
SETUP_WAIT_S = 300

_VERSIONS = (f"CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_versions (component TEXT PRIMARY KEY,"
             " version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")


def connect(url: str, **options: Any) -> Any:
    """An autocommit psycopg connection to ``url``; an unreachable server is a one-line StorageError."""
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, **options)
    except psycopg.OperationalError as exc:
        raise StorageError(f"cannot connect to Postgres at {safe_url(url)}: {first_line(exc)}") from None


@contextmanager
def setup_lock(conn: Any, what: str = "opsgraph schema") -> Iterator[None]:
    """Hold the setup advisory lock on ``conn`` for the block, waiting while another process holds it.

    Polls instead of blocking in pg_advisory_lock: a session blocked there is an open
    transaction, which a CREATE INDEX CONCURRENTLY run by the holder would wait for (deadlock).
    """
    deadline = time.monotonic() + SETUP_WAIT_S
    while not _first(conn.execute("SELECT pg_try_advisory_lock(%s) AS locked", (SETUP_LOCK_KEY,)).fetchone()):
        if time.monotonic() > deadline:
            raise StorageError(f"another process has held the {what} setup lock for {SETUP_WAIT_S} s; "
                               "is a migration stuck?")
        time.sleep(SETUP_POLL_S)
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_KEY,))


def ensure_tables(conn: Any, component: str, version: int, statements: Sequence[str]) -> None:
    """Create ``component``'s tables (``statements``, idempotent DDL) unless ``version`` is already applied.

    The statements run in one transaction, by one process at a time; a process that died
    half-way leaves nothing behind, and the next one starts over.
    """
    if applied_version(conn, component) >= version:
        return
    with setup_lock(conn):
        if applied_version(conn, component) >= version:  # another process did it while we waited
            return
        with conn.transaction():
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            conn.execute(_VERSIONS)
            for statement in statements:
                conn.execute(statement)
            conn.execute(f"INSERT INTO {SCHEMA}.schema_versions (component, version) VALUES (%s, %s)"
                         " ON CONFLICT (component) DO UPDATE SET version = excluded.version, applied_at = now()",
                         (component, version))


def applied_version(conn: Any, component: str) -> int:
    """The table version ``component`` has in this database, -1 when it has none."""
    if not _first(conn.execute("SELECT to_regclass(%s) IS NOT NULL AS present",
                               (f"{SCHEMA}.schema_versions",)).fetchone()):
        return -1
    row = conn.execute(f"SELECT version FROM {SCHEMA}.schema_versions WHERE component = %s",
                       (component,)).fetchone()
    return int(_first(row)) if row is not None else -1


def table_exists(conn: Any, table: str) -> bool:
    """Whether ``schema.table`` exists (read without creating anything)."""
    return bool(_first(conn.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (table,)).fetchone()))


def _first(row: Any) -> Any:
    # Connections opened by LangGraph's savers return rows as dicts; plain connections return tuples.
    if isinstance(row, dict):
        return next(iter(row.values()))
    return row[0]


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (driver errors carry multi-line details)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def safe_url(url: str) -> str:
    """``url`` with any password replaced, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
