"""Retail triage: authenticates the customer and hands the request to the team that owns it."""

from opsgraph.agents.base import AgentSpec

RETAIL_TRIAGE = AgentSpec(
    name="retail_triage",
    description=("first contact of the retail desk: authenticates the customer and hands the "
                 "request to the team that owns it"),
    prompt="retail_triage",
    tools=("find_user_id_by_email", "find_user_id_by_name_zip", "get_user_details", "get_order_details",
           "transfer_to_human_agents"),
    handoffs=("retail_orders", "retail_returns", "retail_account"),
)
