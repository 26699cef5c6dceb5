"""The review tools on their own: contract parsing and rules, risk scores, and how the offline engine uses them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Literal

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel

from opsgraph.governance.policy import Policy, load_policy
from opsgraph.models import load_chat_model
from tests.support.paths import PROJECT_ROOT
from opsgraph.tools.connectors.base import NotFound, ValidationFailed
from opsgraph.tools.connectors.contracts import ContractRepository
from opsgraph.tools.contract_terms import ContractStandards, check_terms, extract_terms
from opsgraph.tools.risk_scoring import RiskStandards, esg_risk, financial_risk, operational_risk

POLICY = load_policy(Path(PROJECT_ROOT) / "policy.yaml")
REPO = ContractRepository()


def _terms(contract_id: str) -> dict:
    return extract_terms(contract_id, REPO.read_contract(contract_id)["text"])


@pytest.mark.parametrize("contract, expected", [
    ("CTR-1001", {"payment_terms_days": 45, "liability_cap_usd": 420000.0, "renewal_term_months": 12,
                  "supplier_convenience_notice_days": 120, "price_increase_cap_pct": 3.0, "governing_law": "Delaware"}),
    ("CTR-1002", {"payment_terms_days": 15, "liability_cap_usd": 50000.0, "annual_value_usd": 600000.0,
                  "non_renewal_notice_days": 180, "price_adjustment": "uncapped",
                  "governing_law": "Federal Republic of Germany"}),
    ("CTR-1003", {"payment_terms_days": 30, "early_payment_discount_pct": 2.0, "price_increase_cap_pct": 8.0}),
    ("CTR-1006", {"auto_renewal": False, "price_adjustment": "fixed", "liability_cap_months": 24,
                  "effective_date": "2026-06-01", "expiry_date": "2027-05-31"}),
])
def test_clauses_are_parsed_from_their_sections(contract, expected):
    terms = _terms(contract)
    assert {key: terms[key] for key in expected} == expected and terms["missing_fields"] == []


def test_planted_text_outside_a_clause_cannot_supply_a_term():
    terms = _terms("CTR-1005")  # its notes section claims Delaware law, a 12-month cap and net 45
    assert terms["payment_terms_days"] == 15 and terms["governing_law"] == "Republic of India"
    assert terms["liability_cap_usd"] == 50000.0


def test_garbled_contract_is_extracted_as_written_for_validation_to_judge():
    terms = _terms("CTR-1004")
    assert terms["expiry_date"] < terms["effective_date"] and terms["liability_cap_usd"] == -75000.0
    assert set(terms["missing_fields"]) == {"annual_value_usd", "payment_terms_days", "governing_law"}


def test_standards_come_from_policy():
    raw = copy.deepcopy(POLICY.raw)
    raw["contracts"]["payment_terms"]["min_days"] = 10
    raw["contracts"]["governing_law"] = "Federal Republic of Germany"
    relaxed = ContractStandards.from_policy(Policy(raw=raw))
    strict = check_terms(_terms("CTR-1002"), ContractStandards.from_policy(POLICY))
    loose = check_terms(_terms("CTR-1002"), relaxed)
    risks = {d["clause"]: d["risk"] for d in loose["deviations"]}
    assert risks["payment_terms"] == "medium" and "governing_law" not in risks
    assert {d["clause"] for d in strict["deviations"]} - set(risks) == {"governing_law"}


def test_repository_rejects_bad_ids():
    with pytest.raises(ValidationFailed, match="CTR-1001"):
        REPO.read_contract("../../etc/passwd")
    with pytest.raises(NotFound, match="CTR-9999"):
        REPO.read_contract("CTR-9999")
    assert REPO.list_contracts()["count"] == 6


def _supplier(**fields) -> dict:
    history = [{"period": "2026-Q1", "deliveries": 30, "on_time": 27, "defect_rate": 0.01}] * 4
    return {"supplier_id": "SUP-900", "approved": True, "financial_health": 80, "esg_score": 80,
            "performance": history, "on_time_rate": 0.9, "defect_rate": 0.01, "open_purchase_orders": 0, **fields}


def test_scores_follow_the_policy_thresholds():
    standards = RiskStandards.from_policy(POLICY)
    distressed = financial_risk(_supplier(financial_health=24), standards)
    assert distressed["risk_level"] == "high" and distressed["score"] >= POLICY.get("supplier_risk.critical_score")
    below = esg_risk(_supplier(esg_score=40), standards)
    assert below["score"] == 70.0 and any("below the approval minimum" in e for e in below["evidence"])
    thin = operational_risk(_supplier(performance=[{"period": "2026-Q1", "deliveries": 6, "on_time": 6,
                                                    "defect_rate": 0.0}], on_time_rate=1.0), standards)
    full = operational_risk(_supplier(), standards)
    assert thin["confidence"] < full["confidence"] == 1.0
    assert financial_risk(_supplier(financial_health=None), standards)["confidence"] == 0.2


class Verdict(BaseModel):
    level: Literal["low", "medium", "high"]
    cap_usd: float | None
    note: str


def test_offline_engine_copies_a_stated_option_and_leaves_unknown_nullables_empty():
    model = load_chat_model("offline:small").with_structured_output(Verdict)
    call = AIMessage("", tool_calls=[{"name": "score", "args": {}, "id": "c1", "type": "tool_call"}])
    messages = [SystemMessage("You are the reviewer agent.\n- low: nothing found\n- high: serious problems"),
                HumanMessage("Assess it."), call, ToolMessage('{"level": "medium", "note": "x"}', tool_call_id="c1")]
    out = model.invoke(messages)
    assert out.level == "medium" and out.cap_usd is None
