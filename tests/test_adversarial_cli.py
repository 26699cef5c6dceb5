"""A refused edit from the command line: one clear line, exit 1, and the thread still awaits a decision."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.support.cli import opsgraph

pytestmark = pytest.mark.slow

DISPUTE = "Please refund $738.00 on invoice INV-0002: 12 of the 40 boxes arrived damaged. Ticket TCK-0004."


def _refunds(home) -> list[tuple]:
    with sqlite3.connect(home / "world.db") as conn:
        return conn.execute("SELECT amount_usd, approved_by FROM refunds WHERE invoice_id = 'INV-0002'").fetchall()


def test_refused_edit_is_one_line_exit_1_and_the_approval_stays_pending(tmp_path):
    home = tmp_path / "home"
    first = opsgraph(home, "run", "support_desk", "--message", DISPUTE, "--customer", "CUST-008", "--thread", "cli-edit")
    assert first.returncode == 0 and "Approval required" in first.stdout, first.stderr
    for edit, why in (('{"quantity": 5}', "cannot edit quantity on a refund"),
                      ('{"amount_usd": 5000}', "may lower a refund")):
        bad = opsgraph(home, "runs", "resume", "cli-edit", "--edit", edit, "--by", "dana")
        lines = [line for line in bad.stderr.splitlines() if line.strip()]
        assert bad.returncode == 1 and len(lines) == 1 and why in lines[0], bad.stderr
        assert "Traceback" not in bad.stderr + bad.stdout and "still awaits" in lines[0]
        assert _refunds(home) == []
    status = json.loads(opsgraph(home, "runs", "show", "cli-edit", "--json").stdout)
    assert status["status"] == "awaiting_approval"
    done = opsgraph(home, "runs", "resume", "cli-edit", "--edit", '{"amount_usd": 400}', "--by", "dana", "--json")
    assert done.returncode == 0, done.stderr
    assert _refunds(home) == [(400.0, "dana")]
