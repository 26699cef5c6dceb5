"""Offline engine: steps offering several tools, conditional steps, data in the request, stated values.

Like tests/test_offline_engine.py, every decision here comes from the prompt, the bound tool
schemas and the conversation; nothing names a graph, an agent or a case.
"""

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from opsgraph.models import load_chat_model


@tool
def transfer_to_billing(reason: str = "") -> str:
    """Transfer the customer to the billing team, who handle invoices, payments, refunds and duplicate charges."""
    return ""


@tool
def transfer_to_technical_support(reason: str = "") -> str:
    """Transfer the customer to the technical support team, who handle sync errors, login problems and API errors."""
    return ""


@tool
def refund(invoice_id: str, amount_usd: float, reason: str) -> dict:
    """Refund part or all of an invoice."""
    return {}


@tool
def get_invoice(invoice_id: str) -> dict:
    """Read an invoice."""
    return {}


STATUS_SCHEMA = {"type": "function", "function": {"name": "set_status", "description": "Set a ticket's status.",
                 "parameters": {"type": "object", "required": ["ticket_id", "status", "note"], "properties": {
                     "ticket_id": {"type": "string", "description": "Ticket id, e.g. TCK-0001."},
                     "status": {"type": "string", "enum": ["open", "pending", "resolved"]},
                     "note": {"type": "string"}}}}}
PLAN_SCHEMA = {"type": "function", "function": {"name": "change_plan", "description": "Change a customer's plan.",
               "parameters": {"type": "object", "required": ["customer_id", "plan"], "properties": {
                   "customer_id": {"type": "string", "description": "Customer id, e.g. CUST-001."},
                   "plan": {"type": "string", "enum": ["basic", "pro", "enterprise"]}}}}}
DRAFT_SCHEMA = {"type": "function", "function": {"name": "draft", "description": "Draft an order for a request.",
                "parameters": {"type": "object", "required": ["request"], "properties": {
                    "request": {"type": "object", "properties": {"sku_id": {"type": "string"},
                                                                 "quantity": {"type": "integer"}}}}}}}


def _model():
    return load_chat_model("offline:small")


def _route(request: str) -> list[str]:
    prompt = SystemMessage("Procedure:\n1. Hand over with transfer_to_billing or transfer_to_technical_support.\n")
    message = _model().bind_tools([transfer_to_billing, transfer_to_technical_support]).invoke(
        [prompt, HumanMessage(request)])
    return [c["name"] for c in message.tool_calls]


def test_a_step_naming_several_tools_picks_the_one_the_request_supports():
    assert _route("I was charged twice on invoice INV-0042, please refund the duplicate charge") == ["transfer_to_billing"]
    assert _route("Our sync fails with error 401 since the password change") == ["transfer_to_technical_support"]


def test_a_step_offering_tools_the_request_does_not_support_is_skipped():
    assert _route("Hello there") == []


def test_conditional_step_runs_only_when_the_conversation_supports_it():
    prompt = SystemMessage("Procedure:\n1. Read the invoice with get_invoice.\n"
                           "2. If a refund is requested, refund it with refund.\n")
    bound = _model().bind_tools([get_invoice, refund])
    for text, expected in (("Please refund the duplicate charge on INV-0042", ["refund"]),
                           ("When is INV-0042 due?", [])):
        history = [prompt, HumanMessage(text)]
        first = bound.invoke(history)
        history += [first, ToolMessage('{"invoice_id": "INV-0042", "amount_usd": 120.5}',
                                       tool_call_id=first.tool_calls[0]["id"])]
        assert [c["name"] for c in bound.invoke(history).tool_calls] == expected


def test_amount_written_in_request_beats_amounts_in_records_and_recorded_prose_is_reused():
    prompt = SystemMessage("Procedure:\n1. Read the invoice with get_invoice.\n2. Refund the invoice with refund.\n")
    history = [prompt, HumanMessage("Please refund $738.00 of INV-0002 for the damaged boxes")]
    first = _model().bind_tools([get_invoice, refund]).invoke(history)
    record = '{"invoice_id": "INV-0002", "amount_usd": 2460.0, "dispute_reason": "12 of 40 boxes arrived damaged"}'
    history += [first, ToolMessage(record, tool_call_id=first.tool_calls[0]["id"])]
    call = _model().bind_tools([get_invoice, refund]).invoke(history).tool_calls[0]
    assert call["args"] == {"invoice_id": "INV-0002", "amount_usd": 738.0, "reason": "12 of 40 boxes arrived damaged"}


def test_enum_named_in_the_step_wins_and_a_destination_breaks_ties():
    prompt = SystemMessage("Procedure:\n1. Record the fix on the ticket with set_status, status pending.\n")
    call = _model().bind_tools([STATUS_SCHEMA]).invoke([prompt, HumanMessage("Ticket TCK-0002: please help")])
    assert call.tool_calls[0]["args"]["status"] == "pending"
    prompt = SystemMessage("Procedure:\n1. Change the plan with change_plan.\n")
    call = _model().bind_tools([PLAN_SCHEMA]).invoke(
        [prompt, HumanMessage("CUST-007 wants to move from the pro plan to the enterprise plan")])
    assert call.tool_calls[0]["args"] == {"customer_id": "CUST-007", "plan": "enterprise"}


def test_json_in_the_latest_request_fills_structured_arguments():
    prompt = SystemMessage("Procedure:\n1. Draft the order with draft.\n")
    old = HumanMessage('First ask:\n{"request": {"sku_id": "SKU-001", "quantity": 5}}')
    reply = AIMessage("noted", name="buyer")
    latest = HumanMessage('Revised ask:\n{"request": {"sku_id": "SKU-001", "quantity": 7}}')
    call = _model().bind_tools([DRAFT_SCHEMA]).invoke([prompt, old, reply, latest]).tool_calls
    assert call == [{"name": "draft", "args": {"request": {"sku_id": "SKU-001", "quantity": 7}},
                     "id": call[0]["id"], "type": "tool_call"}]


HANDBACK_PROMPT = SystemMessage(
    "Procedure:\n1. Read the invoice with get_invoice.\n"
    "2. If a sync error is reported, hand the customer to technical support with transfer_to_technical_support.\n")
MIXED_REQUEST = HumanMessage("Our sync error 401 keeps coming back and invoice INV-0001 was charged twice.")


def _after_invoice(previous_speaker: str | None) -> list[str]:
    """The second round of an agent whose first round read the invoice; optionally another agent spoke first."""
    earlier = [AIMessage("", name=previous_speaker, tool_calls=[
        {"name": "transfer_to_billing", "args": {"reason": "invoice"}, "id": "h1"}]),
        ToolMessage("Transferred to billing.", tool_call_id="h1")] if previous_speaker else []
    read = [AIMessage("", name="billing", tool_calls=[{"name": "get_invoice", "args": {"invoice_id": "INV-0001"},
                                                      "id": "c1"}]),
            ToolMessage('{"invoice_id": "INV-0001"}', tool_call_id="c1")]
    model = _model().bind_tools([get_invoice, transfer_to_billing, transfer_to_technical_support])
    message = model.invoke([HANDBACK_PROMPT, MIXED_REQUEST, *earlier, *read])
    return [c["name"] for c in message.tool_calls]


def test_conditional_handoff_step_hands_on_the_other_part_of_a_request():
    assert _after_invoice(None) == ["transfer_to_technical_support"]


def test_no_handoff_back_to_an_agent_that_already_worked_on_the_request():
    # technical support handled the request first and handed it over: handing it back would bounce
    assert _after_invoice("technical_support") == []
