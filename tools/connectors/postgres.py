"""The world's database on Postgres: the same connector SQL, the same transactions as on SQLite.

Connector SQL is written once, in what SQLite and Postgres share. This module supplies the
few things that differ, so a connector cannot tell which database it talks to:

* placeholders: connectors write ``?``; psycopg wants ``%s`` (and a literal ``%`` as ``%%``);
* rows: :class:`Row` answers ``row["col"]``, ``row[0]``, ``dict(row)`` and unpacking, as
  ``sqlite3.Row`` does;
* numbers: ``ROUND(CAST(x AS NUMERIC), 2)`` comes back as a float, as SQLite's REAL does;
* write transactions: each one starts by taking a transaction-scoped advisory lock on the
  world, so writers queue up one at a time exactly as behind SQLite's ``BEGIN IMMEDIATE``.
  Under READ COMMITTED every statement after the lock sees what earlier writers committed,
  so a check followed by a write (a cumulative limit, an idempotency key, the next id) can
  never be raced by another process;
* reads: one REPEATABLE READ, READ ONLY transaction, the consistent snapshot SQLite's
  deferred ``BEGIN`` gives.
"""

from __future__ import annotations

import hashlib
import re
import threading
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:  # psycopg is imported on first connection: a SQLite world never loads it
    import psycopg

# The schema the mock enterprise lives in when the settings name a Postgres database.
WORLD_SCHEMA = "opsgraph_world"
# How long a writer waits for the world lock before giving up, as SQLite's busy timeout does.
LOCK_TIMEOUT = "30s"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def is_postgres_url(target: Any) -> bool:
    """Whether ``target`` names a Postgres database rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def masked(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def check_schema(name: str) -> str:
    """A schema name safe to use unquoted: lower-case letters, digits and underscores."""
    if not isinstance(name, str) or not _SCHEMA_NAME.match(name):
        raise ValueError(f"world schema {name!r} must be lower-case letters, digits and underscores, "
                         "starting with a letter or underscore")
    return name


def lock_key(schema: str) -> int:
    """The advisory lock key of the world in ``schema`` (a signed 64-bit integer)."""
    digest = hashlib.sha256(f"opsgraph-world:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@lru_cache(maxsize=512)
def to_pyformat(statement: str) -> str:
    """``statement`` with ``?`` placeholders outside string literals as ``%s``, and every ``%`` as ``%%``.

    psycopg reads ``%`` everywhere, literals included, so each one is escaped; a ``?`` inside
    a literal is text. Splitting on quotes puts the text outside literals at even positions
    (a doubled quote inside a literal leaves an empty piece, so the parity still holds).
    """
    pieces = statement.replace("%", "%%").split("'")
    for index in range(0, len(pieces), 2):
        pieces[index] = pieces[index].replace("?", "%s")
    return "'".join(pieces)


def postgres_ddl(statement: str) -> str:
    """A table definition written for SQLite, with the column types Postgres needs for the same behaviour.

    REAL is single precision in Postgres, so it becomes DOUBLE PRECISION (SQLite's REAL is a
    double). TEXT compares byte by byte in SQLite; the "C" collation makes Postgres sort and
    compare ids and ISO dates the same way whatever the database's locale.
    """
    statement = re.sub(r"\bREAL\b", "DOUBLE PRECISION", statement)
    return re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', statement)


class Row(tuple):
    """A result row readable by position and by column name, like ``sqlite3.Row``."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> "Row":
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """Column names in select order (what ``dict(row)`` uses)."""
        return list(self._index)


def _row_factory(cursor: psycopg.Cursor) -> Any:
    index: dict[str, int] = {}
    for position, column in enumerate(cursor.description or ()):
        index.setdefault(column.name, position)  # a repeated name reads the first column, as in sqlite3
    return lambda values: Row(values, index)


class PgConnection:
    """The subset of ``sqlite3.Connection`` connectors use, over a psycopg connection."""

    def __init__(self, raw: psycopg.Connection) -> None:
        self.raw = raw

    def execute(self, statement: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        """Run one statement with ``?`` placeholders; the cursor iterates and fetches :class:`Row` s."""
        # Always pass a tuple: psycopg only turns %% back into % when parameters are given.
        return self.raw.execute(to_pyformat(statement), tuple(params))

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per parameter row."""
        with self.raw.cursor() as cursor:
            cursor.executemany(to_pyformat(statement), [tuple(row) for row in rows])

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open on this connection."""
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE


def connect(url: str, schema: str) -> PgConnection:
    """A connection whose unqualified table names resolve in ``schema`` (which need not exist yet)."""
    import psycopg
    from psycopg import sql
    from psycopg.types.numeric import FloatLoader

    raw = psycopg.connect(url, autocommit=True, row_factory=_row_factory, connect_timeout=10)
    raw.adapters.register_loader("numeric", FloatLoader)
    raw.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    raw.execute(sql.SQL("SET lock_timeout TO {}").format(sql.Literal(LOCK_TIMEOUT)))
    return PgConnection(raw)


class PostgresDatabase:
    """One Postgres connection to the world in ``schema``, shared by threads behind a re-entrant lock.

    Transactions are explicit (``BEGIN`` ... ``COMMIT`` on an autocommit connection), as the
    SQLite :class:`~opsgraph.tools.connectors.base.Database` does, so the two read alike.
    """

    dialect = "postgres"

    def __init__(self, url: str, schema: str = WORLD_SCHEMA) -> None:
        self.url, self.schema = url, check_schema(schema)
        self._key = lock_key(self.schema)
        self._lock = threading.RLock()
        self._conn = connect(url, self.schema)

    def _connection(self) -> PgConnection:
        # A server restart or a dropped connection breaks it for good; the next call reconnects.
        if self._conn.raw.closed:
            self._conn = connect(self.url, self.schema)
        return self._conn

    @contextmanager
    def read(self) -> Iterator[PgConnection]:
        """A consistent snapshot for a read (joins inside an outer transaction if there is one)."""
        with self._lock:
            conn = self._connection()
            if conn.in_transaction:
                yield conn
                return
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            with self._ending(conn):
                yield conn

    @contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        """A write transaction holding the world lock: commits on success, rolls back on any exception."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN")
            with self._ending(conn):
                conn.execute("SELECT pg_advisory_xact_lock(?)", (self._key,))
                yield conn

    @staticmethod
    @contextmanager
    def _ending(conn: PgConnection) -> Iterator[None]:
        import psycopg

        try:
            yield
        except BaseException:
            # A lost connection has no transaction left to roll back; keep the original error.
            with suppress(psycopg.OperationalError, psycopg.InterfaceError):
                conn.raw.execute("ROLLBACK")
            raise
        conn.raw.execute("COMMIT")

    def table_exists(self, name: str) -> bool:
        """Whether table ``name`` exists in the schema (inside a transaction: as that transaction sees it)."""
        with self.read() as conn:
            return conn.execute("SELECT to_regclass(?) IS NOT NULL", (f"{self.schema}.{name}",)).fetchone()[0]

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.raw.close()
