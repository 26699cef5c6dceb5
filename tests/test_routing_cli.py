"""Budgets, costs and router calibration from the command line, driven as a user would (subprocesses)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.support.cli import one_error_line, opsgraph

pytestmark = pytest.mark.slow
PROJECT = Path(__file__).resolve().parent.parent


def _priced(tmp_path: Path) -> dict[str, str]:
    prices = tmp_path / "prices.yaml"
    prices.write_text("models:\n  offline:small: {input: 10.0, output: 40.0}\n  offline:large: {input: 100.0, output: 400.0}\n")
    return {"OPSGRAPH_PRICING": str(prices)}


def test_budget_stops_the_run_and_resume_with_a_raised_budget_completes(tmp_path):
    home, env = tmp_path / "home", _priced(tmp_path)
    run = opsgraph(home, "run", "supply_chain_exception", "--shipment", "SH-0002", "--delay-days", "4",
                   "--thread", "cli-budget", "--budget-usd", "0.02", **env)
    assert run.returncode == 0, run.stderr
    assert "Budget exhausted" in run.stdout and "run cost budget of $0.0200 exhausted" in run.stdout
    assert "opsgraph runs resume cli-budget --budget-usd <USD>" in run.stdout
    shown = json.loads(opsgraph(home, "runs", "show", "cli-budget", "--json", **env).stdout)
    assert shown["status"] == "budget_exhausted" and shown["pending"][0]["type"] == "budget"
    one_error_line(opsgraph(home, "runs", "resume", "cli-budget", **env), "--budget-usd <USD> above")
    done = opsgraph(home, "runs", "resume", "cli-budget", "--budget-usd", "5", "--json", **env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "completed" and result["report"]["outcome"] == "completed"
    assert result["report"]["cost"]["total_usd"] > 0.02


def test_costs_table_json_and_chart(tmp_path):
    home, env = tmp_path / "home", _priced(tmp_path)
    for thread, shipment in (("c-1", "SH-0002"), ("c-2", "SH-0004")):
        assert opsgraph(home, "run", "supply_chain_exception", "--shipment", shipment, "--delay-days", "4",
                        "--thread", thread, "--json", **env).returncode == 0
    summary = json.loads(opsgraph(home, "costs", "--json", **env).stdout)
    assert summary["runs"] == 2 and summary["model_calls"] > 0
    for group in ("by_agent", "by_tier", "by_model", "by_graph"):
        assert sum(r["cost_usd"] for r in summary[group].values()) == pytest.approx(summary["total_usd"], abs=1e-8)
    assert set(summary["by_tier"]) == {"small", "large"}
    chart = tmp_path / "costs.png"
    table = opsgraph(home, "costs", "--png", str(chart), **env)
    assert table.returncode == 0 and "Model spend over 2 runs" in table.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    explained = json.loads(opsgraph(home, "routing", "explain", "c-1", "--json", **env).stdout)
    assert explained and all(c["rule"] and "score" in c["signals"] for c in explained)
    one_error_line(opsgraph(home, "costs", "--png", str(tmp_path / "chart.jpg"), **env), ".png")


def test_calibrate_rewrites_only_the_threshold(tmp_path):
    policy = tmp_path / "policy.yaml"
    shutil.copy(PROJECT / "policy.yaml", policy)
    before = policy.read_text().splitlines()
    proc = opsgraph(tmp_path / "home", "routing", "calibrate", "--large-share", "0.3", "--policy", str(policy), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert abs(result["achieved_share"] - 0.3) <= 0.05 and result["calls"] > 50
    after = policy.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(before) == len(after) and len(changed) == 1
    assert changed[0][1].strip() == f"threshold: {result['threshold']}"
    assert yaml.safe_load(policy.read_text())["routing"]["threshold"] == result["threshold"]


def test_routing_and_budget_mistakes_are_one_line_errors(tmp_path):
    home = tmp_path / "home"
    one_error_line(opsgraph(home, "run", "supply_chain_exception", "--shipment", "SH-0002", "--delay-days", "4",
                                 "--routing", "cheap"), "--routing must be one of")
    one_error_line(opsgraph(home, "run", "supply_chain_exception", "--shipment", "SH-0002", "--delay-days", "4",
                                 "--agent-budget-usd", "procurement"), "AGENT=VALUE")
    one_error_line(opsgraph(home, "routing", "calibrate", "--large-share", "2"), "between 0 and 1")
    one_error_line(opsgraph(home, "run", "supply_chain_exception", "--shipment", "SH-0002", "--delay-days", "4",
                                 OPSGRAPH_PRICING=str(tmp_path / "nope.yaml")), "nope.yaml")
