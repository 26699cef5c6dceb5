"""Eval reports: ``reports/<timestamp>/report.json`` + ``report.html``, and the terminal summary."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from opsgraph.errors import UserError

REPORT_JSON, REPORT_HTML = "report.json", "report.html"
# Below this width the summary tables would cut suite and evaluator names: print blocks instead.
NARROW_BELOW = 100


def write_report(data: dict[str, Any], out_root: Path) -> Path:
    """Write ``report.json`` and ``report.html`` into a new ``<out_root>/<timestamp>/``; returns that directory."""
    from opsgraph.evals.html_report import render_html

    stamp = datetime.fromisoformat(data["created"]).strftime("%Y%m%d-%H%M%S")
    target = Path(out_root) / stamp
    n = 1
    while target.exists():  # two runs in the same second keep both reports
        n += 1
        target = Path(out_root) / f"{stamp}-{n}"
    target.mkdir(parents=True)
    (target / REPORT_JSON).write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    (target / REPORT_HTML).write_text(render_html(data), encoding="utf-8")
    return target


def load_report(path: Path | str) -> dict[str, Any]:
    """A report from its directory or its ``report.json``; UserError when it is missing or not a report."""
    path = Path(path)
    file = path / REPORT_JSON if path.is_dir() else path
    if not file.is_file():
        raise UserError(f"no eval report at {path} (expected a reports/<timestamp>/ directory or its report.json)")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{file} is not a readable eval report: {exc}") from None
    if not isinstance(data, dict) or "suites" not in data:
        raise UserError(f"{file} is not an opsgraph eval report")
    return data


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def suite_table(data: dict[str, Any]) -> Table:
    """One row per suite: runs passed, pass rate vs threshold (min), gate, cost, median tokens, latency p50/p95."""
    table = Table(title="Eval suites (tokens: median per run; p50/p95: latency in s)", title_justify="left")
    table.add_column("suite", no_wrap=True)
    for column in ("passed", "rate", "min", "gate", "USD", "tokens", "p50", "p95"):
        table.add_column(column, justify="left" if column == "gate" else "right")
    for s in data["suites"]:
        gate = "[green]pass[/green]" if s["gate_passed"] else "[red]FAIL[/red]"
        table.add_row(s["name"], f"{s['passed']}/{s['runs']}", _rate(s["pass_rate"]),
                      _rate(s["threshold"]), gate, f"{s['cost_usd']['total']:.4f}", f"{s['tokens']['p50']:,.0f}",
                      f"{s['latency_s']['p50']:.2f}", f"{s['latency_s']['p95']:.2f}")
    return table


def evaluator_table(data: dict[str, Any]) -> Table:
    """Pass rate of every evaluator in every suite (``-``: no case of the suite sets that expectation)."""
    names = list(dict.fromkeys(n for s in data["suites"] for n in s["evaluators"]))
    table = Table(title="Pass rate per evaluator (-: no case sets that expectation)", title_justify="left")
    table.add_column("suite", no_wrap=True)
    for name in names:
        table.add_column(name if data["suites"][0]["evaluators"].get(name, {}).get("gating", True) else f"{name}*",
                         justify="right")
    for s in data["suites"]:
        table.add_row(s["name"], *[_rate(s["evaluators"].get(n, {}).get("pass_rate")) for n in names])
    return table


def print_narrow_tables(data: dict[str, Any], console: Console) -> None:
    """The two summary tables for a narrow terminal: one block per suite, names whole, lines wrapped."""
    from rich.padding import Padding
    from rich.text import Text

    console.print("[bold]Eval suites[/bold] (passed, pass rate vs threshold, gate, cost, median tokens, latency)")
    for s in data["suites"]:
        gate = "[green]pass[/green]" if s["gate_passed"] else "[red]FAIL[/red]"
        console.print(f"[bold]{escape(s['name'])}[/bold]  {s['passed']}/{s['runs']}  {_rate(s['pass_rate'])} "
                      f"(min {_rate(s['threshold'])})  {gate}", overflow="fold")
        facts = (f"${s['cost_usd']['total']:.4f}, {s['tokens']['p50']:,.0f} tokens, "
                 f"p50 {s['latency_s']['p50']:.2f}s, p95 {s['latency_s']['p95']:.2f}s; evaluators: "
                 + ", ".join(f"{name}{'' if v.get('gating', True) else '*'} {_rate(v.get('pass_rate'))}"
                             for name, v in s["evaluators"].items()))
        console.print(Padding(Text(facts, overflow="fold"), (0, 0, 0, 4)))


def shadow_line(suite: dict[str, Any]) -> str:
    """One suite's shadow agreement: per category agreed/compared writes, and the live world check."""
    shadow = suite["shadow"]
    parts = [f"{c} {t['agreed']}/{t['agreed'] + t['shadow_only'] + t['live_only']} ({_rate(t['rate'])})"
             for c, t in shadow["categories"].items()] or ["no writes on either side"]
    return (f"shadow {suite['name']}: " + ", ".join(parts)
            + f"; live world untouched in {shadow['live_world_untouched']}/{shadow['runs']} shadow runs")


def print_summary(data: dict[str, Any], console: Console, report_dir: Path | None = None) -> None:
    """The terminal summary: suites, evaluators, failures with their explanation, the gate verdict."""
    if console.width < NARROW_BELOW:
        print_narrow_tables(data, console)
    else:
        console.print(suite_table(data))
        if data["suites"]:
            console.print(evaluator_table(data))
    for skipped in data.get("skipped", []):
        console.print(f"[yellow]skipped[/yellow] {escape(skipped['suite'])}: {escape(skipped['reason'])}")
    if data.get("graphs_without_suite"):
        console.print(f"[yellow]no eval suite yet for[/yellow] {', '.join(data['graphs_without_suite'])}")
    for s in data["suites"]:
        for r in [r for r in s["results"] if not r["passed"]]:
            why = "; ".join(f"{n}: {r['scores'][n]['explanation']}" for n in r["failed"])
            console.print(f"[red]FAIL[/red] {escape(s['name'])}/{escape(r['case_id'])} (run {r['repetition']}): "
                          f"{escape(why)}", highlight=False)
    for s in data["suites"]:
        if s.get("shadow"):
            console.print(shadow_line(s), highlight=False)
    for s in data["suites"]:
        if s.get("experiment"):
            console.print(f"LangSmith experiment {escape(s['experiment']['name'])}: {s['experiment']['url'] or '-'}",
                          highlight=False)
    setup = f" (set-up {data['setup_s']:.1f}s: seeded world, knowledge ingested)" if "setup_s" in data else ""
    console.print(f"wall time {data['wall_time_s']:.1f}s{setup}" + (f"; report: {report_dir}" if report_dir else ""))
    verdict = "[green]gate passed[/green]" if data["gate"]["passed"] else "[red]gate failed[/red]: " + escape(
        "; ".join(data["gate"]["failures"]))
    console.print(verdict)
