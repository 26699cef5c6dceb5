"""Customer communications: tell affected customers the new ETA."""

from opsgraph.agents.base import AgentSpec

CUSTOMER_COMMS = AgentSpec(
    name="customer_comms",
    description="Notifies customers whose orders are affected (CRM), with the new ETA, within the tier's notice window.",
    prompt="customer_comms",
    tools=("get_order", "get_customer", "notify_customers", "search_knowledge"),
)
