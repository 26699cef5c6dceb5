"""Production planner: the market's orchestrator. Not a model: it applies the event, announces the jobs,
awards them by the policy's rules and writes the awards to the MES."""

from opsgraph.agents.base import AgentSpec

PRODUCTION_PLANNER = AgentSpec(
    name="production_planner",
    description="Applies a plant event, announces the displaced jobs for bids, awards them by policy and "
                "writes the new schedule (MES).",
    prompt="work_centre",  # never asked: the planner's decisions are code
    tools=("record_downtime", "report_shipment_delay", "find_affected_jobs", "get_job", "assign_job", "check_materials"),
)
