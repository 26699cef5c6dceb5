"""Procurement: purchase orders that cover what transfers cannot."""

from opsgraph.agents.base import AgentSpec

PROCUREMENT = AgentSpec(
    name="procurement",
    description="Raises expedite or alternate-supplier purchase orders in the ERP for shortfalls transfers cannot cover.",
    prompt="procurement",
    tools=("search_knowledge", "recall_memory", "list_suppliers", "get_supplier", "get_budget", "create_purchase_order"),
)
