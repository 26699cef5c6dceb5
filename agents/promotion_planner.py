"""Promotion planner: adjusts the forecast when a campaign starts, by the uplift past campaigns showed."""

from opsgraph.agents.base import AgentSpec

PROMOTION_PLANNER = AgentSpec(
    name="promotion_planner",
    description="Checks the promotions calendar and applies the measured campaign uplift to the forecast.",
    prompt="promotion_planner",
    tools=("plan_promotion_uplift",),
    history="own_turns",
)
