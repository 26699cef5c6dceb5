"""The tau2-bench retail database as SQLite documents: load from ``db.json``, dump, hash.

Each product, user and order is one JSON document in its own row, with its position in
``db.json`` kept beside it: the "first match" read tools depend on that order, and JSON
text keeps every number exactly as Python wrote it (``198.0`` stays a float, an integer
``0`` stays an integer), which byte-identical hashing needs.

    store = RetailStore.load(Path("db.json"))            # in memory
    store = RetailStore.load(Path("db.json"), "postgresql://db/ops")   # in schema opsgraph_retail
    store.retail.get_order_details("#W2378156")
    store.canonical_hash()                               # sha256 of the sorted, compact dump
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any, Iterator

from opsgraph.tools.connectors.base import Conn, Database, FaultPlan, Runtime, WorldDatabase, WorldError
from opsgraph.tools.connectors.postgres import PostgresDatabase, is_postgres_url, postgres_ddl

# The three collections of a retail database, with the id field that keys each map.
COLLECTIONS = {"products": "product_id", "users": "user_id", "orders": "order_id"}
# Order fields that tau2's data model adds as null when db.json leaves them out.
OPTIONAL_ORDER_FIELDS = ("cancel_reason", "exchange_items", "exchange_new_items", "exchange_payment_method_id",
                         "exchange_price_difference", "return_items", "return_payment_method_id")
# Business date of the retail world; the retail tools never use dates, the runtime needs one.
RETAIL_DAY = date(2024, 5, 1)
# The schema the retail store lives in when it is kept in Postgres.
RETAIL_SCHEMA = "opsgraph_retail"

SCHEMA = """
CREATE TABLE IF NOT EXISTS retail_products (product_id TEXT PRIMARY KEY, pos INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS retail_users (user_id TEXT PRIMARY KEY, pos INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS retail_orders (order_id TEXT PRIMARY KEY, pos INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, operation TEXT NOT NULL, request_hash TEXT NOT NULL,
    result TEXT NOT NULL, created_at TEXT NOT NULL);
"""


def read_db_json(path: Path) -> dict[str, Any]:
    """Parse and check a tau2 retail ``db.json``; WorldError with one clear line when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise WorldError(f"retail database {path} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WorldError(f"retail database {path} is not readable JSON: {exc}") from None
    return normalise(data, str(path))


def normalise(data: Any, source: str = "database") -> dict[str, Any]:
    """The database as tau2's data model dumps it: exactly three maps, optional order fields as null."""
    if not isinstance(data, dict) or set(data) != set(COLLECTIONS):
        raise WorldError(f"{source} is not a tau2 retail database (expected exactly the keys products, users, orders)")
    for name in COLLECTIONS:
        if not isinstance(data[name], dict):
            raise WorldError(f"{source}: '{name}' must be a map of id to record")
    for order in data["orders"].values():
        for name in OPTIONAL_ORDER_FIELDS:
            order.setdefault(name, None)
    return data


def canonical_json(db: dict[str, Any]) -> str:
    """The canonical serialisation: keys sorted, compact separators, floats as Python writes them."""
    return json.dumps(db, sort_keys=True, separators=(",", ":"))


def canonical_hash(db: dict[str, Any]) -> str:
    """SHA-256 (hex) of :func:`canonical_json`; the hash gold replays are compared by."""
    return hashlib.sha256(canonical_json(db).encode("utf-8")).hexdigest()


def tau2_hash(db: dict[str, Any]) -> str:
    """The hash tau2 itself reports (same dump, default separators); handy to compare with its logs."""
    return hashlib.sha256(json.dumps(db, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def doc_rows(conn: Conn, collection: str) -> Iterator[dict[str, Any]]:
    """Every document of ``collection`` in db.json order."""
    for (doc,) in conn.execute(f"SELECT doc FROM retail_{collection} ORDER BY pos"):
        yield json.loads(doc)


def get_doc(conn: Conn, collection: str, key: Any) -> dict[str, Any] | None:
    """One document by its id, or None (ids are matched exactly, as tau2 does)."""
    if not isinstance(key, str):
        return None
    row = conn.execute(f"SELECT doc FROM retail_{collection} WHERE {COLLECTIONS[collection]} = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else None


def put_doc(conn: Conn, collection: str, doc: dict[str, Any]) -> None:
    """Replace an existing document (inside the caller's transaction)."""
    conn.execute(f"UPDATE retail_{collection} SET doc = ? WHERE {COLLECTIONS[collection]} = ?",
                 (json.dumps(doc), doc[COLLECTIONS[collection]]))


Encoded = dict[str, list[tuple[str, int, str]]]


def encode(data: dict[str, Any]) -> Encoded:
    """The rows of every table for ``data``; encode once to load many fresh copies quickly."""
    return {name: [(key, pos, json.dumps(doc)) for pos, (key, doc) in enumerate(data[name].items())]
            for name in COLLECTIONS}


class RetailStore:
    """One retail database (a SQLite file or memory) and its connector, :attr:`retail`."""

    def __init__(self, db: WorldDatabase, *, latency_ms: int = 0, faults: FaultPlan | None = None) -> None:
        """Attach to a database that already holds the retail tables; use :meth:`load` to create one."""
        from opsgraph.tools.connectors.retail import Retail

        self._db = db
        self.retail = Retail(Runtime(db, RETAIL_DAY, latency_ms, faults))

    @classmethod
    def load(cls, db_json: Path | str | dict[str, Any], path: Path | str = ":memory:", **options: Any) -> "RetailStore":
        """A fresh store holding ``db_json`` (a path or an already parsed database), at ``path``.

        ``path`` is a SQLite file, ``:memory:``, or a Postgres URL (schema :data:`RETAIL_SCHEMA`,
        or ``schema=...``).
        """
        data = normalise(json.loads(json.dumps(db_json))) if isinstance(db_json, dict) else read_db_json(Path(db_json))
        return cls.from_encoded(encode(data), path, **options)

    @classmethod
    def from_encoded(cls, rows: Encoded, path: Path | str = ":memory:", *, schema: str = RETAIL_SCHEMA,
                     **options: Any) -> "RetailStore":
        """A fresh store holding the rows :func:`encode` made, at ``path`` (a file or a schema is replaced)."""
        if is_postgres_url(path):
            db: WorldDatabase = PostgresDatabase(str(path), schema)
            with db.transaction() as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
                _fill(conn, rows, schema)
            return cls(db, **options)
        if str(path) != ":memory:":
            Path(path).unlink(missing_ok=True)
        db = Database(Path(path))
        with db.transaction() as conn:
            _fill(conn, rows, None)
        return cls(db, **options)

    @classmethod
    def open_postgres(cls, url: str, db_json: Path | None, *, schema: str = RETAIL_SCHEMA,
                      **options: Any) -> "RetailStore":
        """The retail store in ``schema`` at ``url``, loaded from ``db_json`` first if it is not there yet.

        Of many processes opening it at once, one loads it (under the schema's write lock) and
        the others find it loaded; a store that exists is never reloaded.
        """
        db = PostgresDatabase(url, schema)
        try:
            if not db.table_exists("retail_orders"):
                with db.transaction() as conn:
                    if not db.table_exists("retail_orders"):  # checked again now that no other loader runs
                        _fill(conn, encode(_required(db_json)), schema)
        except BaseException:
            db.close()
            raise
        return cls(db, **options)

    def dump(self) -> dict[str, Any]:
        """The whole database as tau2's ``model_dump()`` would give it."""
        with self._db.read() as conn:
            return {name: {doc[id_field]: doc for doc in doc_rows(conn, name)}
                    for name, id_field in COLLECTIONS.items()}

    def canonical_hash(self) -> str:
        """Canonical SHA-256 of the current state (see :func:`canonical_hash`)."""
        return canonical_hash(self.dump())

    def close(self) -> None:
        """Release the database connection."""
        self._db.close()


def _required(db_json: Path | None) -> dict[str, Any]:
    if db_json is None or not Path(db_json).is_file():
        raise WorldError("no retail database: set OPSGRAPH_TAU2_DATA to a folder holding a tau2 retail db.json")
    return read_db_json(Path(db_json))


def _fill(conn: Conn, rows: Encoded, schema: str | None) -> None:
    """Create the retail tables (in ``schema`` on Postgres, which is created) and insert ``rows``."""
    if schema is not None:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.execute(f"SET search_path TO {schema}")
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement if schema is None else postgres_ddl(statement))
    for collection, id_field in COLLECTIONS.items():
        conn.executemany(f"INSERT INTO retail_{collection} ({id_field}, pos, doc) VALUES (?, ?, ?)", rows[collection])
