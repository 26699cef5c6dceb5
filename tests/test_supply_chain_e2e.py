"""End to end: the real supply-chain graph on the offline engine with a real SQLite checkpointer."""

from __future__ import annotations

import pytest
from langgraph.types import Command

from opsgraph.errors import UserError


def _event(shipment: str, days: int) -> dict:
    return {"event": {"shipment_id": shipment, "delay_days": days, "description": f"Inbound shipment {shipment} is delayed by {days} days."}}


def _po_count(runner) -> int:
    return runner.context.world.erp.list_purchase_orders()["count"]


def _writes(runner, thread: str, tool: str) -> list:
    return [e for e in runner.context.audit.events(thread) if e.name == tool and e.kind == "tool_call" and e.ok]


def test_large_po_waits_for_approval_then_approve_creates_exactly_one(runner):
    before = _po_count(runner)
    result = runner.start("supply_chain_exception", _event("SH-0001", 5), thread_id="t-approve")
    assert result.status == "awaiting_approval"
    pending = result.pending[0]
    assert pending["kind"] == "purchase_order" and pending["amount_usd"] > pending["threshold_usd"]
    assert _po_count(runner) == before  # nothing ordered before the human decides

    done = runner.resume("t-approve", {"decision": "approve", "by": "alice"})
    assert done.status == "completed"
    assert _po_count(runner) == before + 1
    report = done.report
    [po] = [p for p in report["purchase_orders"] if p["status"] != "rejected"]
    assert po["approved_by"] == "alice" and po["total_usd"] > pending["threshold_usd"]
    assert report["approvals"][0]["decision"] == "approve"
    assert report["orders_affected"] and report["customers_notified"]
    assert done.values["visited"] == ["logistics", "inventory", "procurement", "customer_comms"]
    assert len(_writes(runner, "t-approve", "create_purchase_order")) == 1


def test_reject_completes_without_po_and_says_so(runner):
    before = _po_count(runner)
    runner.start("supply_chain_exception", _event("SH-0001", 5), thread_id="t-reject")
    done = runner.resume("t-reject", {"decision": "reject", "reason": "use spot market"})
    assert done.status == "completed"
    assert _po_count(runner) == before
    assert [p["status"] for p in done.report["purchase_orders"]] == ["rejected"]
    assert done.report["approvals"][0] == {"kind": "purchase_order", "decision": "reject", "reason": "use spot market", "by": "operator"}
    rejected = [e for e in runner.context.audit.events("t-reject") if e.kind == "tool_rejected"]
    assert len(rejected) == 1


def test_edit_creates_the_edited_po(runner):
    result = runner.start("supply_chain_exception", _event("SH-0001", 5), thread_id="t-edit")
    original = result.pending[0]["args"]
    per_line = {line["sku_id"]: 10 for line in original["lines"]}
    done = runner.resume("t-edit", {"decision": "edit", "edits": {"lines": per_line}})
    [po] = [p for p in done.report["purchase_orders"] if p["po_id"]]
    stored = runner.context.world.erp.get_purchase_order(po["po_id"])
    assert all(line["quantity"] == 10 for line in stored["lines"])
    assert stored["supplier_id"] == original["supplier_id"]
    assert done.report["approvals"][0]["decision"] == "edit"


def test_small_po_needs_no_approval(runner):
    before = _po_count(runner)
    done = runner.start("supply_chain_exception", _event("SH-0002", 4), thread_id="t-small")
    assert done.status == "completed" and not done.report["approvals"]
    assert _po_count(runner) == before + 1


def test_transfers_cover_shortfall_without_procurement(runner):
    before = _po_count(runner)
    done = runner.start("supply_chain_exception", _event("SH-0003", 6), thread_id="t-transfer")
    assert done.report["transfers"] and _po_count(runner) == before
    assert "procurement" not in done.values["visited"]
    assert done.report["customers_notified"]


def test_no_affected_orders_only_records_delay(runner):
    done = runner.start("supply_chain_exception", _event("SH-0004", 2), thread_id="t-none")
    assert done.values["visited"] == ["logistics", "inventory"]
    assert done.report["orders_affected"] == [] and done.report["customers_notified"] == []
    shipment = runner.context.world.tms.get_shipment("SH-0004")
    assert shipment["status"] == "delayed"


def test_step_limit_ends_gracefully_with_reason(settings):
    from opsgraph.runner import open_runner

    with open_runner(settings, with_knowledge=False, max_steps=2) as r:
        done = r.start("supply_chain_exception", _event("SH-0002", 4), thread_id="t-limit")
    assert done.status == "stopped"
    assert "step limit of 2" in done.report["stop_reason"]
    assert done.values["visited"] == ["logistics", "inventory"]


def test_kill_switch_stops_at_next_step(runner):
    runner.context.audit.register_run("t-kill", "supply_chain_exception", "x")
    runner.context.audit.request_stop("t-kill")
    graph = runner.graph("supply_chain_exception")
    graph.invoke(_event("SH-0002", 4), runner.config("t-kill"), context=runner.context)
    state = graph.get_state(runner.config("t-kill")).values
    assert state["report"]["stop_reason"].startswith("stopped by operator")
    assert not state.get("actions")


def test_cost_breakdown_adds_up(runner):
    done = runner.start("supply_chain_exception", _event("SH-0002", 4), thread_id="t-cost")
    cost = done.report["cost"]
    assert cost["model_calls"] == len(done.values["calls"]) > 0
    assert sum(row["calls"] for row in cost["by_agent"].values()) == cost["model_calls"]
    assert cost["input_tokens"] > 0


def test_unknown_shipment_is_a_user_error_and_writes_nothing(runner):
    with pytest.raises(UserError, match="SH-9999"):
        runner.make_input("supply_chain_exception", {"shipment": "SH-9999", "delay_days": 3})
    assert runner.context.audit.runs() == []


def test_unknown_thread_and_missing_decision(runner):
    with pytest.raises(UserError, match="no run"):
        runner.resume("missing-thread", {"decision": "approve"})
    runner.start("supply_chain_exception", _event("SH-0001", 5), thread_id="t-pending")
    with pytest.raises(UserError, match="waiting for approval"):
        runner.resume("t-pending")
    with pytest.raises(UserError, match="unknown decision"):
        runner.resume("t-pending", {"decision": "perhaps"})


def test_stream_and_history_work_as_in_langgraph(runner):
    graph = runner.graph("supply_chain_exception")
    config = runner.config("t-stream")
    runner.context.audit.register_run("t-stream", "supply_chain_exception", "x")
    modes = set()
    for mode, _chunk in graph.stream(_event("SH-0004", 2), config, context=runner.context, stream_mode=["updates", "messages"]):
        modes.add(mode)
    assert modes == {"updates", "messages"}
    history = list(graph.get_state_history(config))
    assert len(history) > 5 and history[0].values["report"]
    first_step = history[-2]
    replay = graph.invoke(None, first_step.config, context=runner.context)  # time travel from an early checkpoint
    assert replay["report"]["title"].startswith("Delay of inbound shipment SH-0004")


def test_interrupt_resume_with_langgraph_command(runner):
    graph = runner.graph("supply_chain_exception")
    config = runner.config("t-cmd")
    runner.context.audit.register_run("t-cmd", "supply_chain_exception", "x")
    graph.invoke(_event("SH-0001", 5), config, context=runner.context)
    assert graph.get_state(config).interrupts
    out = graph.invoke(Command(resume="approve"), config, context=runner.context)
    assert out["report"]["purchase_orders"][0]["po_id"]


def test_agents_pull_policy_and_report_cites_it(kb_runner):
    result = kb_runner.start("supply_chain_exception", _event("SH-0001", 5), thread_id="t-kb")
    done = kb_runner.resume("t-kb", {"decision": "approve"})
    cited = done.report["policies_cited"]
    assert any("po-approval.md" in c for c in cited), cited
    assert any(c.startswith("[logistics/") for c in cited), cited
    searches = [a for a in done.values["actions"] if a["tool"] == "search_knowledge"]
    assert {a["agent"] for a in searches} == {"logistics", "inventory", "procurement", "customer_comms"}
    # Each agent only sees departments policy.yaml grants it.
    for action in searches:
        allowed = kb_runner.context.policy.agent(action["agent"]).knowledge.departments
        assert all(r["department"] in allowed for r in action["result"]["results"])
