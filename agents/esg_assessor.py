"""ESG assessor: the environmental, social and governance dimension of a supplier's risk."""

from opsgraph.agents.base import AgentSpec

ESG_ASSESSOR = AgentSpec(
    name="esg_assessor",
    description="Scores a supplier's ESG risk from its vendor ESG score against the policy minimum (ERP).",
    prompt="esg_assessor",
    tools=("search_knowledge", "get_supplier", "score_esg_risk"),
    history="own_turns",
)
