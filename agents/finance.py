"""Finance: a checker of procurement review; budget, single-order ceiling, approval threshold."""

from opsgraph.agents.base import AgentSpec

FINANCE = AgentSpec(
    name="finance",
    description="Checks a proposed purchase order against the budget and finance policy and gives a typed verdict.",
    prompt="finance",
    tools=("search_knowledge", "get_budget", "quote_purchase_order", "check_po_budget"),
    history="own_turns",
)
