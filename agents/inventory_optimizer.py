"""Inventory optimiser: safety stock and positioning per DC from the forecast and supplier lead times."""

from opsgraph.agents.base import AgentSpec

INVENTORY_OPTIMIZER = AgentSpec(
    name="inventory_optimizer",
    description="Computes safety stock, reorder points and order-up-to levels per DC at the policy service level.",
    prompt="inventory_optimizer",
    tools=("compute_safety_stock",),
    history="own_turns",
)
