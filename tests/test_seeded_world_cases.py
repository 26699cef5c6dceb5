"""The seeded world: backorders on random shipments, the generated cases, suppliers that break one rule each."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsgraph.evals import generate_cases as gen
from opsgraph.tools.seed import BACKORDER_SHARE, CURATED_SHIPMENTS, N_SHIPMENTS, QUIET_SHIPMENTS, SCENARIOS
from opsgraph.tools.world import World


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    w = World.open(tmp_path_factory.mktemp("w") / "world.db", seed=7)
    yield w
    w.close()


def _random_ids() -> list[str]:
    return [f"SH-{n:04d}" for n in range(len(CURATED_SHIPMENTS) + 1, N_SHIPMENTS + 1)]


def test_a_quarter_of_the_random_shipments_leave_an_order_short_after_a_week(world: World, tmp_path: Path) -> None:
    hit = []
    for sid in _random_ids():
        if world.tms.get_shipment(sid)["status"] == "delivered":
            continue
        with world.clone_to(tmp_path / f"{sid}.db") as copy:
            copy.tms.report_shipment_delay(sid, 7, "weather", f"delay-{sid}")
            if copy.wms.find_affected_orders(sid)["order_ids"]:
                hit.append(sid)
    share = len(hit) / len(_random_ids())
    assert 0.20 <= share <= 0.30, (share, hit)
    assert not set(hit) & QUIET_SHIPMENTS
    assert abs(share - BACKORDER_SHARE) < 0.05


def test_no_random_shipment_is_short_before_any_delay(world: World) -> None:
    assert all(not world.wms.find_affected_orders(sid)["order_ids"] for sid in _random_ids())


def test_the_curated_scenarios_are_unchanged(world: World, tmp_path: Path) -> None:
    for scenario in ("po_above_threshold", "po_below_threshold", "transfers_only"):
        facts = SCENARIOS[scenario]
        with world.clone_to(tmp_path / f"{scenario}.db") as copy:
            copy.tms.report_shipment_delay(facts["shipment_id"], facts["delay_days"], "weather", "d")
            plan = copy.wms.plan_replenishment(facts["shipment_id"])
            assert sorted(copy.wms.find_affected_orders(facts["shipment_id"])["order_ids"]) == facts["affected_orders"]
        moved = sorted((t["sku_id"], t["from_dc_id"], t["quantity"]) for t in plan["transfers"])
        assert moved == sorted(facts["transfers"])
        po = facts["purchase_order"]
        assert [p["estimated_total_usd"] for p in plan["purchase_orders"]] == ([po["total_usd"]] if po else [])


def test_the_committed_generated_cases_are_up_to_date() -> None:
    assert gen.main(["--check"]) == 0


def test_generated_cases_exercise_transfers_purchase_orders_and_notices() -> None:
    cases = gen.generate()
    tables = [rule.get("table") for case in cases for rule in case["expect"]["state"] if rule.get("new")]
    assert len(cases) >= 10 and "stock_transfers" in tables and "purchase_orders" in tables
    assert all(case["expect"]["tool_calls"][0]["name"] == "notify_customers" for case in cases)


def test_short_stock_goes_to_the_higher_tier_first_then_the_earliest_promise(world: World, tmp_path: Path) -> None:
    # knowledge/inventory/shortage-allocation.md: tier first; within a tier the earliest promised date.
    # SH-0003 six days late: DC-CENTRAL has 20 x SKU-005 for silver SO-0007 (40, due 03-07) and
    # platinum SO-0008 (30, due 03-09); the platinum order is served first although due later.
    with world.clone_to(tmp_path / "alloc.db") as copy:
        copy.tms.report_shipment_delay("SH-0003", 6, "customs", "d")
        impact = copy.wms.find_affected_orders("SH-0003")
    short = {a["order_id"]: a["short_quantity"] for a in impact["affected_orders"]}
    assert short == {"SO-0008": 10, "SO-0007": 40}
    assert impact["shortfall"] == [{"sku_id": "SKU-005", "dc_id": "DC-CENTRAL", "quantity": 50}]


def test_expedite_orders_go_to_a_supplier_meeting_the_esg_and_reliability_minimums(world: World,
                                                                                   tmp_path: Path) -> None:
    # SH-0016 a week late needs SKU-026 bought; approved SUP-017 is the cheapest per unit of
    # reliability but scores 32 on ESG (minimum 50): the plan must pick a supplier in good standing.
    from opsgraph.governance.policy import load_policy
    from opsgraph.resources import default_policy_path
    from opsgraph.tools.catalog import build_tools

    policy = load_policy(default_policy_path())
    with world.clone_to(tmp_path / "esg.db") as copy:
        copy.tms.report_shipment_delay("SH-0016", 7, "weather", "d")
        plan = build_tools(copy, policy)["plan_replenishment"].invoke({"shipment_id": "SH-0016"})
        suppliers = [copy.erp.get_supplier(po["supplier_id"]) for po in plan["purchase_orders"]]
    assert suppliers, plan
    for supplier in suppliers:
        assert supplier["approved"] and supplier["esg_score"] >= policy.get("procurement.min_esg_score")
        assert supplier["reliability"] >= policy.get("procurement.min_supplier_reliability")


ISOLATION_REQUESTS = {
    "approved_supplier": {"sku_id": "SKU-004", "quantity": 20, "dc_id": "DC-CENTRAL", "preferred_supplier_id": "SUP-021"},
    "min_supplier_reliability": {"sku_id": "SKU-004", "quantity": 20, "dc_id": "DC-CENTRAL",
                                 "preferred_supplier_id": "SUP-022"},
    "min_esg_score": {"sku_id": "SKU-003", "quantity": 30, "dc_id": "DC-WEST", "preferred_supplier_id": "SUP-017"},
    "competitive_bids": {"sku_id": "SKU-001", "quantity": 100, "dc_id": "DC-EAST", "preferred_supplier_id": "SUP-001"},
    "within_budget": {"sku_id": "SKU-003", "quantity": 20, "dc_id": "DC-WEST", "preferred_supplier_id": "SUP-006",
                      "cost_center": "CC-MKT"},
    "max_single_po": {"sku_id": "SKU-001", "quantity": 1500, "dc_id": "DC-EAST", "preferred_supplier_id": "SUP-001",
                      "cost_center": "CC-CAPEX", "competitive_quotes": True},
}


@pytest.mark.parametrize("rule", sorted(ISOLATION_REQUESTS))
def test_each_isolation_request_breaks_exactly_its_one_rule(world: World, rule: str) -> None:
    # The procurement_review isolate-* cases rely on this: one failed check, the named one.
    from opsgraph.governance.policy import load_policy
    from opsgraph.resources import default_policy_path
    from opsgraph.tools.purchasing import check_budget, check_compliance, draft_purchase_order

    policy = load_policy(default_policy_path())
    draft = draft_purchase_order(world, ISOLATION_REQUESTS[rule])
    checks = check_compliance(world, policy, draft)["checks"] + check_budget(world, policy, draft)["checks"]
    assert [c["rule"] for c in checks if c["ok"] is not True] == [rule]


def test_the_old_unapproved_supplier_breaks_two_rules_so_it_cannot_isolate_one(world: World) -> None:
    from opsgraph.governance.policy import load_policy
    from opsgraph.resources import default_policy_path
    from opsgraph.tools.purchasing import check_compliance, draft_purchase_order

    draft = draft_purchase_order(world, {**ISOLATION_REQUESTS["approved_supplier"], "sku_id": "SKU-001",
                                         "dc_id": "DC-EAST", "preferred_supplier_id": "SUP-013"})
    failed = [c["rule"] for c in check_compliance(world, load_policy(default_policy_path()), draft)["checks"]
              if c["ok"] is not True]
    assert failed == ["approved_supplier", "min_supplier_reliability"]
