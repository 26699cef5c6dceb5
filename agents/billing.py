"""Billing: invoices, payments, refunds and billing disputes."""

from opsgraph.agents.base import AgentSpec

BILLING = AgentSpec(
    name="billing",
    description="invoices, payments, refunds, duplicate charges and billing disputes",
    prompt="billing",
    tools=("get_invoice", "list_invoices", "issue_refund", "get_ticket", "update_ticket", "get_customer",
           "search_knowledge"),
    handoffs=("technical_support", "account_management"),
)
