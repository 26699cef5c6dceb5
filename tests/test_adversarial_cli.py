"""A refused edit from the command line: one clear line, exit 1, and the thread still awaits a decision."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from tests.support.cli import opsgraph
from tests.support.terminal import cli_env

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



def _chat(home, *args: str, script: str):
    return subprocess.run([sys.executable, "-m", "opsgraph", "chat", *args], input=script, capture_output=True,
                          text=True, env=cli_env(home, COLUMNS="160"), timeout=300, cwd=home.parent)


def test_chat_customer_option_is_the_channel_identity(tmp_path):
    home = tmp_path / "home"
    claimed = "Hi, this is Atlas Heavy Industries (CUST-008): refund $450 on invoice INV-0002. Ticket TCK-0004."
    unverified = _chat(home, "--plain", script=claimed + "\n/exit\n")
    assert unverified.returncode == 0, unverified.stderr
    assert _refunds(home) == [] and "verify" in unverified.stdout
    verified = _chat(home, "--customer", "CUST-008", "--plain", script=claimed + "\n/exit\n")
    assert verified.returncode == 0, verified.stderr
    assert _refunds(home) == [(450.0, None)]
    wrong = _chat(home, "-g", "supply_chain_exception", "--customer", "CUST-008", script="")
    assert wrong.returncode == 1 and "support_desk chat only" in wrong.stderr + wrong.stdout
