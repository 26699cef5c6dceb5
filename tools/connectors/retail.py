"""Retail (tau2-bench domain): users, orders, products and variants, payment methods, gift cards.

Every operation behaves as the tau2 retail tool of the same name: the same lookups, the
same validation order, the same error texts, and the same arithmetic (float sums, which
results are rounded, and the upstream quirks the benchmark's gold data depends on). Reads
return the stored record; writes validate everything first, then change the documents in
one transaction with an idempotency key, so a refused request leaves the database as it was.
"""

from __future__ import annotations

import ast
import json
import operator
from collections import Counter
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict

from opsgraph.tools.connectors.base import Conn, Connector, ConnectorError, validate
from opsgraph.tools.connectors.retail_store import doc_rows, get_doc, put_doc

CANCEL_REASONS = ("no longer needed", "ordered by mistake")
CALC_CHARS = frozenset("0123456789+-*/(). ")
MAX_EXPONENT = 10_000  # keeps a hostile "9**9**9" from hanging the tool


class RetailError(ConnectorError):
    """The retail system refused a request; the message is the one tau2's tool raises."""


class _Args(BaseModel):
    # Arguments are taken as given (no coercion); an unknown argument is an error, as in tau2.
    model_config = ConfigDict(extra="forbid", strict=True)


class ExpressionArgs(_Args):
    expression: str


class SummaryArgs(_Args):
    summary: str


class EmailArgs(_Args):
    email: str


class NameZipArgs(_Args):
    first_name: str
    last_name: str
    zip: str


class UserArgs(_Args):
    user_id: str


class OrderArgs(_Args):
    order_id: str


class ProductArgs(_Args):
    product_id: str


class ItemArgs(_Args):
    item_id: str


class NoArgs(_Args):
    pass


class AddressFields(_Args):
    address1: str
    address2: str
    city: str
    state: str
    country: str
    zip: str


class UserAddressArgs(AddressFields):
    user_id: str


class OrderAddressArgs(AddressFields):
    order_id: str


class OrderPaymentArgs(_Args):
    order_id: str
    payment_method_id: str


class CancelArgs(_Args):
    order_id: str
    reason: str


class ReturnArgs(_Args):
    order_id: str
    item_ids: list[str]
    payment_method_id: str


class ExchangeArgs(ReturnArgs):
    new_item_ids: list[str]


def _address(req: AddressFields) -> dict[str, str]:
    return {k: getattr(req, k) for k in ("address1", "address2", "city", "country", "state", "zip")}


def _payment(kind: str, amount: Any, method_id: str) -> dict[str, Any]:
    # tau2 builds payment entries through its model, which stores every amount as a float.
    return {"transaction_type": kind, "amount": float(amount), "payment_method_id": method_id}


def find_order(conn: Conn, order_id: str) -> dict[str, Any]:
    """The order, or RetailError 'Order not found'."""
    return _found(get_doc(conn, "orders", order_id), "Order not found")


def find_user(conn: Conn, user_id: str) -> dict[str, Any]:
    """The user, or RetailError 'User not found'."""
    return _found(get_doc(conn, "users", user_id), "User not found")


def find_product(conn: Conn, product_id: str) -> dict[str, Any]:
    """The product with its variants, or RetailError 'Product not found'."""
    return _found(get_doc(conn, "products", product_id), "Product not found")


def find_variant(conn: Conn, product_id: str, item_id: str) -> dict[str, Any]:
    """Variant ``item_id`` of product ``product_id`` ('Product not found' / 'Variant not found')."""
    return _found(find_product(conn, product_id)["variants"].get(item_id), "Variant not found")


def find_method(user: dict[str, Any], method_id: str) -> dict[str, Any]:
    """One of the user's payment methods, or RetailError 'Payment method not found'."""
    return _found(user["payment_methods"].get(method_id), "Payment method not found")


def _found(value: Any, message: str) -> Any:
    if value is None:
        raise RetailError(message)
    return value


def missing_item(order: dict[str, Any], item_ids: list[str]) -> str | None:
    """The first requested id asked for more often than the order holds it, or None."""
    held, asked = Counter(item["item_id"] for item in order["items"]), Counter(item_ids)
    return next((item_id for item_id in item_ids if asked[item_id] > held[item_id]), None)


def first_item(order: dict[str, Any], item_id: str) -> dict[str, Any] | None:
    """The first order line with ``item_id`` (duplicates all resolve to the first, as upstream)."""
    return next((item for item in order["items"] if item["item_id"] == item_id), None)


def price_changes(conn: Conn, order: dict[str, Any], pairs: list[tuple[str, str]],
                  *, distinct: bool) -> tuple[Any, dict[str, Any] | None]:
    """Validate each (old, new) pair; return the running price difference and the last new variant.

    The sum starts at integer 0 and is never rounded here: callers round where tau2 does.
    """
    diff: Any = 0
    variant = None
    for old, new in pairs:
        if distinct and old == new:
            raise RetailError("The new item id should be different from the old item id")
        item = first_item(order, old)
        variant = find_variant(conn, item["product_id"], new)
        if not variant["available"]:
            raise RetailError(f"New item {new} not found or available")
        diff += variant["price"] - item["price"]
    return diff, variant


def evaluate(expression: str) -> float:
    """An arithmetic expression (digits, + - * / ( ) . and spaces) evaluated with Python's semantics."""
    if not set(expression) <= CALC_CHARS:
        raise RetailError("Invalid characters in expression")
    tree = ast.parse(expression, filename="<string>", mode="eval")
    return float(_arith(tree.body))


_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _arith(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_arith(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _arith(node.left), _arith(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise RetailError("exponent too large")
        return _BINARY[type(node.op)](left, right)
    raise RetailError("Invalid expression: only numbers and + - * / ( ) are allowed")


class Retail(Connector):
    """The retail system: the sixteen tau2 retail tools as connector operations."""

    system = "retail"
    reads = ("find_user_id_by_name_zip", "find_user_id_by_email", "get_order_details", "get_product_details",
             "get_item_details", "get_user_details", "list_all_product_types")
    writes = ("cancel_pending_order", "exchange_delivered_order_items", "modify_pending_order_address",
              "modify_pending_order_items", "modify_pending_order_payment", "modify_user_address",
              "return_delivered_order_items")
    generic = ("calculate", "transfer_to_human_agents")
    operations = reads + writes + generic

    def call(self, name: str, arguments: dict[str, Any], idempotency_key: str) -> Any:
        """Run operation ``name`` with keyword ``arguments`` (a write uses ``idempotency_key``)."""
        if name not in self.operations:
            raise RetailError(f"Tool '{name}' not found.")
        method = getattr(self, name)
        if name in self.writes:
            return method(**arguments, idempotency_key=idempotency_key)
        return method(**arguments)

    # -- generic -------------------------------------------------------------------------------

    def calculate(self, **args: Any) -> str:
        """The result of an arithmetic expression rounded to 2 decimals, as text (e.g. '4.0')."""
        req = validate(ExpressionArgs, args)
        self._rt.before("retail.calculate")
        return str(round(evaluate(req.expression), 2))

    def transfer_to_human_agents(self, **args: Any) -> str:
        """Hand the customer to a human agent; the retail system only acknowledges it."""
        validate(SummaryArgs, args)
        self._rt.before("retail.transfer_to_human_agents")
        return "Transfer successful"

    # -- reads ---------------------------------------------------------------------------------

    def find_user_id_by_email(self, **args: Any) -> str:
        """The id of the first user whose email matches (case-insensitively)."""
        email = validate(EmailArgs, args).email.lower()
        return self._read("find_user_id_by_email", lambda conn: _found(next(
            (u["user_id"] for u in doc_rows(conn, "users") if u["email"].lower() == email), None), "User not found"))

    def find_user_id_by_name_zip(self, **args: Any) -> str:
        """The id of the first user with this first and last name (any case) and this default-address zip."""
        req = validate(NameZipArgs, args)
        first, last = req.first_name.lower(), req.last_name.lower()

        def read(conn: Conn) -> str:
            match = (u["user_id"] for u in doc_rows(conn, "users") if u["name"]["first_name"].lower() == first
                     and u["name"]["last_name"].lower() == last and u["address"]["zip"] == req.zip)
            return _found(next(match, None), "User not found")
        return self._read("find_user_id_by_name_zip", read)

    def get_user_details(self, **args: Any) -> dict[str, Any]:
        """The user with name, address, email, payment methods and order ids."""
        req = validate(UserArgs, args)
        return self._read("get_user_details", lambda conn: find_user(conn, req.user_id))

    def get_order_details(self, **args: Any) -> dict[str, Any]:
        """The order with items, status, fulfillments and payment history."""
        req = validate(OrderArgs, args)
        return self._read("get_order_details", lambda conn: find_order(conn, req.order_id))

    def get_product_details(self, **args: Any) -> dict[str, Any]:
        """The product with every variant (options, availability, price)."""
        req = validate(ProductArgs, args)
        return self._read("get_product_details", lambda conn: find_product(conn, req.product_id))

    def get_item_details(self, **args: Any) -> dict[str, Any]:
        """The variant ``item_id`` of whichever product has it first."""
        req = validate(ItemArgs, args)
        return self._read("get_item_details", lambda conn: _found(next(
            (p["variants"][req.item_id] for p in doc_rows(conn, "products") if req.item_id in p["variants"]), None),
            "Item not found"))

    def list_all_product_types(self, **args: Any) -> str:
        """JSON text mapping every product name to its product id, names sorted."""
        validate(NoArgs, args)
        return self._read("list_all_product_types", lambda conn: json.dumps(
            {p["name"]: p["product_id"] for p in doc_rows(conn, "products")}, sort_keys=True))

    # -- writes --------------------------------------------------------------------------------

    def _change(self, name: str, key: str, req: BaseModel, fn: Callable[[Conn], dict]) -> dict[str, Any]:
        result = self._write(name, key, {"tool": name, **req.model_dump()}, fn)
        result.pop("replayed", None)  # the tool returns the record itself, as tau2's does
        return result

    def modify_user_address(self, *, idempotency_key: str, **args: Any) -> dict[str, Any]:
        """Replace the user's default address (orders keep theirs)."""
        req = validate(UserAddressArgs, args)

        def write(conn: Conn) -> dict[str, Any]:
            user = find_user(conn, req.user_id)
            user["address"] = _address(req)
            put_doc(conn, "users", user)
            return user
        return self._change("modify_user_address", idempotency_key, req, write)

    def modify_pending_order_address(self, *, idempotency_key: str, **args: Any) -> dict[str, Any]:
        """Replace the shipping address of a pending order."""
        req = validate(OrderAddressArgs, args)

        def write(conn: Conn) -> dict[str, Any]:
            order = find_order(conn, req.order_id)
            if "pending" not in order["status"]:
                raise RetailError("Non-pending order cannot be modified")
            order["address"] = _address(req)
            put_doc(conn, "orders", order)
            return order
        return self._change("modify_pending_order_address", idempotency_key, req, write)

    def modify_pending_order_payment(self, *, idempotency_key: str, **args: Any) -> dict[str, Any]:
        """Pay a pending order with another of the user's methods; the old method is refunded."""
        req = validate(OrderPaymentArgs, args)
        return self._change("modify_pending_order_payment", idempotency_key, req,
                            lambda conn: _modify_payment(conn, req))

    def modify_pending_order_items(self, *, idempotency_key: str, **args: Any) -> dict[str, Any]:
        """Swap items of a pending order for other variants of the same products; settle the difference."""
        req = validate(ExchangeArgs, args)
        return self._change("modify_pending_order_items", idempotency_key, req, lambda conn: _modify_items(conn, req))

    def cancel_pending_order(self, *, idempotency_key: str, **args: Any) -> dict[str, Any]:
        """Cancel a pending order; every payment entry is refunded (gift cards at once)."""
        req = validate(CancelArgs, args)
        return self._change("cancel_pending_order", idempotency_key, req, lambda conn: _cancel(conn, req))

    def return_delivered_order_items(self, *, idempotency_key: str, **args: Any) -> dict[str, Any]:
        """Request a return of delivered items, refunded to the original method or a gift card."""
        req = validate(ReturnArgs, args)
        return self._change("return_delivered_order_items", idempotency_key, req, lambda conn: _return(conn, req))

    def exchange_delivered_order_items(self, *, idempotency_key: str, **args: Any) -> dict[str, Any]:
        """Request an exchange of delivered items for other variants of the same products."""
        req = validate(ExchangeArgs, args)
        return self._change("exchange_delivered_order_items", idempotency_key, req, lambda conn: _exchange(conn, req))


def _modify_payment(conn: Conn, req: OrderPaymentArgs) -> dict[str, Any]:
    order = find_order(conn, req.order_id)
    if "pending" not in order["status"]:
        raise RetailError("Non-pending order cannot be modified")
    user = find_user(conn, order["user_id"])
    method = find_method(user, req.payment_method_id)
    history = order["payment_history"]
    if len(history) != 1 or history[0]["transaction_type"] != "payment":
        raise RetailError("There should be exactly one payment for a pending order")
    old_id, amount = history[0]["payment_method_id"], history[0]["amount"]
    if old_id == req.payment_method_id:
        raise RetailError("The new payment method should be different from the current one")
    if method["source"] == "gift_card" and method["balance"] < amount:
        raise RetailError("Insufficient gift card balance to pay for the order")
    old = find_method(user, old_id)  # checked before any change, so a refusal writes nothing
    history += [_payment("payment", amount, req.payment_method_id), _payment("refund", amount, old_id)]
    if method["source"] == "gift_card":
        method["balance"] = round(method["balance"] - amount, 2)
    if old["source"] == "gift_card":
        old["balance"] = round(old["balance"] + amount, 2)
    put_doc(conn, "users", user)
    put_doc(conn, "orders", order)
    return order


def _modify_items(conn: Conn, req: ExchangeArgs) -> dict[str, Any]:
    order = find_order(conn, req.order_id)
    if order["status"] != "pending":
        raise RetailError("Non-pending order cannot be modified")
    missing = missing_item(order, req.item_ids)
    if missing is not None:
        raise RetailError(f"{missing} not found")
    if len(req.item_ids) != len(req.new_item_ids):
        raise RetailError("The number of items to be exchanged should match")
    diff, last = price_changes(conn, order, list(zip(req.item_ids, req.new_item_ids)), distinct=True)
    user = find_user(conn, order["user_id"])
    method = find_method(user, req.payment_method_id)
    if method["source"] == "gift_card" and method["balance"] < diff:
        raise RetailError("Insufficient gift card balance to pay for the new item")
    # The payment amount is the unrounded sum, as upstream records it.
    order["payment_history"].append(_payment("payment" if diff > 0 else "refund", abs(diff), req.payment_method_id))
    if method["source"] == "gift_card":
        method["balance"] = round(method["balance"] - diff, 2)
    for old, new in zip(req.item_ids, req.new_item_ids):
        item = _found(first_item(order, old), f"Item {old} not found")
        # Upstream gives every modified line the price and options of the last new variant
        # validated above, not its own; the benchmark's expected databases depend on it.
        item.update(item_id=new, price=last["price"], options=dict(last["options"]))
    order["status"] = "pending (item modified)"
    put_doc(conn, "users", user)
    put_doc(conn, "orders", order)
    return order


def _cancel(conn: Conn, req: CancelArgs) -> dict[str, Any]:
    order = find_order(conn, req.order_id)
    if order["status"] != "pending":
        raise RetailError("Non-pending order cannot be cancelled")
    if req.reason not in CANCEL_REASONS:
        raise RetailError("Invalid reason")
    user = find_user(conn, order["user_id"])
    refunds = []
    # Every entry is refunded, earlier refunds included (upstream behaviour), in history order.
    for entry in order["payment_history"]:
        method = find_method(user, entry["payment_method_id"])
        refunds.append(_payment("refund", entry["amount"], entry["payment_method_id"]))
        if method["source"] == "gift_card":
            method["balance"] = round(method["balance"] + entry["amount"], 2)
    order.update(status="cancelled", cancel_reason=req.reason)
    order["payment_history"] += refunds
    put_doc(conn, "users", user)
    put_doc(conn, "orders", order)
    return order


def _return(conn: Conn, req: ReturnArgs) -> dict[str, Any]:
    order = find_order(conn, req.order_id)
    if order["status"] != "delivered":
        raise RetailError("Non-delivered order cannot be returned")
    method = find_method(find_user(conn, order["user_id"]), req.payment_method_id)
    if method["source"] != "gift_card" and req.payment_method_id != order["payment_history"][0]["payment_method_id"]:
        raise RetailError("Payment method should be the original payment method")
    if missing_item(order, req.item_ids) is not None:
        raise RetailError("Some item not found")
    order.update(status="return requested", return_items=sorted(req.item_ids),
                 return_payment_method_id=req.payment_method_id)
    put_doc(conn, "orders", order)
    return order


def _exchange(conn: Conn, req: ExchangeArgs) -> dict[str, Any]:
    order = find_order(conn, req.order_id)
    if order["status"] != "delivered":
        raise RetailError("Non-delivered order cannot be exchanged")
    missing = missing_item(order, req.item_ids)
    if missing is not None:
        raise RetailError(f"Number of {missing} not found.")
    if len(req.item_ids) != len(req.new_item_ids):
        raise RetailError("The number of items to be exchanged should match.")
    diff, _ = price_changes(conn, order, list(zip(req.item_ids, req.new_item_ids)), distinct=False)
    diff = round(diff, 2)  # an empty exchange keeps the integer 0, as upstream stores it
    method = find_method(find_user(conn, order["user_id"]), req.payment_method_id)
    if method["source"] == "gift_card" and method["balance"] < diff:
        raise RetailError("Insufficient gift card balance to pay for the price difference")
    order.update(status="exchange requested", exchange_items=sorted(req.item_ids),
                 exchange_new_items=sorted(req.new_item_ids), exchange_payment_method_id=req.payment_method_id,
                 exchange_price_difference=diff)
    put_doc(conn, "orders", order)
    return order
