"""``opsgraph eval``: run the offline eval suites, write the report, gate on pass rates; compare two reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from opsgraph.cli.app import _settings, app, console, err, user_errors
from opsgraph.errors import UserError

DEFAULT_REPORTS = Path("reports")
COMPARE = "compare"
TAU2 = "tau2-retail"


@app.command("eval")
@user_errors
def eval_cmd(
    suites: Optional[list[str]] = typer.Argument(None, help="Suites to run (dataset names in evals/datasets/); "
                                                 "all when omitted. 'compare A B' compares two reports."),
    routing: str = typer.Option("routed", "--routing", help="Model tiers: routed, small or large."),
    repeat: int = typer.Option(1, "--repeat", help="Run every case N times."),
    concurrency: int = typer.Option(1, "--concurrency", help="Cases run at once (threads), each fully isolated."),
    fail_under: Optional[float] = typer.Option(
        None, "--fail-under", help="Pass rate (0-1) every suite must reach, instead of its dataset threshold."),
    smoke: bool = typer.Option(False, "--smoke", help="Only the smoke subset (cases marked smoke: true)."),
    shadow: bool = typer.Option(False, "--shadow", help="Also run every case in shadow mode first; report how "
                                "its proposed writes agree with the live run's (the live world must stay untouched)."),
    judge: Optional[bool] = typer.Option(
        None, "--judge/--no-judge", help="LLM-as-judge on the large tier (default: on when a real model is configured)."),
    out: Path = typer.Option(DEFAULT_REPORTS, "--out", help="Reports go to <out>/<timestamp>/."),
    replay_gold: bool = typer.Option(False, "--replay-gold", help="tau2-retail: replay each task's gold actions."),
    agent: bool = typer.Option(False, "--agent", help="tau2-retail: retail_support against a simulated user."),
    tasks_file: Optional[Path] = typer.Option(None, "--tasks-file", help="tau2-retail: tasks.json to use."),
    db: Optional[Path] = typer.Option(None, "--db", help="tau2-retail: db.json to start every task from."),
    hashes_out: Optional[Path] = typer.Option(None, "--hashes-out", help="tau2-retail: write {task_id: hash} here."),
    suite: list[str] = typer.Option([], "--suite", help="A suite to run, as a named option (repeatable); the same "
                                    "as naming it as an argument."),
) -> None:
    """Run eval suites offline; write reports/<timestamp>/report.json and report.html; exit 1 under a threshold.

    Examples:

      opsgraph eval                                   # every suite whose graph is registered

      opsgraph eval supply_chain_exception --smoke

      opsgraph eval support_desk --shadow                # agreement of shadow runs with live runs

      opsgraph eval --concurrency 4 --repeat 3 --fail-under 0.9

      opsgraph eval compare reports/20261121-101500 reports/20261121-113000

      opsgraph eval tau2-retail --replay-gold --hashes-out gold.json

      opsgraph eval tau2-retail --agent --repeat 3 --concurrency 2
    """
    names = list(suites or []) + [name for name in suite if name not in (suites or [])]
    if names and names[0] == COMPARE:
        return _compare(names[1:])
    if names and names[0] == TAU2:
        from opsgraph.evals.tau2.cli import Tau2Options, run_tau2

        run_tau2(_settings(), Tau2Options(names[1:], replay_gold, agent, tasks_file, db, hashes_out, repeat,
                                          concurrency, routing, out), console)
        return None
    from opsgraph.evals.report import print_summary, write_report
    from opsgraph.evals.runner import EvalOptions, run_evals

    _check_out(out)  # before the suites run: a bad --out must not cost a whole suite
    options = EvalOptions(suites=tuple(names), routing=routing, repeat=repeat, concurrency=concurrency,
                          fail_under=fail_under, smoke=smoke, judge=judge, shadow=shadow)
    data = _run_with_progress(options)
    report_dir = write_report(data, out)
    print_summary(data, console, report_dir)
    if not data["gate"]["passed"]:
        raise typer.Exit(1)


def _check_out(out: Path) -> None:
    """``--out`` must be a directory opsgraph can create reports in."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a directory (reports go to <out>/<timestamp>/)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {out} cannot be used as a report directory: {exc.strerror or exc}") from None


def _run_with_progress(options: Any) -> dict[str, Any]:
    """Run the suites under a rich progress bar (on stderr; the summary goes to stdout)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from opsgraph.evals.runner import run_evals

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[last]}"))
    with Progress(*columns, console=err, transient=False) as progress:
        tasks: dict[str, Any] = {}

        def on_start(suite: str, total: int) -> None:
            tasks[suite] = progress.add_task(suite, total=total, last="")

        def on_result(suite: str, row: dict[str, Any]) -> None:
            mark = "ok" if row["passed"] else "FAIL"
            progress.update(tasks[suite], advance=1, last=f"{mark} {row['case_id']}")

        return run_evals(_settings(), options, on_start=on_start, on_result=on_result)


def _compare(paths: list[str]) -> None:
    from opsgraph.evals.compare import compare_reports, print_comparison
    from opsgraph.evals.report import load_report

    if len(paths) != 2:
        raise UserError("usage: opsgraph eval compare <report A> <report B> "
                        "(directories under reports/ or report.json files)")
    print_comparison(compare_reports(load_report(paths[0]), load_report(paths[1])), console)
