"""The support desk's reply is a message to the customer, and the desk does what the customer asked (no more).

End to end on the offline engine with the knowledge layer, a real SQLite checkpointer and the
seeded mock enterprise; assertions on the reply, the billing system and the audit trail.
"""

from __future__ import annotations

import pytest

GRAPH = "support_desk"
# Field names and raw-dump marks a customer must never see; the customer's tier value is added per test.
INTERNAL = ("customer_tier", "customer_plan", "report:", "_usd", "=", "get_invoice", "update_ticket")


def _run(runner, message: str, thread: str, customer: str | None = None):
    """A desk conversation; ``customer`` is the identity the channel verified (writes need one)."""
    options = {"message": message, "customer": customer}
    return runner.start(GRAPH, runner.make_input(GRAPH, options), thread_id=thread)


def _assert_customer_facing(reply: str, runner, customer: str) -> None:
    assert reply.strip(), "no reply"
    tier = runner.context.world.crm.get_customer(customer)["tier"]
    shown = [word for word in (*INTERNAL, f" {tier}") if word in reply]
    assert not shown, f"internal fields in the reply: {shown}\n{reply}"


def test_refund_reply_says_what_was_done_and_what_happens_next(kb_runner):
    done = _run(kb_runner, "I was charged twice for invoice INV-0001 and would like the duplicate charge refunded. "
                           "Ticket TCK-0001.", "reply-refund", "CUST-005")
    reply = done.report["reply"]
    _assert_customer_facing(reply, kb_runner, "CUST-005")
    [refund] = kb_runner.context.world.billing.get_invoice("INV-0001")["refunds"]
    for fact in ("$189.00", refund["refund_id"], "INV-0001", "5 to 10 business days", "TCK-0001 is now resolved",
                 "[finance/refund-policy.md"):
        assert fact in reply, (fact, reply)
    assert "Summary report" not in "\n".join(done.report["summary"])


@pytest.mark.parametrize("message", [
    "We don't want a refund, just explain the two charges on invoice INV-0001. Ticket TCK-0001.",
    "No need to refund anything; please explain the two charges on invoice INV-0001.",
    "We won't ask for a refund, but we would like to understand the charges on invoice INV-0001.",
])
def test_a_customer_who_declines_a_refund_gets_an_explanation_and_no_refund(kb_runner, message):
    done = _run(kb_runner, message, "reply-explain")
    assert done.status == "completed" and done.report["route"] == ["triage", "billing"]
    assert kb_runner.context.world.billing.get_invoice("INV-0001")["refunds"] == []
    assert not [e for e in kb_runner.context.audit.events("reply-explain", "tool_call") if e.name == "issue_refund"]
    reply = done.report["reply"]
    _assert_customer_facing(reply, kb_runner, "CUST-005")
    assert "$189.00" in reply and "$378.00" in reply and "made no change" in reply


def test_lower_case_ids_in_a_message_reach_the_right_records(kb_runner):
    done = _run(kb_runner, "I was charged twice for invoice inv-0001 and would like the duplicate charge refunded. "
                           "Ticket tck-0001.", "reply-lower", "CUST-005")
    [refund] = kb_runner.context.world.billing.get_invoice("INV-0001")["refunds"]
    assert refund["amount_usd"] == 189.0
    assert kb_runner.context.world.crm.get_ticket("TCK-0001")["status"] == "resolved"
    assert refund["refund_id"] in done.report["reply"]


def test_plan_change_reply_states_the_plans_and_the_date_without_the_tier(kb_runner):
    done = _run(kb_runner, "Please upgrade us from the pro plan to the enterprise plan. Ticket TCK-0003.", "reply-plan", "CUST-007")
    reply = done.report["reply"]
    _assert_customer_facing(reply, kb_runner, "CUST-007")
    change = done.report["plan_changes"][0]
    assert f"from pro to enterprise, effective {change['effective_date']}" in reply
