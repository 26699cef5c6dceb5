"""Retail account: the customer's profile (default address, payment methods, gift cards)."""

from opsgraph.agents.base import AgentSpec

RETAIL_ACCOUNT = AgentSpec(
    name="retail_account",
    description=("the customer's account profile: their default address, the payment methods and "
                 "gift card balances on file, and questions about the account"),
    prompt="retail_account",
    tools=("find_user_id_by_email", "find_user_id_by_name_zip", "get_user_details", "get_order_details",
           "get_product_details", "get_item_details", "list_all_product_types", "calculate", "modify_user_address",
           "transfer_to_human_agents", "search_knowledge"),
    handoffs=("retail_orders", "retail_returns"),
)
