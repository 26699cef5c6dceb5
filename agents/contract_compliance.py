"""Contract compliance: compares extracted terms with our standard contract terms."""

from opsgraph.agents.base import AgentSpec

CONTRACT_COMPLIANCE = AgentSpec(
    name="contract_compliance",
    description="Checks a contract's validated terms against the standard contract terms and lists each deviation.",
    prompt="contract_compliance",
    tools=("search_knowledge", "check_contract_terms"),
)
