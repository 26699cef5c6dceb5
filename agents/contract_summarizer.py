"""Contract summarizer: the approver's summary, with the risks that need attention."""

from opsgraph.agents.base import AgentSpec

CONTRACT_SUMMARIZER = AgentSpec(
    name="contract_summarizer",
    description="Summarises a reviewed contract for approvers: recommendation, flagged risks, rationale.",
    prompt="contract_summarizer",
    tools=(),
)
