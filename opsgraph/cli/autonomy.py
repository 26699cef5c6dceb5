"""``opsgraph autonomy`` (modes, approval rates, promote, demote) and ``opsgraph shadow report``."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from rich.table import Table

from opsgraph.cli.app import _print_json, _settings, app, console, user_errors

autonomy_app = typer.Typer(
    help="Autonomy per write action category: supervised -> threshold -> autonomous.\n\n"
    "Without a subcommand: each category's mode, human decisions in the window, approval rate\n"
    "and the graduation bar.\n\n"
    "Example: opsgraph autonomy --json\n\n"
    "Example: opsgraph autonomy promote refund --by dana --reason 'Q3 review: 0.93 over 41 decisions'",
    invoke_without_command=True,
)
shadow_app = typer.Typer(help="Shadow runs (opsgraph run ... --shadow) against what was actually done.\n\n"
                         "Example: opsgraph shadow report --json", no_args_is_help=True)
app.add_typer(autonomy_app, name="autonomy")
app.add_typer(shadow_app, name="shadow")


@contextmanager
def _governance() -> Iterator[tuple[Any, Any]]:
    """The audit store and the policy of the configured data home."""
    from opsgraph.governance.audit import AuditStore
    from opsgraph.governance.policy import load_policy

    settings = _settings()
    policy = load_policy(settings.policy_path)
    store = AuditStore(settings.audit_path)
    try:
        yield store, policy
    finally:
        store.close()


@autonomy_app.callback()
@user_errors
def autonomy_show(ctx: typer.Context,
                  as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Show every action category's mode, decisions, approval rate and graduation bar."""
    if ctx.invoked_subcommand:
        return
    from opsgraph.governance.autonomy import category_stats

    with _governance() as (store, policy):
        stats = category_stats(store, policy)
    if as_json:
        _print_json([s.as_dict() for s in stats])
        return
    _print_stats(stats)


def _print_stats(stats: list[Any]) -> None:
    first = stats[0]
    console.print(f"approval rate = approved unchanged / decided, last {first.window_days} days", markup=False,
                  highlight=False)
    console.print(f"graduation bar: rate >= {first.min_rate:.2f} over >= {first.min_decisions} decisions",
                  markup=False, highlight=False)
    table = Table(box=None, pad_edge=False, padding=(0, 1), show_edge=False)
    for name, justify in (("category", "left"), ("mode", "left"), ("decided", "right"), ("rate", "right"),
                          ("edits", "right"), ("rej.", "right"), ("bar met", "left"), ("flag", "left")):
        table.add_column(name, justify=justify, no_wrap=True)
    for s in stats:
        rate = f"{s.rate:.2f}" if s.rate is not None else "-"
        table.add_row(s.category, s.mode, str(s.decisions), rate, str(s.edits), str(s.rejections),
                      "yes" if s.bar_met else "no", "LOW" if s.flagged else "")
    console.print(table)
    for s in stats:
        if s.flagged:
            console.print(f"LOW: {s.category} runs {s.mode} with an approval rate of {s.rate:.2f}, below "
                          f"{s.min_rate:.2f}; nothing was changed (opsgraph autonomy demote {s.category} ...)",
                          markup=False, highlight=False)


@autonomy_app.command("promote")
@user_errors
def autonomy_promote(
    category: str = typer.Argument(..., help="Action category, e.g. refund."),
    by: str = typer.Option(..., "--by", help="Who decides the change (recorded in the audit)."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit)."),
    to: Optional[str] = typer.Option(None, "--to", help="Target mode; only the next step up is allowed."),
) -> None:
    """Move a category one step up (supervised -> threshold -> autonomous) when it meets the graduation bar.

    Example: opsgraph autonomy promote purchase_order --by dana --reason 'rate 0.91 over 34 decisions'
    """
    from opsgraph.governance.autonomy import promote

    with _governance() as (store, policy):
        before = _mode(store, policy, category)
        after = promote(store, policy, category, by, reason, to)
    console.print(f"{category}: {before} -> {after.mode} (promoted by {by})", markup=False, highlight=False)


@autonomy_app.command("demote")
@user_errors
def autonomy_demote(
    category: str = typer.Argument(..., help="Action category, e.g. refund."),
    by: str = typer.Option(..., "--by", help="Who decides the change (recorded in the audit)."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit)."),
    to: Optional[str] = typer.Option(None, "--to", help="Target mode (default: one step down)."),
) -> None:
    """Move a category down (one step, or --to a lower mode); always allowed.

    Example: opsgraph autonomy demote refund --by dana --reason 'two wrong refunds this week' --to supervised
    """
    from opsgraph.governance.autonomy import demote

    with _governance() as (store, policy):
        before = _mode(store, policy, category)
        after = demote(store, policy, category, by, reason, to)
    console.print(f"{category}: {before} -> {after.mode} (demoted by {by})", markup=False, highlight=False)


def _mode(store: Any, policy: Any, category: str) -> str:
    from opsgraph.governance.autonomy import CATEGORIES, effective_mode
    from opsgraph.errors import UserError

    if category not in CATEGORIES:
        raise UserError(f"no action category {category!r}; categories: {', '.join(CATEGORIES)}")
    return effective_mode(category, policy, store)


@shadow_app.command("report")
@user_errors
def shadow_report_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    html_path: Optional[Path] = typer.Option(None, "--html", help="Also write the report as an HTML page here."),
) -> None:
    """Compare shadow runs with the live runs of the same graph and input: agreement per category, differences.

    Example: opsgraph shadow report --json

    Example: opsgraph shadow report --html shadow.html
    """
    from opsgraph.governance.shadow import shadow_report

    with _governance() as (store, _policy):
        report = shadow_report(store)
    if html_path is not None:
        _write_html(report, html_path)
    if as_json:
        _print_json(report.as_dict())
        return
    _print_report(report)


def _write_html(report: Any, path: Path) -> None:
    from opsgraph.cli.shadow_html import render_shadow_html
    from opsgraph.errors import UserError

    try:
        path.write_text(render_shadow_html(report), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None


def _print_report(report: Any) -> None:
    console.print(f"{len(report.pairs)} shadow run(s) compared with a live run of the same input; "
                  f"{len(report.unmatched)} without one", markup=False, highlight=False)
    table = Table(box=None, pad_edge=False, padding=(0, 1), show_edge=False)
    for name in ("category", "agreed", "shadow only", "live only", "agreement"):
        table.add_column(name, justify="left" if name == "category" else "right", no_wrap=True)
    for c in report.categories:
        table.add_row(c.category, str(c.agreed), str(c.shadow_only), str(c.live_only), f"{c.rate:.2f}")
    if report.categories:
        console.print(table)
    for d in report.differences:
        console.print(f"- {d['side']}: {d['action']}  (shadow {d['shadow']}, live {d['live']})",
                      markup=False, highlight=False, soft_wrap=True)
    for thread in report.unmatched:
        console.print(f"- no live run with the same input for {thread}", markup=False, highlight=False)
