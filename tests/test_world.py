"""The mock enterprise world: seeding, determinism, copies, inspection, concurrency."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from opsgraph.tools.connectors.base import FaultPlan, NotFound, UnknownEntity, WorldError
from opsgraph.tools.seed import BUSINESS_DATE, SCENARIOS
from opsgraph.tools.world import World
from tests.support.pgdb import BACKENDS, open_backend_world, world_database  # noqa: F401 - fixture

# Bookkeeping tables may hold wall-clock timestamps; everything else is business data.
BUSINESS_TABLES = ("skus", "dcs", "stock", "suppliers", "supplier_prices", "supplier_performance", "customers",
                   "sales_orders", "sales_order_lines", "carriers", "shipments", "shipment_lines", "budgets",
                   "purchase_orders", "purchase_order_lines", "invoices", "payments", "refunds", "tickets", "meta")


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path):
    w = open_backend_world(request.param, request, tmp_path)
    yield w
    w.close()


def dump(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return [(t, *row) for t in BUSINESS_TABLES for row in conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2")]
    finally:
        conn.close()


def test_open_creates_and_seeds_a_complete_company(tmp_path: Path) -> None:
    started = time.perf_counter()
    world = World.open(tmp_path / "nested" / "world.db")
    elapsed = time.perf_counter() - started
    counts = world.counts()
    world.close()
    assert elapsed < 1.0  # the budget is 0.3 s; leave headroom for slow CI machines
    assert counts["skus"] >= 40 and counts["dcs"] == 4 and counts["stock"] == counts["skus"] * 4
    assert counts["suppliers"] == 22 and counts["customers"] == 100 and counts["sales_orders"] == 214
    assert counts["shipments"] == 60 and counts["carriers"] >= 4 and counts["purchase_orders"] > 0
    assert counts["invoices"] > 0 and counts["payments"] > 0 and counts["tickets"] > 0
    assert counts["outbox"] == 0 and counts["idempotency"] == 0


def test_same_seed_gives_identical_business_data_and_other_seeds_differ(tmp_path: Path) -> None:
    for name, seed in (("a.db", 7), ("b.db", 7), ("c.db", 8)):
        World.open(tmp_path / name, seed=seed).close()
    assert dump(tmp_path / "a.db") == dump(tmp_path / "b.db")
    assert dump(tmp_path / "a.db") != dump(tmp_path / "c.db")


def test_scenarios_hold_for_other_seeds(tmp_path: Path) -> None:
    with World.open(tmp_path / "w.db", seed=12345) as world:
        scenario = SCENARIOS["po_above_threshold"]
        world.tms.report_shipment_delay("SH-0001", 5, "port strike", "delay-1")
        plan = world.wms.plan_replenishment("SH-0001")
        assert [po["estimated_total_usd"] for po in plan["purchase_orders"]] == [scenario["purchase_order"]["total_usd"]]


def test_open_keeps_existing_state_and_reset_reseeds(tmp_path: Path) -> None:
    path = tmp_path / "world.db"
    with World.open(path) as world:
        world.crm.change_plan("CUST-007", "enterprise", "plan-1")
    with World.open(path) as world:
        assert world.crm.get_customer("CUST-007")["plan"] == "enterprise"
        assert world.today == BUSINESS_DATE
    with World.reset(path) as world:
        assert world.crm.get_customer("CUST-007")["plan"] == "pro"
        assert world.counts()["idempotency"] == 0


def test_clone_is_an_isolated_copy(world: World, tmp_path: Path) -> None:
    world.tms.report_shipment_delay("SH-0004", 3, "weather", "delay-1")
    with world.clone_to(tmp_path / "case.db") as copy:
        assert copy.tms.get_shipment("SH-0004")["status"] == "delayed"  # state at clone time is kept
        copy.crm.change_plan("CUST-007", "enterprise", "plan-1")
        assert copy.crm.get_customer("CUST-007")["plan"] == "enterprise"
    assert world.crm.get_customer("CUST-007")["plan"] == "pro"
    if world.path is not None:  # a Postgres world always clones into a file
        with pytest.raises(WorldError):
            world.clone_to(world.path)


def test_show_returns_records_with_lines_and_accepts_aliases(world: World) -> None:
    shipment = world.show("shipment", "SH-0001")
    assert shipment["dc_id"] == "DC-EAST" and {line["sku_id"] for line in shipment["lines"]} == {"SKU-001", "SKU-002"}
    assert world.show("po", "PO-00001")["lines"]
    assert world.show("order", "so-0002")["order_id"] == "SO-0002"  # ids are case-insensitive
    assert {"shipment", "order", "purchase_order", "customer", "invoice", "ticket"} <= set(world.entities())


def test_show_errors_are_clear(world: World) -> None:
    with pytest.raises(UnknownEntity, match="unknown entity 'spaceship'; choose one of: .*shipment"):
        world.show("spaceship", "X-1")
    with pytest.raises(NotFound, match=r"^unknown shipment 'SH-9999'; shipment ids look like SH-0001$"):
        world.show("shipment", "SH-9999")


def test_open_refuses_a_file_that_is_not_a_world(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE something (x)")
    conn.close()
    with pytest.raises(WorldError, match="not an opsgraph world"):
        World.open(path)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(WorldError, match="not an opsgraph world"):
        World.open(garbage)
    with pytest.raises(WorldError, match="no world at"):
        World(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()


def test_fault_plan_must_name_real_operations(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown operations: erp.create_po"):
        World.open(tmp_path / "w.db", faults=FaultPlan({"erp.create_po"}))


def test_concurrent_writes_from_threads_are_all_applied_once(world: World) -> None:
    errors: list[BaseException] = []

    def send(i: int) -> None:
        try:
            world.notifications.send_message(f"CUST-{i % 10 + 1:03d}", "Hello", f"message {i}", f"key-{i}")
            world.notifications.send_message("CUST-001", "Same", "same request", "shared-key")
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert world.counts()["outbox"] == 17  # 16 distinct keys + one shared key applied once
