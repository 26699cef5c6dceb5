"""contract_review and supplier_risk driven from the command line, as an operator would.

Real subprocesses (`python -m opsgraph run ...`) on the offline engine, the knowledge layer and
the SQLite checkpointer; assertions on the printed result, `runs show`, `audit` and the mock
enterprise's database. One data home per module, so the corpus is ingested once.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.support.cli import opsgraph

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("review-cli") / "home"


def run_json(home: Path, *args: str) -> dict:
    proc = opsgraph(home, "run", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def audit(home: Path, thread: str) -> list[dict]:
    return json.loads(opsgraph(home, "audit", thread, "--json").stdout)


def _purchase_orders(home: Path) -> int:
    with sqlite3.connect(home / "world.db") as conn:
        return conn.execute("SELECT COUNT(*) FROM purchase_orders").fetchone()[0]


def test_contract_review_scenarios_from_the_cli(home):
    risky = run_json(home, "contract_review", "--contract", "CTR-1002", "--thread", "cli-cr-risky")
    assert risky["status"] == "completed" and risky["report"]["recommendation"] == "escalate_to_legal"
    assert {"liability_cap", "supplier_termination", "price_adjustment"} <= \
        {d["clause"] for d in risky["report"]["flagged_risks"]}
    assert risky["report"]["policies_cited"]  # the compliance agent read the standard terms
    shown = json.loads(opsgraph(home, "runs", "show", "cli-cr-risky", "--json").stdout)
    assert shown["visited"] == ["contract_extractor", "contract_compliance", "contract_summarizer"]
    assert [a["tool"] for a in shown["actions"]] == ["read_contract", "extract_contract_terms", "search_knowledge",
                                                     "check_contract_terms"]
    events = audit(home, "cli-cr-risky")
    assert [e["name"] for e in events if e["kind"] == "validation"] == ["terms", "compliance", "summary"]

    clean = run_json(home, "contract_review", "--contract", "CTR-1001", "--thread", "cli-cr-clean")
    assert clean["report"]["recommendation"] == "sign" and clean["report"]["flagged_risks"] == []


def test_garbled_and_hostile_contracts_from_the_cli(home):
    before = _purchase_orders(home)
    garbled = run_json(home, "contract_review", "--contract", "CTR-1004", "--thread", "cli-cr-garbled")
    assert garbled["status"] == "stopped"
    assert "terms failed validation" in garbled["report"]["stop_reason"]
    assert garbled["report"]["steps"] == ["contract_extractor", "validate:terms:failed"]
    [gate] = [e for e in audit(home, "cli-cr-garbled") if e["kind"] == "validation"]
    assert gate["ok"] is False

    hostile = run_json(home, "contract_review", "--contract", "CTR-1005", "--thread", "cli-cr-hostile")
    assert hostile["status"] == "completed" and hostile["report"]["recommendation"] == "escalate_to_legal"
    assert hostile["report"]["terms"]["payment_terms_days"] == 15
    events = audit(home, "cli-cr-hostile")
    assert not [e for e in events if e["name"] in ("create_purchase_order", "issue_refund")]
    assert _purchase_orders(home) == before

    printed = opsgraph(home, "run", "contract_review", "--contract", "CTR-1003", "--thread", "cli-cr-print")
    assert printed.returncode == 0 and "Recommendation: negotiate" in printed.stdout
    assert "thread: cli-cr-print  status: completed" in printed.stdout


def test_supplier_risk_scenarios_from_the_cli(home):
    solid = run_json(home, "supplier_risk", "--supplier", "SUP-001", "--thread", "cli-sr-solid")
    assert solid["status"] == "completed" and solid["report"]["risk_level"] == "low"
    assert solid["report"]["needs_review"] is False
    assert not [e for e in audit(home, "cli-sr-solid") if e["kind"] == "disagreement"]

    split = run_json(home, "supplier_risk", "--supplier", "SUP-019", "--thread", "cli-sr-split")
    report = split["report"]
    assert report["risk_level"] == "high" and report["needs_review"] is True
    assert report["disagreement"]["scores"]["finance_assessor"] > 80
    events = audit(home, "cli-sr-split")
    [logged] = [e for e in events if e["kind"] == "disagreement"]
    assert logged["agent"] == "reconciler"
    shown = json.loads(opsgraph(home, "runs", "show", "cli-sr-split", "--json").stdout)
    assert set(shown["visited"]) == {"finance_assessor", "operations_assessor", "esg_assessor", "reconciler"}
    assert {a["tool"] for a in shown["actions"]} >= {"get_supplier", "score_financial_risk", "score_operational_risk",
                                                      "score_esg_risk", "search_knowledge"}


def test_review_user_errors_are_one_line(home):
    for args, needle in ((("contract_review", "--contract", "CTR-9999"), "unknown contract"),
                         (("supplier_risk", "--supplier", "SUP-999"), "SUP-999"),
                         (("contract_review",), "--contract")):
        proc = opsgraph(home, "run", *args)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and needle in lines[0], proc.stderr
