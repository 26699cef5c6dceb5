"""Triage: reads a customer's request and hands it to the team that owns it."""

from opsgraph.agents.base import AgentSpec

TRIAGE = AgentSpec(
    name="triage",
    description="first contact of the support desk: works out which team owns a customer request and hands it over",
    prompt="triage",
    tools=("get_ticket", "get_customer"),
    history="last_message",
    handoffs=("billing", "technical_support", "account_management"),
)
