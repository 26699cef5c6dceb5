"""Commands for running workflows and inspecting runs, the audit trail and the mock enterprise."""

from __future__ import annotations

from typing import Any, Optional

import typer
from rich.table import Table

from opsgraph.cli.app import _print_json, _run_status, _settings, app, console, runs_app, user_errors, world_app
from opsgraph.cli.render import cost_table, print_pending, print_report, shorten, step_printer
from opsgraph.errors import UserError


MAX_LIST = 100_000


def _finish(result: Any, as_json: bool) -> None:
    if as_json:
        _print_json({"thread_id": result.thread_id, "graph_id": result.graph_id, "status": result.status,
                     "reason": result.reason, "report": result.report, "pending": result.pending})
        return
    if result.pending:
        print_pending(console, result.thread_id, result.pending)
    elif result.report:
        print_report(console, result.report)
    why = f" ({result.reason})" if result.reason else ""
    console.print(f"thread: [bold]{result.thread_id}[/bold]  status: {result.status}{why}", soft_wrap=True)


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
    thread: Optional[str] = typer.Option(None, "--thread", help="Thread id to use (default: generated)."),
    routing: str = typer.Option("routed", "--routing", help="Model tiers: routed, small or large."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Override the supervisor step limit."),
    budget_usd: Optional[float] = typer.Option(None, "--budget-usd", help="Cost cap of this run in USD."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Token cap of this run."),
    agent_budget_usd: list[str] = typer.Option([], "--agent-budget-usd", help="AGENT=USD cost cap of one agent."),
    agent_max_tokens: list[str] = typer.Option([], "--agent-max-tokens", help="AGENT=N token cap of one agent."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Run a workflow on the embedded defaults.

    Example: opsgraph run supply_chain_exception --shipment SH-0001 --delay-days 5

    Example: opsgraph run contract_review --contract CTR-1002

    Example: opsgraph run supplier_risk --supplier SUP-019

    Example: opsgraph run support_desk --message 'Charged twice on INV-0001, please refund' --customer CUST-005

    Example: opsgraph run procurement_review --request '100 units of SKU-001 for DC-EAST from SUP-001'

    Example: opsgraph run operations_director --shipment SH-0001 --delay-days 5 --request '200 x SKU-001 for DC-EAST'
    """
    from opsgraph.governance.budgets import budget_overrides
    from opsgraph.models.router import check_mode
    from opsgraph.runner import open_runner

    options = {"shipment": shipment, "delay_days": delay_days, "event": event, "contract": contract, "supplier": supplier,
               "message": message, "customer": customer, "request": request}
    budget = budget_overrides(budget_usd, max_tokens, agent_budget_usd, agent_max_tokens)
    with open_runner(_settings(), routing=check_mode(routing), max_steps=max_steps) as runner:
        graph_input = runner.make_input(graph_id, options)
        on_step = None if as_json else step_printer(console)
        result = runner.start(graph_id, graph_input, thread_id=thread, on_step=on_step, budget=budget or None)
    _finish(result, as_json)


@runs_app.command("list")
@user_errors
def runs_list(
    limit: int = typer.Option(20, "--limit", help="How many runs to show."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List recent runs, newest first.

    Example: opsgraph runs list --limit 5 --json
    """
    from opsgraph.governance.audit import AuditStore

    if not 1 <= limit <= MAX_LIST:
        raise UserError(f"--limit must be between 1 and {MAX_LIST:,}, got {limit}")
    store = AuditStore(_settings().audit_path)
    runs = store.runs(limit)
    if as_json:
        _print_json([r.__dict__ for r in runs])
        return
    table = Table("thread", "graph", "status", "title", "updated")
    for r in runs:
        table.add_row(r.thread_id, r.graph_id, r.status, r.title or "", r.updated_at[:19])
    console.print(table)


@runs_app.command("show")
@user_errors
def runs_show(
    thread: str = typer.Argument(..., help="Thread id."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Show a run: status, steps, tool calls, pending approval and cost breakdown.

    Example: opsgraph runs show supply-1a2b3c4d --json
    """
    from opsgraph.graphs.incident import cost_summary

    result = _run_status(thread)
    actions = result.values.get("actions", [])
    cost = cost_summary(result.values.get("calls", []))
    if as_json:
        _print_json({"thread_id": thread, "status": result.status, "reason": result.reason, "visited": result.values.get("visited", []),
                     "actions": actions, "pending": result.pending, "cost": cost, "report": result.report})
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
) -> None:
    """Resume a run: decide its pending approval, raise a spent budget, or continue after a crash or stop.

    Example: opsgraph runs resume supply-1a2b3c4d --edit '{"quantity": 120}'

    Example: opsgraph runs resume supply-1a2b3c4d --budget-usd 1.50
    """
    from opsgraph.governance.approvals import parse_edits
    from opsgraph.governance.budgets import budget_overrides
    from opsgraph.runner import open_runner

    decision = _decision(approve, reject, edit, reason, by)
    if decision and decision["decision"] == "edit":
        decision["edits"] = parse_edits(edit)  # validate before touching anything
    budget = budget_overrides(budget_usd, max_tokens, agent_budget_usd, agent_max_tokens)
    with open_runner(_settings()) as runner:
        on_step = None if as_json else step_printer(console)
        result = runner.resume(thread, decision, on_step=on_step, budget=budget or None)
    _finish(result, as_json)


def _decision(approve: bool, reject: bool, edit: str | None, reason: str, by: str) -> dict | None:
    chosen = [name for name, on in (("approve", approve), ("reject", reject), ("edit", edit is not None)) if on]
    if len(chosen) > 1:
        raise UserError("choose one of --approve, --reject or --edit")
    if not chosen:
        return None
    return {"decision": chosen[0], "reason": reason, "edits": edit, "by": by}


@runs_app.command("stop")
@user_errors
def runs_stop(thread: str = typer.Argument(..., help="Thread id.")) -> None:
    """Kill switch: the run stops at its next step boundary, state intact (resume later).

    Example: opsgraph runs stop supply-1a2b3c4d
    """
    from opsgraph.governance.audit import AuditStore

    store = AuditStore(_settings().audit_path)
    if store.run(thread) is None:
        raise UserError(f"no run with thread id {thread!r}; see 'opsgraph runs list'")
    store.request_stop(thread)
    console.print(f"stop requested for {thread}; it stops at the next step boundary")


@app.command("audit")
@user_errors
def audit_cmd(
    thread: str = typer.Argument(..., help="Thread id."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Every agent decision, tool call, refusal and approval of a run, in order.

    Example: opsgraph audit supply-1a2b3c4d --json
    """
    from opsgraph.governance.audit import AuditStore

    store = AuditStore(_settings().audit_path)
    if store.run(thread) is None:
        raise UserError(f"no run with thread id {thread!r}; see 'opsgraph runs list'")
    events = store.events(thread)
    if as_json:
        _print_json([e.__dict__ for e in events])
        return
    table = Table("#", "time", "agent", "kind", "name", "args", "result")
    for e in events:
        table.add_row(str(e.seq), e.ts[11:23], e.agent or "", e.kind, e.name or "", _cell(e.args), _cell(e.result))
    console.print(table)




def _cell(value: Any) -> str:
    return shorten("" if value is None else str(value), 60)


@world_app.command("reset")
@user_errors
def world_reset(seed: Optional[int] = typer.Option(None, "--seed", help="Seed (default from settings).")) -> None:
    """Delete and re-create the mock enterprise from its seed.

    Example: opsgraph world reset --seed 7
    """
    from opsgraph.tools.world import World

    settings = _settings()
    world = World.reset(settings.world_path, seed=seed if seed is not None else settings.world_seed)
    counts = world.counts()
    world.close()
    console.print(f"mock enterprise reset at {settings.world_path}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


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
