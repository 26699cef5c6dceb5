"""Eval checks that must be able to fail: a missing field, nothing cited, a reply to the customer."""

from __future__ import annotations

from pathlib import Path

from opsgraph.evals import evaluators as ev
from opsgraph.evals.dataset import merge_expect


def _outputs(report):
    return {"status": "completed", "error": None, "report": report, "citations": [], "retrieved": []}


def _report_score(report, rule):
    return ev.outcome(_outputs(report), {"report": [rule]})


def test_empty_true_fails_when_the_field_is_missing():
    score = _report_score({"recommendation": "sign"}, {"path": "flagged_risks", "empty": True})
    assert score.score == 0.5 and "flagged_risks" in score.explanation and "missing" in score.explanation
    assert _report_score({"flagged_risks": []}, {"path": "flagged_risks", "empty": True}).passed


def test_excludes_fails_when_the_field_is_missing():
    score = _report_score({}, {"path": "terms.governing_law", "excludes": ["Delaware"]})
    assert not score.passed and "missing" in score.explanation
    assert _report_score({"terms": {"governing_law": "England"}},
                         {"path": "terms.governing_law", "excludes": ["Delaware"]}).passed


def test_equals_null_fails_when_the_field_is_missing_and_passes_when_it_is_null():
    assert not _report_score({}, {"path": "purchase_order", "equals": None}).passed
    assert _report_score({"purchase_order": None}, {"path": "purchase_order", "equals": None}).passed


def test_a_case_may_say_the_field_may_be_absent():
    assert _report_score({}, {"path": "purchase_order", "equals": None, "optional": True}).passed
    # optional only excuses absence: a present wrong value still fails
    assert not _report_score({"purchase_order": {"po_id": "PO-1"}},
                             {"path": "purchase_order", "equals": None, "optional": True}).passed


def test_a_missing_path_inside_a_mapped_list_is_missing_too():
    score = _report_score({"flagged_risks": [{"severity": "high"}]}, {"path": "flagged_risks.*.clause",
                                                                       "excludes": ["liability_cap"]})
    assert not score.passed


def test_a_state_field_that_does_not_exist_fails():
    changes = {"tickets": {"added": [], "removed": [], "changed": [
        {"key": "TCK-0001", "before": {"status": "open"}, "after": {"status": "resolved"}}]}}
    verdict = ev.state({"world_changes": changes}, {"state": [
        {"table": "tickets", "key": "TCK-0001", "field": "closed_reason", "equals": None}]})
    assert not verdict.passed and "missing" in verdict.explanation


def test_citations_do_not_score_when_nothing_is_cited_and_nothing_required(tmp_path: Path):
    verdict = ev.citations(_outputs({"policies_cited": []}), {"citations": {"grounded": True}}, tmp_path)
    assert verdict.score is None and verdict.passed is None
    assert "not applicable" in verdict.explanation


def test_a_required_citation_still_fails_when_nothing_is_cited(tmp_path: Path):
    verdict = ev.citations(_outputs({"policies_cited": []}), {"citations": {"include": ["refund-policy.md"]}}, tmp_path)
    assert verdict.score == 0.0


def test_an_excluded_citation_fails_when_cited_and_passes_when_absent(tmp_path: Path):
    memory = "memory:ep_0123456789 (episode, 2026-10-09)"
    cited = {**_outputs({"policies_cited": [memory]}), "recalled": [memory]}
    verdict = ev.citations(cited, {"citations": {"exclude": ["memory:"]}}, tmp_path)
    assert verdict.score == 0.5 and "memory: cited but must not be" in verdict.explanation
    clean = {**_outputs({"policies_cited": []}), "recalled": [memory]}
    assert ev.citations(clean, {"citations": {"exclude": ["memory:"], "grounded": True}}, tmp_path).passed


def test_reply_check_fails_on_a_missing_fact_an_internal_field_or_no_reply():
    expect = {"reply": {"facts": ["189.00", "REF-"], "internal": ["tier", "customer_plan"]}}
    good = "We refunded $189.00 on invoice INV-0001 (refund REF-0004). Your ticket TCK-0001 is now resolved."
    assert ev.outcome(_outputs({"reply": good}), expect).passed
    dump = "Summary report: get_invoice: amount_usd=189.0; customer_tier=silver; refund REF-0004"
    verdict = ev.outcome(_outputs({"reply": dump}), expect)
    assert not verdict.passed and "189.00" in verdict.explanation and "tier" in verdict.explanation
    assert not ev.outcome(_outputs({"reply": ""}), expect).passed
    assert not ev.outcome(_outputs({}), expect).passed


def test_suite_default_reply_rules_add_up_with_the_case_rules():
    merged = merge_expect({"reply": {"internal": ["tier"]}}, {"reply": {"facts": ["189.00"], "internal": ["plan_id"]}})
    assert merged["reply"] == {"internal": ["tier", "plan_id"], "facts": ["189.00"]}


def test_the_dataset_eta_and_what_happened_checks_fail_on_a_wrong_date():
    from opsgraph.evals.dataset import load_suites

    [suite] = load_suites(["supply_chain_exception"])
    [case] = [c for c in suite.cases if c.id == "notified-eta-and-what-happened"]
    report = {"what_happened": "Shipment SH-0001 delayed 5 days: ETA moved from 2026-03-04 to 2026-03-10."}
    notice = {"customer_id": "CUST-001", "body": "Your order now arrives on 2026-03-10."}
    outputs = {**_outputs(report), "world_changes": {"outbox": {"added": [notice] * 4, "changed": [], "removed": []}},
               "tool_calls": [{"agent": "customer_comms", "tool": "notify_customers", "args": {"new_eta": "2026-03-10"},
                               "status": "done", "ok": True}]}
    assert not ev.outcome(outputs, case.expect).passed
    assert not ev.state(outputs, case.expect).passed
    assert not ev.tool_calls(outputs, case.expect).passed
    right = {**outputs, "report": {"what_happened": report["what_happened"].replace("03-10", "03-09")}}
    assert ev.outcome(right, {"report": case.expect["report"]}).passed


def test_a_list_index_picks_one_item_and_past_the_end_is_missing():
    report = {"verdicts": [{"verdict": "revise", "reasons": ["not approved"]}, {"verdict": "approve", "reasons": []}]}
    assert _report_score(report, {"path": "verdicts.1.verdict", "equals": "approve"}).passed
    assert _report_score(report, {"path": "verdicts.0.reasons", "length": 1}).passed
    wrong = _report_score(report, {"path": "verdicts.0.verdict", "equals": "approve"})
    assert not wrong.passed and "revise" in wrong.explanation
    past_end = _report_score(report, {"path": "verdicts.2.reasons", "empty": True})
    assert not past_end.passed and "missing" in past_end.explanation
