"""Retail returns: returns and exchanges of delivered orders."""

from opsgraph.agents.base import AgentSpec

RETAIL_RETURNS = AgentSpec(
    name="retail_returns",
    description=("orders already delivered: return delivered items for a refund, or exchange them "
                 "for another option of the same product"),
    prompt="retail_returns",
    tools=("find_user_id_by_email", "find_user_id_by_name_zip", "get_user_details", "get_order_details",
           "get_product_details", "get_item_details", "list_all_product_types", "calculate",
           "return_delivered_order_items", "exchange_delivered_order_items", "transfer_to_human_agents",
           "search_knowledge"),
    handoffs=("retail_orders", "retail_account"),
)
