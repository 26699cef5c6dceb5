"""Connector behaviour: curated scenarios, idempotency, rollback, validation, faults, latency."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from opsgraph.tools.connectors.base import Conflict, FaultPlan, NotFound, TransientError, ValidationFailed
from opsgraph.tools.seed import SCENARIOS
from opsgraph.tools.world import World
from tests.support.pgdb import BACKENDS, open_backend_world, world_database  # noqa: F401 - fixture


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path):
    w = open_backend_world(request.param, request, tmp_path)
    yield w
    w.close()


def po_request(plan: dict, index: int = 0) -> dict:
    """The flat purchase-order request an agent would send for a proposed PO."""
    po = plan["purchase_orders"][index]
    return {k: po[k] for k in ("supplier_id", "dc_id", "lines", "justification", "expedite")}


def table_count(world: World, table: str) -> int:
    return world.counts()[table]


def test_sh0001_delay_needs_one_purchase_order_above_threshold(world: World) -> None:
    scenario = SCENARIOS["po_above_threshold"]
    assert world.wms.find_affected_orders("SH-0001")["affected_orders"] == []  # on time, nothing at risk
    delay = world.tms.report_shipment_delay("SH-0001", 5, "port strike in Hamburg", "delay-1")
    assert (delay["old_eta"], delay["new_eta"], delay["status"]) == ("2026-03-04", "2026-03-09", "delayed")
    impact = world.wms.find_affected_orders("SH-0001")
    assert impact["order_ids"] == scenario["affected_orders"]
    assert {a["customer_id"]: a["customer_tier"] for a in impact["affected_orders"]} == scenario["customers"]
    assert {s["sku_id"]: s["quantity"] for s in impact["shortfall"]} == scenario["shortfall"]
    plan = world.wms.plan_replenishment("SH-0001")
    assert [(t["sku_id"], t["from_dc_id"], t["quantity"]) for t in plan["transfers"]] == scenario["transfers"]
    (po,) = plan["purchase_orders"]
    assert po["supplier_id"] == "SUP-001" and po["expedite"] is True  # not the cheaper, unapproved SUP-013
    assert {line["sku_id"]: line["quantity"] for line in po["lines"]} == scenario["purchase_order"]["lines"]
    assert po["estimated_total_usd"] == 42380.00 > 25000
    assert world.erp.quote_purchase_order(po_request(plan))["total_usd"] == po["estimated_total_usd"]


def test_sh0002_needs_one_small_purchase_order_and_sh0003_only_transfers(world: World) -> None:
    world.tms.report_shipment_delay("SH-0002", 5, "customs hold", "d2")
    plan = world.wms.plan_replenishment("SH-0002")
    assert plan["transfers"] == [] and len(plan["purchase_orders"]) == 1
    assert plan["purchase_orders"][0]["supplier_id"] == "SUP-006"  # not the low-ESG SUP-017
    assert plan["purchase_orders"][0]["estimated_total_usd"] == SCENARIOS["po_below_threshold"]["purchase_order"]["total_usd"]
    world.tms.report_shipment_delay("SH-0003", 5, "rail strike", "d3")
    plan = world.wms.plan_replenishment("SH-0003")
    assert plan["purchase_orders"] == [] and plan["uncovered"] == []
    assert sum(t["quantity"] for t in plan["transfers"]) == 50
    world.wms.transfer_stock(plan["transfers"], "t3")
    assert world.wms.find_affected_orders("SH-0003")["affected_orders"] == []  # transfers fixed it


def test_sh0004_delay_affects_nothing(world: World) -> None:
    world.tms.report_shipment_delay("SH-0004", 5, "weather", "d4")
    plan = world.wms.plan_replenishment("SH-0004")
    assert world.wms.find_affected_orders("SH-0004")["affected_orders"] == []
    assert plan["transfers"] == [] and plan["purchase_orders"] == []


@pytest.mark.parametrize("name", ["po_above_threshold", "po_below_threshold", "transfers_only", "no_impact"])
def test_shipment_scenarios_hold_across_their_delay_range(world: World, tmp_path: Path, name: str) -> None:
    scenario = SCENARIOS[name]
    for days in scenario["same_for_delay_days"]:
        with world.clone_to(tmp_path / f"{name}-{days}.db") as case:
            case.tms.report_shipment_delay(scenario["shipment_id"], days, "late", "d")
            plan = case.wms.plan_replenishment(scenario["shipment_id"])
            found = case.wms.find_affected_orders(scenario["shipment_id"])["order_ids"]
            assert sorted(found) == sorted(scenario["affected_orders"])  # listed in service order (tier first)
            expected = scenario.get("purchase_order")
            assert [po["estimated_total_usd"] for po in plan["purchase_orders"]] == ([expected["total_usd"]] if expected else [])
            assert len(plan["transfers"]) == len(scenario.get("transfers", []))


def test_create_purchase_order_writes_rows_charges_budget_and_replays(world: World) -> None:
    world.tms.report_shipment_delay("SH-0002", 5, "customs hold", "d2")
    request = {**po_request(world.wms.plan_replenishment("SH-0002")), "cost_center": "CC-OPS"}
    before = world.erp.get_budget("CC-OPS")["spent_usd"]
    first = world.erp.create_purchase_order(request, "po-1", approved_by=None)
    assert first["replayed"] is False and first["status"] == "issued" and first["total_usd"] == 8515.00
    stored = world.show("purchase_order", first["po_id"])
    assert stored["lines"] == [{"sku_id": "SKU-003", "quantity": 65, "unit_price": 131.0, "line_total": 8515.0}]
    assert world.erp.get_budget("CC-OPS")["spent_usd"] == before + 8515.00
    count = table_count(world, "purchase_orders")
    again = world.erp.create_purchase_order(request, "po-1")
    assert again["replayed"] is True and again["po_id"] == first["po_id"]
    assert table_count(world, "purchase_orders") == count
    assert world.erp.get_budget("CC-OPS")["spent_usd"] == before + 8515.00
    with pytest.raises(Conflict, match="already used for a different request"):
        world.erp.create_purchase_order({**request, "lines": [{"sku_id": "SKU-003", "quantity": 1}]}, "po-1")


def test_transient_fault_writes_nothing_and_retry_with_same_key_succeeds(tmp_path: Path) -> None:
    faults = FaultPlan({"erp.create_purchase_order"}, times=1)
    with World.open(tmp_path / "w.db", faults=faults) as world:
        request = {"supplier_id": "SUP-006", "dc_id": "DC-WEST", "lines": [{"sku_id": "SKU-003", "quantity": 10}],
                   "justification": "restock"}
        count = table_count(world, "purchase_orders")
        with pytest.raises(TransientError, match="retry the same request"):
            world.erp.create_purchase_order(request, "po-retry")
        assert table_count(world, "purchase_orders") == count and table_count(world, "idempotency") == 0
        assert world.erp.create_purchase_order(request, "po-retry")["replayed"] is False
        assert table_count(world, "purchase_orders") == count + 1


def test_purchase_order_refusals_leave_no_trace(world: World) -> None:
    base = {"dc_id": "DC-EAST", "justification": "cover shortfall", "lines": [{"sku_id": "SKU-001", "quantity": 10}]}
    count, spent = table_count(world, "purchase_orders"), world.erp.get_budget("CC-OPS")["spent_usd"]
    with pytest.raises(ValidationFailed, match="SUP-013 .* is not an approved supplier"):
        world.erp.create_purchase_order({**base, "supplier_id": "SUP-013"}, "a")
    with pytest.raises(ValidationFailed, match="does not sell SKU-001; suppliers that do: SUP-001"):
        world.erp.create_purchase_order({**base, "supplier_id": "SUP-006"}, "b")
    with pytest.raises(ValidationFailed, match="cost centre CC-MKT has \\$1,100.00 left"):
        world.erp.create_purchase_order({**base, "supplier_id": "SUP-001", "cost_center": "CC-MKT"}, "c")
    with pytest.raises(ValidationFailed, match="lines.0.quantity"):
        world.erp.create_purchase_order({**base, "supplier_id": "SUP-001", "lines": [{"sku_id": "SKU-001", "quantity": -5}]}, "d")
    with pytest.raises(ValidationFailed, match="justification is required"):
        world.erp.create_purchase_order({**base, "supplier_id": "SUP-001", "justification": " "}, "e")
    assert table_count(world, "purchase_orders") == count and table_count(world, "idempotency") == 0
    assert world.erp.get_budget("CC-OPS")["spent_usd"] == spent


def test_transfer_batch_rolls_back_when_one_transfer_is_too_large(world: World) -> None:
    east = {s["dc_id"]: s for s in world.wms.check_stock("SKU-005")["stock"]}
    good = {"sku_id": "SKU-005", "from_dc_id": "DC-EAST", "to_dc_id": "DC-CENTRAL", "quantity": 10}
    bad = {"sku_id": "SKU-005", "from_dc_id": "DC-WEST", "to_dc_id": "DC-CENTRAL", "quantity": 999}
    with pytest.raises(ValidationFailed, match="cannot move 999 x SKU-005 from DC-WEST: only 20 available"):
        world.wms.transfer_stock([good, bad], "tr-1")
    after = {s["dc_id"]: s for s in world.wms.check_stock("SKU-005")["stock"]}
    assert after == east and table_count(world, "stock_transfers") == 0
    moved = world.wms.transfer_stock([good], "tr-1")  # the failed attempt did not consume the key
    assert moved["count"] == 1
    assert world.wms.check_stock("SKU-005")["stock"][0]["on_hand"] == east["DC-CENTRAL"]["on_hand"] + 10


def test_reroute_options_and_booking(world: World) -> None:
    world.tms.report_shipment_delay("SH-0001", 5, "port strike", "d1")
    options = world.tms.get_reroute_options("SH-0001")["options"]
    assert options and {o["mode"] for o in options} == {"air"}  # goods from Europe cannot switch to truck
    with pytest.raises(ValidationFailed, match="CAR-03/truck is not a reroute option for SH-0001"):
        world.tms.book_reroute("SH-0001", "CAR-03", "truck", "r0")
    best = options[0]
    booked = world.tms.book_reroute("SH-0001", best["carrier_id"], best["mode"], "r1")
    shipment = world.tms.get_shipment("SH-0001")
    assert shipment["eta"] == booked["new_eta"] == best["new_eta"] and shipment["carrier_id"] == best["carrier_id"]


def test_delay_validation(world: World) -> None:
    delivered = next(i for i in range(5, 61) if world.tms.get_shipment(f"SH-{i:04d}")["status"] == "delivered")
    with pytest.raises(ValidationFailed, match="cannot be delayed"):
        world.tms.report_shipment_delay(f"SH-{delivered:04d}", 2, "late", "x1")
    with pytest.raises(ValidationFailed, match="delay_days"):
        world.tms.report_shipment_delay("SH-0001", 0, "late", "x2")
    with pytest.raises(ValidationFailed, match="idempotency_key is required"):
        world.tms.report_shipment_delay("SH-0001", 2, "late", "")
    with pytest.raises(NotFound, match="unknown shipment 'SH-9999'; shipment ids look like SH-0001"):
        world.tms.report_shipment_delay("SH-9999", 2, "late", "x3")
    assert world.tms.get_shipment("SH-0001")["status"] == "in_transit"


def test_duplicate_charge_refund_and_refundable_limit(world: World) -> None:
    scenario = SCENARIOS["duplicate_charge"]
    invoice = world.billing.get_invoice("INV-0001")
    assert (invoice["amount_usd"], invoice["refundable_usd"], invoice["status"]) == (189.0, 378.0, "disputed")
    refund = world.billing.issue_refund("INV-0001", scenario["amount_usd"], "duplicate charge", "rf-1")
    assert refund["invoice_status"] == "paid" and refund["refundable_usd"] == 189.0
    assert world.billing.issue_refund("INV-0001", 189.0, "duplicate charge", "rf-1")["replayed"] is True
    assert world.billing.list_refunds("INV-0001")["count"] == 1
    with pytest.raises(ValidationFailed, match="only \\$189.00 is refundable"):
        world.billing.issue_refund("INV-0001", 200.0, "more", "rf-2")


def test_notify_customers_one_message_per_customer_with_tier_channels(world: World) -> None:
    world.tms.report_shipment_delay("SH-0001", 5, "port strike", "d1")
    impact = world.wms.find_affected_orders("SH-0001")
    result = world.notifications.notify_customers(impact["order_ids"] + ["SO-0002"], impact["new_eta"], "port strike", "n1")
    channels = {n["customer_id"]: n["channels"] for n in result["notified"]}
    assert channels == {"CUST-001": ["email", "sms"], "CUST-002": ["email", "sms"], "CUST-003": ["email"],
                        "CUST-004": ["email"]}
    assert world.notifications.notify_customers(impact["order_ids"] + ["SO-0002"], impact["new_eta"], "port strike",
                                                "n1")["replayed"] is True
    outbox = world.notifications.outbox()["messages"]
    assert len(outbox) == 4 and "2026-03-09" in outbox[0]["body"]
    with pytest.raises(NotFound, match="unknown order 'SO-9999'"):
        world.notifications.notify_customers(["SO-9999"], "2026-03-09", None, "n2")
    assert table_count(world, "outbox") == 4


def test_crm_plan_change_and_ticket_lifecycle(world: World) -> None:
    change = world.crm.change_plan("CUST-007", "enterprise", "p1")
    assert (change["old_plan"], change["new_plan"]) == ("pro", "enterprise")
    with pytest.raises(ValidationFailed, match="already on the enterprise plan"):
        world.crm.change_plan("CUST-007", "enterprise", "p2")
    updated = world.crm.update_ticket("TCK-0003", "resolved", "Upgraded to enterprise.", "u1")
    assert updated["status"] == "resolved" and updated["notes"][0]["note"] == "Upgraded to enterprise."
    ticket = world.crm.create_ticket("CUST-008", "Invoice copy", "Please resend INV-0002.", "billing", "c1")
    assert ticket["ticket_id"] == "TCK-0041" and ticket["priority"] == "high"  # platinum customer


def test_latency_is_applied_per_call(tmp_path: Path) -> None:
    World.open(tmp_path / "w.db").close()
    with World.open(tmp_path / "w.db", latency_ms=40) as world:
        started = time.perf_counter()
        world.crm.get_customer("CUST-001")
        assert time.perf_counter() - started >= 0.04
