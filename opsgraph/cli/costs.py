"""``opsgraph costs`` (spend across runs) and ``opsgraph routing`` (calibrate, explain)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table
from rich.text import Text

from opsgraph.cli.app import _print_json, _run_status, _settings, app, console, user_errors
from opsgraph.cli.render import is_narrow, print_record
from opsgraph.errors import UserError

routing_app = typer.Typer(help="The cost-aware model router: calibrate its threshold, explain its decisions.",
                          no_args_is_help=True)
app.add_typer(routing_app, name="routing")


def _summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"Model spend over {summary['runs']} runs")
    for column in ("group", "name", "calls", "tokens", "cost (USD)", "escalated"):
        table.add_column(column, justify="left" if column in ("group", "name") else "right")
    for group in ("graph", "agent", "tier", "model"):
        for name, row in sorted(summary[f"by_{group}"].items()):
            table.add_row(group, name, str(row["calls"]), f"{row['tokens']:,}", f"{row['cost_usd']:.6f}",
                          str(row["escalated"]))
    table.add_row("total", "", str(summary["model_calls"]), f"{summary['tokens']:,}", f"{summary['total_usd']:.6f}",
                  str(summary["escalations"]))
    return table


@app.command("costs")
@user_errors
def costs_cmd(
    graph: Optional[str] = typer.Option(None, "--graph", help="Only runs of this graph id."),
    limit: int = typer.Option(1000, "--limit", help="How many recent runs to include."),
    png: Optional[Path] = typer.Option(None, "--png", help="Also write a bar chart (cost by agent and tier) here."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Model spend across runs: calls, tokens and cost per graph, agent, tier and model.

    Example: opsgraph costs --png costs.png
    """
    from opsgraph.accounting import aggregate, cost_chart, recorded_calls
    from opsgraph.governance.audit import open_audit_store

    with open_audit_store(_settings()) as store:
        calls = recorded_calls(store, graph_id=graph, limit=limit)
    if graph is not None and not calls:
        _check_graph_id(graph)
    summary = aggregate(calls)
    if png is not None:
        if summary["model_calls"] == 0:
            raise UserError("no model calls recorded yet; run a workflow first")
        if png.suffix.lower() != ".png":
            raise UserError(f"--png needs a .png file name, got {png}")
        cost_chart(summary, png)
    if as_json:
        _print_json(summary)
        return
    console.print(_summary_table(summary))
    if png is not None:
        console.print(f"chart written to {png}")


def _check_graph_id(graph_id: str) -> None:
    """A typo in ``--graph`` is an error, not an empty table (a graph no longer registered but with runs is fine)."""
    from opsgraph.registry import graph_entries

    if graph_id not in graph_entries():
        # Short on purpose: the error console wraps at the terminal width, and this must stay one line.
        raise UserError(f"unknown graph {graph_id!r}; 'opsgraph graphs' lists the graph ids")


@routing_app.command("calibrate")
@user_errors
def calibrate_cmd(
    large_share: float = typer.Option(..., "--large-share", help="Share of calls to send to the large tier, 0..1."),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Policy file to update (default: configured one)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Compute the threshold, write nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Set routing.threshold so that about P of calls go to large (samples of every graph, offline engine).

    Example: opsgraph routing calibrate --large-share 0.3
    """
    from opsgraph.routing_eval import calibrate, write_threshold

    if not 0.0 <= large_share <= 1.0:
        raise UserError(f"--large-share must be between 0 and 1, got {large_share}")
    settings = _settings()
    path = policy or settings.policy_path
    if not path.is_file():
        raise UserError(f"policy file {path} does not exist")
    with tempfile.TemporaryDirectory(prefix="opsgraph-calibrate-") as tmp:
        scratch = settings.with_overrides(policy_path=path, data_home=Path(tmp) / "home")
        result = calibrate(scratch, large_share, Path(tmp))
    if not dry_run:
        write_threshold(path, result["threshold"])
    result |= {"policy": str(path), "written": not dry_run}
    if as_json:
        _print_json(result)
        return
    verb = "would set" if dry_run else "set"
    console.print(f"{verb} routing.threshold {result['previous_threshold']} -> {result['threshold']} in {path}: "
                  f"{result['achieved_share']:.0%} of {result['calls']} recorded calls go to large "
                  f"(target {large_share:.0%}, {result['runs']} sample runs)", markup=False, highlight=False)
    for failure in result["failed_runs"]:
        console.print(f"warning: a sample run failed ({failure}); the calls it made still count", markup=False,
                      highlight=False)


@routing_app.command("explain")
@user_errors
def explain_cmd(
    thread: str = typer.Argument(..., help="Thread id."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Every model call of a run: tier, model, cost, and the rule and signals behind the tier.

    Example: opsgraph routing explain supply-1a2b3c4d --json
    """
    calls = list(_run_status(thread).values.get("calls") or [])
    if as_json:
        _print_json(calls)
        return
    if is_narrow(console):
        console.print(Text(f"Routing of {thread}", style="bold", overflow="fold"))
        for i, call in enumerate(calls, 1):
            score = _score(call)
            print_record(console, "  ".join(filter(None, (f"{i:>2}", call["agent"], call["tier"], call["model"],
                                                          f"${call['cost_usd']:.6f}", score and f"score {score}"))),
                         [_rule(call)])
        return
    console.print(_routing_table(thread, calls))


def _routing_table(thread: str, calls: list[dict[str, Any]]) -> Table:
    table = Table("#", title=f"Routing of {thread}")
    for name in ("agent", "tier", "model"):
        table.add_column(name, overflow="fold")
    table.add_column("cost (USD)", no_wrap=True)
    table.add_column("score", no_wrap=True)
    table.add_column("rule", ratio=1)
    for i, call in enumerate(calls, 1):
        table.add_row(str(i), call["agent"], call["tier"], call["model"], f"{call['cost_usd']:.6f}", _score(call),
                      _rule(call))
    return table


def _score(call: dict[str, Any]) -> str:
    score = call.get("signals", {}).get("score")
    return "" if score is None else f"{score:.2f}"


def _rule(call: dict[str, Any]) -> str:
    return call["rule"] + (f" [escalated: {call['escalation_reason']}]" if call.get("escalated") else "")
