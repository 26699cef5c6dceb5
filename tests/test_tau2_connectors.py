"""Retail connectors: every error path of the tau2 retail tools, and the effects they must reproduce."""

from __future__ import annotations

import json

import pytest

from opsgraph.tools.connectors.base import ConnectorError, ValidationFailed
from opsgraph.tools.connectors.retail import RetailError
from opsgraph.tools.connectors.retail_store import RetailStore, canonical_hash, normalise
from tests.support.pgdb import BACKENDS, unique_schema, world_database  # noqa: F401 - fixture
from tests.support.retail_db import retail_db

ADDR = {"address1": "9 Elm St", "address2": "Apt 2", "city": "Austin", "state": "TX", "country": "USA", "zip": "73301"}


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest):
    if request.param == "postgres":
        s = RetailStore.load(retail_db(), request.getfixturevalue("world_database"), schema=unique_schema("retail"))
    else:
        s = RetailStore.load(retail_db())
    yield s
    s.close()


def call(store: RetailStore, name: str, **args):
    return store.retail.call(name, args, f"test:{name}:{json.dumps(args, sort_keys=True)}")


# One row per error path of TOOLS.md section 4: (tool, arguments, the exact error text).
ERROR_PATHS = [
    ("calculate", {"expression": "2 + x"}, "Invalid characters in expression"),
    ("find_user_id_by_email", {"email": "nobody@example.com"}, "User not found"),
    ("find_user_id_by_name_zip", {"first_name": "Ann", "last_name": "Lee", "zip": "99999"}, "User not found"),
    ("get_user_details", {"user_id": "ghost"}, "User not found"),
    ("get_order_details", {"order_id": "#W999"}, "Order not found"),
    ("get_product_details", {"product_id": "1001"}, "Product not found"),
    ("get_item_details", {"item_id": "9001"}, "Item not found"),
    ("modify_user_address", {"user_id": "ghost", **ADDR}, "User not found"),
    ("modify_pending_order_address", {"order_id": "#W999", **ADDR}, "Order not found"),
    ("modify_pending_order_address", {"order_id": "#W2", **ADDR}, "Non-pending order cannot be modified"),
    ("modify_pending_order_payment", {"order_id": "#W999", "payment_method_id": "paypal_1"}, "Order not found"),
    ("modify_pending_order_payment", {"order_id": "#W3", "payment_method_id": "paypal_1"},
     "Non-pending order cannot be modified"),
    ("modify_pending_order_payment", {"order_id": "#W1", "payment_method_id": "credit_card_2"},
     "Payment method not found"),
    ("modify_pending_order_payment", {"order_id": "#W4", "payment_method_id": "paypal_1"},
     "There should be exactly one payment for a pending order"),
    ("modify_pending_order_payment", {"order_id": "#W1", "payment_method_id": "credit_card_1"},
     "The new payment method should be different from the current one"),
    ("modify_pending_order_payment", {"order_id": "#W1", "payment_method_id": "gift_card_1"},
     "Insufficient gift card balance to pay for the order"),
    ("modify_pending_order_items", {"order_id": "#W999", "item_ids": ["1001"], "new_item_ids": ["1002"],
                                    "payment_method_id": "credit_card_1"}, "Order not found"),
    ("modify_pending_order_items", {"order_id": "#W4", "item_ids": ["1002"], "new_item_ids": ["1004"],
                                    "payment_method_id": "credit_card_1"}, "Non-pending order cannot be modified"),
    ("modify_pending_order_items", {"order_id": "#W1", "item_ids": ["1001", "1001"], "new_item_ids": ["1002", "1004"],
                                    "payment_method_id": "credit_card_1"}, "1001 not found"),
    ("modify_pending_order_items", {"order_id": "#W1", "item_ids": ["1001"], "new_item_ids": ["1002", "1004"],
                                    "payment_method_id": "credit_card_1"},
     "The number of items to be exchanged should match"),
    ("modify_pending_order_items", {"order_id": "#W1", "item_ids": ["1001"], "new_item_ids": ["1001"],
                                    "payment_method_id": "credit_card_1"},
     "The new item id should be different from the old item id"),
    ("modify_pending_order_items", {"order_id": "#W1", "item_ids": ["1001"], "new_item_ids": ["2002"],
                                    "payment_method_id": "credit_card_1"}, "Variant not found"),
    ("modify_pending_order_items", {"order_id": "#W1", "item_ids": ["1001"], "new_item_ids": ["1003"],
                                    "payment_method_id": "credit_card_1"}, "New item 1003 not found or available"),
    ("modify_pending_order_items", {"order_id": "#W1", "item_ids": ["1001"], "new_item_ids": ["1002"],
                                    "payment_method_id": "credit_card_2"}, "Payment method not found"),
    ("modify_pending_order_items", {"order_id": "#W1", "item_ids": ["1001"], "new_item_ids": ["1002"],
                                    "payment_method_id": "gift_card_low"},
     "Insufficient gift card balance to pay for the new item"),
    ("cancel_pending_order", {"order_id": "#W999", "reason": "no longer needed"}, "Order not found"),
    ("cancel_pending_order", {"order_id": "#W4", "reason": "no longer needed"}, "Non-pending order cannot be cancelled"),
    ("cancel_pending_order", {"order_id": "#W1", "reason": "too expensive"}, "Invalid reason"),
    ("return_delivered_order_items", {"order_id": "#W999", "item_ids": ["1001"], "payment_method_id": "credit_card_1"},
     "Order not found"),
    ("return_delivered_order_items", {"order_id": "#W1", "item_ids": ["1001"], "payment_method_id": "credit_card_1"},
     "Non-delivered order cannot be returned"),
    ("return_delivered_order_items", {"order_id": "#W2", "item_ids": ["1001"], "payment_method_id": "credit_card_2"},
     "Payment method not found"),
    ("return_delivered_order_items", {"order_id": "#W2", "item_ids": ["1001"], "payment_method_id": "paypal_1"},
     "Payment method should be the original payment method"),
    ("return_delivered_order_items", {"order_id": "#W2", "item_ids": ["2001", "2001"],
                                      "payment_method_id": "credit_card_1"}, "Some item not found"),
    ("exchange_delivered_order_items", {"order_id": "#W999", "item_ids": ["1001"], "new_item_ids": ["1002"],
                                        "payment_method_id": "credit_card_1"}, "Order not found"),
    ("exchange_delivered_order_items", {"order_id": "#W1", "item_ids": ["1001"], "new_item_ids": ["1002"],
                                        "payment_method_id": "credit_card_1"}, "Non-delivered order cannot be exchanged"),
    ("exchange_delivered_order_items", {"order_id": "#W2", "item_ids": ["2002"], "new_item_ids": ["2001"],
                                        "payment_method_id": "credit_card_1"}, "Number of 2002 not found."),
    ("exchange_delivered_order_items", {"order_id": "#W2", "item_ids": ["1001", "1001"], "new_item_ids": ["1002"],
                                        "payment_method_id": "credit_card_1"},
     "The number of items to be exchanged should match."),
    ("exchange_delivered_order_items", {"order_id": "#W2", "item_ids": ["1001"], "new_item_ids": ["2002"],
                                        "payment_method_id": "credit_card_1"}, "Variant not found"),
    ("exchange_delivered_order_items", {"order_id": "#W2", "item_ids": ["1001"], "new_item_ids": ["1003"],
                                        "payment_method_id": "credit_card_1"}, "New item 1003 not found or available"),
    ("exchange_delivered_order_items", {"order_id": "#W2", "item_ids": ["1001"], "new_item_ids": ["1002"],
                                        "payment_method_id": "credit_card_2"}, "Payment method not found"),
    ("exchange_delivered_order_items", {"order_id": "#W2", "item_ids": ["1001"], "new_item_ids": ["1002"],
                                        "payment_method_id": "gift_card_low"},
     "Insufficient gift card balance to pay for the price difference"),
]


@pytest.mark.parametrize("tool,args,message", ERROR_PATHS, ids=[f"{t}:{m}" for t, _, m in ERROR_PATHS])
def test_error_path_gives_the_tau2_message_and_leaves_the_database_unchanged(store, tool, args, message):
    before = store.canonical_hash()
    with pytest.raises(RetailError) as caught:
        call(store, tool, **args)
    assert str(caught.value) == message
    assert store.canonical_hash() == before


def test_arithmetic_error_in_calculate_is_an_error(store):
    with pytest.raises(ZeroDivisionError):
        call(store, "calculate", expression="1 / 0")


@pytest.mark.parametrize("args", [{}, {"order_id": "#W1", "extra": 1}, {"order_id": 5}])
def test_missing_unknown_or_mistyped_argument_is_an_error(store, args):
    with pytest.raises(ValidationFailed):
        call(store, "get_order_details", **args)


def test_unknown_tool_is_an_error(store):
    with pytest.raises(ConnectorError, match="not found"):
        call(store, "delete_everything")


def test_loading_adds_the_optional_order_fields_as_null_and_keeps_float_money(store):
    order = store.dump()["orders"]["#W1"]
    assert order["cancel_reason"] is None and order["return_items"] is None and order["exchange_price_difference"] is None
    assert '"amount":130.0' in json.dumps(store.dump(), separators=(",", ":"))
    assert store.canonical_hash() == canonical_hash(normalise(retail_db()))


def test_reads_match_tau2(store):
    assert call(store, "find_user_id_by_email", email="ann.lee@EXAMPLE.com") == "ann_lee_1"
    assert call(store, "find_user_id_by_name_zip", first_name="ann", last_name="LEE", zip="10001") == "ann_lee_1"
    assert call(store, "get_item_details", item_id="2002")["price"] == 45.99
    assert call(store, "list_all_product_types") == '{"Keyboard": "9001", "Lamp": "9002"}'
    # Python rounds the binary value: 12.555 is stored just below, so it rounds down (as tau2 does).
    assert call(store, "calculate", expression="(10 + 2.555) * 1") == "12.55"
    assert call(store, "calculate", expression="8 / 2") == "4.0"
    assert call(store, "transfer_to_human_agents", summary="needs a human") == "Transfer successful"


def test_modify_payment_appends_new_payment_then_old_refund_and_moves_gift_card_money(store):
    order = call(store, "modify_pending_order_payment", order_id="#W5", payment_method_id="paypal_1")
    assert order["payment_history"][1:] == [
        {"transaction_type": "payment", "amount": 30.0, "payment_method_id": "paypal_1"},
        {"transaction_type": "refund", "amount": 30.0, "payment_method_id": "gift_card_1"}]
    assert order["status"] == "pending"
    assert store.dump()["users"]["ann_lee_1"]["payment_methods"]["gift_card_1"]["balance"] == 80.0


def test_modify_items_reproduces_the_last_variant_price_bug_and_unrounded_amount(store):
    order = call(store, "modify_pending_order_items", order_id="#W1", item_ids=["1001", "2001"],
                 new_item_ids=["1004", "2002"], payment_method_id="gift_card_1")
    diff = (110.07 - 100.0) + (45.99 - 30.0)
    assert order["payment_history"][-1] == {"transaction_type": "payment", "amount": diff,
                                            "payment_method_id": "gift_card_1"}
    assert [(i["item_id"], i["price"], i["options"], i["name"]) for i in order["items"]] == [
        ("1004", 45.99, {"color": "black"}, "Keyboard"), ("2002", 45.99, {"color": "black"}, "Lamp")]
    assert order["status"] == "pending (item modified)"
    assert store.dump()["users"]["ann_lee_1"]["payment_methods"]["gift_card_1"]["balance"] == round(50.0 - diff, 2)


def test_modify_items_to_a_cheaper_variant_is_a_refund(store):
    order = call(store, "modify_pending_order_items", order_id="#W6", item_ids=["2001"], new_item_ids=["2002"],
                 payment_method_id="credit_card_2")
    assert order["payment_history"][-1]["transaction_type"] == "payment"
    order = call(store, "modify_pending_order_items", order_id="#W1", item_ids=[], new_item_ids=[],
                 payment_method_id="credit_card_1")
    assert order["payment_history"][-1] == {"transaction_type": "refund", "amount": 0.0,
                                            "payment_method_id": "credit_card_1"}


def test_cancel_refunds_every_entry_and_credits_gift_cards(store):
    order = call(store, "cancel_pending_order", order_id="#W5", reason="ordered by mistake")
    assert order["status"] == "cancelled" and order["cancel_reason"] == "ordered by mistake"
    assert order["payment_history"][-1] == {"transaction_type": "refund", "amount": 30.0,
                                            "payment_method_id": "gift_card_1"}
    assert store.dump()["users"]["ann_lee_1"]["payment_methods"]["gift_card_1"]["balance"] == 80.0


def test_cancel_after_payment_change_refunds_all_three_entries(store):
    call(store, "modify_pending_order_payment", order_id="#W1", payment_method_id="paypal_1")
    order = call(store, "cancel_pending_order", order_id="#W1", reason="no longer needed")
    assert [e["transaction_type"] for e in order["payment_history"]] == ["payment", "payment", "refund"] + ["refund"] * 3


def test_return_sorts_items_and_changes_no_money(store):
    before = store.dump()["users"]
    order = call(store, "return_delivered_order_items", order_id="#W2", item_ids=["2001", "1001", "1001"],
                 payment_method_id="gift_card_1")
    assert order["return_items"] == ["1001", "1001", "2001"] and order["status"] == "return requested"
    assert order["return_payment_method_id"] == "gift_card_1" and len(order["payment_history"]) == 1
    assert store.dump()["users"] == before


def test_exchange_stores_rounded_difference_and_sorted_ids(store):
    order = call(store, "exchange_delivered_order_items", order_id="#W2", item_ids=["2001", "1001"],
                 new_item_ids=["2002", "1004"], payment_method_id="paypal_1")
    assert order["exchange_price_difference"] == round((45.99 - 30.0) + (110.07 - 100.0), 2)
    assert order["exchange_items"] == ["1001", "2001"] and order["exchange_new_items"] == ["1004", "2002"]
    assert order["status"] == "exchange requested" and len(order["payment_history"]) == 1


def test_empty_exchange_stores_integer_zero(store):
    call(store, "exchange_delivered_order_items", order_id="#W2", item_ids=[], new_item_ids=[],
         payment_method_id="credit_card_1")
    assert '"exchange_price_difference":0,' in json.dumps(store.dump(), sort_keys=True, separators=(",", ":"))


def test_write_with_the_same_idempotency_key_is_applied_once(store):
    args = {"user_id": "ann_lee_1", **ADDR}
    first = store.retail.modify_user_address(idempotency_key="k1", **args)
    again = store.retail.modify_user_address(idempotency_key="k1", **args)
    assert first == again and store.dump()["users"]["ann_lee_1"]["address"]["zip"] == "73301"
    with pytest.raises(ConnectorError, match="different request"):
        store.retail.modify_user_address(idempotency_key="k1", **{**args, "zip": "00000"})
