"""The offline engine decides from prompt, tool schemas and conversation; it never sees test names."""

from typing import Literal

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from opsgraph.models import load_chat_model
from opsgraph.models.offline.arguments import is_abbreviation


@tool
def get_ticket(ticket_id: str) -> dict:
    """Read a support ticket (subject, body, status)."""
    return {}


@tool
def issue_refund(invoice_id: str, amount_usd: float, reason: str) -> dict:
    """Refund part or all of an invoice."""
    return {}


@tool
def notify_customers(order_ids: list[str], new_eta: str) -> dict:
    """Notify the customers of the given orders about a new delivery date."""
    return {}


PROMPT = SystemMessage("You are billing.\nProcedure:\n1. Read the ticket with get_ticket.\n2. Refund the invoice with issue_refund.\n")


def _model():
    return load_chat_model("offline:small")


def test_follows_procedure_and_fills_ids_from_text():
    msg = _model().bind_tools([get_ticket, issue_refund]).invoke(
        [PROMPT, HumanMessage("Ticket TCK-0007: I was charged twice on INV-0042, please refund $120.50")]
    )
    assert [c["name"] for c in msg.tool_calls] == ["get_ticket"]
    assert msg.tool_calls[0]["args"] == {"ticket_id": "TCK-0007"}
    assert msg.tool_calls[0]["id"].startswith("call_")


def test_second_round_uses_money_and_prose_then_answers():
    history = [PROMPT, HumanMessage("Ticket TCK-0007: charged twice on INV-0042, refund $120.50")]
    first = _model().bind_tools([get_ticket, issue_refund]).invoke(history)
    history += [first, ToolMessage('{"ticket_id": "TCK-0007", "status": "open"}', tool_call_id=first.tool_calls[0]["id"])]
    second = _model().bind_tools([get_ticket, issue_refund]).invoke(history)
    call = second.tool_calls[0]
    assert call["name"] == "issue_refund"
    assert call["args"]["invoice_id"] == "INV-0042" and call["args"]["amount_usd"] == 120.50
    assert "charged twice" in call["args"]["reason"]
    history += [second, ToolMessage('{"refund_id": "RF-1", "amount_usd": 120.5}', tool_call_id=call["id"])]
    third = _model().bind_tools([get_ticket, issue_refund]).invoke(history)
    assert not third.tool_calls and "refund_id=RF-1" in third.content


def test_unfillable_required_argument_means_no_call():
    msg = _model().bind_tools([get_ticket]).invoke([PROMPT, HumanMessage("Please look at my ticket")])
    assert msg.tool_calls == [] and msg.content


def test_list_of_ids_collected_from_latest_result():
    prompt = SystemMessage("Procedure:\n1. Notify customers of the affected orders with notify_customers.\n")
    prior = AIMessage("", tool_calls=[{"name": "find", "args": {}, "id": "c1", "type": "tool_call"}])
    result = ToolMessage('{"new_eta": "2026-03-09", "affected_orders": [{"order_id": "SO-0001"}, {"order_id": "SO-0009"}]}',
                         tool_call_id="c1")
    msg = _model().bind_tools([notify_customers]).invoke([prompt, HumanMessage("SH-0001 late"), prior, result])
    assert msg.tool_calls[0]["args"] == {"order_ids": ["SO-0001", "SO-0009"], "new_eta": "2026-03-09"}


def test_usage_metadata_is_estimated_and_grows_with_input():
    short = _model().invoke([HumanMessage("hi")]).usage_metadata
    long = _model().invoke([HumanMessage("hi " * 500)]).usage_metadata
    assert short["input_tokens"] < long["input_tokens"]
    assert long["total_tokens"] == long["input_tokens"] + long["output_tokens"]


class Route(BaseModel):
    next: Literal["logistics", "inventory", "FINISH"] = Field(description="next worker")
    reason: str


SUPERVISOR = SystemMessage("Workers:\n- logistics: a shipment is delayed\n- inventory: orders are affected\n- FINISH: done\n")


def test_structured_choice_follows_prompt_and_skips_speakers():
    model = _model().with_structured_output(Route)
    first = model.invoke([SUPERVISOR, HumanMessage("Shipment SH-0001 is delayed by 3 days")])
    assert first.next == "logistics"
    done = AIMessage("logistics report: recorded", name="logistics")
    second = model.invoke([SUPERVISOR, HumanMessage("Shipment SH-0001 is delayed by 3 days"), done])
    assert second.next == "FINISH"


def test_negated_evidence_does_not_trigger_an_option():
    model = _model().with_structured_output(Route)
    report = AIMessage("logistics report:\n- find: affected_orders: none", name="logistics")
    out = model.invoke([SUPERVISOR, HumanMessage("Shipment SH-0001 is delayed"), report])
    assert out.next == "FINISH"
    report = AIMessage("logistics report:\n- find: affected_orders: 2 (SO-0001, SO-0002)", name="logistics")
    out = model.invoke([SUPERVISOR, HumanMessage("Shipment SH-0001 is delayed"), report])
    assert out.next == "inventory"


def test_structured_include_raw_carries_usage():
    out = _model().with_structured_output(Route, include_raw=True).invoke([SUPERVISOR, HumanMessage("x")])
    assert out["parsed"].next in ("logistics", "inventory", "FINISH")
    assert out["raw"].usage_metadata["input_tokens"] > 0


def test_deterministic():
    msgs = [PROMPT, HumanMessage("Ticket TCK-0003 about INV-0001")]
    a = _model().bind_tools([get_ticket, issue_refund]).invoke(msgs)
    b = _model().bind_tools([get_ticket, issue_refund]).invoke(msgs)
    assert a.tool_calls == b.tool_calls


def test_abbreviation_reading():
    assert is_abbreviation("SH", "shipment") and is_abbreviation("TCK", "ticket")
    assert is_abbreviation("SUP", "supplier") and not is_abbreviation("SO", "shipment")
