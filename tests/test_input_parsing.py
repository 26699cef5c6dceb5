"""Inputs read the way a person means them: thousands separators, early vs late, which shipment, case of ids."""

from __future__ import annotations

import pytest

from opsgraph.errors import UserError
from opsgraph.orchestration_inputs import operations_director_input, parse_purchase_request, procurement_review_input
from opsgraph.registry import supply_chain_input


@pytest.mark.parametrize("text, quantity", [
    ("Order 1,500 units of SKU-008 for DC-EAST", 1500),
    ("Please buy 12,000 x SKU-001 for DC-EAST", 12000),
    ("Order 1.500 units of SKU-008 for DC-EAST", 1500),  # European grouping: a dot before exactly three digits
    ("1 500 units of SKU-008 for DC-EAST", None),  # a space is not read as a separator: too easy to misread
    ("65 units of SKU-003 for DC-WEST", 65),
])
def test_quantities_with_thousands_separators(text, quantity):
    request = parse_purchase_request(text)
    if quantity is None:
        assert request.get("quantity") != 1500
    else:
        assert request["quantity"] == quantity


def test_a_fractional_quantity_is_a_clear_error():
    with pytest.raises(UserError, match="whole number"):
        parse_purchase_request("Order 2.5 units of SKU-008 for DC-EAST")


def test_an_order_of_1500_raises_the_request_for_1500(runner):
    graph_input = procurement_review_input({"request": "Order 1,500 units of SKU-008 for DC-EAST"}, runner.context.world)
    assert graph_input["request"]["quantity"] == 1500


def test_arriving_early_is_not_a_delay(runner):
    with pytest.raises(UserError, match="early"):
        supply_chain_input({"event": "SH-0004 will arrive 3 days early"}, runner.context.world)
    with pytest.raises(UserError, match="early"):
        supply_chain_input({"event": "Good news: shipment SH-0004 is 3 days ahead of schedule."}, runner.context.world)


@pytest.mark.parametrize("text", [
    "SH-0004 is on time but SH-0001 is 5 days late",
    "SH-0004 is on schedule; SH-0001 is running 5 days behind.",
    "SH-0001 will be 5 days late, while SH-0004 arrives as planned.",
])
def test_the_days_bind_to_the_late_shipment(runner, text):
    event = supply_chain_input({"event": text}, runner.context.world)["event"]
    assert (event["shipment_id"], event["delay_days"]) == ("SH-0001", 5)


def test_lower_case_ids_work(runner):
    world = runner.context.world
    assert supply_chain_input({"shipment": "sh-0002", "delay_days": 4}, world)["event"]["shipment_id"] == "SH-0002"
    event = supply_chain_input({"event": "sh-0002 is delayed by 4 days"}, world)["event"]
    assert (event["shipment_id"], event["delay_days"]) == ("SH-0002", 4)
    director = operations_director_input({"event": "sh-0002 is 4 days late"}, world)
    assert director["event"]["shipment_id"] == "SH-0002"


def test_zero_delay_days_says_there_is_no_delay(runner):
    with pytest.raises(UserError) as raised:
        supply_chain_input({"shipment": "SH-0001", "delay_days": 0}, runner.context.world)
    message = str(raised.value)
    assert "0 days" in message and "no delay" in message and "give the delay" not in message


def test_two_shipments_in_one_statement_take_the_first(runner):
    event = supply_chain_input({"event": "SH-0002 and SH-0003 are both running 5 days late"}, runner.context.world)
    assert (event["event"]["shipment_id"], event["event"]["delay_days"]) == ("SH-0002", 5)
