"""``opsgraph run`` for support_desk, procurement_review and operations_director, driven as a user would.

One data home for the module, so the knowledge corpus is ingested once; each test checks the
mock enterprise before and after its own run.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.support.cli import opsgraph

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("orchestration-cli") / "home"


def run_json(home: Path, *args: str) -> dict:
    proc = opsgraph(home, *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def query(home: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(home / "world.db") as conn:
        return conn.execute(sql, params).fetchall()


def shown(home: Path, thread: str) -> dict:
    return run_json(home, "runs", "show", thread)


def audit(home: Path, thread: str) -> list[dict]:
    return run_json(home, "audit", thread)


def test_support_desk_refund_from_the_cli(home):
    out = run_json(home, "run", "support_desk", "--message", "I was charged twice for invoice INV-0001; please "
                   "refund the duplicate charge. Ticket TCK-0001.", "--customer", "CUST-005", "--thread", "cli-sd-1")
    assert out["status"] == "completed" and out["report"]["route"] == ["triage", "billing"]
    assert query(home, "SELECT amount_usd FROM refunds WHERE invoice_id = 'INV-0001'") == [(189.0,)]
    assert query(home, "SELECT status FROM tickets WHERE ticket_id = 'TCK-0001'") == [("resolved",)]
    assert shown(home, "cli-sd-1")["visited"] == ["triage", "billing"]
    assert {"handoff", "tool_call", "model_call"} <= {e["kind"] for e in audit(home, "cli-sd-1")}


def test_support_desk_technical_question_from_the_cli(home):
    proc = opsgraph(home, "run", "support_desk", "--message", "Our inventory sync fails with error 401 since I "
                    "changed my password. Ticket TCK-0002.", "--customer", "CUST-006", "--thread", "cli-sd-2")
    assert proc.returncode == 0, proc.stderr
    assert "Route: triage -> technical_support" in proc.stdout and "thread: cli-sd-2" in proc.stdout
    report = shown(home, "cli-sd-2")["report"]
    assert "sync-error-401.md" in report["reply"]
    assert query(home, "SELECT status FROM tickets WHERE ticket_id = 'TCK-0002'") == [("pending",)]


def test_procurement_review_compliant_request_from_the_cli(home):
    before = query(home, "SELECT COUNT(*) FROM purchase_orders")[0][0]
    out = run_json(home, "run", "procurement_review", "--request",
                   '{"sku_id": "SKU-003", "quantity": 65, "dc_id": "DC-WEST", "preferred_supplier_id": "SUP-006"}',
                   "--thread", "cli-pr-1")
    assert out["report"]["outcome"] == "approved" and out["report"]["rounds"] == 1
    assert query(home, "SELECT supplier_id, total_usd FROM purchase_orders ORDER BY po_id DESC LIMIT 1") == [
        ("SUP-006", 8515.0)]
    assert query(home, "SELECT COUNT(*) FROM purchase_orders")[0][0] == before + 1
    assert shown(home, "cli-pr-1")["visited"] == ["buyer", "compliance", "finance", "purchasing"]


def test_procurement_review_unapproved_supplier_is_revised_from_the_cli(home):
    out = run_json(home, "run", "procurement_review", "--request", "20 units of SKU-001 for DC-EAST from SUP-013",
                   "--thread", "cli-pr-2")
    report = out["report"]
    assert report["outcome"] == "approved" and report["rounds"] == 2
    assert report["purchase_order"]["supplier_id"] == "SUP-001"
    assert query(home, "SELECT COUNT(*) FROM purchase_orders WHERE supplier_id = 'SUP-013'") == [(0,)]
    verdicts = [(e["agent"], e["result"]["verdict"]) for e in audit(home, "cli-pr-2") if e["kind"] == "verdict"]
    assert verdicts == [("compliance", "revise"), ("finance", "approve"), ("compliance", "approve"), ("finance", "approve")]


def test_procurement_review_escalation_then_human_reject_from_the_cli(home):
    before = query(home, "SELECT COUNT(*) FROM purchase_orders")[0][0]
    proc = opsgraph(home, "run", "procurement_review", "--request", "1200 units of SKU-003 for DC-WEST from SUP-006",
                    "--thread", "cli-pr-3")
    assert proc.returncode == 0, proc.stderr
    assert "Escalated to a human" in proc.stdout and "no agreement after 3 review rounds" in proc.stdout
    done = run_json(home, "runs", "resume", "cli-pr-3", "--reject", "--reason", "over budget", "--by", "dana")
    assert done["status"] == "completed" and done["report"]["outcome"] == "escalated"
    assert query(home, "SELECT COUNT(*) FROM purchase_orders")[0][0] == before


def test_operations_director_shipment_from_the_cli(home):
    before = query(home, "SELECT COUNT(*) FROM purchase_orders")[0][0]
    out = run_json(home, "run", "operations_director", "--shipment", "SH-0002", "--delay-days", "4", "--thread", "cli-od-1")
    assert out["status"] == "completed" and out["report"]["agents"] == ["supply_chain_team"]
    assert query(home, "SELECT COUNT(*) FROM purchase_orders")[0][0] == before + 1
    assert query(home, "SELECT status FROM shipments WHERE shipment_id = 'SH-0002'") == [("delayed",)]


def test_operations_director_interrupt_in_a_team_resumed_from_the_cli(home):
    before = query(home, "SELECT COUNT(*) FROM purchase_orders")[0][0]
    first = run_json(home, "run", "operations_director", "--request", "200 units of SKU-001 for DC-EAST from SUP-001",
                     "--thread", "cli-od-2")
    assert first["status"] == "awaiting_approval" and first["pending"][0]["amount_usd"] == 34400.0
    done = run_json(home, "runs", "resume", "cli-od-2", "--approve", "--by", "erin")
    assert done["status"] == "completed" and done["report"]["agents"] == ["procurement_team"]
    assert query(home, "SELECT total_usd, approved_by FROM purchase_orders WHERE po_id > 'PO-00024' ORDER BY po_id "
                 "DESC LIMIT 1") == [(34400.0, "erin")]
    assert query(home, "SELECT COUNT(*) FROM purchase_orders")[0][0] == before + 1


def test_user_errors_for_the_new_options_are_one_line(home):
    for args, needle in ((("support_desk",), "--message"), (("support_desk", "--message", "hi", "--customer", "CUST-999"),
                                                            "CUST-999"),
                         (("procurement_review", "--request", "{bad"), "not valid JSON"),
                         (("procurement_review", "--request", "some units please"), "needs sku_id"),
                         (("operations_director",), "give the director work")):
        proc = opsgraph(home, "run", *args)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert needle in proc.stderr
