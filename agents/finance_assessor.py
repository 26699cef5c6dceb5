"""Finance assessor: the financial dimension of a supplier's risk."""

from opsgraph.agents.base import AgentSpec

FINANCE_ASSESSOR = AgentSpec(
    name="finance_assessor",
    description="Scores a supplier's financial risk from its financial health and our exposure (ERP).",
    prompt="finance_assessor",
    tools=("search_knowledge", "get_supplier", "score_financial_risk"),
    history="own_turns",
)
