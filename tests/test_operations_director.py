"""``operations_director`` end to end: team subgraphs under a top supervisor, one SQLite checkpointer."""

from __future__ import annotations

from langgraph.types import Command


GRAPH = "operations_director"
LATE_SMALL = {"shipment_id": "SH-0002", "delay_days": 4, "description": "SH-0002 is 4 days late"}
LATE_LARGE = {"shipment_id": "SH-0001", "delay_days": 5, "description": "SH-0001 held at port for 5 days"}
PURCHASE = {"sku_id": "SKU-003", "quantity": 65, "dc_id": "DC-WEST", "preferred_supplier_id": "SUP-006"}
PURCHASE_LARGE = {"sku_id": "SKU-001", "quantity": 200, "dc_id": "DC-EAST", "preferred_supplier_id": "SUP-001"}


def _orders(runner) -> list[dict]:
    return runner.context.world.erp.list_purchase_orders()["purchase_orders"]


def _tool_runs(runner, thread: str, tool: str) -> list:
    return [e for e in runner.context.audit.events(thread, "tool_call") if e.name == tool and e.ok]


def test_shipment_delay_goes_to_the_supply_chain_team_only(runner):
    before = len(_orders(runner))
    done = runner.start(GRAPH, {"event": LATE_SMALL}, thread_id="od-sc")
    assert done.status == "completed" and done.values["visited"] == ["supply_chain_team"]
    team = done.report["teams"]["supply_chain_team"]
    assert team["agents"] == ["logistics", "inventory", "procurement", "customer_comms"]
    [po] = _orders(runner)[before:]
    assert (po["supplier_id"], po["total_usd"]) == ("SUP-006", 8515.0)
    assert [p["po_id"] for p in done.report["purchase_orders"]] == [po["po_id"]]
    assert runner.context.world.tms.get_shipment("SH-0002")["status"] == "delayed"
    assert done.report["cost"]["teams"]["supply_chain_team"]["model_calls"] > 0


def test_purchase_request_goes_to_the_procurement_team_only(runner):
    before = len(_orders(runner))
    done = runner.start(GRAPH, {"request": PURCHASE}, thread_id="od-pr")
    assert done.values["visited"] == ["procurement_team"]
    assert done.report["teams"]["procurement_team"]["outcome"] == "approved"
    assert [(p["supplier_id"], p["total_usd"]) for p in _orders(runner)[before:]] == [("SUP-006", 8515.0)]


def test_regression_interrupt_inside_a_subgraph_is_resumed_from_the_parent_once(runner):
    before = len(_orders(runner))
    thread = "od-interrupt"
    runner.context.audit.register_run(thread, GRAPH, "x")
    graph, config = runner.graph(GRAPH), runner.config(thread)
    graph.invoke({"event": LATE_LARGE}, config, context=runner.context)
    snapshot = graph.get_state(config)
    [interrupt] = snapshot.interrupts  # the supply chain team's approval gate, seen from the top
    assert interrupt.value["kind"] == "purchase_order" and interrupt.value["amount_usd"] == 42380.0
    assert snapshot.next == ("supply_chain_team",) and len(_orders(runner)) == before

    out = graph.invoke(Command(resume={"decision": "approve", "by": "ops.manager"}), config, context=runner.context)
    assert out["report"]["outcome"] == "completed" and not graph.get_state(config).interrupts
    [po] = _orders(runner)[before:]
    assert (po["total_usd"], po["approved_by"]) == (42380.0, "ops.manager")
    # Work before the interrupt was not redone: one delay recorded, one order, one approval.
    assert len(_tool_runs(runner, thread, "report_shipment_delay")) == 1
    assert len(_tool_runs(runner, thread, "create_purchase_order")) == 1
    assert runner.context.world.tms.get_shipment("SH-0001")["total_delay_days"] == 5
    assert out["report"]["approvals"] == [{"kind": "purchase_order", "decision": "approve", "reason": "",
                                           "by": "ops.manager"}]


def test_both_teams_with_an_interrupt_in_each_resume_through_the_runner(runner):
    before = len(_orders(runner))
    first = runner.start(GRAPH, {"event": LATE_LARGE, "request": PURCHASE_LARGE}, thread_id="od-both")
    assert first.status == "awaiting_approval" and first.pending[0]["amount_usd"] == 42380.0
    second = runner.resume("od-both", {"decision": "approve", "by": "alice"})
    assert second.status == "awaiting_approval" and second.pending[0]["amount_usd"] == 34400.0
    done = runner.resume("od-both", {"decision": "reject", "reason": "enough stock after the expedite", "by": "alice"})
    assert done.values["visited"] == ["supply_chain_team", "procurement_team"]
    assert [(p["total_usd"], p["approved_by"]) for p in _orders(runner)[before:]] == [(42380.0, "alice")]
    assert done.report["teams"]["procurement_team"]["outcome"] == "rejected"
    assert [a["decision"] for a in done.report["approvals"]] == ["approve", "reject"]


def test_subgraph_updates_stream_with_their_namespace(runner):
    runner.context.audit.register_run("od-stream", GRAPH, "x")
    namespaces = {ns for ns, _ in runner.graph(GRAPH).stream({"request": PURCHASE}, runner.config("od-stream"),
                                                              context=runner.context, subgraphs=True)}
    assert () in namespaces and any(ns and ns[0].startswith("procurement_team:") for ns in namespaces)


def test_director_has_no_tools_and_audits_each_typed_routing_decision(runner):
    done = runner.start(GRAPH, {"request": PURCHASE}, thread_id="od-typed")
    assert runner.context.policy.agent("director").tools == ()
    decisions = [e for e in runner.context.audit.events("od-typed") if e.agent == "director"]
    assert [e.kind for e in decisions] == ["model_call", "model_call"]  # procurement_team, then FINISH
    assert [e.result["answer"].split(":")[0] for e in decisions] == ["-> procurement_team", "-> report"]
    assert done.report["agents"] == ["procurement_team"]
