"""Contract extractor: reads a supplier agreement and pulls out its commercial terms."""

from opsgraph.agents.base import AgentSpec

CONTRACT_EXTRACTOR = AgentSpec(
    name="contract_extractor",
    description="Reads a supplier contract from the contract repository and extracts its commercial terms.",
    prompt="contract_extractor",
    tools=("read_contract", "extract_contract_terms"),
)
