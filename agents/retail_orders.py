"""Retail orders: pending orders: cancelling them and changing their items, shipping address or payment method."""

from opsgraph.agents.base import AgentSpec

RETAIL_ORDERS = AgentSpec(
    name="retail_orders",
    description="pending orders: cancelling them and changing their items, shipping address or payment method",
    prompt="retail_orders",
    tools=("find_user_id_by_email", "find_user_id_by_name_zip", "get_user_details", "get_order_details",
           "get_product_details", "get_item_details", "list_all_product_types", "calculate",
           "cancel_pending_order", "modify_pending_order_items", "modify_pending_order_address",
           "modify_pending_order_payment", "transfer_to_human_agents", "search_knowledge"),
    handoffs=("retail_returns", "retail_account"),
)
