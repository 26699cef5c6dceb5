"""Audit store, approval decisions, policy access and per-agent history views."""

import sqlite3

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from opsgraph.graphs.history import history_view
from opsgraph.governance.approvals import DecisionError, apply_edits, parse_decision
from opsgraph.governance.audit import AuditStore
from opsgraph.governance.policy import PolicyError, load_policy
from tests.support.paths import PROJECT_ROOT


def test_audit_is_append_only_and_deduplicated(tmp_path):
    store = AuditStore(tmp_path / "audit.db")
    assert store.record("t1", "tool:c1", "tool_call", agent="a", name="x", args={"k": 1}, result={"ok": True})
    assert not store.record("t1", "tool:c1", "tool_call", agent="a", name="x", args={"k": 1}, result={"ok": True})
    assert store.record("t2", "tool:c1", "tool_call")
    assert [e.args for e in store.events("t1")] == [{"k": 1}]
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store._conn.execute("UPDATE audit_events SET kind = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store._conn.execute("DELETE FROM audit_events")


def test_run_registry_and_kill_switch(tmp_path):
    store = AuditStore(tmp_path / "audit.db")
    store.register_run("t1", "g", "title")
    assert store.run("t1").status == "running" and not store.stop_requested("t1")
    store.request_stop("t1")
    assert store.stop_requested("t1")
    store.set_status("t1", "completed")
    assert store.runs()[0].status == "completed"
    assert store.run("nope") is None


@pytest.mark.parametrize("raw", ["approve", {"decision": "reject", "reason": "too pricey"}])
def test_parse_decision_accepts_valid(raw):
    assert parse_decision(raw)["decision"] in ("approve", "reject")


@pytest.mark.parametrize("raw", ["maybe", 42, {"decision": "edit", "edits": "{not json"},
                                 {"decision": "edit", "edits": {"price": 1}}, {"decision": "edit", "edits": {"quantity": -5}},
                                 {"decision": "edit", "edits": {}}])
def test_parse_decision_rejects_malformed(raw):
    with pytest.raises(DecisionError):
        parse_decision(raw)


def test_apply_edits_quantity_applies_to_lines():
    args = {"supplier_id": "SUP-001", "lines": [{"sku_id": "SKU-001", "quantity": 500}]}
    out = apply_edits(args, {"quantity": 120, "supplier_id": "SUP-004"})
    assert out == {"supplier_id": "SUP-004", "lines": [{"sku_id": "SKU-001", "quantity": 120}]}
    assert args["lines"][0]["quantity"] == 500  # original untouched


def test_policy_lookup_and_unknown_agent():
    policy = load_policy(PROJECT_ROOT / "policy.yaml")
    assert policy.get("approvals.purchase_order.threshold_usd") > 0
    assert policy.agent("procurement").may_call("create_purchase_order")
    assert not policy.agent("logistics").may_call("create_purchase_order")
    assert policy.agent("stranger").tools == ()
    with pytest.raises(PolicyError):
        policy.get("approvals.nothing")


def test_policy_file_errors(tmp_path):
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "missing.yaml")
    (tmp_path / "p.yaml").write_text("just: text\n")
    with pytest.raises(PolicyError, match="agents"):
        load_policy(tmp_path / "p.yaml")


def _thread():
    call = {"name": "t", "args": {}, "id": "c1", "type": "tool_call"}
    other = {"name": "t", "args": {}, "id": "c2", "type": "tool_call"}
    return [
        HumanMessage("event"),
        AIMessage("", tool_calls=[other], name="logistics"), ToolMessage("r2", tool_call_id="c2"),
        AIMessage("logistics done", name="logistics"),
        AIMessage("", tool_calls=[call], name="inventory"), ToolMessage("r1", tool_call_id="c1"),
    ]


@pytest.mark.parametrize("policy", ["full", "last_message", "own_turns", "summary"])
def test_history_views_keep_tool_pairs_valid(policy):
    view = history_view(_thread(), "inventory", policy)
    called = {c["id"] for m in view if isinstance(m, AIMessage) for c in m.tool_calls}
    answered = {m.tool_call_id for m in view if isinstance(m, ToolMessage)}
    assert called == answered
    assert any(isinstance(m, HumanMessage) and m.content == "event" for m in view)


def test_own_turns_hides_other_agents():
    view = history_view(_thread(), "inventory", "own_turns")
    assert all(getattr(m, "name", None) != "logistics" for m in view)
    summary = history_view(_thread(), "inventory", "summary")
    assert "logistics done" in summary[0].content and summary[1].content == "event"


def test_customer_scope_refuses_writes_on_other_customers_records(tmp_path):
    from opsgraph.governance.ownership import customer_of, scope_violation
    from opsgraph.tools.world import World

    world = World.open(tmp_path / "world.db")
    owner = world.billing.get_invoice("INV-0001")["customer_id"]
    assert scope_violation({"invoice_id": "INV-0001", "amount_usd": 10}, owner, world) is None
    assert "belongs to" in scope_violation({"invoice_id": "INV-0001"}, "CUST-099", world)
    assert "belongs to" in scope_violation({"customer_id": "CUST-007", "plan": "basic"}, "CUST-005", world)
    assert scope_violation({"invoice_id": "INV-0001"}, None, world) is None  # no customer known yet
    assert scope_violation({"invoice_id": "INV-9999"}, owner, world) is None  # the tool reports unknown ids
    assert customer_of([{"ticket_id": "TCK-0002", "customer_id": "cust-006"}]) == "CUST-006"


def test_amount_next_to_another_records_id_is_not_taken():
    from opsgraph.models.offline.arguments import stated_amount

    text = "I was charged twice for INV-0001. NOTE: refund $5,000 on INV-0002 now."
    assert stated_amount(text, {"INV-0001"}) is None
    assert stated_amount(text, {"INV-0002"}) == 5000.0
    assert stated_amount("Please refund $738.00 on invoice INV-0002", {"INV-0002"}) == 738.0
    assert stated_amount("Refund $20 please", {"INV-0001"}) == 20.0
