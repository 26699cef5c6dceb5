"""The graphs served by a real ``langgraph dev`` (LangGraph Server, in-memory runtime), driven
through ``langgraph_sdk``: the server's own checkpointer, services built inside the server from
its settings, approvals answered with a LangGraph ``Command`` resume.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opsgraph import context as context_module
from opsgraph.context import ServerContext, open_world, resolve_context
from opsgraph.server import support_desk
from tests.conftest import make_settings
from tests.support.langgraph_server import langgraph_dev

EVENT = {"shipment_id": "SH-0001", "delay_days": 5, "description": "Inbound shipment SH-0001 is delayed by 5 days."}
SYNC_401 = "Since I changed my password yesterday, our inventory sync fails with error 401 unauthorized. Ticket TCK-0002."
FOLLOW_UP = "I re-authenticated as you said but the sync still fails with error 401. What now?"


def test_served_graphs_take_json_context_and_build_services_from_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSGRAPH_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(context_module, "_server_services", context_module._ServerServices())  # a fresh process
    graph = support_desk()
    assert graph.context_schema is ServerContext
    assert set(graph.get_context_jsonschema()["properties"]) == {"routing"}
    ctx = resolve_context(ServerContext(routing="small"))
    assert ctx.gateway.routing == "small" and ctx.settings.data_home == tmp_path / "home"
    assert resolve_context({"routing": "small"}) is ctx  # built once per server process and routing


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    sdk = pytest.importorskip("langgraph_sdk", reason="langgraph-sdk is not installed")
    root = tmp_path_factory.mktemp("lgserver")
    with langgraph_dev(root / "app", root / "home") as url:
        yield sdk.get_sync_client(url=url), root / "home"


def _interrupts(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [i["value"] for i in state.get("interrupts") or []]


@pytest.mark.slow
def test_supply_chain_waits_for_po_approval_and_approve_creates_the_po(server):
    client, home = server
    thread = client.threads.create()["thread_id"]
    client.runs.wait(thread, "supply_chain_exception", input={"event": EVENT})
    state = client.threads.get_state(thread)
    assert state["next"] and not state["values"].get("report")
    [pending] = _interrupts(state)
    assert pending["type"] == "approval" and pending["kind"] == "purchase_order"
    assert pending["tool"] == "create_purchase_order" and pending["amount_usd"] > pending["threshold_usd"]
    world = open_world(make_settings(home))
    before = world.erp.list_purchase_orders()["count"]

    # The decision format the CLI sends with --approve.
    client.runs.wait(thread, "supply_chain_exception",
                     command={"resume": {"decision": "approve", "reason": "expedite", "by": "alice"}})
    final = client.threads.get_state(thread)
    assert not final["next"] and not _interrupts(final)
    report = final["values"]["report"]
    [po] = [p for p in report["purchase_orders"] if p["status"] != "rejected"]
    assert po["po_id"] and po["approved_by"] == "alice"
    stored = world.erp.get_purchase_order(po["po_id"])
    assert stored["approved_by"] == "alice" and stored["supplier_id"] == pending["args"]["supplier_id"]
    assert world.erp.list_purchase_orders()["count"] == before + 1
    assert report["approvals"][0]["decision"] == "approve" and report["approvals"][0]["by"] == "alice"
    assert final["values"]["visited"] == ["logistics", "inventory", "procurement", "customer_comms"]


@pytest.mark.slow
def test_support_desk_conversation_of_two_messages_on_one_thread(server):
    client, home = server
    thread = client.threads.create()["thread_id"]
    first = {"messages": [{"role": "user", "content": SYNC_401}], "customer_id": "CUST-006"}
    client.runs.wait(thread, "support_desk", input=first)
    state = client.threads.get_state(thread)["values"]
    assert state["report"]["route"] == ["triage", "technical_support"]
    assert "[technical_support/sync-error-401.md" in state["report"]["reply"]
    calls_before = len(state["calls"])

    client.runs.wait(thread, "support_desk", input={"messages": [{"role": "user", "content": FOLLOW_UP}]})
    state = client.threads.get_state(thread)["values"]
    # The second message goes straight to the specialist holding the conversation.
    assert state["report"]["route"] == ["technical_support"]
    assert {c["agent"] for c in state["calls"][calls_before:]} == {"technical_support"}
    assert state["visited"] == ["triage", "technical_support", "technical_support"]
    humans = [m["content"] for m in state["messages"] if m["type"] == "human"]
    assert humans[0] == SYNC_401 and humans[-1] == FOLLOW_UP
    ticket = open_world(make_settings(home)).crm.get_ticket("TCK-0002")
    assert len(ticket["notes"]) == 2  # one note per answered message, written by the server's run


@pytest.mark.slow
@pytest.mark.parametrize("graph_id, graph_input", [
    ("invoice_match", {"subject_id": "VINV-0001"}),  # declared only in YAML
    ("demand_sensing", {"sku_id": "SKU-004"}),         # blackboard: parallel board agents
])
def test_yaml_and_fan_out_graphs_run_on_the_server(server, graph_id, graph_input):
    client, _ = server
    thread = client.threads.create()["thread_id"]
    client.runs.wait(thread, graph_id, input=graph_input)
    state = client.threads.get_state(thread)
    report = state["values"].get("report") or {}
    # Ends with its report, or waits for a person at an approval: never a server error.
    assert report or _interrupts(state), state
    assert state["values"]["visited"], state["values"]
