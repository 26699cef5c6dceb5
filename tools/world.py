"""The mock enterprise as one SQLite file or one Postgres schema, with a connector per system.

    world = World.open(Path("world.db"))          # created and seeded on first use
    world = World.open("postgresql://db/ops")     # the same company in schema opsgraph_world
    world.tms.get_shipment("SH-0001")
    world.show("purchase_order", "PO-00001")
    case = world.clone_to(tmp / "case.db")       # isolated SQLite copy for one eval case

Both databases run the same connector SQL with the same transactions, idempotency records
and limits (see ``connectors/postgres.py`` for what differs underneath).
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from datetime import date
from pathlib import Path
from typing import Any, Callable

from opsgraph.locks import init_lock
from opsgraph.tools import seed as seeding
from opsgraph.tools.connectors import billing, contracts, crm, demand, erp, notifications, payables, production, tms, wms
from opsgraph.tools.connectors.base import (Conn, Database, FaultPlan, Runtime, UnknownEntity, WorldDatabase,
                                            WorldError)
from opsgraph.tools.connectors.postgres import WORLD_SCHEMA, PostgresDatabase, is_postgres_url, masked, postgres_ddl

SCHEMA_VERSION = "2"  # 2: goods receipts and supplier invoices (accounts payable)

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE skus (sku_id TEXT PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, unit_cost REAL NOT NULL,
    unit_price REAL NOT NULL, weight_kg REAL NOT NULL);
CREATE TABLE dcs (dc_id TEXT PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL, region TEXT NOT NULL);
CREATE TABLE stock (dc_id TEXT NOT NULL REFERENCES dcs, sku_id TEXT NOT NULL REFERENCES skus,
    on_hand INTEGER NOT NULL CHECK (on_hand >= 0), reserved INTEGER NOT NULL CHECK (reserved >= 0),
    reorder_point INTEGER NOT NULL CHECK (reorder_point >= 0), PRIMARY KEY (dc_id, sku_id));
CREATE TABLE suppliers (supplier_id TEXT PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL,
    category TEXT NOT NULL, approved INTEGER NOT NULL, reliability REAL NOT NULL, esg_score INTEGER NOT NULL,
    lead_time_days INTEGER NOT NULL, financial_health INTEGER NOT NULL);
CREATE TABLE supplier_prices (supplier_id TEXT NOT NULL REFERENCES suppliers, sku_id TEXT NOT NULL REFERENCES skus,
    unit_price REAL NOT NULL CHECK (unit_price > 0), PRIMARY KEY (supplier_id, sku_id));
CREATE INDEX supplier_prices_sku ON supplier_prices (sku_id);
CREATE TABLE supplier_performance (supplier_id TEXT NOT NULL REFERENCES suppliers, period TEXT NOT NULL,
    deliveries INTEGER NOT NULL, on_time INTEGER NOT NULL, defect_rate REAL NOT NULL,
    PRIMARY KEY (supplier_id, period));
CREATE TABLE customers (customer_id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL,
    tier TEXT NOT NULL CHECK (tier IN ('platinum', 'gold', 'silver', 'bronze')),
    plan TEXT NOT NULL CHECK (plan IN ('basic', 'pro', 'enterprise')), region TEXT NOT NULL,
    customer_since TEXT NOT NULL);
CREATE TABLE plan_changes (change_id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers,
    old_plan TEXT NOT NULL, new_plan TEXT NOT NULL, business_date TEXT NOT NULL);
CREATE TABLE sales_orders (order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers,
    dc_id TEXT NOT NULL REFERENCES dcs, status TEXT NOT NULL CHECK (status IN ('open', 'shipped', 'delivered')),
    order_date TEXT NOT NULL, promised_date TEXT NOT NULL);
CREATE INDEX sales_orders_dc ON sales_orders (dc_id, status);
CREATE INDEX sales_orders_customer ON sales_orders (customer_id);
CREATE TABLE sales_order_lines (order_id TEXT NOT NULL REFERENCES sales_orders, line_no INTEGER NOT NULL,
    sku_id TEXT NOT NULL REFERENCES skus, quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price REAL NOT NULL, PRIMARY KEY (order_id, line_no));
CREATE TABLE carriers (carrier_id TEXT PRIMARY KEY, name TEXT NOT NULL, on_time_rate REAL NOT NULL,
    modes TEXT NOT NULL, base_fee_usd REAL NOT NULL);
CREATE TABLE shipments (shipment_id TEXT PRIMARY KEY, supplier_id TEXT NOT NULL REFERENCES suppliers,
    carrier_id TEXT NOT NULL REFERENCES carriers, mode TEXT NOT NULL, origin TEXT NOT NULL,
    origin_country TEXT NOT NULL, dc_id TEXT NOT NULL REFERENCES dcs,
    status TEXT NOT NULL CHECK (status IN ('in_transit', 'delayed', 'delivered')), eta TEXT NOT NULL,
    original_eta TEXT NOT NULL, delay_days INTEGER NOT NULL DEFAULT 0, delay_reason TEXT);
CREATE TABLE shipment_lines (shipment_id TEXT NOT NULL REFERENCES shipments, line_no INTEGER NOT NULL,
    sku_id TEXT NOT NULL REFERENCES skus, quantity INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (shipment_id, line_no));
CREATE TABLE shipment_events (event_id INTEGER PRIMARY KEY, shipment_id TEXT NOT NULL REFERENCES shipments,
    kind TEXT NOT NULL, detail TEXT NOT NULL, business_date TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE stock_transfers (transfer_id TEXT PRIMARY KEY, sku_id TEXT NOT NULL REFERENCES skus,
    from_dc_id TEXT NOT NULL REFERENCES dcs, to_dc_id TEXT NOT NULL REFERENCES dcs,
    quantity INTEGER NOT NULL CHECK (quantity > 0), business_date TEXT NOT NULL);
CREATE TABLE budgets (cost_center TEXT PRIMARY KEY, name TEXT NOT NULL, amount_usd REAL NOT NULL,
    spent_usd REAL NOT NULL, period TEXT NOT NULL);
CREATE TABLE purchase_orders (po_id TEXT PRIMARY KEY, supplier_id TEXT NOT NULL REFERENCES suppliers,
    dc_id TEXT NOT NULL REFERENCES dcs, cost_center TEXT NOT NULL REFERENCES budgets,
    status TEXT NOT NULL CHECK (status IN ('issued', 'received', 'cancelled')), total_usd REAL NOT NULL,
    expedite INTEGER NOT NULL, justification TEXT NOT NULL, approved_by TEXT, idempotency_key TEXT UNIQUE,
    order_date TEXT NOT NULL, expected_date TEXT NOT NULL);
CREATE TABLE purchase_order_lines (po_id TEXT NOT NULL REFERENCES purchase_orders, line_no INTEGER NOT NULL,
    sku_id TEXT NOT NULL REFERENCES skus, quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price REAL NOT NULL, PRIMARY KEY (po_id, line_no));
CREATE TABLE invoices (invoice_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers,
    order_id TEXT REFERENCES sales_orders, amount_usd REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'paid', 'disputed', 'refunded', 'partially_refunded')),
    issued_date TEXT NOT NULL, due_date TEXT NOT NULL, dispute_reason TEXT, disputed_usd REAL NOT NULL DEFAULT 0);
CREATE INDEX invoices_customer ON invoices (customer_id);
CREATE TABLE payments (payment_id TEXT PRIMARY KEY, invoice_id TEXT NOT NULL REFERENCES invoices,
    amount_usd REAL NOT NULL, paid_date TEXT NOT NULL, method TEXT NOT NULL);
CREATE TABLE refunds (refund_id TEXT PRIMARY KEY, invoice_id TEXT NOT NULL REFERENCES invoices,
    amount_usd REAL NOT NULL CHECK (amount_usd > 0), reason TEXT NOT NULL, approved_by TEXT,
    issued_date TEXT NOT NULL);
CREATE TABLE tickets (ticket_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers,
    subject TEXT NOT NULL, body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'pending', 'resolved', 'closed')),
    priority TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    category TEXT NOT NULL CHECK (category IN ('billing', 'technical', 'account')), opened_date TEXT NOT NULL);
CREATE TABLE ticket_notes (ticket_id TEXT NOT NULL REFERENCES tickets, note_no INTEGER NOT NULL,
    status TEXT NOT NULL, note TEXT NOT NULL, business_date TEXT NOT NULL, PRIMARY KEY (ticket_id, note_no));
CREATE TABLE outbox (outbox_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers,
    channels TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL, order_ids TEXT NOT NULL,
    business_date TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE idempotency (key TEXT PRIMARY KEY, operation TEXT NOT NULL, request_hash TEXT NOT NULL,
    result TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE goods_receipts (receipt_id TEXT PRIMARY KEY, po_id TEXT NOT NULL REFERENCES purchase_orders,
    dc_id TEXT NOT NULL REFERENCES dcs, received_date TEXT NOT NULL, received_by TEXT NOT NULL);
CREATE INDEX goods_receipts_po ON goods_receipts (po_id);
CREATE TABLE goods_receipt_lines (receipt_id TEXT NOT NULL REFERENCES goods_receipts, line_no INTEGER NOT NULL,
    sku_id TEXT NOT NULL REFERENCES skus, quantity INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (receipt_id, line_no));
CREATE TABLE supplier_invoices (supplier_invoice_id TEXT PRIMARY KEY, supplier_id TEXT NOT NULL REFERENCES suppliers,
    po_id TEXT NOT NULL REFERENCES purchase_orders, amount_usd REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('received', 'approved')), invoice_date TEXT NOT NULL,
    due_date TEXT NOT NULL, note TEXT NOT NULL, decided_by TEXT, decision_reason TEXT);
CREATE TABLE supplier_invoice_lines (supplier_invoice_id TEXT NOT NULL REFERENCES supplier_invoices,
    line_no INTEGER NOT NULL, sku_id TEXT NOT NULL REFERENCES skus, quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price REAL NOT NULL CHECK (unit_price > 0), PRIMARY KEY (supplier_invoice_id, line_no));
""" + demand.DEMAND_SCHEMA
SCHEMA += production.SCHEMA  # the plant (work centres, jobs, bills of material) beside the rest
# SQLite keeps insertion order in the rowid; Postgres has none, so its idempotency records
# carry a column for it (earlier_writes lists writes in the order they were applied).
POSTGRES_EXTRA = ("ALTER TABLE idempotency ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY",)
INSERTION_ORDER = {"sqlite": "rowid", "postgres": "seq"}

# Tables reported by counts(), in a readable order.
MAIN_TABLES = ("skus", "dcs", "stock", "suppliers", "supplier_prices", "customers", "sales_orders", "carriers",
               "shipments", "purchase_orders", "budgets", "invoices", "payments", "refunds", "tickets",
               "stock_transfers", "outbox", "idempotency", "goods_receipts", "supplier_invoices")

ENTITY_ALIASES = {"po": "purchase_order", "purchase-order": "purchase_order", "sales_order": "order",
                  "warehouse": "dc", "cost_center": "budget", "outbox": "message", "product": "sku"}


def _remove_db_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _build(path: Path, fill: Callable[[sqlite3.Connection], None]) -> None:
    """Create the tables and ``fill`` them in a temp file, then move it into place (never a half-built file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    _remove_db_files(tmp)
    conn = sqlite3.connect(str(tmp), isolation_level=None)
    try:
        # The temp file is thrown away on failure, so durability is not needed while seeding.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("BEGIN")
        _create(conn, "sqlite")
        fill(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.close()
        _remove_db_files(tmp)
        raise
    conn.close()
    os.replace(tmp, path)


def _seed(conn: Conn, seed: int) -> None:
    seeding.seed_world(conn, seed)
    production.seed_production(conn)
    conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))


def _create(conn: Conn, dialect: str) -> None:
    # executescript() would commit the open transaction, so run the DDL statement by statement.
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(postgres_ddl(statement) if dialect == "postgres" else statement)
    for statement in POSTGRES_EXTRA if dialect == "postgres" else ():
        conn.execute(statement)


def _copy_rows(source: WorldDatabase, conn: sqlite3.Connection) -> None:
    """Copy every world table from ``source`` into the fresh tables of ``conn``, from one snapshot."""
    with source.read() as db:
        for table, columns in world_tables().items():
            order = INSERTION_ORDER[source.dialect] if table == "idempotency" else "1"
            rows = db.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}").fetchall()
            marks = ", ".join("?" * len(columns))
            conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", [tuple(r) for r in rows])


class World:
    """One seeded company: a SQLite file or Postgres schema, plus ERP, WMS, TMS, CRM, billing and notifications."""

    def __init__(self, target: Path | str, *, schema: str = WORLD_SCHEMA, latency_ms: int = 0,
                 faults: FaultPlan | None = None) -> None:
        """Attach to an existing world; use :meth:`open` or :meth:`reset` to create one.

        ``target`` is a SQLite path or a Postgres URL; ``schema`` names the Postgres schema
        the world lives in (a SQLite world ignores it).
        """
        _check_faults(faults)
        self.url = target if is_postgres_url(target) else None
        self.path = None if self.url else Path(target)
        self.schema = schema if self.url else None
        self._db, meta = _attach_postgres(self.url, schema) if self.url else _attach(self.path)
        self.seed = int(meta["seed"])
        self.today: date = date.fromisoformat(meta["business_date"])
        self.latency_ms = int(latency_ms)
        runtime = Runtime(self._db, self.today, self.latency_ms, faults)
        self.erp = erp.ERP(runtime)
        self.wms = wms.WMS(runtime)
        self.tms = tms.TMS(runtime)
        self.crm = crm.CRM(runtime)
        self.billing = billing.Billing(runtime)
        self.payables = payables.Payables(runtime)
        self.notifications = notifications.Notifications(runtime)
        self.demand = demand.DemandFeeds(runtime)
        self.mes = production.MES(runtime)
        # Contracts are documents, not rows: a read-only repository beside the database.
        self.contracts = contracts.ContractRepository()

    @property
    def location(self) -> str:
        """Where the world lives, for messages: its file, or its database (password masked) and schema."""
        return f"{masked(self.url)} (schema {self.schema})" if self.url else str(self.path)

    @classmethod
    def open(cls, target: Path | str, *, schema: str = WORLD_SCHEMA, seed: int = 7, latency_ms: int = 0,
             faults: FaultPlan | None = None, runs_recorded: Callable[[], int] | None = None) -> "World":
        """Open the world at ``target`` (a SQLite path or a Postgres URL), creating and seeding it first if missing.

        ``seed`` only matters when the world is created; an existing world keeps its data.
        ``runs_recorded`` counts the runs already made against this world: when the world is
        missing and it returns more than 0, the world is not silently re-seeded under them.
        """
        if is_postgres_url(target):
            _ensure_postgres(target, schema, seed, runs_recorded)
            return cls(target, schema=schema, latency_ms=latency_ms, faults=faults)
        path = Path(target)
        if not path.exists():
            # Many processes may open a fresh data home at once; the first seeds, the rest wait
            # and use its file, so no process replaces a world another has written to.
            with init_lock(path.parent):
                if not path.exists():
                    _refuse_reseed(str(path), runs_recorded)
                    _build(path, lambda conn: _seed(conn, seed))
        return cls(path, latency_ms=latency_ms, faults=faults)

    @classmethod
    def reset(cls, target: Path | str, *, schema: str = WORLD_SCHEMA, seed: int = 7) -> "World":
        """Delete the world at ``target`` (if any) and seed a fresh one."""
        if is_postgres_url(target):
            _reseed_postgres(target, schema, seed)
            return cls(target, schema=schema)
        path = Path(target)
        with init_lock(path.parent):
            _remove_db_files(path)
            _build(path, lambda conn: _seed(conn, seed))
        return cls(path)

    def clone_to(self, path: Path | str) -> "World":
        """Copy this world (current state included) to the SQLite file ``path``; open the copy, same latency, no faults.

        A Postgres world is copied row by row from one snapshot, so eval cases and snapshots
        stay local files whichever database the world itself lives in.
        """
        path = Path(path)
        if self.path is not None and path.resolve() == self.path.resolve():
            raise WorldError(f"cannot clone a world onto itself ({path})")
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_db_files(path)
        if isinstance(self._db, Database):
            self._db.backup_to(path)
        else:
            _build(path, lambda conn: _copy_rows(self._db, conn))
        return World(path, latency_ms=self.latency_ms)

    def entities(self) -> list[str]:
        """Entity kinds accepted by :meth:`show`."""
        return sorted(self._viewers())

    def show(self, entity: str, entity_id: str) -> dict[str, Any]:
        """One record as JSON-ready data, e.g. ``show("shipment", "SH-0001")`` with its lines."""
        kind = str(entity).strip().lower().replace(" ", "_")
        kind = ENTITY_ALIASES.get(kind, kind)
        viewer = self._viewers().get(kind)
        if viewer is None:
            raise UnknownEntity(f"unknown entity {entity!r}; choose one of: {', '.join(self.entities())}")
        with self._db.read() as conn:
            return viewer(conn, entity_id)

    def counts(self) -> dict[str, int]:
        """Number of rows in each main table."""
        with self._db.read() as conn:
            return {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in MAIN_TABLES}

    def earlier_writes(self) -> list[dict[str, Any]]:
        """Every write applied to this world since it was seeded, oldest first: ``{operation, result}``.

        Writes are read from the idempotency records, which every connector write leaves behind.
        """
        with self._db.read() as conn:
            order = INSERTION_ORDER[self._db.dialect]
            rows = conn.execute(f"SELECT operation, result FROM idempotency ORDER BY created_at, {order}").fetchall()
        return [{"operation": row["operation"], "result": json.loads(row["result"])} for row in rows]

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def __enter__(self) -> "World":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"World(location={self.location!r}, seed={self.seed}, today={self.today.isoformat()})"

    @staticmethod
    def _viewers() -> dict[str, Callable[[Conn, str], dict[str, Any]]]:
        return {
            "shipment": tms.load_shipment, "carrier": tms.load_carrier, "sku": wms.load_sku, "dc": wms.load_dc,
            "transfer": wms.load_transfer, "supplier": erp.load_supplier, "budget": erp.load_budget,
            "purchase_order": erp.load_purchase_order, "customer": crm.load_customer, "order": crm.load_order,
            "ticket": crm.load_ticket, "invoice": billing.load_invoice, "refund": billing.load_refund,
            "message": notifications.load_message,
            "work_centre": production.load_work_centre, "job": production.load_job,
            "supplier_invoice": payables.load_supplier_invoice,
        }


def world_tables() -> dict[str, list[str]]:
    """Every world table (parents first) with its columns in order, as both databases hold them."""
    conn = sqlite3.connect(":memory:")
    try:
        _create(conn, "sqlite")
        return {table: [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
                for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")}
    finally:
        conn.close()


def operation_names() -> set[str]:
    """Every connector operation a FaultPlan may name, e.g. ``erp.create_purchase_order``."""
    classes = (erp.ERP, wms.WMS, tms.TMS, crm.CRM, billing.Billing, notifications.Notifications, demand.DemandFeeds,
               production.MES, payables.Payables)
    return {f"{cls.system}.{name}" for cls in classes for name in cls.operations}


def _check_faults(faults: FaultPlan | None) -> None:
    if faults is None:
        return
    unknown = sorted(set(faults.operations) - operation_names())
    if unknown:
        raise ValueError(f"FaultPlan names unknown operations: {', '.join(unknown)}; "
                         "use names like 'erp.create_purchase_order' (see tools.world.operation_names())")


def _refuse_reseed(location: str, runs_recorded: Callable[[], int] | None) -> None:
    count = runs_recorded() if runs_recorded is not None else 0
    if count:
        runs = "1 run that used it exists" if count == 1 else f"{count} runs that used it exist"
        raise WorldError(f"world database {location} is missing but {runs}; restore it from a backup, "
                         "or run `opsgraph world reset` to start a new mock enterprise")


def _check_intact(conn: sqlite3.Connection) -> None:
    """Refuse a world whose pages are damaged: its reads would fail or, worse, come back empty."""
    problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        raise sqlite3.DatabaseError("database disk image is malformed: " + "; ".join(problems))


def _attach(path: Path) -> tuple[Database, dict[str, str]]:
    """Open the database and read its meta table; a file that is not a world is a clear error."""
    if not path.is_file():
        raise WorldError(f"no world at {path}; create one with World.open() or `opsgraph world reset`")
    db = None
    try:
        db = Database(path)
        with db.read() as conn:
            meta = {row["key"]: row["value"] for row in conn.execute("SELECT key, value FROM meta")}
            _check_intact(conn)
    except sqlite3.DatabaseError as exc:
        if db is not None:
            db.close()
        raise WorldError(f"{path} is not an opsgraph world ({exc}); recreate it with `opsgraph world reset`") from None
    _check_version(db, meta, str(path))
    return db, meta


def _check_version(db: WorldDatabase, meta: dict[str, str], location: str) -> None:
    if meta.get("schema_version") != SCHEMA_VERSION:
        db.close()
        raise WorldError(f"{location} has world schema {meta.get('schema_version')!r}, expected {SCHEMA_VERSION}; "
                         "recreate it with `opsgraph world reset`")


def _connect_postgres(url: str, schema: str) -> PostgresDatabase:
    """A connection to the world database; an unreachable server is one clear WorldError."""
    import psycopg

    try:
        return PostgresDatabase(url, schema)
    except psycopg.OperationalError as exc:
        reason = (str(exc).strip().splitlines() or ["connection failed"])[-1]
        raise WorldError(f"cannot reach the world database {masked(url)}: {reason}") from None


def _attach_postgres(url: str, schema: str) -> tuple[PostgresDatabase, dict[str, str]]:
    """Open the world in ``schema`` and read its meta table; a missing world is a clear error."""
    db = _connect_postgres(url, schema)
    location = f"{masked(url)} (schema {schema})"
    try:
        if not db.table_exists("meta"):
            raise WorldError(f"no world at {location}; create one with World.open() or `opsgraph world reset`")
        with db.read() as conn:
            meta = {row["key"]: row["value"] for row in conn.execute("SELECT key, value FROM meta")}
    except BaseException:
        db.close()
        raise
    _check_version(db, meta, location)
    return db, meta


def _ensure_postgres(url: str, schema: str, seed: int, runs_recorded: Callable[[], int] | None) -> None:
    """Seed the world in ``schema`` unless it exists; of many processes opening it at once, one seeds."""
    db = _connect_postgres(url, schema)
    try:
        if db.table_exists("meta"):
            return
        # The world lock queues the others behind the seeding transaction; they then find the
        # world there. A crash mid-way rolls everything back: never a half-seeded schema.
        with db.transaction() as conn:
            if db.table_exists("meta"):  # checked again now that no other process can be seeding
                return
            _refuse_reseed(f"{masked(url)} (schema {schema})", runs_recorded)
            _create_schema(conn, schema, seed)
    finally:
        db.close()


def _reseed_postgres(url: str, schema: str, seed: int) -> None:
    """Drop the world's schema and seed it again, in one transaction under the world lock."""
    db = _connect_postgres(url, schema)
    try:
        with db.transaction() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            _create_schema(conn, schema, seed)
    finally:
        db.close()


def _create_schema(conn: Conn, schema: str, seed: int) -> None:
    # ``schema`` passed check_schema() when the database was opened: safe to write unquoted.
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    conn.execute(f"SET search_path TO {schema}")
    _create(conn, "postgres")
    _seed(conn, seed)
    # Fresh tables have no statistics until autovacuum comes by; plan the first runs on real counts.
    conn.execute(f"ANALYZE {', '.join(world_tables())}")
