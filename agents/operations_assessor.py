"""Operations assessor: the operational dimension of a supplier's risk."""

from opsgraph.agents.base import AgentSpec

OPERATIONS_ASSESSOR = AgentSpec(
    name="operations_assessor",
    description="Scores a supplier's operational risk from its delivery and quality history (ERP).",
    prompt="operations_assessor",
    tools=("search_knowledge", "get_supplier", "score_operational_risk"),
    history="own_turns",
)
