"""Retail orders: cancels pending orders and changes their items, address or payment."""

from opsgraph.agents.base import AgentSpec

RETAIL_ORDERS = AgentSpec(
    name="retail_orders",
    description=("orders that are still pending (not shipped): cancel one, or change its items, "
                 "its shipping address or how it is paid"),
    prompt="retail_orders",
    tools=("find_user_id_by_email", "find_user_id_by_name_zip", "get_user_details", "get_order_details",
           "get_product_details", "get_item_details", "list_all_product_types", "calculate",
           "cancel_pending_order", "modify_pending_order_items", "modify_pending_order_address",
           "modify_pending_order_payment", "transfer_to_human_agents", "search_knowledge"),
    handoffs=("retail_returns", "retail_account"),
)
