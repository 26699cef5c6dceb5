"""Compliance: a checker of procurement review; approved suppliers, ESG, reliability, competitive bids."""

from opsgraph.agents.base import AgentSpec

COMPLIANCE = AgentSpec(
    name="compliance",
    description="Checks a proposed purchase order against procurement policy and gives a typed verdict.",
    prompt="compliance",
    tools=("search_knowledge", "get_supplier", "check_po_compliance"),
    history="own_turns",
)
