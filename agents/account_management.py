"""Account management: plan changes and the customer's account."""

from opsgraph.agents.base import AgentSpec

ACCOUNT_MANAGEMENT = AgentSpec(
    name="account_management",
    description="plan upgrades and downgrades, subscription changes, service tiers and account users",
    prompt="account_management",
    tools=("get_ticket", "get_customer", "change_plan", "update_ticket", "list_orders", "search_knowledge"),
    handoffs=("billing", "technical_support"),
)
