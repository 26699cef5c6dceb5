"""What each step of ``contract_review`` must produce, and the checks run before the next step.

Every step's output is validated twice: against its pydantic schema (types, dates, required
fields) and against sanity rules (dates in order, money not negative, payment terms and notice
periods within plausible ranges from policy.yaml, findings consistent with the rule check).
A check returns the list of problems; an empty list means the next step may rely on it.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from opsgraph.tools.contract_terms import (REQUIRED_TERMS, RISK_ORDER, ContractStandards, check_terms, highest_risk,
                                  recommendation_for)

Risk = Literal["low", "medium", "high"]
Recommendation = Literal["sign", "negotiate", "escalate_to_legal"]
PRICE_ADJUSTMENTS = ("fixed", "capped", "uncapped")
RECOMMENDATION_ORDER = ("sign", "negotiate", "escalate_to_legal")


class ContractTerms(BaseModel):
    """The commercial terms of one supplier contract, exactly as the contract states them."""

    contract_id: str = Field(description="Contract id, e.g. CTR-1001.")
    supplier_id: str | None = Field(description="Supplier id named in the contract, e.g. SUP-006.")
    supplier_name: str | None = Field(description="Supplier's legal name.")
    effective_date: date | None = Field(description="Date the contract takes effect (YYYY-MM-DD).")
    expiry_date: date | None = Field(description="Date the initial term ends (YYYY-MM-DD).")
    annual_value_usd: float | None = Field(description="Estimated annual contract value in US dollars.")
    payment_terms_days: int | None = Field(description="Days we have to pay an invoice (net N).")
    early_payment_discount_pct: float | None = Field(description="Early payment discount in percent, if any.")
    liability_cap_usd: float | None = Field(description="The liability cap in US dollars.")
    liability_cap_basis: str | None = Field(description="How the cap is set, e.g. 'fees of 12 months'.")
    buyer_convenience_notice_days: int | None = Field(description="Our notice to terminate for convenience.")
    supplier_convenience_notice_days: int | None = Field(description="Supplier's notice to terminate for convenience.")
    auto_renewal: bool = Field(description="True when the contract renews automatically.")
    renewal_term_months: int | None = Field(description="Length of each automatic renewal in months.")
    non_renewal_notice_days: int | None = Field(description="Notice needed to stop an automatic renewal.")
    price_adjustment: str | None = Field(description="How prices may change: fixed, capped or uncapped.")
    price_increase_cap_pct: float | None = Field(description="Maximum yearly price increase in percent.")
    governing_law: str | None = Field(description="Jurisdiction whose laws govern the contract.")
    missing_fields: list[str] = Field(default_factory=list, description="Required terms not found in the text.")


class Deviation(BaseModel):
    """One departure from our standard contract terms."""

    clause: str = Field(description="Clause, e.g. payment_terms, liability_cap, governing_law.")
    standard: str = Field(description="Our standard position.")
    supplier_position: str = Field(description="What the contract says instead.")
    risk: Risk = Field(description="low, medium or high.")


class ComplianceFindings(BaseModel):
    """How a contract compares with our standard contract terms."""

    contract_id: str = Field(description="Contract id, e.g. CTR-1001.")
    compliant: bool = Field(description="True when no deviation is rated medium or high.")
    highest_risk: Literal["none", "low", "medium", "high"] = Field(description="The most severe deviation's risk.")
    recommendation: Recommendation = Field(description="sign, negotiate or escalate_to_legal.")
    deviations: list[Deviation] = Field(default_factory=list, description="Every deviation found.")


class ContractSummary(BaseModel):
    """The approvers' summary of a reviewed contract."""

    contract_id: str = Field(description="Contract id, e.g. CTR-1001.")
    recommendation: Recommendation = Field(description="sign, negotiate or escalate_to_legal.")
    deviations: list[Deviation] = Field(default_factory=list, description="Deviations rated medium or high.")
    rationale: str = Field(description="Two or three sentences on why.")


def error_lines(exc: ValidationError) -> list[str]:
    """A pydantic error as short lines: ``field: problem``."""
    return [f"{'.'.join(str(p) for p in e['loc']) or 'output'}: {e['msg']}" for e in exc.errors()[:8]]


def schema_errors(schema: type[BaseModel], data: Any) -> tuple[BaseModel | None, list[str]]:
    """Validate ``data`` against ``schema``; returns the model or the problems, one line each."""
    if data is None:
        return None, ["the step produced no output"]
    try:
        return schema.model_validate(data), []
    except ValidationError as exc:
        return None, error_lines(exc)


def _limits(policy: Any) -> dict[str, float]:
    return {key: float(policy.get(f"contracts.validation.{key}"))
            for key in ("max_payment_days", "max_notice_days", "max_term_years")}


def _range(name: str, value: float | None, low: float, high: float) -> list[str]:
    if value is None or low <= value <= high:
        return []
    return [f"{name} is {value:g}, outside the plausible range {low:g} to {high:g}"]


def term_errors(terms: ContractTerms, contract_id: str, policy: Any) -> list[str]:
    """Sanity rules for extracted terms (the schema has already passed)."""
    limits, errors = _limits(policy), []
    if terms.contract_id.strip().upper() != contract_id.upper():
        errors.append(f"terms are for {terms.contract_id}, not for the contract under review {contract_id}")
    missing = sorted({n for n in REQUIRED_TERMS if getattr(terms, n) is None} | set(terms.missing_fields))
    errors += [f"required term missing: {name}" for name in missing]
    if terms.effective_date and terms.expiry_date:
        if terms.expiry_date <= terms.effective_date:
            errors.append(f"expiry_date {terms.expiry_date} is not after effective_date {terms.effective_date}")
        elif (terms.expiry_date - terms.effective_date).days > 366 * limits["max_term_years"]:
            errors.append(f"the initial term is longer than {limits['max_term_years']:g} years")
    for name in ("annual_value_usd", "liability_cap_usd"):
        if (getattr(terms, name) or 0) < 0:
            errors.append(f"{name} is negative ({getattr(terms, name):g})")
    errors += _range("payment_terms_days", terms.payment_terms_days, 0, limits["max_payment_days"])
    for name in ("buyer_convenience_notice_days", "supplier_convenience_notice_days", "non_renewal_notice_days"):
        errors += _range(name, getattr(terms, name), 0, limits["max_notice_days"])
    errors += _range("renewal_term_months", terms.renewal_term_months, 1, 12 * limits["max_term_years"])
    errors += _range("price_increase_cap_pct", terms.price_increase_cap_pct, 0, 100)
    errors += _range("early_payment_discount_pct", terms.early_payment_discount_pct, 0, 100)
    if terms.price_adjustment is not None and terms.price_adjustment not in PRICE_ADJUSTMENTS:
        errors.append(f"price_adjustment {terms.price_adjustment!r} is not one of {', '.join(PRICE_ADJUSTMENTS)}")
    return errors


def finding_errors(findings: ComplianceFindings, terms: dict[str, Any], standards: ContractStandards) -> list[str]:
    """Consistency rules for compliance findings, and a cross-check with the rule check on the terms."""
    errors = []
    if findings.contract_id.upper() != str(terms.get("contract_id", "")).upper():
        errors.append(f"findings are for {findings.contract_id}, not for {terms.get('contract_id')}")
    worst = highest_risk([d.model_dump() for d in findings.deviations])
    if findings.highest_risk != worst:
        errors.append(f"highest_risk is {findings.highest_risk} but the worst deviation listed is {worst}")
    if findings.compliant != (worst in ("none", "low")):
        errors.append(f"compliant={findings.compliant} contradicts a worst deviation of {worst}")
    if _more_cautious(recommendation_for(worst), findings.recommendation):
        errors.append(f"recommendation {findings.recommendation} is less cautious than a {worst}-risk deviation allows")
    # A deviation the rules find in the validated terms may not disappear, whatever the model was told.
    listed = {d.clause: d.risk for d in findings.deviations}
    for expected in check_terms(terms, standards)["deviations"]:
        got = listed.get(expected["clause"])
        if got is None or RISK_ORDER.index(got) < RISK_ORDER.index(expected["risk"]):
            errors.append(f"deviation {expected['clause']} ({expected['risk']}) is missing or rated lower")
    return errors


def summary_errors(summary: ContractSummary, findings: dict[str, Any]) -> list[str]:
    """The summary must carry every medium/high deviation, invent none, and not soften the verdict."""
    errors = []
    if summary.contract_id.upper() != str(findings.get("contract_id", "")).upper():
        errors.append(f"summary is for {summary.contract_id}, not for {findings.get('contract_id')}")
    found = {d["clause"] for d in findings.get("deviations", [])}
    must = {d["clause"] for d in findings.get("deviations", []) if d["risk"] in ("medium", "high")}
    listed = {d.clause for d in summary.deviations}
    errors += [f"flagged risk {clause} is missing from the summary" for clause in sorted(must - listed)]
    errors += [f"summary lists {clause}, which the compliance check did not find" for clause in sorted(listed - found)]
    if _more_cautious(findings.get("recommendation", "sign"), summary.recommendation):
        errors.append(f"summary recommends {summary.recommendation}; the findings require at least "
                      f"{findings.get('recommendation')}")
    if not summary.rationale.strip():
        errors.append("rationale is empty")
    return errors


def _more_cautious(required: str, given: str) -> bool:
    """True when ``required`` is a more cautious recommendation than ``given``."""
    return RECOMMENDATION_ORDER.index(required) > RECOMMENDATION_ORDER.index(given)
