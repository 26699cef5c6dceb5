"""Technical support: troubleshooting from the knowledge base, ticket updates."""

from opsgraph.agents.base import AgentSpec

TECHNICAL_SUPPORT = AgentSpec(
    name="technical_support",
    description="error messages, failing syncs, webhooks and integrations, passwords and login problems, and API errors",
    prompt="technical_support",
    tools=("get_ticket", "update_ticket", "get_customer", "search_knowledge"),
    handoffs=("billing", "account_management"),
)
