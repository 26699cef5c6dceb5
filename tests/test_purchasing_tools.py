"""The purchasing tools: drafting a purchase order from a request, and the compliance and budget checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from opsgraph.tools.purchasing import BLOCKING, FIXABLE, PASSED, summarize


@pytest.fixture
def tools(runner):
    return runner.context.tools


def _draft(tools, **request):
    return tools["draft_purchase_order"].invoke({"request": request})


def test_draft_uses_the_preferred_supplier_and_prices_from_the_price_list(tools):
    draft = _draft(tools, sku_id="SKU-003", quantity=65, dc_id="DC-WEST", preferred_supplier_id="SUP-006",
                   needed_by="2026-03-20", notes="restock for SO-0005")
    assert (draft["supplier_id"], draft["total_usd"], draft["quote_supplier_ids"]) == ("SUP-006", 8515.0, [])
    assert draft["meets_need_date"] is True and "restock for SO-0005" in draft["justification"]


def test_draft_skips_an_excluded_preferred_supplier_for_the_cheapest_approved_one(tools):
    draft = _draft(tools, sku_id="SKU-001", quantity=20, dc_id="DC-EAST", preferred_supplier_id="SUP-013",
                   exclude_supplier_ids=["SUP-013"])
    assert draft["supplier_id"] == "SUP-001" and draft["total_usd"] == 3440.0  # SUP-013 is cheaper but excluded
    assert _draft(tools, sku_id="SKU-001", quantity=20, dc_id="DC-EAST")["supplier_id"] == "SUP-001"


def test_draft_attaches_three_approved_quotes_when_asked(tools):
    draft = _draft(tools, sku_id="SKU-001", quantity=100, dc_id="DC-EAST", preferred_supplier_id="SUP-001",
                   competitive_quotes=True)
    assert draft["quote_supplier_ids"] == ["SUP-001", "SUP-004", "SUP-009"]  # the unapproved SUP-013 never quotes
    assert [q["total_usd"] for q in draft["quotes"]] == [17200.0, 17600.0, 18100.0]


def test_draft_rejects_bad_requests_with_clear_errors(tools):
    with pytest.raises(ValidationError):
        _draft(tools, sku_id="SKU-001", quantity=0, dc_id="DC-EAST")
    with pytest.raises(Exception, match="SKU-999"):
        _draft(tools, sku_id="SKU-999", quantity=5, dc_id="DC-EAST")


def test_compliance_flags_an_unapproved_unreliable_supplier_with_the_fix(tools):
    result = tools["check_po_compliance"].invoke(_draft(tools, sku_id="SKU-001", quantity=20, dc_id="DC-EAST",
                                                        preferred_supplier_id="SUP-013"))
    assert result["outcome"] == FIXABLE and result["confidence"] == 1.0
    assert [c["rule"] for c in result["checks"] if not c["ok"]] == ["approved_supplier", "min_supplier_reliability"]
    assert result["required_changes"] == {"exclude_supplier_ids": ["SUP-013"], "competitive_quotes": False}


def test_compliance_wants_three_quotes_above_the_bidding_threshold(tools):
    check = tools["check_po_compliance"]
    bare = check.invoke(_draft(tools, sku_id="SKU-001", quantity=100, dc_id="DC-EAST", preferred_supplier_id="SUP-001"))
    assert bare["outcome"] == FIXABLE and bare["required_changes"]["competitive_quotes"] is True
    quoted = check.invoke(_draft(tools, sku_id="SKU-001", quantity=100, dc_id="DC-EAST",
                                 preferred_supplier_id="SUP-001", competitive_quotes=True))
    assert quoted["outcome"] == PASSED and quoted["reasons"] == []
    forged = {**quoted, "supplier_id": "SUP-001", "dc_id": "DC-EAST", "lines": [{"sku_id": "SKU-001", "quantity": 100}],
              "quote_supplier_ids": ["SUP-001", "SUP-013", "SUP-002"]}  # unapproved / does not sell SKU-001
    assert tools["check_po_compliance"].invoke(forged)["outcome"] == FIXABLE


def test_compliance_flags_low_esg(tools):
    draft = _draft(tools, sku_id="SKU-003", quantity=10, dc_id="DC-WEST", preferred_supplier_id="SUP-017")
    result = tools["check_po_compliance"].invoke(draft)
    assert [c["rule"] for c in result["checks"] if not c["ok"]] == ["min_esg_score"]


def test_budget_check_revises_over_budget_and_blocks_above_the_single_order_ceiling(tools):
    over_budget = tools["check_po_budget"].invoke(_draft(tools, sku_id="SKU-003", quantity=1200, dc_id="DC-WEST"))
    assert over_budget["outcome"] == FIXABLE and "137,500.00 left in CC-OPS" in over_budget["reasons"][0]
    assert "operations manager approves" in over_budget["notes"][0]
    ceiling = tools["check_po_budget"].invoke(_draft(tools, sku_id="SKU-001", quantity=2000, dc_id="DC-EAST"))
    assert ceiling["outcome"] == BLOCKING and len(ceiling["reasons"]) == 2


def test_a_proposal_that_cannot_be_priced_is_blocking_with_low_confidence(tools):
    bogus = {"supplier_id": "SUP-002", "dc_id": "DC-EAST", "lines": [{"sku_id": "SKU-001", "quantity": 5}]}
    result = tools["check_po_budget"].invoke(bogus)
    assert result["outcome"] == BLOCKING and result["confidence"] == 0.0 and "does not sell" in result["reasons"][0]


def test_summarize_counts_unevaluated_rules_as_failed():
    checks = [{"rule": "a", "ok": True, "detail": "fine", "policy": "x", "blocking": False, "fix": {}},
              {"rule": "b", "ok": None, "detail": "unknown", "policy": "x", "blocking": False, "fix": {}}]
    assert summarize(checks)["outcome"] == FIXABLE and summarize(checks)["confidence"] == 0.5
