"""Machinery every connector shares: errors, the database handle, idempotent writes, latency, faults.

A write runs in one database transaction together with its idempotency record, so a request
is either applied completely and remembered, or not applied at all. Replaying a key with
the same request returns the remembered result (``"replayed": True``) without touching data.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, ClassVar, ContextManager, Iterable, Iterator, Mapping, Protocol, Sequence, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class Conn(Protocol):
    """What connector SQL runs on: a ``sqlite3.Connection`` or the Postgres adapter.

    Statements use ``?`` placeholders and the SQL both databases share; rows read by column
    name or by position.
    """

    def execute(self, statement: str, params: Sequence[Any] = ..., /) -> Any:
        """Run one statement; the result iterates and has ``fetchone()``/``fetchall()``."""

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]], /) -> Any:
        """Run one statement per parameter row."""


class WorldDatabase(Protocol):
    """A world's database: SQLite (:class:`Database`) or Postgres (``postgres.PostgresDatabase``)."""

    dialect: str

    def read(self) -> ContextManager[Conn]:
        """A consistent snapshot for reads."""

    def transaction(self) -> ContextManager[Conn]:
        """A write transaction, serialised against every other writer of the world."""

    def close(self) -> None:
        """Release the connection."""


class ConnectorError(Exception):
    """A connector refused or could not complete a request; the message says what to do."""


class NotFound(ConnectorError):
    """The referenced record does not exist."""


class ValidationFailed(ConnectorError):
    """The request is malformed or breaks a business rule; nothing was written."""


class ApprovalRequired(ValidationFailed):
    """A write above an approval limit arrived without a recorded human approval; nothing was written."""


class Conflict(ConnectorError):
    """An idempotency key was reused for a different request."""


class TransientError(ConnectorError):
    """A temporary failure (injected for tests); retrying with the same key is safe."""


class UnknownEntity(ConnectorError):
    """``World.show`` was asked for an entity kind it does not know."""


class WorldError(ConnectorError):
    """The world file is missing, corrupt or not an opsgraph world."""


# Shown in "unknown ..." messages so an agent can correct a malformed id on its own.
ID_HINTS: dict[str, str] = {
    "shipment": "shipment ids look like SH-0001",
    "sku": "SKU ids look like SKU-001",
    "dc": "DC ids are DC-EAST, DC-WEST, DC-CENTRAL, DC-SOUTH",
    "supplier": "supplier ids look like SUP-001",
    "customer": "customer ids look like CUST-001",
    "order": "sales order ids look like SO-0001",
    "carrier": "carrier ids look like CAR-01",
    "purchase order": "purchase order ids look like PO-00001",
    "cost center": "cost centers look like CC-OPS",
    "invoice": "invoice ids look like INV-0001",
    "ticket": "ticket ids look like TCK-0001",
    "refund": "refund ids look like REF-0001",
    "message": "outbox message ids look like MSG-0001",
    "transfer": "transfer ids look like TR-0001",
    "work centre": "work centre ids look like WC-01",
    "job": "production job ids look like JOB-0001",
}


def is_database_fault(exc: BaseException) -> bool:
    """Whether ``exc`` is the world's database failing (damaged, unreachable), not a refused write.

    No agent can fix the first, so a run stops on it; a constraint violation is a refused
    write like any other tool error. Covers SQLite and, when it is loaded, psycopg.
    """
    if isinstance(exc, sqlite3.DatabaseError):
        return not isinstance(exc, sqlite3.IntegrityError)
    psycopg = sys.modules.get("psycopg")  # not loaded means no Postgres world, so no psycopg error either
    return psycopg is not None and isinstance(exc, psycopg.Error) and not isinstance(exc, psycopg.IntegrityError)


def not_found(kind: str, value: Any) -> NotFound:
    """A NotFound error with the id format spelled out, e.g. for ``kind='shipment'``."""
    hint = ID_HINTS.get(kind)
    return NotFound(f"unknown {kind} {str(value)!r}" + (f"; {hint}" if hint else ""))


def priced_line(row: Any) -> dict[str, Any]:
    """A stored order or invoice line as connectors return it: SKU, quantity, unit price, line total."""
    return {"sku_id": row["sku_id"], "quantity": row["quantity"], "unit_price": row["unit_price"],
            "line_total": money(row["quantity"] * row["unit_price"])}


def norm_id(value: Any) -> str:
    """Ids are case-insensitive for callers ('sh-0001' finds SH-0001)."""
    return str(value).strip().upper()


def money(value: float) -> float:
    """Round an amount to cents (floats are summed line by line, so drift is rounded away)."""
    return round(float(value), 2)


def describe_validation(exc: ValidationError) -> str:
    """One line naming each bad field, e.g. 'lines.0.quantity: Input should be greater than 0'."""
    parts = [f"{'.'.join(str(p) for p in err['loc']) or 'request'}: {err['msg']}" for err in exc.errors()[:4]]
    return "invalid request: " + "; ".join(parts)


def validate(model: type[M], data: Any) -> M:
    """Parse ``data`` into ``model``; pydantic errors become ValidationFailed with a clear message."""
    if isinstance(data, BaseModel) and not isinstance(data, model):
        data = data.model_dump()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(describe_validation(exc)) from None


def plain(value: Any) -> Any:
    """Pydantic models (possibly nested in lists/dicts) as plain JSON-like data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def next_id(conn: Conn, table: str, column: str, prefix: str, width: int) -> str:
    """Next sequential id such as PO-00025 (called inside the write transaction, so no races)."""
    # The start position is a literal: Postgres has no SUBSTR(text, bigint) for a bound integer.
    row = conn.execute(
        f"SELECT MAX(CAST(SUBSTR({column}, {len(prefix) + 1:d}) AS INTEGER)) FROM {table} WHERE {column} LIKE ?",
        (prefix + "%",),
    ).fetchone()
    return f"{prefix}{(row[0] or 0) + 1:0{width}d}"


def now_utc() -> str:
    """Wall-clock timestamp for bookkeeping columns only (never for business data)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class FaultPlan:
    """Operations (e.g. ``"erp.create_purchase_order"``) that raise TransientError before any write.

    ``times`` limits the failures to the first N calls of each listed operation; ``None``
    means every call fails.
    """

    operations: frozenset[str] | set[str] = frozenset()
    times: int | None = None
    _calls: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def check(self, operation: str) -> None:
        """Raise TransientError if ``operation`` is due to fail now."""
        if operation not in self.operations:
            return
        with self._lock:
            count = self._calls.get(operation, 0) + 1
            self._calls[operation] = count
        if self.times is None or count <= self.times:
            raise TransientError(
                f"{operation} is temporarily unavailable (injected fault #{count}); "
                "retry the same request with the same idempotency key"
            )


class Database:
    """One SQLite connection shared by threads behind a re-entrant lock.

    LangGraph runs tools on worker threads; serialising access through one lock keeps
    transactions from interleaving, while WAL and a busy timeout cover other processes.
    """

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        for pragma in ("journal_mode=WAL", "busy_timeout=30000", "foreign_keys=ON", "synchronous=NORMAL"):
            self._conn.execute(f"PRAGMA {pragma}")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for a read (joins inside an outer transaction if there is one)."""
        with self._lock:
            if self._conn.in_transaction:
                yield self._conn
                return
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: commits on success, rolls back everything on any exception."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def backup_to(self, path: Path) -> None:
        """Copy the whole database to ``path`` with SQLite's online backup API."""
        with self._lock:
            target = sqlite3.connect(str(path))
            try:
                self._conn.backup(target)
            finally:
                target.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()


@dataclass(frozen=True)
class Runtime:
    """What connectors share: the database, the business date, latency and faults."""

    db: WorldDatabase
    today: date
    latency_ms: int = 0
    faults: FaultPlan | None = None

    def before(self, operation: str) -> None:
        """Simulate the network: wait, then maybe fail, before the request reaches the system."""
        if self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000)
        if self.faults is not None:
            self.faults.check(operation)


def request_hash(request: Mapping[str, Any]) -> str:
    """Stable fingerprint of a validated request, used to tell a replay from a conflict."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(idempotency_key: Any) -> str:
    """Validate an idempotency key: every write needs a non-empty one."""
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise ValidationFailed("idempotency_key is required for every write (a non-empty string)")
    if len(idempotency_key) > 200:
        raise ValidationFailed("idempotency_key must be at most 200 characters")
    return idempotency_key.strip()


class Connector:
    """Base class: read and write helpers with latency, faults, transactions and idempotency."""

    system: ClassVar[str] = ""
    operations: ClassVar[tuple[str, ...]] = ()

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    @property
    def today(self) -> date:
        """The world's business date."""
        return self._rt.today

    def _read(self, name: str, fn: Callable[[Conn], T]) -> T:
        self._rt.before(f"{self.system}.{name}")
        with self._rt.db.read() as conn:
            return fn(conn)

    def _write(self, name: str, idempotency_key: Any, request: Mapping[str, Any],
               fn: Callable[[Conn], dict[str, Any]]) -> dict[str, Any]:
        operation = f"{self.system}.{name}"
        key = check_key(idempotency_key)
        digest = request_hash(request)
        self._rt.before(operation)
        with self._rt.db.transaction() as conn:
            stored = conn.execute(
                "SELECT operation, request_hash, result FROM idempotency WHERE key = ?", (key,)
            ).fetchone()
            if stored is not None:
                return _replay(stored, operation, digest, key)
            result = fn(conn)
            conn.execute(
                "INSERT INTO idempotency (key, operation, request_hash, result, created_at) VALUES (?, ?, ?, ?, ?)",
                (key, operation, digest, json.dumps(result, sort_keys=True), now_utc()),
            )
        return {**result, "replayed": False}


def _replay(stored: Any, operation: str, digest: str, key: str) -> dict[str, Any]:
    if stored["operation"] != operation or stored["request_hash"] != digest:
        raise Conflict(
            f"idempotency key {key!r} was already used for a different request ({stored['operation']}); "
            "use a new key for a new request"
        )
    return {**json.loads(stored["result"]), "replayed": True}
