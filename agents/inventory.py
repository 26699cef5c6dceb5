"""Inventory: which orders a delay hurts and how stock can cover them."""

from opsgraph.agents.base import AgentSpec

INVENTORY = AgentSpec(
    name="inventory",
    description="Finds affected sales orders and stock at other distribution centres (WMS); transfers stock; plans replenishment.",
    prompt="inventory",
    tools=("find_affected_orders", "check_stock", "plan_replenishment", "transfer_stock", "search_knowledge"),
)
