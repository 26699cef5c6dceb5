"""A small tau2-shaped retail database for connector tests (every error path reachable)."""

from __future__ import annotations

import copy
from typing import Any


def _variant(item_id: str, price: float, available: bool = True, **options: str) -> dict[str, Any]:
    return {"item_id": item_id, "options": dict(options), "available": available, "price": price}


def _address(zip_code: str) -> dict[str, str]:
    return {"address1": "1 Main St", "address2": "", "city": "Springfield", "country": "USA", "state": "IL",
            "zip": zip_code}


def _item(product: str, variant: dict[str, Any], name: str) -> dict[str, Any]:
    return {"name": name, "product_id": product, "item_id": variant["item_id"], "price": variant["price"],
            "options": dict(variant["options"])}


def _order(order_id: str, user: str, status: str, items: list[dict], payments: list[tuple]) -> dict[str, Any]:
    history = [{"transaction_type": kind, "amount": amount, "payment_method_id": pm} for kind, amount, pm in payments]
    return {"order_id": order_id, "user_id": user, "address": _address("10001"), "items": items, "status": status,
            "fulfillments": [], "payment_history": history}


K1, K2 = _variant("1001", 100.0, switch="linear"), _variant("1002", 120.5, switch="clicky")
K3, K4 = _variant("1003", 90.25, False, switch="tactile"), _variant("1004", 110.07, switch="silent")
L1, L2 = _variant("2001", 30.0, color="white"), _variant("2002", 45.99, color="black")

_DB: dict[str, Any] = {
    "products": {
        "9001": {"name": "Keyboard", "product_id": "9001", "variants": {v["item_id"]: v for v in (K1, K2, K3, K4)}},
        "9002": {"name": "Lamp", "product_id": "9002", "variants": {v["item_id"]: v for v in (L1, L2)}},
    },
    "users": {
        "ann_lee_1": {"user_id": "ann_lee_1", "name": {"first_name": "Ann", "last_name": "Lee"},
                      "address": _address("10001"), "email": "Ann.Lee@example.com",
                      "payment_methods": {
                          "credit_card_1": {"source": "credit_card", "id": "credit_card_1", "brand": "visa",
                                            "last_four": "1111"},
                          "gift_card_1": {"source": "gift_card", "id": "gift_card_1", "balance": 50.0},
                          "gift_card_low": {"source": "gift_card", "id": "gift_card_low", "balance": 5.0},
                          "paypal_1": {"source": "paypal", "id": "paypal_1"}},
                      "orders": ["#W1", "#W2", "#W3", "#W4", "#W5"]},
        "bob_roe_2": {"user_id": "bob_roe_2", "name": {"first_name": "Bob", "last_name": "Roe"},
                      "address": _address("20002"), "email": "bob@example.com",
                      "payment_methods": {"credit_card_2": {"source": "credit_card", "id": "credit_card_2",
                                                            "brand": "amex", "last_four": "2222"}},
                      "orders": ["#W6"]},
    },
    "orders": {
        "#W1": _order("#W1", "ann_lee_1", "pending", [_item("9001", K1, "Keyboard"), _item("9002", L1, "Lamp")],
                      [("payment", 130.0, "credit_card_1")]),
        "#W2": _order("#W2", "ann_lee_1", "delivered", [_item("9001", K1, "Keyboard"), _item("9001", K1, "Keyboard"),
                                                        _item("9002", L1, "Lamp")],
                      [("payment", 230.0, "credit_card_1")]),
        "#W3": _order("#W3", "ann_lee_1", "processed", [_item("9001", K1, "Keyboard")],
                      [("payment", 100.0, "credit_card_1")]),
        "#W4": _order("#W4", "ann_lee_1", "pending (item modified)", [_item("9001", K2, "Keyboard")],
                      [("payment", 100.0, "credit_card_1"), ("payment", 20.5, "credit_card_1")]),
        "#W5": _order("#W5", "ann_lee_1", "pending", [_item("9002", L1, "Lamp")], [("payment", 30.0, "gift_card_1")]),
        "#W6": _order("#W6", "bob_roe_2", "pending", [_item("9002", L1, "Lamp")], [("payment", 30.0, "credit_card_2")]),
    },
}


def retail_db() -> dict[str, Any]:
    """A fresh deep copy of the test database (as db.json would hold it: no optional order fields)."""
    return copy.deepcopy(_DB)
