"""``procurement_review`` end to end: offline engine, real SQLite checkpointer, ERP, audit store."""

from __future__ import annotations

import shutil

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.types import Command

from opsgraph.graphs.procurement_review import CONFLICT_RULE, amend_request, resolve_verdicts
from opsgraph.runner import open_runner
from tests.conftest import make_settings
from tests.support.scripted import ScriptedChatModel, tool_call
from tests.support.threads import assert_valid_thread, tool_message

GRAPH = "procurement_review"
COMPLIANT = {"sku_id": "SKU-003", "quantity": 65, "dc_id": "DC-WEST", "preferred_supplier_id": "SUP-006"}
UNAPPROVED = {"sku_id": "SKU-001", "quantity": 20, "dc_id": "DC-EAST", "preferred_supplier_id": "SUP-013"}
NO_BIDS = {"sku_id": "SKU-001", "quantity": 100, "dc_id": "DC-EAST", "preferred_supplier_id": "SUP-001"}
ABOVE_THRESHOLD = {"sku_id": "SKU-001", "quantity": 200, "dc_id": "DC-EAST", "preferred_supplier_id": "SUP-001"}
OVER_BUDGET = {"sku_id": "SKU-003", "quantity": 1200, "dc_id": "DC-WEST", "preferred_supplier_id": "SUP-006"}
OVER_CEILING = {"sku_id": "SKU-001", "quantity": 2000, "dc_id": "DC-EAST"}


def _orders(runner, supplier: str | None = None) -> list[dict]:
    return runner.context.world.erp.list_purchase_orders(supplier)["purchase_orders"]


def _start(runner, request: dict, thread: str):
    return runner.start(GRAPH, {"request": request}, thread_id=thread)


def _round_summary(values: dict) -> list[tuple]:
    return [(v["round"], v["reviewer"], v["verdict"]) for v in values["verdicts"]]


def test_compliant_po_is_approved_in_one_round_and_raised(kb_runner):
    before = len(_orders(kb_runner))
    done = _start(kb_runner, COMPLIANT, "pr-ok")
    report = done.report
    assert done.status == "completed" and report["outcome"] == "approved" and report["rounds"] == 1
    assert done.values["visited"] == ["buyer", "compliance", "finance", "purchasing"]
    assert _round_summary(done.values) == [(1, "compliance", "approve"), (1, "finance", "approve")]
    [po] = _orders(kb_runner)[before:]
    assert (po["supplier_id"], po["total_usd"], po["status"]) == ("SUP-006", 8515.0, "issued")
    assert report["purchase_order"]["po_id"] == po["po_id"] and report["approvals"] == []
    events = kb_runner.context.audit.events("pr-ok")
    assert [(e.kind, e.agent) for e in events if e.kind in ("verdict", "review_decision")] == [
        ("verdict", "compliance"), ("verdict", "finance"), ("review_decision", "moderator")]
    assert any(c.startswith("[procurement/") for c in report["policies_cited"])
    assert any(c.startswith("[finance/budget-rules.md") for c in report["policies_cited"])
    assert_valid_thread(done.values["messages"])


def test_unapproved_supplier_is_revised_then_approved(runner):
    done = _start(runner, UNAPPROVED, "pr-sup013")
    assert done.report["outcome"] == "approved" and done.report["rounds"] == 2
    assert _round_summary(done.values) == [(1, "compliance", "revise"), (1, "finance", "approve"),
                                           (2, "compliance", "approve"), (2, "finance", "approve")]
    first = done.values["verdicts"][0]
    assert any("not on the approved supplier list" in r for r in first["reasons"])
    assert first["required_changes"]["exclude_supplier_ids"] == ["SUP-013"]
    assert done.values["decisions"][0]["decision"] == "revise"
    assert _orders(runner, "SUP-013") == []
    assert done.report["purchase_order"]["supplier_id"] == "SUP-001"
    drafts = [a["args"]["request"] for a in done.values["actions"] if a["tool"] == "draft_purchase_order"]
    assert drafts[0].get("exclude_supplier_ids") is None and drafts[1]["exclude_supplier_ids"] == ["SUP-013"]
    feedback = [m for m in done.values["messages"] if isinstance(m, HumanMessage) and m.name == "moderator"
                and "REVISE" in m.content]
    assert len(feedback) == 1 and "SUP-013" in feedback[0].content


def test_missing_competitive_bids_are_revised_then_approved(runner):
    before = len(_orders(runner))
    done = _start(runner, NO_BIDS, "pr-bids")
    assert done.report["outcome"] == "approved" and done.report["rounds"] == 2
    assert "3 quotes from approved suppliers are required" in done.values["verdicts"][0]["reasons"][0]
    assert done.report["proposal"]["quote_supplier_ids"] == ["SUP-001", "SUP-004", "SUP-009"]
    [po] = _orders(runner)[before:]
    assert (po["supplier_id"], po["total_usd"]) == ("SUP-001", 17200.0)


def test_po_that_cannot_comply_escalates_after_max_rounds_with_the_thread(runner):
    before = len(_orders(runner))
    first = _start(runner, OVER_BUDGET, "pr-escalate")
    assert first.status == "awaiting_approval"
    [pending] = first.pending
    assert pending["type"] == "escalation" and pending["reason"] == "no agreement after 3 review rounds"
    assert len(pending["thread"]) == len(first.values["messages"]) and len(pending["verdicts"]) == 6
    assert [d["decision"] for d in first.values["decisions"]] == ["revise", "revise", "revise"]
    assert len(_orders(runner)) == before
    done = runner.resume("pr-escalate", {"decision": "reject", "reason": "split the need across quarters", "by": "dana"})
    assert done.report["outcome"] == "escalated" and done.report["purchase_order"] is None
    assert done.report["escalation"]["decision"] == "reject" and len(_orders(runner)) == before
    assert [e.kind for e in runner.context.audit.events("pr-escalate") if e.name == "procurement_review"] == [
        "escalation", "approval"]


def test_escalation_edit_raises_the_edited_order_once_without_a_second_interrupt(runner):
    before = len(_orders(runner))
    _start(runner, OVER_BUDGET, "pr-escalate-edit")
    done = runner.resume("pr-escalate-edit", {"decision": "edit", "edits": {"quantity": 1000}, "by": "dana"})
    assert done.status == "completed" and not done.pending
    [po] = _orders(runner)[before:]
    stored = runner.context.world.erp.get_purchase_order(po["po_id"])
    assert stored["lines"][0]["quantity"] == 1000 and stored["approved_by"] == "dana" and stored["total_usd"] == 131000.0
    assert done.report["approvals"] == [{"kind": "purchase_order", "decision": "edit", "reason": "", "by": "dana"}]


def test_po_above_the_threshold_goes_through_the_approval_gate(runner):
    first = _start(runner, ABOVE_THRESHOLD, "pr-gate")
    [pending] = first.pending
    assert (pending["type"], pending["kind"], pending["amount_usd"]) == ("approval", "purchase_order", 34400.0)
    assert first.values["decisions"][-1]["decision"] == "approve"
    graph = runner.graph(GRAPH)
    graph.invoke(Command(resume={"decision": "approve", "by": "alice"}), runner.config("pr-gate"), context=runner.context)
    report = graph.get_state(runner.config("pr-gate")).values["report"]
    assert report["purchase_order"]["approved_by"] == "alice" and report["outcome"] == "approved"
    assert len([e for e in runner.context.audit.events("pr-gate", "tool_call") if e.name == "create_purchase_order"]) == 1


def test_blocking_violation_is_rejected_without_an_order(runner):
    before = len(_orders(runner))
    done = _start(runner, OVER_CEILING, "pr-reject")
    assert done.report["outcome"] == "rejected" and done.report["rounds"] == 1
    assert done.values["decisions"] == [{"round": 1, "decision": "reject",
                                         "rule": "reject (1.00) is at least as confident as revise (1.00)"}]
    assert len(_orders(runner)) == before and "purchasing" not in done.values["visited"]


def _v(verdict: str, confidence: float) -> dict:
    return {"verdict": verdict, "confidence": confidence}


def test_verdict_conflict_rule():
    assert resolve_verdicts([_v("approve", 0.9), _v("approve", 0.4)]) == ("approve", "unanimous approval")
    assert resolve_verdicts([_v("approve", 0.99), _v("revise", 0.2)])[0] == "revise"
    assert resolve_verdicts([_v("approve", 0.99), _v("reject", 0.2)])[0] == "reject"
    assert resolve_verdicts([_v("reject", 0.6), _v("revise", 0.9)])[0] == "revise"
    assert resolve_verdicts([_v("reject", 0.9), _v("revise", 0.6)])[0] == "reject"
    assert resolve_verdicts([_v("reject", 0.7), _v("revise", 0.7)])[0] == "reject"  # a tie goes to reject
    assert "tie goes to reject" in CONFLICT_RULE


def test_amended_request_accumulates_required_changes():
    verdicts = [{"required_changes": {"exclude_supplier_ids": ["SUP-013"], "competitive_quotes": False}},
                {"required_changes": {"exclude_supplier_ids": ["SUP-013", "SUP-017"], "competitive_quotes": True}}]
    amended = amend_request({"sku_id": "SKU-001", "quantity": 5, "dc_id": "DC-EAST"}, verdicts)
    assert amended["exclude_supplier_ids"] == ["SUP-013", "SUP-017"] and amended["competitive_quotes"] is True


ROGUE = {
    "buyer": tool_call("create_purchase_order", {"supplier_id": "SUP-013", "dc_id": "DC-EAST", "justification": "x",
                                                 "lines": [{"sku_id": "SKU-001", "quantity": 20}]}, "r-buyer"),
    "compliance": tool_call("issue_refund", {"invoice_id": "INV-0001", "amount_usd": 189, "reason": "x"}, "r-comp"),
    "finance": tool_call("create_purchase_order", {"supplier_id": "SUP-001", "dc_id": "DC-EAST", "justification": "x",
                                                   "lines": [{"sku_id": "SKU-001", "quantity": 20}]}, "r-fin"),
}


@pytest.mark.parametrize("agent", sorted(ROGUE))
def test_out_of_scope_call_by_any_review_member_is_refused_never_runs_and_is_audited(settings, agent):
    rogue = ROGUE[agent]
    model = ScriptedChatModel(script={agent: [AIMessage("", tool_calls=[rogue])]})
    with open_runner(settings, with_knowledge=False, model_factory=lambda tier, spec: model) as runner:
        before = len(_orders(runner))
        done = _start(runner, COMPLIANT, f"pr-rogue-{agent}")
        orders = _orders(runner)[before:]
        refused = runner.context.audit.events(f"pr-rogue-{agent}", "tool_refused")
        refunds = runner.context.world.billing.get_invoice("INV-0001")["refunds"]
    assert "not permitted" in tool_message(done.values["messages"], rogue["id"]).content
    assert [(e.agent, e.name) for e in refused] == [(agent, rogue["name"])]
    # The only order is the reviewed one, raised by purchasing; the maker could not bypass the checkers.
    assert [(o["supplier_id"], o["total_usd"]) for o in orders] == [("SUP-006", 8515.0)] and refunds == []
    assert done.report["outcome"] == "approved"


def _first_call_of(model: ScriptedChatModel, agent: str) -> list:
    return next(r["messages"] for r in model.received if r["agent"] == agent and r["tools"])


def test_history_policy_is_read_from_policy_yaml(tmp_path):
    """A reviewer sees its own turns by default; switching policy.yaml to ``full`` shows it the whole thread."""
    policy = tmp_path / "policy.yaml"
    shutil.copy(make_settings(tmp_path / "x").policy_path, policy)
    seen = {}
    for name, edit in (("own_turns", None), ("full", ("history: own_turns", "history: full"))):
        if edit:
            text = policy.read_text()
            start = text.index("  compliance:\n")
            policy.write_text(text[:start] + text[start:].replace(*edit, 1))
        model = ScriptedChatModel()
        settings = make_settings(tmp_path / name, OPSGRAPH_POLICY=str(policy))
        with open_runner(settings, with_knowledge=False, model_factory=lambda tier, spec: model) as runner:
            _start(runner, COMPLIANT, f"pr-history-{name}")
        seen[name] = {m.name for m in _first_call_of(model, "compliance") if isinstance(m, AIMessage)}
    assert "buyer" not in seen["own_turns"] and "buyer" in seen["full"]
