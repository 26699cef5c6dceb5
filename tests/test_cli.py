"""The opsgraph command line, driven as a user would: subprocesses, exit codes, stdout/stderr."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import isolated_env, one_error_line, opsgraph

pytestmark = pytest.mark.slow




def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def test_run_prints_report_and_thread_then_list_show_audit(tmp_path):
    home = tmp_path / "home"
    proc = opsgraph(home, "run", "supply_chain_exception", "--shipment", "SH-0002", "--delay-days", "4", "--thread", "cli-1")
    assert proc.returncode == 0, proc.stderr
    assert "Incident report" in proc.stdout and "thread: cli-1" in proc.stdout
    assert "logistics" in proc.stdout and "get_shipment" in proc.stdout
    listed = json.loads(opsgraph(home, "runs", "list", "--json").stdout)
    assert listed[0]["thread_id"] == "cli-1" and listed[0]["status"] == "completed"
    shown = json.loads(opsgraph(home, "runs", "show", "cli-1", "--json").stdout)
    assert shown["visited"][:2] == ["logistics", "inventory"]
    assert shown["cost"]["model_calls"] > 0
    audit = json.loads(opsgraph(home, "audit", "cli-1", "--json").stdout)
    kinds = {e["kind"] for e in audit}
    assert {"model_call", "tool_call"} <= kinds
    assert any(e["name"] == "create_purchase_order" and e["ok"] for e in audit)


def test_approval_flow_from_the_cli(tmp_path):
    home = tmp_path / "home"
    first = opsgraph(home, "run", "supply_chain_exception", "--shipment", "SH-0001", "--delay-days", "5", "--thread", "cli-a")
    assert first.returncode == 0 and "Approval required" in first.stdout
    before = _count(home / "world.db", "SELECT COUNT(*) FROM purchase_orders")
    bad = opsgraph(home, "runs", "resume", "cli-a", "--edit", "{quantity: 5")
    one_error_line(bad, "not valid JSON")
    done = opsgraph(home, "runs", "resume", "cli-a", "--approve", "--by", "dana", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["report"]
    assert report["approvals"][0]["by"] == "dana"
    assert _count(home / "world.db", "SELECT COUNT(*) FROM purchase_orders") == before + 1


def test_user_errors_are_one_line_and_write_nothing(tmp_path):
    home = tmp_path / "home"
    one_error_line(opsgraph(home, "run", "supply_chain_exception", "--shipment", "SH-9999", "--delay-days", "3"), "SH-9999")
    one_error_line(opsgraph(home, "runs", "resume", "no-such-thread", "--approve"), "no-such-thread")
    one_error_line(opsgraph(home, "runs", "show", "no-such-thread"), "no-such-thread")
    one_error_line(opsgraph(home, "audit", "no-such-thread"), "no-such-thread")
    one_error_line(opsgraph(home, "run", "no_such_graph", "--shipment", "SH-0001"), "unknown graph")
    one_error_line(opsgraph(home, "run", "supply_chain_exception", "--shipment", "SH-0001", "--delay-days", "400"), "between 1 and 60")
    one_error_line(opsgraph(home, "world", "show", "spaceship", "X-1"), "spaceship")
    assert not (home / "checkpoints.db").exists() or _count(home / "checkpoints.db", "SELECT COUNT(*) FROM checkpoints") == 0
    assert _count(home / "audit.db", "SELECT COUNT(*) FROM runs") == 0
    assert _count(home / "audit.db", "SELECT COUNT(*) FROM audit_events") == 0


def test_free_text_event_and_world_commands(tmp_path):
    home = tmp_path / "home"
    proc = opsgraph(home, "run", "supply_chain_exception", "--event", "Carrier says SH-0004 is stuck in customs, 3 days late", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["report"]["what_happened"].startswith("Shipment SH-0004 delayed 3 days")
    shown = json.loads(opsgraph(home, "world", "show", "shipment", "SH-0004").stdout)
    assert shown["status"] == "delayed"
    reset = opsgraph(home, "world", "reset")
    assert reset.returncode == 0 and "reset" in reset.stdout
    assert json.loads(opsgraph(home, "world", "show", "shipment", "SH-0004").stdout)["status"] != "delayed"


def test_config_prints_effective_settings(tmp_path):
    home = tmp_path / "home"
    out = json.loads(opsgraph(home, "config", "--json", OPSGRAPH_SMALL_MODEL="openai:tiny", OPENAI_API_KEY="sk-abcdefghijk").stdout)
    assert out["small_model"] == "openai:tiny" and out["data_home"] == str(home)
    assert "abcdefghijk" not in json.dumps(out)


def test_sigkill_after_a_write_then_resume_has_no_duplicate_writes(tmp_path):
    home = tmp_path / "home"
    env = isolated_env(home, COLUMNS="200", OPSGRAPH_CONNECTOR_LATENCY_MS="250")
    cmd = [sys.executable, "-m", "opsgraph", "run", "supply_chain_exception",
           "--shipment", "SH-0002", "--delay-days", "4", "--thread", "crash-1"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (home / "world.db").exists() and _count(home / "world.db", "SELECT COUNT(*) FROM idempotency") >= 1:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _count(home / "world.db", "SELECT COUNT(*) FROM idempotency") >= 1  # at least one write happened

    resumed = opsgraph(home, "runs", "resume", "crash-1", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "completed"
    world = home / "world.db"
    assert _count(world, "SELECT delay_days FROM shipments WHERE shipment_id = 'SH-0002'") == 4  # applied once
    assert _count(world, "SELECT COUNT(*) FROM purchase_orders WHERE dc_id = 'DC-WEST' AND justification LIKE '%SH-0002%'") == 1
    assert _count(world, "SELECT COUNT(*) FROM outbox") == _count(world, "SELECT COUNT(DISTINCT customer_id) FROM outbox")
    audit = home / "audit.db"
    writes = _count(audit, "SELECT COUNT(*) FROM audit_events WHERE thread_id = 'crash-1' AND name IN "
                           "('report_shipment_delay', 'create_purchase_order', 'notify_customers') AND ok = 1")
    assert writes == 3
