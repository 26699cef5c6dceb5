"""Merging parallel assessors' findings: validation, confidence-weighted vote, disagreement.

The method is the one in knowledge/procurement/supplier-risk-assessment.md, with every number
from policy.yaml ``supplier_risk:``. It is plain code on purpose: the vote, and who disagreed
by how much, must be reproducible and explainable, whatever the models said.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from opsgraph.graphs.state import RiskFinding
from opsgraph.tools.risk_scoring import RiskStandards

LEVELS = ("low", "medium", "high")
# Confidence a critical finding needs before it overrides the vote.
CRITICAL_MIN_CONFIDENCE = 0.5
ACTIONS = {
    "low": "normal monitoring, annual review",
    "medium": "quarterly review, safety stock for critical parts",
    "high": "qualify a second source, cap new commitments, monthly review by procurement leadership",
}


class Finding(BaseModel):
    """One assessor's scored finding on a supplier."""

    supplier_id: str = Field(description="Supplier id, e.g. SUP-001.")
    score: float = Field(ge=0, le=100, description="Risk score from 0 (no risk) to 100 (severe).")
    risk_level: Literal["low", "medium", "high"] = Field(description="low, medium or high.")
    confidence: float = Field(ge=0, le=1, description="0-1: how complete and current the evidence is.")
    evidence: list[str] = Field(description="The facts behind the score, as short sentences.")
    citations: list[str] = Field(default_factory=list, description="Policies relied on, e.g. [procurement/...].")


def finding_problems(finding: Finding, supplier_id: str, standards: RiskStandards) -> list[str]:
    """Sanity rules a finding must pass to vote."""
    problems = []
    if finding.supplier_id.strip().upper() != supplier_id.upper():
        problems.append(f"finding is about {finding.supplier_id}, not {supplier_id}")
    expected = standards.level(finding.score)
    if finding.risk_level != expected:
        problems.append(f"risk_level {finding.risk_level} does not match a score of {finding.score:g} ({expected})")
    if not [e for e in finding.evidence if e.strip()]:
        problems.append("no evidence given")
    return problems


def _settings(policy: Any) -> dict[str, Any]:
    get = policy.get
    return {"weights": {k: float(v) for k, v in get("supplier_risk.weights").items()},
            "min_confidence": float(get("supplier_risk.min_confidence")),
            "critical": float(get("supplier_risk.critical_score")),
            "threshold": float(get("supplier_risk.disagreement_threshold"))}


def _votes(voters: list[RiskFinding], weights: dict[str, float]) -> dict[str, float]:
    votes = {level: 0.0 for level in LEVELS}
    for f in voters:
        votes[f["risk_level"]] += f["confidence"] * weights.get(f["dimension"], 0.0)
    return {level: round(weight, 4) for level, weight in votes.items()}


def _disagreement(voters: list[RiskFinding], threshold: float) -> dict[str, Any] | None:
    scores = {f["assessor"]: f["score"] for f in voters}
    if len(scores) < 2:
        return None
    spread = round(max(scores.values()) - min(scores.values()), 1)
    if spread <= threshold:
        return None
    return {"spread": spread, "threshold": threshold, "scores": scores,
            "levels": {f["assessor"]: f["risk_level"] for f in voters},
            "reasoning": {f["assessor"]: f["evidence"] for f in voters}}


def describe_method(conf: dict[str, Any]) -> str:
    """The reconciliation method in one paragraph, with the numbers used."""
    weights = ", ".join(f"{k} {v:g}" for k, v in conf["weights"].items())
    return (f"confidence-weighted vote: each valid finding votes for its risk level with weight confidence x "
            f"dimension weight ({weights}); findings below confidence {conf['min_confidence']:g} or failing "
            f"validation do not vote; a tie goes to the more severe level; a finding scoring "
            f"{conf['critical']:g} or more with confidence {CRITICAL_MIN_CONFIDENCE:g} or more makes the result "
            f"high; the score is the weighted mean of the voters' scores; a spread of more than "
            f"{conf['threshold']:g} points between assessors is logged and flagged for review")


def reconcile_findings(findings: list[RiskFinding], policy: Any) -> dict[str, Any]:
    """The overall rating of a supplier from its assessors' findings, and why."""
    conf = _settings(policy)
    voters = [f for f in findings if f["valid"] and f["confidence"] >= conf["min_confidence"]]
    reasons = [f"{f['assessor']} did not vote: " + ("; ".join(f["errors"]) if not f["valid"]
               else f"confidence {f['confidence']:g} below {conf['min_confidence']:g}")
               for f in findings if f not in voters]
    result: dict[str, Any] = {"method": describe_method(conf), "voters": [f["assessor"] for f in voters]}
    if not voters:
        return {**result, "risk_level": None, "score": None, "votes": {}, "disagreement": None, "critical": [],
                "needs_review": True, "review_reasons": reasons + ["no finding could vote"]}
    votes = _votes(voters, conf["weights"])
    level = max(LEVELS, key=lambda lv: (votes[lv], LEVELS.index(lv)))
    critical = [f["assessor"] for f in voters
                if f["score"] >= conf["critical"] and f["confidence"] >= CRITICAL_MIN_CONFIDENCE]
    if critical:
        reasons.append(f"critical finding by {', '.join(critical)} makes the supplier high risk (vote said {level})")
        level = "high"
    total = sum(f["confidence"] * conf["weights"].get(f["dimension"], 0.0) for f in voters) or 1.0
    score = sum(f["score"] * f["confidence"] * conf["weights"].get(f["dimension"], 0.0) for f in voters) / total
    disagreement = _disagreement(voters, conf["threshold"])
    if disagreement:
        reasons.append(f"assessors disagree by {disagreement['spread']:g} points (threshold {conf['threshold']:g})")
    return {**result, "risk_level": level, "score": round(score, 1), "votes": votes, "critical": critical,
            "disagreement": disagreement, "needs_review": bool(disagreement) or any(f not in voters for f in findings),
            "review_reasons": reasons}
