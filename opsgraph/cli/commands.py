"""Commands for running workflows and inspecting runs, the audit trail and the mock enterprise."""

from __future__ import annotations

from typing import Any, Optional

import typer
from rich.table import Table

from opsgraph.cli.app import (_print_json, _run_status, _settings, app, console, err, runs_app, user_errors,
                              world_app)
from opsgraph.cli.render import (cost_table, is_narrow, pairs, print_pending, print_record, print_report,
                                 step_printer)
from opsgraph.errors import UserError


MAX_LIST = 100_000


def _finish(result: Any, as_json: bool, shadow: bool = False) -> None:
    if as_json:
        _print_json({"thread_id": result.thread_id, "graph_id": result.graph_id, "status": result.status,
                     "reason": result.reason, "report": result.report, "pending": result.pending,
                     **({"shadow": True} if shadow else {})})
        return
    if result.pending:
        print_pending(console, result.thread_id, result.pending)
    elif result.report:
        print_report(console, result.report)
    why = f" ({result.reason})" if result.reason else ""
    console.print(f"thread: [bold]{result.thread_id}[/bold]  status: {result.status}{why}", soft_wrap=True)
    if shadow:
        console.print("shadow run: nothing was committed to the world; the proposed writes are in "
                      f"'opsgraph audit {result.thread_id}' (shadow_action) and 'opsgraph shadow report'",
                      soft_wrap=True, markup=False)


@app.command("run")
@user_errors
def run_cmd(
    graph_id: str = typer.Argument(..., help="Workflow to run, e.g. supply_chain_exception."),
    shipment: Optional[str] = typer.Option(None, "--shipment", help="Late shipment id, e.g. SH-0001."),
    delay_days: Optional[int] = typer.Option(None, "--delay-days", help="Days of delay (1-60)."),
    event: Optional[str] = typer.Option(None, "--event", help="Free-text event, e.g. 'SH-0002 is 4 days late'."),
    contract: Optional[str] = typer.Option(None, "--contract", help="Contract to review (contract_review), e.g. CTR-1002."),
    supplier: Optional[str] = typer.Option(None, "--supplier", help="Supplier to assess (supplier_risk), e.g. SUP-019."),
    message: Optional[str] = typer.Option(None, "--message", help="Customer message (support_desk)."),
    customer: Optional[str] = typer.Option(None, "--customer", help="Customer id (support_desk), e.g. CUST-005."),
    request: Optional[str] = typer.Option(None, "--request", help="Purchase request, JSON or words (procurement_review, "
                                          "operations_director), e.g. '65 units of SKU-003 for DC-WEST from SUP-006'."),
    sku: Optional[str] = typer.Option(None, "--sku", help="SKU whose demand board to work (demand_sensing), e.g. SKU-001."),
    work_centre: Optional[str] = typer.Option(None, "--work-centre", help="Work centre that broke down "
                                              "(production_planning), e.g. WC-02."),
    days: Optional[int] = typer.Option(None, "--days", help="Days a work centre is down (production_planning, 1-30)."),
    job: Optional[str] = typer.Option(None, "--job", help="Rush job (production_planning), e.g. JOB-0008."),
    note: Optional[str] = typer.Option(None, "--note", help="Note on the event (production_planning)."),
    thread: Optional[str] = typer.Option(None, "--thread", help="Thread id to use (default: generated)."),
    routing: str = typer.Option("routed", "--routing", help="Model tiers: routed, small or large."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Override the supervisor step limit."),
    budget_usd: Optional[float] = typer.Option(None, "--budget-usd", help="Cost cap of this run in USD."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Token cap of this run."),
    agent_budget_usd: list[str] = typer.Option([], "--agent-budget-usd", help="AGENT=USD cost cap of one agent."),
    agent_max_tokens: list[str] = typer.Option([], "--agent-max-tokens", help="AGENT=N token cap of one agent."),
    shadow: bool = typer.Option(False, "--shadow", help="Shadow mode: run on a scratch copy of the world; every "
                                "write is recorded as a proposal (shadow_action), nothing is committed, nobody asked."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    submit: bool = typer.Option(False, "--submit", help="Queue the run for 'opsgraph worker' processes "
                                "(OPSGRAPH_BROKER_URL) and print its thread id instead of running it here."),
) -> None:
    """Run a workflow on the embedded defaults.

    Example: opsgraph run supply_chain_exception --shipment SH-0001 --delay-days 5

    Example: opsgraph run contract_review --contract CTR-1002

    Example: opsgraph run supplier_risk --supplier SUP-019

    Example: opsgraph run demand_sensing --sku SKU-003

    Example: opsgraph run support_desk --message 'Charged twice on INV-0001, please refund' --customer CUST-005

    Example: opsgraph run procurement_review --request '100 units of SKU-001 for DC-EAST from SUP-001'

    Example: opsgraph run operations_director --shipment SH-0001 --delay-days 5 --request '200 x SKU-001 for DC-EAST'

    Example: opsgraph run supply_chain_exception --shipment SH-0002 --delay-days 4 --shadow

    Example: opsgraph run production_planning --event breakdown --work-centre WC-02 --days 3
    """
    from opsgraph.governance.budgets import budget_overrides
    from opsgraph.governance.policy import load_policy
    from opsgraph.models.router import check_mode
    from opsgraph.runner import open_runner

    options = {"shipment": shipment, "delay_days": delay_days, "event": event, "contract": contract, "supplier": supplier,
               "message": message, "customer": customer, "request": request, "sku": sku}
    options.update({"work_centre": work_centre, "days": days, "job": job, "note": note})
    settings = _settings()
    budget = budget_overrides(budget_usd, max_tokens, agent_budget_usd, agent_max_tokens,
                              policy=load_policy(settings.policy_path))  # refused before anything opens
    if submit:
        _submit_run(settings, graph_id, options, thread=thread, budget=budget or None, routing=check_mode(routing),
                    max_steps=max_steps, as_json=as_json)
        return
    with open_runner(settings, routing=check_mode(routing), max_steps=max_steps) as runner:
        graph_input = runner.make_input(graph_id, options)
        _notice_earlier_effects(runner.context.world, graph_input)
        on_step = None if as_json else step_printer(console)
        result = runner.start(graph_id, graph_input, thread_id=thread, on_step=on_step, budget=budget or None,
                              shadow=shadow)
    _finish(result, as_json, shadow)


def _submit_run(settings: Any, graph_id: str, options: dict[str, Any], *, thread: str | None,
                budget: dict[str, Any] | None, routing: str, max_steps: int | None, as_json: bool) -> None:
    """``run --submit``: validate the input here, then queue the run for a worker."""
    from opsgraph.cli.worker import submit_run
    from opsgraph.runner import open_runner
    from opsgraph.workers import require_broker

    require_broker(settings)  # before anything is opened or registered
    with open_runner(settings, with_knowledge=False) as runner:
        graph_input = runner.make_input(graph_id, options)
        submit_run(runner, graph_id, graph_input, thread_id=thread, budget=budget, routing=routing,
                   max_steps=max_steps, as_json=as_json)


def _notice_earlier_effects(world: Any, graph_input: dict[str, Any]) -> None:
    """On stderr (stdout stays clean for --json): what earlier runs already changed in this world."""
    from opsgraph.cli.world_notice import earlier_effects, shipment_of

    notice = earlier_effects(world.earlier_writes(), shipment_of(graph_input))
    if notice:
        err.print(notice, style="yellow", markup=False, highlight=False)


@runs_app.command("list")
@user_errors
def runs_list(
    limit: int = typer.Option(20, "--limit", help="How many runs to show."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List recent runs, newest first.

    Example: opsgraph runs list --limit 5 --json
    """
    from opsgraph.governance.audit import open_audit_store

    if not 1 <= limit <= MAX_LIST:
        raise UserError(f"--limit must be between 1 and {MAX_LIST:,}, got {limit}")
    with open_audit_store(_settings()) as store:
        runs = store.runs(limit)
    if as_json:
        _print_json([r.__dict__ for r in runs])
        return
    if is_narrow(console) or _runs_table_width(runs) > console.width:
        for r in runs:
            fields = (r.graph_id, _status_text(r), _when(r.updated_at), r.title)
            print_record(console, r.thread_id, [" · ".join(filter(None, fields))])
        return
    console.print(_runs_table(runs))


RUNS_TITLE_MIN = 12


def _runs_table_width(runs: list[Any]) -> int:
    """Columns the table needs to show every id whole (borders and padding: 3 per column, plus 1)."""
    ids = [max((len(getattr(r, field)) for r in runs), default=6) for field in ("thread_id", "graph_id")]
    ids.append(max((len(_status_text(r)) for r in runs), default=6))
    return sum(ids) + RUNS_TITLE_MIN + len("2026-11-30 07:17") + 3 * 5 + 1


def _runs_table(runs: list[Any]) -> Table:
    # Thread and graph ids are what every follow-up command needs: their columns never wrap or shrink.
    table = Table(title=None)
    for name, field in (("thread", "thread_id"), ("graph", "graph_id")):
        table.add_column(name, no_wrap=True, min_width=max((len(getattr(r, field)) for r in runs), default=6))
    table.add_column("status", no_wrap=True, min_width=max((len(_status_text(r)) for r in runs), default=6))
    table.add_column("title", overflow="fold", min_width=RUNS_TITLE_MIN)
    table.add_column("updated", no_wrap=True)
    for r in runs:
        table.add_row(r.thread_id, r.graph_id, _status_text(r), r.title or "", _when(r.updated_at))
    return table


def _status_text(run: Any) -> str:
    """A run's status, marked when it was a shadow run (proposals only, nothing committed)."""
    return f"{run.status} (shadow)" if getattr(run, "shadow", False) else run.status


def _when(timestamp: str) -> str:
    """``2026-11-30T07:17:50.123+00:00`` as ``2026-11-30 07:17`` (UTC, as stored)."""
    return timestamp[:16].replace("T", " ")


@runs_app.command("show")
@user_errors
def runs_show(
    thread: str = typer.Argument(..., help="Thread id."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Show a run: status, steps, tool calls, pending approval and cost breakdown.

    Example: opsgraph runs show supply-1a2b3c4d --json
    """
    from opsgraph.run_views import run_summary

    result = _run_status(thread)
    summary = run_summary(result)
    actions, cost = summary["actions"], summary["cost"]
    if as_json:
        _print_json({k: summary[k] for k in ("thread_id", "status", "reason", "visited", "actions", "pending", "cost",
                                             "report")})
        return
    why = f": {result.reason}" if result.reason else ""
    console.print(f"thread {thread} ({result.graph_id}) — {result.status}{why}", markup=False, soft_wrap=True)
    console.print("route: " + " → ".join(result.values.get("visited", [])))
    table = Table("agent", "tool", "status", "args")
    for a in actions:
        table.add_row(a["agent"], a["tool"], a["status"], str(a["args"])[:80])
    console.print(table)
    console.print(cost_table(cost))
    if result.pending:
        print_pending(console, thread, result.pending)


@runs_app.command("resume")
@user_errors
def runs_resume(
    thread: str = typer.Argument(..., help="Thread id."),
    approve: bool = typer.Option(False, "--approve", help="Approve the pending action."),
    reject: bool = typer.Option(False, "--reject", help="Reject the pending action."),
    edit: Optional[str] = typer.Option(None, "--edit", help='Edit then approve, JSON, e.g. {"quantity": 100}.'),
    reason: str = typer.Option("", "--reason", help="Why (recorded in the audit trail)."),
    by: str = typer.Option("operator", "--by", help="Who decides (recorded)."),
    budget_usd: Optional[float] = typer.Option(None, "--budget-usd", help="Raise the run's cost cap (USD)."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Raise the run's token cap."),
    agent_budget_usd: list[str] = typer.Option([], "--agent-budget-usd", help="AGENT=USD: raise one agent's cost cap."),
    agent_max_tokens: list[str] = typer.Option([], "--agent-max-tokens", help="AGENT=N: raise one agent's token cap."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    submit: bool = typer.Option(False, "--submit", help="Queue the resume for 'opsgraph worker' processes "
                                "(OPSGRAPH_BROKER_URL) instead of running it here."),
) -> None:
    """Resume a run: decide its pending approval, raise a spent budget, or continue after a crash or stop.

    Example: opsgraph runs resume supply-1a2b3c4d --edit '{"quantity": 120}'

    Example: opsgraph runs resume supply-1a2b3c4d --budget-usd 1.50
    """
    from opsgraph.decisions import apply_decision
    from opsgraph.governance.budgets import budget_overrides
    from opsgraph.governance.policy import load_policy
    from opsgraph.runner import open_runner

    decision = _decision(approve, reject, edit, reason, by)
    settings = _settings()
    budget = budget_overrides(budget_usd, max_tokens, agent_budget_usd, agent_max_tokens,
                              policy=load_policy(settings.policy_path))
    if submit:
        from opsgraph.cli.worker import submit_resume
        from opsgraph.workers import require_broker

        require_broker(settings)
        with open_runner(settings, with_knowledge=False) as runner:
            submit_resume(runner, thread, decision, budget or None, as_json=as_json)
        return
    with open_runner(settings) as runner:
        on_step = None if as_json else step_printer(console)
        result = apply_decision(runner, thread, decision, on_step=on_step, budget=budget or None)
    _finish(result, as_json)


def _decision(approve: bool, reject: bool, edit: str | None, reason: str, by: str) -> dict | None:
    from opsgraph.decisions import human_decision

    chosen = [name for name, on in (("approve", approve), ("reject", reject), ("edit", edit is not None)) if on]
    if len(chosen) > 1:
        raise UserError("choose one of --approve, --reject or --edit")
    if not chosen:
        return None
    return human_decision(chosen[0], by=by, reason=reason, edits=edit)


@runs_app.command("stop")
@user_errors
def runs_stop(
    thread: str = typer.Argument(..., help="Thread id."),
    by: str = typer.Option("operator", "--by", help="Who stops the run (recorded)."),
    reason: str = typer.Option("", "--reason", help="Why (recorded in the audit trail)."),
) -> None:
    """Kill switch: the run stops at its next step boundary, state intact (resume later).

    Who asked and when goes into the run's audit trail.

    Example: opsgraph runs stop supply-1a2b3c4d --by dana --reason 'wrong shipment'
    """
    import uuid

    from opsgraph.governance.audit import open_audit_store

    with open_audit_store(_settings()) as store:
        if store.run(thread) is None:
            raise UserError(f"no run with thread id {thread!r}; see 'opsgraph runs list'")
        store.request_stop(thread)
        # Each request is its own event (a unique key): stopping twice is two decisions, both on record.
        store.record(thread, f"stop_requested:{uuid.uuid4().hex[:12]}", "stop_requested",
                     agent=by.strip() or "operator", name="runs stop", args={"reason": reason})
    console.print(f"stop requested for {thread}; it stops at the next step boundary")


@app.command("audit")
@user_errors
def audit_cmd(
    thread: str = typer.Argument(..., help="Thread id, or 'verify' to check the audit trail's hash chains."),
    only: Optional[str] = typer.Option(None, "--thread", help="With 'verify': check only this thread."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Every agent decision, tool call, refusal and approval of a run, in order; or check the hash chains.

    Example: opsgraph audit supply-1a2b3c4d --json

    Example: opsgraph audit verify --thread supply-1a2b3c4d
    """
    from opsgraph.governance.audit import open_audit_store
    from opsgraph.governance.autonomy import AUTONOMY_THREAD

    if thread == "verify":
        _verify(only, as_json)
        return
    if only is not None:
        raise UserError("--thread goes with 'opsgraph audit verify'; to show a run, give its thread id alone")
    with open_audit_store(_settings()) as store:
        # The autonomy changes are not a run, but their trail is read the same way.
        if thread != AUTONOMY_THREAD and store.run(thread) is None:
            raise UserError(f"no run with thread id {thread!r}; see 'opsgraph runs list'")
        events = store.events(thread)
    if as_json:
        _print_json([e.__dict__ for e in events])
        return
    if is_narrow(console):
        for e in events:
            headline = "  ".join(filter(None, (f"#{e.seq}", e.ts[11:19], e.agent, e.kind, e.name)))
            print_record(console, headline, [_detail("args", e.args), _detail("result", e.result)])
        return
    console.print(_audit_table(events))


def _verify(thread: str | None, as_json: bool) -> None:
    """Recompute the audit trail's hash chains; exit 1 naming the first tampered event of each broken thread."""
    from opsgraph.governance.audit import open_audit_store

    with open_audit_store(_settings()) as store:
        if thread is not None and store.run(thread) is None and not store.events(thread):
            raise UserError(f"no run with thread id {thread!r}; see 'opsgraph runs list'")
        checked, breaks = store.verify(thread)
    if as_json:
        _print_json({"events_checked": checked, "intact": not breaks, "breaks": [b.__dict__ for b in breaks]})
    elif not breaks:
        console.print(f"audit trail intact: {checked} events checked")
    else:
        for found in breaks:
            err.print(f"thread {found.thread_id}: {found.message}", markup=False, highlight=False, soft_wrap=True)
    if breaks:
        raise typer.Exit(1)


def _audit_table(events: list[Any]) -> Table:
    table = Table("#", "time")
    for name in ("agent", "kind", "name"):  # names are looked up later: fold, never cut
        table.add_column(name, overflow="fold")
    table.add_column("args", ratio=1, overflow="fold")
    table.add_column("result", ratio=1, overflow="fold")
    for e in events:
        table.add_row(str(e.seq), e.ts[11:23], e.agent or "", e.kind, e.name or "", _cell(e.args), _cell(e.result))
    return table


def _cell(value: Any) -> str:
    return "" if value in (None, "", {}, []) else pairs(value, 120)


def _detail(label: str, value: Any) -> str:
    return "" if value in (None, "", {}, []) else f"{label}: {pairs(value)}"



@world_app.command("reset")
@user_errors
def world_reset(seed: Optional[int] = typer.Option(None, "--seed", help="Seed (default from settings).")) -> None:
    """Delete and re-create the mock enterprise from its seed.

    Example: opsgraph world reset --seed 7
    """
    from opsgraph.context import reset_world

    world = reset_world(_settings(), seed)
    counts = world.counts()
    world.close()
    console.print(f"mock enterprise reset at {world.location}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


@world_app.command("show")
@user_errors
def world_show(
    entity: str = typer.Argument(..., help="Entity kind, e.g. shipment, order, purchase_order, customer."),
    entity_id: str = typer.Argument(..., help="Its id, e.g. SH-0001."),
) -> None:
    """Show one record of the mock enterprise as JSON.

    Example: opsgraph world show shipment SH-0001
    """
    from opsgraph.context import open_world

    world = open_world(_settings())
    try:
        _print_json(world.show(entity, entity_id))
    finally:
        world.close()
