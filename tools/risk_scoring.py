"""Deterministic supplier risk scores per dimension, from ERP data and the policy's thresholds.

Each score runs from 0 (no risk) to 100 (severe) and comes with a risk level (bands from
policy.yaml ``supplier_risk.bands``), a confidence (0-1) that says how complete and current
the evidence is, and the evidence itself as sentences an approver can check. The method is
the one in knowledge/procurement/supplier-risk-assessment.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

METHOD_DOC = "procurement/supplier-risk-assessment.md"


@dataclass(frozen=True)
class RiskStandards:
    """Thresholds of the supplier risk method, read from policy.yaml."""

    medium_from: float
    high_from: float
    min_reliability: float
    max_defect_rate: float
    min_esg_score: float
    distress_financial_health: float
    full_confidence_deliveries: int

    @classmethod
    def from_policy(cls, policy: Any) -> "RiskStandards":
        """Read every threshold from ``policy`` (a :class:`Policy`)."""
        get = policy.get
        return cls(float(get("supplier_risk.bands.medium_from")), float(get("supplier_risk.bands.high_from")),
                   float(get("procurement.min_supplier_reliability")), float(get("supplier_risk.max_defect_rate")),
                   float(get("procurement.min_esg_score")), float(get("supplier_risk.distress_financial_health")),
                   int(get("supplier_risk.full_confidence_deliveries")))

    def level(self, score: float) -> str:
        """Risk level of a 0-100 score."""
        return "high" if score >= self.high_from else "medium" if score >= self.medium_from else "low"


def _finding(supplier: dict, dimension: str, score: float, confidence: float, evidence: list[str],
             standards: RiskStandards) -> dict[str, Any]:
    score = round(min(100.0, max(0.0, score)), 1)
    return {"supplier_id": supplier["supplier_id"], "dimension": dimension, "score": score,
            "risk_level": standards.level(score), "confidence": round(min(1.0, max(0.0, confidence)), 2),
            "evidence": evidence, "method": f"{METHOD_DOC} ({dimension} risk)"}


def _no_evidence(supplier: dict, dimension: str, missing: str, standards: RiskStandards) -> dict[str, Any]:
    """The finding when the evidence for ``dimension`` is missing: a middling score at low confidence."""
    return _finding(supplier, dimension, 50.0, 0.2, [f"no {missing} on file"], standards)


def financial_risk(supplier: dict[str, Any], standards: RiskStandards) -> dict[str, Any]:
    """Financial risk from the supplier's financial health (0-100) and our open commitments."""
    health = supplier.get("financial_health")
    if health is None:
        return _no_evidence(supplier, "financial", "financial health score", standards)
    score = 100.0 - health
    evidence = [f"financial health {health}/100"]
    if health <= standards.distress_financial_health:
        # Distress outweighs the linear scale: insolvency ends supply at once.
        score = 100.0 - health / 2
        evidence.append(f"at or below the distress level of {standards.distress_financial_health:g}")
    open_pos = int(supplier.get("open_purchase_orders") or 0)
    evidence.append(f"{open_pos} open purchase orders exposed")
    # One composite indicator without statements: never full confidence.
    return _finding(supplier, "financial", score, 0.7, evidence, standards)


def operational_risk(supplier: dict[str, Any], standards: RiskStandards) -> dict[str, Any]:
    """Operational risk from on-time delivery and defect history (confidence grows with deliveries)."""
    history = supplier.get("performance") or []
    on_time, defects = supplier.get("on_time_rate"), supplier.get("defect_rate")
    if not history or on_time is None:
        return _no_evidence(supplier, "operational", "delivery history", standards)
    deliveries = sum(int(h.get("deliveries", 0)) for h in history)
    score = (1.0 - on_time) * 150
    evidence = [f"on-time rate {on_time:.1%} over {deliveries} deliveries in {len(history)} quarters"]
    if on_time < standards.min_reliability:
        score += 25
        evidence.append(f"below the minimum reliability of {standards.min_reliability:.0%}")
    if defects is not None and defects > standards.max_defect_rate:
        score += 20
        evidence.append(f"defect rate {defects:.1%} above the maximum of {standards.max_defect_rate:.1%}")
    if not supplier.get("approved", True):
        evidence.append("not on the approved supplier list")
    confidence = min(1.0, deliveries / standards.full_confidence_deliveries) * min(1.0, len(history) / 4)
    return _finding(supplier, "operational", score, max(0.2, confidence), evidence, standards)


def esg_risk(supplier: dict[str, Any], standards: RiskStandards) -> dict[str, Any]:
    """ESG risk from the vendor ESG score against the policy minimum."""
    esg = supplier.get("esg_score")
    if esg is None:
        return _no_evidence(supplier, "esg", "ESG score", standards)
    score = 100.0 - esg
    evidence = [f"ESG score {esg}/100 (minimum {standards.min_esg_score:g})"]
    if esg < standards.min_esg_score:
        # Below the approval minimum the shortfall counts twice: the supplier may not stay approved.
        score += standards.min_esg_score - esg
        evidence.append(f"{standards.min_esg_score - esg:g} points below the approval minimum")
    # Questionnaire plus third-party ratings, without a recent audit of our own.
    return _finding(supplier, "esg", score, 0.8, evidence, standards)
