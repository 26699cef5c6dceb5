"""The sixteen retail tools as LangChain tools, with the names and arguments tau2's agents see.

Writes take ``idempotency_key`` as an injected argument (the tool executor adds it; a model
never sees it). A refused request raises :class:`RetailError` with tau2's message, which the
tool executor returns to the agent as the tool result; nothing is written.

    tools = build_retail_tools(store.retail)
    tools["get_order_details"].invoke({"order_id": "#W2378156"})
"""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.tools import BaseTool, InjectedToolArg
from pydantic import BaseModel, Field

from opsgraph.tools.catalog import KEY_HELP
from opsgraph.tools.tool_base import SharedSchemaTool

IdempotencyKey = Annotated[str, InjectedToolArg]
HUMAN_TRANSFER = "transfer_to_human_agents"


def _f(text: str) -> Any:
    return Field(description=text)


class ExpressionArgs(BaseModel):
    expression: str = _f("Arithmetic expression with numbers, + - * / ( ) and spaces, e.g. '2 + 3 * 4'.")


class SummaryArgs(BaseModel):
    summary: str = _f("A summary of the user's issue for the human agent.")


class EmailArgs(BaseModel):
    email: str = _f("The user's email, e.g. 'something@example.com'.")


class NameZipArgs(BaseModel):
    first_name: str = _f("The user's first name, e.g. 'John'.")
    last_name: str = _f("The user's last name, e.g. 'Doe'.")
    zip: str = _f("The zip code of the user's default address, e.g. '12345'.")


class UserArgs(BaseModel):
    user_id: str = _f("The user id, e.g. 'sara_doe_496'.")


class OrderArgs(BaseModel):
    order_id: str = _f("The order id, starting with '#', e.g. '#W0000000'.")


class ProductArgs(BaseModel):
    product_id: str = _f("The product id, e.g. '6086499569' (not an item id).")


class ItemArgs(BaseModel):
    item_id: str = _f("The item (variant) id, e.g. '1008292230'.")


class NoArgs(BaseModel):
    pass


class AddressArgs(BaseModel):
    address1: str = _f("First line of the address, e.g. '123 Main St'.")
    address2: str = _f("Second line of the address, e.g. 'Apt 1' or ''.")
    city: str = _f("City, e.g. 'San Francisco'.")
    state: str = _f("State, e.g. 'CA'.")
    country: str = _f("Country, e.g. 'USA'.")
    zip: str = _f("Zip code, e.g. '12345'.")


class UserAddressArgs(AddressArgs):
    user_id: str = _f("The user id, e.g. 'sara_doe_496'.")
    idempotency_key: IdempotencyKey = _f(KEY_HELP)


class OrderAddressArgs(AddressArgs):
    order_id: str = _f("The order id, starting with '#', e.g. '#W0000000'.")
    idempotency_key: IdempotencyKey = _f(KEY_HELP)


class OrderPaymentArgs(BaseModel):
    order_id: str = _f("The order id, starting with '#', e.g. '#W0000000'.")
    payment_method_id: str = _f("The new payment method id from the user's details, e.g. 'gift_card_0000000'.")
    idempotency_key: IdempotencyKey = _f(KEY_HELP)


class CancelArgs(BaseModel):
    order_id: str = _f("The order id, starting with '#', e.g. '#W0000000'.")
    reason: str = _f("Either 'no longer needed' or 'ordered by mistake'.")
    idempotency_key: IdempotencyKey = _f(KEY_HELP)


class ReturnArgs(BaseModel):
    order_id: str = _f("The order id, starting with '#', e.g. '#W0000000'.")
    item_ids: list[str] = _f("Item ids to return, e.g. ['1008292230'] (an id twice returns two of it).")
    payment_method_id: str = _f("Refund method: the original payment method or a gift card of the user.")
    idempotency_key: IdempotencyKey = _f(KEY_HELP)


class ChangeItemsArgs(BaseModel):
    order_id: str = _f("The order id, starting with '#', e.g. '#W0000000'.")
    item_ids: list[str] = _f("Item ids to change, e.g. ['1008292230'].")
    new_item_ids: list[str] = _f("New item ids of the same products, in the same positions as item_ids.")
    payment_method_id: str = _f("Payment method that pays or receives the price difference.")
    idempotency_key: IdempotencyKey = _f(KEY_HELP)


SPECS: dict[str, tuple[type[BaseModel], bool, str]] = {
    "calculate": (ExpressionArgs, False, "Calculate the result of an arithmetic expression (rounded to 2 decimals)."),
    HUMAN_TRANSFER: (SummaryArgs, False,
                     "Transfer the user to a human agent, with a summary of the issue. Only when the request cannot "
                     "be handled within the scope of your actions."),
    "find_user_id_by_email": (EmailArgs, False, "Find a user id by email; returns the user id."),
    "find_user_id_by_name_zip": (NameZipArgs, False,
                                 "Find a user id by first name, last name and zip code; returns the user id."),
    "get_user_details": (UserArgs, False, "The user's profile: name, address, email, payment methods, order ids."),
    "get_order_details": (OrderArgs, False, "An order: status, items, address, fulfillments, payment history."),
    "get_product_details": (ProductArgs, False, "A product type and all its variants (items) with options, "
                                                "availability and price."),
    "get_item_details": (ItemArgs, False, "One item (variant): options, availability and price."),
    "list_all_product_types": (NoArgs, False, "Every product type name with its product id."),
    "modify_user_address": (UserAddressArgs, True, "Change the user's default address. Needs explicit user "
                                                   "confirmation first."),
    "modify_pending_order_address": (OrderAddressArgs, True, "Change the shipping address of a pending order. "
                                                             "Needs explicit user confirmation first."),
    "modify_pending_order_payment": (OrderPaymentArgs, True, "Change the payment method of a pending order. Needs "
                                                             "explicit user confirmation first."),
    "modify_pending_order_items": (ChangeItemsArgs, True,
                                   "Change items of a pending order to other options of the same products. Can be "
                                   "done only once per order; collect every item to change first, and get explicit "
                                   "user confirmation."),
    "cancel_pending_order": (CancelArgs, True, "Cancel a pending order. Needs explicit user confirmation first."),
    "return_delivered_order_items": (ReturnArgs, True, "Return items of a delivered order. Needs explicit user "
                                                       "confirmation first."),
    "exchange_delivered_order_items": (ChangeItemsArgs, True,
                                       "Exchange items of a delivered order for other options of the same products. "
                                       "Can be done only once per order; collect every item first, and get explicit "
                                       "user confirmation."),
}


def _tool(connector: Any, name: str) -> BaseTool:
    schema, writes, description = SPECS[name]

    def run(**kwargs: Any) -> Any:
        key = kwargs.pop("idempotency_key", "")
        return connector.call(name, kwargs, key)

    return SharedSchemaTool.from_function(func=run, name=name, description=description, args_schema=schema,
                                          metadata={"system": "retail", "writes": writes})


def build_retail_tools(connector: Any) -> dict[str, BaseTool]:
    """One tool per retail operation over ``connector`` (a :class:`Retail`), keyed by name."""
    return {name: _tool(connector, name) for name in SPECS}
