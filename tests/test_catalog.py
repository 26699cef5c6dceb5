"""LangChain tools over the connectors: names, schemas, injected keys, errors, JSON results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ValidationError

from opsgraph.tools.catalog import build_tools
from opsgraph.tools.connectors.base import ConnectorError, NotFound
from opsgraph.tools.world import World

EXPECTED = {
    "get_shipment", "report_shipment_delay", "get_reroute_options", "book_reroute", "check_stock",
    "find_affected_orders", "plan_replenishment", "transfer_stock", "list_suppliers", "get_supplier", "get_budget",
    "quote_purchase_order", "create_purchase_order", "get_purchase_order", "get_customer", "get_order", "list_orders",
    "change_plan", "get_ticket", "create_ticket", "update_ticket", "get_invoice", "list_invoices", "issue_refund",
    "notify_customers", "send_message",
}
WRITES = {"report_shipment_delay", "book_reroute", "transfer_stock", "create_purchase_order", "change_plan",
          "create_ticket", "update_ticket", "issue_refund", "notify_customers", "send_message"}
READ_CALLS = {
    "get_shipment": {"shipment_id": "SH-0001"}, "get_reroute_options": {"shipment_id": "SH-0002"},
    "check_stock": {"sku_id": "SKU-001"}, "find_affected_orders": {"shipment_id": "SH-0001"},
    "plan_replenishment": {"shipment_id": "SH-0001"}, "list_suppliers": {"sku_id": "SKU-003"},
    "get_supplier": {"supplier_id": "SUP-017"}, "get_budget": {},
    "quote_purchase_order": {"supplier_id": "SUP-001", "dc_id": "DC-EAST", "lines": [{"sku_id": "SKU-001", "quantity": 5}]},
    "get_purchase_order": {"po_id": "PO-00001"}, "get_customer": {"customer_id": "CUST-001"},
    "get_order": {"order_id": "SO-0001"}, "list_orders": {"customer_id": "CUST-005"},
    "get_ticket": {"ticket_id": "TCK-0002"}, "get_invoice": {"invoice_id": "INV-0002"},
    "list_invoices": {"customer_id": "CUST-008"},
}


@pytest.fixture
def world(tmp_path: Path):
    w = World.open(tmp_path / "world.db")
    yield w
    w.close()


@pytest.fixture
def tools(world: World):
    return build_tools(world)


def test_tool_names_and_metadata(tools: dict) -> None:
    assert set(tools) == EXPECTED
    for name, tool in tools.items():
        assert tool.metadata["writes"] is (name in WRITES), name
        assert tool.metadata["system"] in {"erp", "wms", "tms", "crm", "billing", "notifications"}
        assert len(tool.description) > 80, name
    assert tools["create_purchase_order"].metadata["approval"] == "purchase_order"
    assert tools["issue_refund"].metadata["approval"] == "refund"
    assert tools["transfer_stock"].metadata["system"] == "wms" and tools["get_invoice"].metadata["system"] == "billing"


def test_injected_arguments_are_hidden_from_the_model(tools: dict) -> None:
    for name, tool in tools.items():
        visible = set(tool.tool_call_schema.model_json_schema()["properties"])
        openai = convert_to_openai_tool(tool)["function"]["parameters"]
        assert "idempotency_key" not in visible and "idempotency_key" not in openai.get("properties", {}), name
        assert "approved_by" not in visible and "approved_by" not in openai.get("properties", {}), name
        assert ("idempotency_key" in tool.args_schema.model_fields) is (name in WRITES), name
    assert "approved_by" in tools["create_purchase_order"].args_schema.model_fields


def test_every_visible_argument_has_a_description(tools: dict) -> None:
    def check(schema: dict, where: str) -> None:
        for prop, spec in schema.get("properties", {}).items():
            assert spec.get("description"), f"{where}.{prop}"
            if spec.get("type") == "array" and spec["items"].get("type") == "object":
                check(spec["items"], f"{where}.{prop}[]")

    for name, tool in tools.items():
        check(convert_to_openai_tool(tool)["function"]["parameters"], name)


def test_argument_names_match_result_keys(tools: dict) -> None:
    """A proposal from one tool feeds the next without renaming (what the offline engine relies on)."""
    tools["report_shipment_delay"].invoke({"shipment_id": "SH-0001", "delay_days": 5, "reason": "strike",
                                           "idempotency_key": "k1"})
    plan = tools["plan_replenishment"].invoke({"shipment_id": "SH-0001"})
    po_required = convert_to_openai_tool(tools["create_purchase_order"])["function"]["parameters"]["required"]
    assert set(po_required) <= set(plan["purchase_orders"][0])
    impact = tools["find_affected_orders"].invoke({"shipment_id": "SH-0001"})
    assert {"order_ids", "new_eta"} <= set(impact) and "transfers" in plan


def test_read_tools_return_json_serialisable_dicts(tools: dict) -> None:
    for name, args in READ_CALLS.items():
        result = tools[name].invoke(args)
        assert isinstance(result, dict), name
        assert json.loads(json.dumps(result)) == result, name


def test_write_tool_with_injected_key_is_idempotent(tools: dict, world: World) -> None:
    args = {"shipment_id": "SH-0002", "delay_days": 5, "reason": "customs hold", "idempotency_key": "thread-1:delay"}
    first = tools["report_shipment_delay"].invoke(args)
    again = tools["report_shipment_delay"].invoke(args)
    assert first["new_eta"] == again["new_eta"] == "2026-03-10" and again["replayed"] is True
    assert world.tms.get_shipment("SH-0002")["total_delay_days"] == 5
    with pytest.raises(ValidationError, match="idempotency_key"):
        tools["report_shipment_delay"].invoke({k: v for k, v in args.items() if k != "idempotency_key"})


def test_create_purchase_order_from_plan_with_approval_via_tool_call(tools: dict, world: World) -> None:
    tools["report_shipment_delay"].invoke({"shipment_id": "SH-0001", "delay_days": 5, "reason": "strike",
                                           "idempotency_key": "k1"})
    po = tools["plan_replenishment"].invoke({"shipment_id": "SH-0001"})["purchase_orders"][0]
    args = {k: po[k] for k in ("supplier_id", "dc_id", "lines", "justification", "expedite")}
    call = {"type": "tool_call", "id": "call-1", "name": "create_purchase_order",
            "args": {**args, "idempotency_key": "k2", "approved_by": "ops.manager"}}
    message = tools["create_purchase_order"].invoke(call)
    assert isinstance(message, ToolMessage)
    result = json.loads(message.content)
    assert result["total_usd"] == 42380.00 and result["cost_center"] == "CC-OPS"
    assert world.show("purchase_order", result["po_id"])["approved_by"] == "ops.manager"


def test_bad_arguments_raise_and_write_nothing(tools: dict, world: World) -> None:
    before = world.counts()
    with pytest.raises(NotFound, match="unknown shipment 'SH-9999'"):
        tools["get_shipment"].invoke({"shipment_id": "SH-9999"})
    with pytest.raises(ValidationError, match="quantity"):
        tools["transfer_stock"].invoke({"transfers": [{"sku_id": "SKU-005", "from_dc_id": "DC-EAST",
                                                       "to_dc_id": "DC-CENTRAL", "quantity": -3}], "idempotency_key": "t"})
    with pytest.raises(ValidationError, match="delay_days"):
        tools["report_shipment_delay"].invoke({"shipment_id": "SH-0001", "delay_days": "five", "reason": "x",
                                               "idempotency_key": "d"})
    with pytest.raises(ConnectorError, match="unknown sku 'SKU-999'"):
        tools["create_purchase_order"].invoke({"supplier_id": "SUP-001", "dc_id": "DC-EAST", "justification": "x",
                                               "lines": [{"sku_id": "SKU-999", "quantity": 1}], "idempotency_key": "p"})
    with pytest.raises(ValidationError, match="new_eta"):
        tools["notify_customers"].invoke({"order_ids": ["SO-0001"], "new_eta": "next week", "idempotency_key": "n"})
    assert world.counts() == before
    assert world.tms.get_shipment("SH-0001")["status"] == "in_transit"


def test_support_tools_end_to_end(tools: dict, world: World) -> None:
    invoice = tools["get_invoice"].invoke({"invoice_id": "INV-0001"})
    refund = tools["issue_refund"].invoke({"invoice_id": invoice["invoice_id"], "amount_usd": invoice["amount_usd"],
                                           "reason": "duplicate charge", "idempotency_key": "r1"})
    assert refund["amount_usd"] == 189.0 and refund["approved_by"] is None
    tools["update_ticket"].invoke({"ticket_id": "TCK-0001", "status": "resolved", "note": "Refunded $189.00.",
                                   "idempotency_key": "u1"})
    sent = tools["send_message"].invoke({"customer_id": "CUST-005", "subject": "Refund issued",
                                         "body": "We refunded the duplicate charge.", "idempotency_key": "m1"})
    assert world.show("message", sent["outbox_id"])["customer_id"] == "CUST-005"
    assert world.show("ticket", "TCK-0001")["status"] == "resolved"
    assert tools["change_plan"].invoke({"customer_id": "CUST-007", "plan": "enterprise",
                                        "idempotency_key": "c1"})["new_plan"] == "enterprise"
