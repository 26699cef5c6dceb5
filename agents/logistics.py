"""Logistics: the carrier side of a late shipment."""

from opsgraph.agents.base import AgentSpec

LOGISTICS = AgentSpec(
    name="logistics",
    description="Assesses the delayed shipment with the carrier (TMS): records the delay, new ETA and reroute options.",
    prompt="logistics",
    tools=("get_shipment", "report_shipment_delay", "get_reroute_options", "search_knowledge"),
)
