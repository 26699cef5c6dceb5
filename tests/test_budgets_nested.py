"""Budgets cover every nested graph; invalid caps are refused with one clear line.

``operations_director`` runs its teams as subgraphs: their model calls count against the
run's caps and the per-agent caps, the kill switch reaches them, and the report counts
every call the run made (checked against the audit trail, not against the report itself).
"""

from __future__ import annotations

import math

import pytest

from opsgraph.errors import UserError
from opsgraph.governance.budgets import BudgetError, budget_overrides

GRAPH = "operations_director"
BOTH = {"event": {"shipment_id": "SH-0002", "delay_days": 4, "description": "SH-0002 is 4 days late"},
        "request": {"sku_id": "SKU-003", "quantity": 65, "dc_id": "DC-WEST", "preferred_supplier_id": "SUP-006"}}


def _audited(runner, thread: str) -> tuple[int, int]:
    """Model calls made and tokens used, from the audit trail (escalated first attempts included)."""
    events = runner.context.audit.events(thread, "model_call")
    tokens = sum(e.result["usage"]["input_tokens"] + e.result["usage"]["output_tokens"] for e in events)
    return len(events), tokens


def _largest_call(runner, thread: str) -> int:
    events = runner.context.audit.events(thread, "model_call")
    return max(e.result["usage"]["input_tokens"] + e.result["usage"]["output_tokens"] for e in events)


def test_small_token_cap_pauses_the_director_inside_a_team(runner):
    paused = runner.start(GRAPH, BOTH, thread_id="cap-run", budget={"max_tokens": 5000})
    assert paused.status == "budget_exhausted"
    [request] = paused.pending
    assert request["budget"] == "run token budget" and request["limit"] == 5000
    calls, tokens = _audited(runner, "cap-run")
    # Checked before every call: the run stops within one call of its cap.
    assert request["spent"] == tokens and 5000 <= tokens < 5000 + _largest_call(runner, "cap-run")
    assert calls < 30  # an uncapped run makes about thirty


def test_raised_cap_carries_on_and_the_report_counts_every_call(runner):
    result = runner.start(GRAPH, BOTH, thread_id="cap-raise", budget={"max_tokens": 5000})
    for _ in range(10):
        if result.status != "budget_exhausted":
            break
        result = runner.resume("cap-raise", budget={"max_tokens": int(result.pending[0]["spent"]) + 10000})
    assert result.status == "completed"
    calls, tokens = _audited(runner, "cap-raise")
    cost = result.report["cost"]
    assert cost["model_calls"] == calls and cost["input_tokens"] + cost["output_tokens"] == tokens
    teams = cost["teams"]
    assert cost["model_calls"] == cost["by_agent"]["director"]["calls"] + sum(t["model_calls"] for t in teams.values())
    assert len([p for p in result.report["purchase_orders"] if p.get("po_id")]) == 2  # nothing done twice


def test_uncapped_report_counts_the_teams_calls(runner):
    done = runner.start(GRAPH, BOTH, thread_id="count")
    calls, tokens = _audited(runner, "count")
    assert done.status == "completed" and done.report["cost"]["model_calls"] == calls > 20
    assert math.isclose(done.report["cost"]["total_usd"],
                        sum(e.result["usage"]["cost_usd"] for e in runner.context.audit.events("count", "model_call")),
                        abs_tol=1e-6)


def test_per_agent_cap_of_a_team_agent_pauses_the_director(runner):
    paused = runner.start(GRAPH, BOTH, thread_id="cap-agent", budget={"agents": {"logistics": {"max_tokens": 500}}})
    assert paused.status == "budget_exhausted"
    assert paused.pending[0]["agent"] == "logistics" and paused.pending[0]["scope"] == "agent"
    logistics = [e for e in runner.context.audit.events("cap-agent", "model_call") if e.agent == "logistics"]
    assert len(logistics) == 1  # the cap was checked before its second call


def test_kill_switch_reaches_into_the_team_subgraph(runner):
    def stop_after_director(node: str, data: dict) -> None:
        if node == "director":
            runner.context.audit.request_stop("kill-team")

    done = runner.start(GRAPH, {"event": BOTH["event"]}, thread_id="kill-team", on_step=stop_after_director)
    agents = {e.agent for e in runner.context.audit.events("kill-team", "model_call")}
    assert agents == {"director"}  # no team agent made a call after the stop
    team = done.report["teams"]["supply_chain_team"]
    assert "kill switch" in (team.get("stop_reason") or "")
    assert done.report["outcome"] == "stopped"


@pytest.mark.parametrize("usd", [float("nan"), float("inf"), -1.0, 0.0])
def test_invalid_run_cost_cap_is_refused(usd):
    with pytest.raises(BudgetError, match="--budget-usd must be a positive number"):
        budget_overrides(budget_usd=usd)


@pytest.mark.parametrize("tokens", [0, -1])
def test_invalid_token_cap_is_refused(tokens):
    with pytest.raises(BudgetError, match="--max-tokens must be a positive whole number"):
        budget_overrides(max_tokens=tokens)


def test_agent_caps_must_name_a_policy_agent(runner):
    with pytest.raises(BudgetError, match="no agent named 'procurment'"):
        budget_overrides(agent_usd=["procurment=0.5"], policy=runner.context.policy)
    with pytest.raises(BudgetError, match="--agent-budget-usd procurement must be a positive number"):
        budget_overrides(agent_usd=["procurement=nan"], policy=runner.context.policy)


@pytest.mark.parametrize("budget", [{"max_usd": float("nan")}, {"max_tokens": 0}, {"max_tokens": 2.5},
                                    {"agents": {"nobody": {"max_usd": 1.0}}}, {"max_dollars": 3}])
def test_python_budget_dicts_are_checked_by_the_runner(runner, budget):
    with pytest.raises(UserError):
        runner.start("supply_chain_exception", {"event": BOTH["event"]}, thread_id="bad-cap", budget=budget)
    assert runner.context.audit.run("bad-cap") is None  # refused before the thread was taken


def test_check_overrides_keeps_valid_caps(runner):
    from opsgraph.governance.budgets import check_overrides

    caps = check_overrides({"max_usd": 1, "agents": {"procurement": {"max_tokens": 100.0}}}, runner.context.policy)
    assert caps == {"max_usd": 1.0, "agents": {"procurement": {"max_tokens": 100}}}


@pytest.mark.parametrize("args, needle", [
    (["--budget-usd", "nan"], "--budget-usd must be a positive number"),
    (["--budget-usd", "inf"], "--budget-usd must be a positive number"),
    (["--max-tokens", "0"], "--max-tokens must be a positive whole number"),
    (["--agent-max-tokens", "nobody=100"], "no agent named 'nobody'"),
])
def test_cli_refuses_invalid_caps_with_one_line(tmp_path, args, needle):
    from typer.testing import CliRunner

    from tests.support.cli import isolated_env
    from tests.support.cli_app import cli_app

    result = CliRunner().invoke(cli_app(), ["run", GRAPH, "--shipment", "SH-0002", "--delay-days", "4", *args],
                                env=isolated_env(tmp_path / "home", COLUMNS="200"))
    assert result.exit_code == 1 and needle in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
