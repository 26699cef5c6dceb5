"""The data behind each console page, and the decision path (blocking: run in a worker thread).

Pages only read: the run registry and audit trail through the audit store's public API, and a
run's state from its checkpoints without touching the registry. Only :func:`decide` writes, and
it does so through ``Runner.resume`` like ``opsgraph runs resume``.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Iterator

from opsgraph.console.auth import ConsoleUser
from opsgraph.console.views import MAX_RUNS_LISTED, ApprovalView, approval_view, edits_from_form
from opsgraph.errors import UserError
from opsgraph.settings import Settings

WAITING = ("awaiting_approval", "budget_exhausted")
# Opens the runner a decision resumes its run with (a context manager yielding a Runner).
RunnerFactory = Callable[[], ContextManager[Any]]


def default_runner(settings: Settings) -> RunnerFactory:
    """Runners as ``opsgraph runs resume`` opens them: configured checkpointer, knowledge layer included."""
    def factory() -> ContextManager[Any]:
        from opsgraph.runner import open_runner

        return open_runner(settings)

    return factory


@dataclass(frozen=True)
class Outcome:
    """What a decision led to: a message for the run page, or why it was refused."""

    message: str = ""
    error: str | None = None


def policy(settings: Settings) -> Any:
    """The policy as it is now on disk (users and roles may have changed since the console started)."""
    from opsgraph.governance.policy import load_policy

    return load_policy(settings.policy_path)


@contextmanager
def audit_store(settings: Settings) -> Iterator[Any]:
    """The audit store and run registry (the data home's or the shared database's), closed after use."""
    from opsgraph.governance.audit import open_audit_store

    store = open_audit_store(settings)
    try:
        yield store
    finally:
        store.close()


def kpi_page(settings: Settings, start: str | None, end: str | None) -> dict[str, Any]:
    """KPIs and charts of the period ``start``..``end`` (query values; the last 30 days by default)."""
    from opsgraph.console.charts import all_charts
    from opsgraph.console.kpis import Period, compute

    try:
        period = Period.parse(start, end)
    except UserError as exc:
        return {"error": str(exc), "kpis": None, "charts": {}, "start": start or "", "end": end or ""}
    with audit_store(settings) as store:
        kpis = compute(store, policy(settings), period)
    return {"error": None, "kpis": kpis, "charts": all_charts(kpis), "start": str(period.start), "end": str(period.end)}


def runs_page(settings: Settings, status: str | None) -> dict[str, Any]:
    """The most recent runs, newest first, optionally of one status."""
    with audit_store(settings) as store:
        runs = store.runs(MAX_RUNS_LISTED)
    statuses = sorted({r.status for r in runs})
    shown = [r for r in runs if not status or r.status == status]
    return {"runs": shown, "status": status or "", "statuses": statuses}


@contextmanager
def checkpoints(settings: Settings) -> Iterator[Any]:
    """The checkpointer of the data home (read-only use: no run context, no world)."""
    from opsgraph.persistence import open_checkpointer

    with open_checkpointer(settings.effective_checkpoint_url) as saver:
        yield saver


def read_state(saver: Any, info: Any) -> tuple[dict[str, Any], list[Any]]:
    """A run's state values and pending interrupt payloads, read from its checkpoints only."""
    from opsgraph.runner import RECURSION_LIMIT, compile_graph

    graph = compile_graph(info.graph_id, saver)
    snapshot = graph.get_state({"configurable": {"thread_id": info.thread_id}, "recursion_limit": RECURSION_LIMIT})
    return dict(snapshot.values or {}), [i.value for i in snapshot.interrupts]


def run_page(settings: Settings, thread: str) -> dict[str, Any]:
    """One run: its summary as ``runs show`` computes it, its audit trail and what it waits for."""
    from opsgraph.run_views import run_summary
    from opsgraph.runner import RunResult

    with audit_store(settings) as store:
        info = store.run(thread)
        events = store.events(thread) if info else []
    if info is None:
        return {"error": f"no run with thread id {thread!r}", "thread": thread}
    with checkpoints(settings) as saver:
        values, pending = read_state(saver, info)
    summary = run_summary(RunResult(info.thread_id, info.graph_id, info.status, values, pending, info.reason))
    approvals = [approval_view(info, p, values) for p in pending if isinstance(p, dict)]
    return {"error": None, "info": info, "summary": summary, "events": events, "approvals": approvals}


def inbox_page(settings: Settings) -> dict[str, Any]:
    """Every pending approval (and budget pause) of the data home, oldest first."""
    with audit_store(settings) as store:
        waiting = [r for r in store.runs(MAX_RUNS_LISTED) if r.status in WAITING]
    items: list[ApprovalView] = []
    with checkpoints(settings) as saver:
        for info in sorted(waiting, key=lambda r: r.created_at):
            values, pending = read_state(saver, info)
            items += [approval_view(info, p, values) for p in pending if isinstance(p, dict)]
    return {"items": items, "error": None, "focus": None}


def pending_views(settings: Settings, thread: str) -> list[ApprovalView]:
    """The approvals ``thread`` waits for now (empty when none, or no such run)."""
    with audit_store(settings) as store:
        info = store.run(thread)
    if info is None:
        return []
    with checkpoints(settings) as saver:
        values, pending = read_state(saver, info)
    return [approval_view(info, p, values) for p in pending if isinstance(p, dict)]


def requested_edits(settings: Settings, thread: str, form: dict[str, Any]) -> Any:
    """The edit a person asked for: the JSON box when filled in, else the form fields they changed."""
    text = str(form.get("edits_json") or "").strip()
    if text:
        return text
    fields = [f for view in pending_views(settings, thread) for f in view.fields]
    edits = edits_from_form(fields, {k: str(v) for k, v in form.items()})
    if not edits:
        raise UserError("nothing was edited: change a field or write the edit as JSON, or approve as proposed")
    return edits


def decide(settings: Settings, runner_factory: RunnerFactory, thread: str, user: ConsoleUser,
           form: dict[str, Any]) -> Outcome:
    """Apply ``user``'s decision through the runner, as ``opsgraph runs resume`` does; the run then continues."""
    from opsgraph.decisions import apply_decision, human_decision
    from opsgraph.governance.approvals import DecisionError

    verb = str(form.get("decision") or "")
    try:
        edits = requested_edits(settings, thread, form) if verb == "edit" else None
        decision = human_decision(verb, by=user.name, reason=str(form.get("reason") or "").strip(), edits=edits)
        with runner_factory() as runner:
            result = apply_decision(runner, thread, decision)
    except (UserError, DecisionError) as exc:
        return Outcome(error=" ".join(str(exc).split()))
    except Exception as exc:  # noqa: BLE001 - the page gets one line; the traceback goes to the log
        return Outcome(error=_failure_line(settings, exc))
    done = {"approve": "approved", "reject": "rejected", "edit": "edited and approved"}[verb]
    why = f" ({result.reason})" if result.reason else ""
    return Outcome(message=f"{done} by {user.name}; run {thread} is now {result.status}{why}")


def _failure_line(settings: Settings, exc: Exception) -> str:
    from opsgraph.failures import describe, log_traceback

    log = log_traceback(settings.data_home, exc, ["console", "decide"])
    return describe(exc, user_error=False) + (f" (details in {log})" if log else "")


def audit_refusal(settings: Settings, thread: str, user: ConsoleUser, form: dict[str, Any]) -> None:
    """Record that ``user`` tried to decide without the approver role (never as a decision)."""
    attempt = {"decision": str(form.get("decision") or ""), "reason": str(form.get("reason") or ""), "by": user.name}
    with audit_store(settings) as store:
        if store.run(thread) is None:
            return
        store.record(thread, f"decision_refused:{uuid.uuid4().hex[:12]}", "decision_refused", agent=user.name,
                     name="console", args=attempt, ok=False,
                     result={"reason": f"role {user.role} may not decide approvals"})
