"""supplier_risk end to end (parallel assessors via Send, reconciler) and the reconciliation rules."""

from __future__ import annotations

import pytest

from opsgraph.graphs.reconcile import reconcile_findings
from opsgraph.errors import UserError
from opsgraph.runner import open_runner
from tests.support.structured import StructuredScriptModel

ASSESSORS = {"finance_assessor", "operations_assessor", "esg_assessor"}
SCORE_TOOL = {"finance_assessor": "score_financial_risk", "operations_assessor": "score_operational_risk",
              "esg_assessor": "score_esg_risk"}


def _assess(runner, supplier: str, thread: str):
    return runner.start("supplier_risk", runner.make_input("supplier_risk", {"supplier": supplier}), thread_id=thread)


def _by_assessor(report) -> dict[str, dict]:
    return {f["assessor"]: f for f in report["findings"]}


def test_solid_supplier_is_low_risk_without_review(runner):
    done = _assess(runner, "SUP-001", "sr-solid")
    report = done.report
    assert done.status == "completed" and report["risk_level"] == "low" and report["needs_review"] is False
    assert report["disagreement"] is None and report["supplier_name"] == "Kestrel Motion Systems"
    assert set(done.values["visited"][:3]) == ASSESSORS and done.values["visited"][3] == "reconciler"
    findings = _by_assessor(report)
    assert set(findings) == ASSESSORS and all(f["valid"] and f["risk_level"] == "low" for f in findings.values())
    assert {f["dimension"] for f in findings.values()} == {"financial", "operational", "esg"}
    assert "confidence-weighted vote" in report["method"]
    # Each assessor used the ERP profile and only its own scoring tool.
    for agent, tool in SCORE_TOOL.items():
        used = [a["tool"] for a in done.values["actions"] if a["agent"] == agent]
        assert used == ["get_supplier", tool]
    kinds = [e.kind for e in runner.context.audit.events("sr-solid")]
    assert "reconcile" in kinds and "disagreement" not in kinds


def test_risky_supplier_is_high_risk(runner):
    report = _assess(runner, "SUP-013", "sr-risky").report
    ops = _by_assessor(report)["operations_assessor"]
    assert report["risk_level"] == "high" and ops["risk_level"] == "high"
    assert any("not on the approved supplier list" in e for e in ops["evidence"])
    assert report["actions"].startswith("qualify a second source")


@pytest.mark.parametrize("supplier, outlier", [("SUP-019", "finance_assessor"), ("SUP-017", "esg_assessor")])
def test_disagreement_is_logged_and_flagged(runner, supplier, outlier):
    thread = f"sr-split-{supplier}"
    report = _assess(runner, supplier, thread).report
    assert report["needs_review"] and report["risk_level"] == "high"
    assert report["disagreement"]["spread"] > report["disagreement"]["threshold"] == 30
    assert max(report["disagreement"]["scores"], key=report["disagreement"]["scores"].get) == outlier
    assert any("disagree" in r for r in report["review_reasons"])
    [logged] = [e for e in runner.context.audit.events(thread) if e.kind == "disagreement"]
    assert logged.agent == "reconciler" and logged.ok is False and set(logged.result["scores"]) == ASSESSORS
    assert logged.result["reasoning"][outlier]


def test_assessors_run_in_separate_threads(settings):
    model = StructuredScriptModel()
    with open_runner(settings, with_knowledge=False, model_factory=lambda tier, spec: model) as runner:
        _assess(runner, "SUP-006", "sr-iso")
    for call in model.received:
        own = SCORE_TOOL[call["agent"]]
        seen = {m.name for m in call["messages"] if m.type == "tool"}
        assert seen <= {"get_supplier", "search_knowledge", own}, (call["agent"], seen)
        assert call["tools"].count(own) == 1 and not set(call["tools"]) & (set(SCORE_TOOL.values()) - {own})


def test_invalid_finding_does_not_vote_and_is_flagged(settings):
    def mislabel(finding: dict) -> dict:
        return {**finding, "risk_level": "high"}  # a score of 18 is low: the label contradicts the score

    model = StructuredScriptModel(structured={"finance_assessor": [mislabel]})
    with open_runner(settings, with_knowledge=False, model_factory=lambda tier, spec: model) as runner:
        report = _assess(runner, "SUP-001", "sr-bad").report
    finance = _by_assessor(report)["finance_assessor"]
    assert finance["valid"] is False and "does not match a score" in finance["errors"][0]
    assert report["risk_level"] == "low" and report["needs_review"]
    assert any(r.startswith("finance_assessor did not vote") for r in report["review_reasons"])


def _finding(assessor: str, dimension: str, score: float, level: str, confidence: float, valid: bool = True) -> dict:
    return {"assessor": assessor, "dimension": dimension, "supplier_id": "SUP-001", "score": score,
            "risk_level": level, "confidence": confidence, "evidence": ["x"], "citations": [], "valid": valid,
            "errors": [] if valid else ["bad"]}


def test_vote_weights_confidence_and_dimension(runner):
    policy = runner.context.policy
    findings = [_finding("f", "financial", 50, "medium", 0.9), _finding("o", "operational", 20, "low", 0.6),
                _finding("e", "esg", 25, "low", 0.8)]
    result = reconcile_findings(findings, policy)
    # low: 0.6 x 0.35 + 0.8 x 0.25 = 0.41 outvotes medium: 0.9 x 0.40 = 0.36.
    assert result["votes"] == {"low": 0.41, "medium": 0.36, "high": 0.0} and result["risk_level"] == "low"
    assert result["disagreement"] is None and result["needs_review"] is False
    low_confidence = reconcile_findings([findings[0], {**findings[1], "confidence": 0.1}, {**findings[2], "confidence": 0.2}],
                                        policy)
    assert low_confidence["risk_level"] == "medium" and low_confidence["voters"] == ["f"]
    assert low_confidence["needs_review"]


def test_critical_finding_overrides_and_no_voter_needs_manual_review(runner):
    policy = runner.context.policy
    findings = [_finding("f", "financial", 90, "high", 0.7), _finding("o", "operational", 10, "low", 1.0),
                _finding("e", "esg", 10, "low", 1.0)]
    result = reconcile_findings(findings, policy)
    assert result["risk_level"] == "high" and result["critical"] == ["f"] and result["disagreement"]["spread"] == 80
    nobody = reconcile_findings([_finding("f", "financial", 10, "low", 0.9, valid=False)], policy)
    assert nobody["risk_level"] is None and nobody["needs_review"]


def test_unknown_supplier_is_a_user_error(runner):
    with pytest.raises(UserError, match="SUP-999"):
        runner.make_input("supplier_risk", {"supplier": "SUP-999"})
    assert runner.make_input("supplier_risk", {"event": "how risky is sup-019?"}) == {"supplier_id": "SUP-019"}


def test_branches_are_checkpointed_streamed_and_served(runner):
    import json
    from pathlib import Path

    from opsgraph import server
    from tests.support.paths import PROJECT_ROOT

    graph = runner.graph("supplier_risk")
    config = runner.config("sr-stream")
    runner.context.audit.register_run("sr-stream", "supplier_risk", "x")
    namespaces = {ns[0].split(":")[0] for ns, _mode, _chunk in graph.stream(
        {"supplier_id": "SUP-001"}, config, context=runner.context, stream_mode=["updates"], subgraphs=True) if ns}
    assert namespaces == {"assess"}  # the assessor branches stream from their own namespaces
    history = list(graph.get_state_history(config))
    assert history[0].values["report"]["risk_level"] == "low" and len(history) >= 5
    graphs = json.loads((Path(PROJECT_ROOT) / "langgraph.json").read_text())["graphs"]
    for graph_id in ("contract_review", "supplier_risk"):
        assert graphs[graph_id] == f"./opsgraph/server.py:{graph_id}"
        assert getattr(server, graph_id)().name == graph_id
