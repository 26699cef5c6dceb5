"""demand_sensing: the versioned board, the controller, the forecast tools and the approval path."""

from __future__ import annotations

import math

import pytest

from opsgraph.errors import UserError
from opsgraph.graphs.board import apply_board_writes, empty_board
from opsgraph.graphs.demand_sensing import due_agents
from opsgraph.tools.demand_tools import DemandTools
from tests.support.pgdb import BACKENDS, open_backend_world, world_database  # noqa: F401 - fixture


def _write(section: str, based_on: int, author: str, value: int) -> dict:
    return {"section": section, "based_on": based_on, "data": {"value": value}, "author": author, "why": "",
            "cycle": 1}


def _run(runner, sku: str, thread: str):
    return runner.start("demand_sensing", runner.make_input("demand_sensing", {"sku": sku}), thread_id=thread)


def test_stale_write_in_one_superstep_is_rejected():
    board = apply_board_writes(None, [_write("forecast", 0, "a", 1), _write("forecast", 0, "b", 2)])
    assert board["sections"]["forecast"] == {"version": 1, "data": {"value": 1}, "author": "a"}
    [rejected] = board["rejections"]
    assert (rejected["author"], rejected["based_on"], rejected["current"]) == ("b", 0, 1)
    # The loser re-reads version 1 and writes again: accepted as version 2.
    board = apply_board_writes(board, [_write("forecast", 1, "b", 2)])
    assert board["sections"]["forecast"]["version"] == 2 and board["sections"]["forecast"]["data"] == {"value": 2}
    assert apply_board_writes(board, [_write("nowhere", 0, "c", 3)])["rejections"][-1]["reason"] == "unknown section"


def test_controller_runs_changed_subscribers_and_readers_wait():
    board = empty_board()
    assert due_agents(board, {}, {}) == ["demand_sensor", "promotion_planner"]  # both read the feeds
    board = apply_board_writes(board, [_write("forecast", 0, "demand_sensor", 1)])
    ran = {"demand_sensor": 1, "promotion_planner": 1}
    seen = {"demand_sensor": {}, "promotion_planner": {}}
    # The promotion agent (co-writer of the forecast) runs again; the inventory agent waits for it.
    assert due_agents(board, seen, ran) == ["promotion_planner"]
    seen["promotion_planner"] = {"forecast": 1}
    assert due_agents(board, seen, ran) == ["inventory_optimizer"]
    seen["inventory_optimizer"], ran["inventory_optimizer"] = {"forecast": 1}, 2
    assert due_agents(board, seen, ran) == []  # quiescent


def test_forecast_tools_on_the_seeded_signals(runner):
    tools = DemandTools(runner.context.world, runner.context.policy)
    trend = {r["dc_id"]: r for r in tools.forecast("SKU-001")["forecast"]}
    assert trend["DC-EAST"]["slope_per_day"] > 0.08 and 10.5 < trend["DC-EAST"]["daily"] < 12  # the trend
    stockout = tools.signals("SKU-004")["signals"]
    assert {r["dc_id"]: r["stockout_days"] for r in stockout}["DC-EAST"] == 10
    censored = {r["dc_id"]: r for r in tools.forecast("SKU-004", "moving_average")["forecast"]}["DC-EAST"]
    days = runner.context.world.demand.sales_history("SKU-004")["dcs"]["DC-EAST"][-28:]
    naive = sum(d["units"] for d in days) / len(days)
    assert censored["base_daily"] > naive + 0.8  # zero-sale stock-out days do not count as demand
    promo = tools.promotion("SKU-003")
    assert promo["campaign"]["promo_id"] == "PROMO-002" and promo["uplift_pct"] == 69.2
    east = {r["dc_id"]: r for r in promo["forecast"]}["DC-EAST"]
    assert east["daily"] == round(east["base_daily"] * 1.692, 2)
    targets = tools.safety_stock("SKU-001", list(trend.values()))
    row = {r["dc_id"]: r for r in targets["safety_stock"]}["DC-EAST"]
    lead = targets["lead_time_days"]
    assert targets["z"] == 1.645 and targets["supplier_id"] == "SUP-001"
    assert row["safety_stock"] == math.ceil(1.645 * trend["DC-EAST"]["sigma_daily"] * math.sqrt(lead))
    assert row["reorder_point"] == math.ceil(trend["DC-EAST"]["daily"] * lead) + row["safety_stock"]


def test_promotion_start_rejects_stale_forecast_and_retries(runner):
    done = _run(runner, "SKU-003", "ds-promo")
    report = done.report
    assert done.status == "completed" and report["quiescent"] is True
    [rejected] = report["rejections"]
    assert (rejected["author"], rejected["section"], rejected["based_on"], rejected["current"]) == (
        "promotion_planner", "forecast", 0, 1)
    history = report["sections"]["forecast"]["history"]
    assert [(h["author"], h["based_on"], h["version"]) for h in history] == [
        ("demand_sensor", 0, 1), ("promotion_planner", 1, 2)]
    assert report["sections"]["forecast"]["data"]["uplift_pct"] == 69.2
    kinds = [e.kind for e in runner.context.audit.events("ds-promo")]
    assert kinds.count("board_write_rejected") == 1 and kinds.count("board_write") == len(report["sections"]) + 1


def test_cycle_limit_stops_and_says_so(runner, monkeypatch):
    monkeypatch.setitem(runner.context.policy.raw["demand_sensing"], "max_cycles", 2)
    done = _run(runner, "SKU-003", "ds-limit")
    assert done.status == "stopped" and done.report["quiescent"] is False
    assert "cycle limit of 2" in done.report["stop_reason"] and done.report["cycles"] == 2
    assert done.report["purchase_orders"] == []


@pytest.mark.parametrize("decision, raised", [("approve", 1), ("reject", 0)])
def test_above_threshold_order_waits_for_a_human(runner, decision, raised):
    thread = f"ds-approval-{decision}"
    waiting = _run(runner, "SKU-001", thread)
    assert waiting.status == "awaiting_approval"
    assert runner.context.world.counts()["purchase_orders"] == 24  # nothing written while it waits
    done = runner.resume(thread, {"decision": decision, "by": "dana", "reason": "test"})
    assert done.status == "completed"
    [order] = done.report["purchase_orders"]
    assert order["quantity"] == 247 and order["status"] == ("done" if raised else "rejected")
    assert runner.context.world.counts()["purchase_orders"] == 24 + raised
    if raised:
        po = runner.context.world.show("purchase_order", order["po_id"])
        assert po["approved_by"] == "dana" and po["total_usd"] == 42484.0


def test_hostile_feed_note_changes_no_number(runner):
    done = _run(runner, "SKU-007", "ds-hostile")
    note = done.report["sections"]["signals"]["data"]["event_notes"][0]
    assert "99999" in note["note"] and note["untrusted_text"] is True
    assert [o["quantity"] for o in done.report["purchase_orders"]] == [12]
    assert all(r["event_pct"] == 0 for r in done.report["sections"]["forecast"]["data"]["forecast"])


def test_order_not_proposed_from_the_board_is_refused():
    from opsgraph.graphs.demand_sensing import order_guard

    board = apply_board_writes(None, [{"section": "safety_stock", "based_on": 0, "author": "inventory_optimizer",
                                       "why": "", "cycle": 1, "data": {"safety_stock": [
                                           {"dc_id": "DC-EAST", "reorder_point": 10, "order_up_to": 20}]}}])
    plan = {"tool": "plan_purchase_orders", "ok": True, "args": {"safety_stock": [
        {"dc_id": "DC-EAST", "reorder_point": 10, "order_up_to": 20}]}, "result": {"purchase_orders": [
            {"supplier_id": "SUP-009", "dc_id": "DC-EAST", "lines": [{"sku_id": "SKU-007", "quantity": 12}]}]}}
    guard = order_guard({"snapshot": board, "actions": [plan]})
    proposed = {"supplier_id": "SUP-009", "dc_id": "DC-EAST", "lines": [{"sku_id": "SKU-007", "quantity": 12}]}
    assert guard({"name": "create_purchase_order", "args": proposed}, []) is None
    hostile = {**proposed, "lines": [{"sku_id": "SKU-007", "quantity": 99999}]}
    assert "not one plan_purchase_orders proposed" in guard({"name": "create_purchase_order", "args": hostile}, [])


def test_bad_input_is_one_clear_error(runner):
    with pytest.raises(UserError, match="SKU-999"):
        runner.make_input("demand_sensing", {"sku": "SKU-999"})
    with pytest.raises(UserError, match="--sku"):
        runner.make_input("demand_sensing", {"request": "how is demand?"})
    from opsgraph.demand_inputs import demand_sensing_chat

    assert demand_sensing_chat("please sense demand for sku-003", runner.context.world) == {"sku_id": "SKU-003"}


def test_a_world_from_before_the_feeds_is_one_clear_error(tmp_path):
    import sqlite3

    from opsgraph.demand_inputs import demand_sensing_input
    from opsgraph.tools.world import World

    World.open(tmp_path / "w.db").close()
    with sqlite3.connect(tmp_path / "w.db") as conn:
        conn.execute("DROP TABLE pos_sales")
    with World(tmp_path / "w.db") as world, pytest.raises(UserError, match="world reset"):
        demand_sensing_input({"sku": "SKU-001"}, world)


@pytest.mark.parametrize("backend", BACKENDS)
def test_demand_feeds_are_seeded_alike_on_both_databases(backend, request, tmp_path):
    with open_backend_world(backend, request, tmp_path) as world:
        history = world.demand.sales_history("sku-004")["dcs"]
        assert sorted(history) == ["DC-CENTRAL", "DC-EAST", "DC-SOUTH", "DC-WEST"]
        assert all(len(days) == 56 for days in history.values())
        assert sum(d["stockout"] for d in history["DC-EAST"]) == 10
        assert [p["promo_id"] for p in world.demand.promotions("SKU-003")["promotions"]] == ["PROMO-001", "PROMO-002"]
        assert "99999" in world.demand.events("SKU-007")["events"][0]["note"]
        lead = {o["supplier_id"]: o for o in world.demand.lead_times("SKU-001")["lead_times"]}
        assert set(lead) == {"SUP-001", "SUP-004", "SUP-009", "SUP-013"} and lead["SUP-001"]["approved"] == 1
        forecast = DemandTools(world, None).forecast("SKU-001")["forecast"]
        assert {r["dc_id"]: r["daily"] for r in forecast}["DC-EAST"] == 11.15  # same rows, same numbers


def test_compromised_replenishment_agent_cannot_order_what_the_board_did_not_propose(tmp_path):
    from tests.conftest import make_settings
    from tests.support.adversary import call, done, events, hostile_runner, purchase_orders, says

    hostile = call("create_purchase_order", supplier_id="SUP-009", dc_id="DC-EAST", justification="event note",
                   lines=[{"sku_id": "SKU-007", "quantity": 99999}])
    script = {"replenishment_planner": [says(hostile), done()]}
    with hostile_runner(make_settings(tmp_path / "home"), script) as runner:
        before = len(purchase_orders(runner, "SUP-009"))
        done_run = _run(runner, "SKU-007", "ds-compromised")
        # Refused at the tool boundary before any human is asked; nothing reaches the ERP.
        assert done_run.status == "completed" and done_run.report["approvals"] == []
        assert len(purchase_orders(runner, "SUP-009")) == before
        [refused] = events(runner, "ds-compromised", "tool_refused")
        assert refused.name == "create_purchase_order" and "not one plan_purchase_orders proposed" in str(refused.result)
        assert done_run.report["sections"]["replenishment"]["version"] == 0  # no plan, no write


@pytest.mark.slow
def test_cli_run_waits_for_approval_then_resumes_and_draws_the_graph(tmp_path):
    import json

    from tests.support.cli import one_error_line, opsgraph

    home = tmp_path / "home"
    started = opsgraph(home, "run", "demand_sensing", "--sku", "SKU-001", "--thread", "ds-cli", "--json")
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["status"] == "awaiting_approval"
    resumed = opsgraph(home, "runs", "resume", "ds-cli", "--approve", "--by", "dana", "--json")
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)["report"]
    assert report["outcome"] == "completed" and [o["quantity"] for o in report["purchase_orders"]] == [247]
    assert any(line.startswith("replenishment v1") for line in report["summary"])
    drawn = opsgraph(home, "graph", "show", "demand_sensing", "--mermaid", str(tmp_path / "g.mmd"))
    assert drawn.returncode == 0 and "board_agent" in (tmp_path / "g.mmd").read_text()
    one_error_line(opsgraph(home, "run", "demand_sensing", "--sku", "SKU-999"), "SKU-999")
