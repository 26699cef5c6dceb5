"""Replenishment planner: purchase orders for DCs below their reorder point, through procurement's approval rules."""

from opsgraph.agents.base import AgentSpec

REPLENISHMENT_PLANNER = AgentSpec(
    name="replenishment_planner",
    description="Proposes and raises purchase orders from the board's safety stock; above the threshold a human "
                "approves.",
    prompt="replenishment_planner",
    tools=("plan_purchase_orders", "create_purchase_order"),
    history="own_turns",
)
