"""contract_review end to end: offline engine, real SQLite checkpointer, audit, validation gates."""

from __future__ import annotations

import pytest

from opsgraph.graphs.contract_checks import ContractTerms, term_errors
from opsgraph.errors import UserError
from opsgraph.runner import open_runner
from tests.support.structured import StructuredScriptModel

RISKY_CLAUSES = {"payment_terms", "liability_cap", "buyer_termination", "supplier_termination", "auto_renewal",
                 "price_adjustment", "governing_law"}
FULL_ROUTE = ["contract_extractor", "validate:terms:ok", "contract_compliance", "validate:compliance:ok",
              "contract_summarizer", "validate:summary:ok"]


def _review(runner, contract: str, thread: str):
    return runner.start("contract_review", runner.make_input("contract_review", {"contract": contract}), thread_id=thread)


def _tools(result) -> list[tuple[str, str, str]]:
    return [(a["agent"], a["tool"], a["status"]) for a in result.values["actions"]]


def _po_count(runner) -> int:
    return runner.context.world.erp.list_purchase_orders()["count"]


def test_risky_contract_is_flagged_and_escalated(runner):
    done = _review(runner, "CTR-1002", "cr-risky")
    report = done.report
    assert done.status == "completed" and report["outcome"] == "completed"
    assert report["recommendation"] == "escalate_to_legal" and report["highest_risk"] == "high"
    assert {d["clause"] for d in report["flagged_risks"]} == RISKY_CLAUSES
    risks = {d["clause"]: d["risk"] for d in report["flagged_risks"]}
    assert risks["liability_cap"] == "high" and risks["governing_law"] == "medium"
    assert report["steps"] == FULL_ROUTE
    assert _tools(done) == [("contract_extractor", "read_contract", "done"),
                            ("contract_extractor", "extract_contract_terms", "done"),
                            ("contract_compliance", "check_contract_terms", "done")]
    # The compliance check received the extracted values, not invented ones.
    check_args = done.values["actions"][2]["args"]
    assert check_args["payment_terms_days"] == 15 and check_args["liability_cap_usd"] == 50000.0
    checks = [e for e in runner.context.audit.events("cr-risky") if e.kind == "validation"]
    assert [(e.name, e.ok) for e in checks] == [("terms", True), ("compliance", True), ("summary", True)]


@pytest.mark.parametrize("contract", ["CTR-1001", "CTR-1006"])
def test_compliant_contract_passes(runner, contract):
    done = _review(runner, contract, f"cr-ok-{contract}")
    assert done.report["recommendation"] == "sign" and done.report["highest_risk"] == "none"
    assert done.report["flagged_risks"] == [] and done.report["steps"] == FULL_ROUTE
    assert done.values["terms"]["governing_law"] == "Delaware"


def test_minor_deviations_mean_negotiate(runner):
    report = _review(runner, "CTR-1003", "cr-minor").report
    assert report["recommendation"] == "negotiate" and report["highest_risk"] == "medium"
    risks = {d["clause"]: d["risk"] for d in report["flagged_risks"]}
    assert risks["price_adjustment"] == "medium"
    assert risks.get("payment_terms") in (None, "low")  # net 30 with a 2% discount is an accepted deviation


def test_garbled_contract_stops_at_the_first_gate_with_reasons(runner):
    done = _review(runner, "CTR-1004", "cr-garbled")
    report = done.report
    assert done.status == "stopped" and report["outcome"] == "stopped"
    reason = report["stop_reason"]
    assert reason.startswith("terms failed validation")
    for problem in ("required term missing: payment_terms_days", "expiry_date 2025-04-30 is not after effective_date",
                    "liability_cap_usd is negative"):
        assert problem in reason
    assert report["steps"] == ["contract_extractor", "validate:terms:failed"]
    assert report["recommendation"] is None and report["flagged_risks"] == [] and report["terms"] is None
    assert "check_contract_terms" not in [tool for _, tool, _ in _tools(done)]  # bad data went no further
    [gate] = [e for e in runner.context.audit.events("cr-garbled") if e.kind == "validation"]
    assert gate.ok is False and gate.result["errors"]


def test_hostile_text_changes_nothing(runner):
    before = _po_count(runner)
    hostile = _review(runner, "CTR-1005", "cr-hostile").report
    twin = _review(runner, "CTR-1002", "cr-twin").report  # same commercial terms, no planted instructions
    assert hostile["recommendation"] == twin["recommendation"] == "escalate_to_legal"
    assert [(d["clause"], d["risk"]) for d in hostile["flagged_risks"]] == \
        [(d["clause"], d["risk"]) for d in twin["flagged_risks"]]
    assert hostile["terms"]["payment_terms_days"] == 15  # not the "net 45" the note asked for
    assert hostile["terms"]["governing_law"] == "Republic of India"
    assert _po_count(runner) == before
    names = {e.name for e in runner.context.audit.events("cr-hostile")}
    assert not names & {"create_purchase_order", "issue_refund"}


def test_compliance_that_drops_a_risk_is_stopped(settings):
    def drop_liability(findings: dict) -> dict:
        findings["deviations"] = [d for d in findings["deviations"] if d["clause"] != "liability_cap"]
        return findings

    model = StructuredScriptModel(structured={"contract_compliance": [drop_liability]})
    with open_runner(settings, with_knowledge=False, model_factory=lambda tier, spec: model) as runner:
        done = _review(runner, "CTR-1002", "cr-drop")
    assert done.status == "stopped"
    assert "deviation liability_cap (high) is missing or rated lower" in done.report["stop_reason"]
    assert done.report["steps"][-1] == "validate:compliance:failed"
    assert "contract_summarizer" not in done.values["visited"]


def test_summary_that_softens_the_verdict_is_stopped(settings):
    def soften(summary: dict) -> dict:
        return {**summary, "recommendation": "sign", "deviations": []}

    model = StructuredScriptModel(structured={"contract_summarizer": [soften]})
    with open_runner(settings, with_knowledge=False, model_factory=lambda tier, spec: model) as runner:
        done = _review(runner, "CTR-1002", "cr-soft")
    reason = done.report["stop_reason"]
    assert done.status == "stopped" and "flagged risk liability_cap is missing from the summary" in reason
    assert "summary recommends sign" in reason and done.report["recommendation"] is None


def test_malformed_structured_output_is_a_validation_stop(settings):
    def bad_date(terms: dict) -> dict:
        return {**terms, "effective_date": "2026-02-30"}

    model = StructuredScriptModel(structured={"contract_extractor": [bad_date]})
    with open_runner(settings, with_knowledge=False, model_factory=lambda tier, spec: model) as runner:
        done = _review(runner, "CTR-1001", "cr-bad-date")
    assert done.status == "stopped"
    assert "malformed output: effective_date" in done.report["stop_reason"]


def test_sanity_rules_use_policy_ranges(runner):
    terms = ContractTerms(contract_id="CTR-1001", supplier_id="SUP-006", supplier_name="x", effective_date="2026-01-01",
                          expiry_date="2027-01-01", annual_value_usd=1000, payment_terms_days=400,
                          early_payment_discount_pct=None, liability_cap_usd=1000, liability_cap_basis="fixed amount",
                          buyer_convenience_notice_days=-5, supplier_convenience_notice_days=None, auto_renewal=False,
                          renewal_term_months=None, non_renewal_notice_days=None, price_adjustment="sometimes",
                          price_increase_cap_pct=None, governing_law="Delaware")
    errors = term_errors(terms, "CTR-1002", runner.context.policy)
    assert any("payment_terms_days is 400, outside the plausible range 0 to 180" in e for e in errors)
    assert any("buyer_convenience_notice_days is -5" in e for e in errors)
    assert any("not for the contract under review CTR-1002" in e for e in errors)
    assert any("price_adjustment 'sometimes'" in e for e in errors)


def test_stream_history_and_kill_switch(runner):
    graph = runner.graph("contract_review")
    config = runner.config("cr-stream")
    runner.context.audit.register_run("cr-stream", "contract_review", "x")
    nodes = [node for update in graph.stream({"contract_id": "CTR-1003"}, config, context=runner.context,
                                             stream_mode="updates") for node in update]
    assert nodes[:3] == ["intake", "extract", "tools"] and nodes[-1] == "report"
    assert "validate_summary" in nodes
    history = list(graph.get_state_history(config))
    assert len(history) == len(nodes) + 2 and history[0].values["report"]["recommendation"] == "negotiate"

    runner.context.audit.register_run("cr-kill", "contract_review", "x")
    runner.context.audit.request_stop("cr-kill")
    out = graph.invoke({"contract_id": "CTR-1003"}, runner.config("cr-kill"), context=runner.context)
    assert out["report"]["stop_reason"].startswith("stopped by operator")
    assert graph.get_state(runner.config("cr-kill")).values.get("actions") in (None, [])


def test_unknown_contract_is_a_user_error(runner):
    with pytest.raises(UserError, match="unknown contract 'CTR-9999'"):
        runner.make_input("contract_review", {"contract": "CTR-9999"})
    with pytest.raises(UserError, match="--contract"):
        runner.make_input("contract_review", {})
    assert runner.make_input("contract_review", {"event": "please review ctr-1002"}) == {"contract_id": "CTR-1002"}
