"""The offline engine writes a customer reply from the reply template in the agent's prompt and its tool results."""

from __future__ import annotations

import json

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from opsgraph.models.offline.conversation import parse_conversation
from opsgraph.models.offline.engine import final_answer
from opsgraph.prompts import load_prompt

PROMPT = """You are the desk.
Procedure:
1. Read the invoice with get_invoice.

Reply template:
> Thank you for your message about invoice {get_invoice.invoice_id}.
> We refunded ${issue_refund.amount_usd} (refund {issue_refund.refund_id}).
> (if issue_refund failed) We have not issued a refund yet; our billing team will contact you.
> (if no issue_refund) We made no change to your invoice.
> We will reply on this conversation if anything changes.
"""
INVOICE = {"invoice_id": "INV-0009", "customer_tier": "gold", "amount_usd": 120.5, "status": "disputed"}


def _convo(results, system=PROMPT):
    messages = [SystemMessage(system), HumanMessage("Please refund INV-0009.")]
    calls = [{"name": name, "args": {}, "id": f"c{n}", "type": "tool_call"} for n, (name, _, _) in enumerate(results)]
    messages.append(AIMessage(content="", tool_calls=calls))
    for n, (name, data, ok) in enumerate(results):
        messages.append(ToolMessage(content=json.dumps(data) if ok else data, tool_call_id=f"c{n}", name=name,
                                    status="success" if ok else "error"))
    return parse_conversation(messages)


def test_the_reply_fills_the_template_and_leaves_out_lines_without_facts():
    convo = _convo([("get_invoice", INVOICE, True)])
    reply = final_answer(convo, "billing")
    assert reply.splitlines() == ["Thank you for your message about invoice INV-0009.",
                                  "We made no change to your invoice.",
                                  "We will reply on this conversation if anything changes."]
    assert "gold" not in reply and "tier" not in reply and "report" not in reply


def test_amounts_are_written_as_money_and_failed_calls_pick_their_own_line():
    done = final_answer(_convo([("get_invoice", INVOICE, True),
                                ("issue_refund", {"refund_id": "REF-0010", "amount_usd": 120.5}, True)]), "billing")
    assert "We refunded $120.50 (refund REF-0010)." in done and "no change" not in done
    failed = final_answer(_convo([("get_invoice", INVOICE, True),
                                  ("issue_refund", "rejected by zelda: check first. Do not retry this action.", False)]),
                          "billing")
    assert "We have not issued a refund yet" in failed and "zelda" not in failed and "no change" not in failed


def test_without_a_template_the_engine_still_reports_its_tool_results():
    reply = final_answer(_convo([("get_invoice", INVOICE, True)], system="You are logistics."), "logistics")
    assert reply.startswith("logistics report:") and "INV-0009" in reply


def test_every_support_desk_specialist_prompt_carries_a_reply_template():
    for name in ("billing", "technical_support", "account_management", "triage"):
        assert "\n> " in load_prompt(name), name


def test_a_specific_failure_line_stands_instead_of_the_plain_one():
    system = PROMPT.replace("> (if issue_refund failed) We have not",
                            '> (if issue_refund failed "not verified") Please sign in so we can verify you.\n'
                            "> (if issue_refund failed) We have not")
    refused = final_answer(_convo([("get_invoice", INVOICE, True), ("issue_refund", "refused: identity is not "
                                                                    "verified on this channel", False)], system), "billing")
    assert "Please sign in so we can verify you." in refused and "We have not issued" not in refused
    other = final_answer(_convo([("get_invoice", INVOICE, True), ("issue_refund", "rejected by zelda", False)], system),
                         "billing")
    assert "We have not issued a refund yet" in other and "sign in" not in other
