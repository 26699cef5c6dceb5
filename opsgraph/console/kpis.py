"""Operations KPIs over a period, computed from the run registry and the audit trail.

Everything is read through the audit store's public API (``runs``, ``events``) and the cost
accounting of ``opsgraph costs`` (``run_calls``, ``aggregate``), so the numbers are the
same on SQLite and Postgres and agree with the CLI. Definitions (docs/console.md):

- a run is in the period when it was registered (started) in it; the period's days are UTC;
- approval rate of a category = decisions approved unchanged / decisions taken;
- cost per resolution = model cost of the completed runs / completed runs;
- tokens per transaction = model tokens / runs (a transaction is one run of a workflow);
- error rate of an agent = its failed tool calls, model answers that failed validation and
  run failures / its tool calls and model calls;
- MTTD of an incident = registration of the incident run -> its first successful tool call
  (the first fact read from a system about it); MTTR = registration -> the last audit event
  of a completed incident run (human waiting time included: it is part of the resolution);
- run latency = registration -> last audit event of a run that finished (completed, failed,
  stopped) without waiting for a human, so it measures the machine, not the approver.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from opsgraph.errors import UserError

DEFAULT_DAYS = 30
MAX_DAYS = 3660
DEFAULT_GRADUATION_RATE = 0.85
GRADUATION_KEY = "autonomy.graduation.min_rate"
# Workflows whose runs are incidents (an exception event that must be handled).
INCIDENT_GRAPHS = ("supply_chain_exception",)
FINISHED = ("completed", "failed", "stopped")
HUMAN_KINDS = ("approval", "escalation")
MAX_RUNS = 100_000


@dataclass(frozen=True)
class Period:
    """Whole UTC days from ``start`` to ``end``, both included."""

    start: date
    end: date

    @classmethod
    def parse(cls, start: str | None, end: str | None, today: date | None = None) -> "Period":
        """From ``from``/``to`` query values (YYYY-MM-DD); the last 30 days up to today by default."""
        today = today or datetime.now(timezone.utc).date()
        last = _day(end, "to") if end else today
        first = _day(start, "from") if start else last - timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            raise UserError(f"the period starts ({first}) after it ends ({last})")
        if (last - first).days >= MAX_DAYS:
            raise UserError(f"a period may span at most {MAX_DAYS} days")
        return cls(first, last)

    def contains(self, timestamp: str) -> bool:
        """True when the ISO ``timestamp`` falls on one of the period's days (UTC)."""
        return self.start <= _utc(timestamp).date() <= self.end


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"'{name}' must be a date such as 2026-11-30, got {text!r}") from None


def _utc(timestamp: str) -> datetime:
    moment = datetime.fromisoformat(timestamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _seconds(start: str, end: str) -> float:
    return max(0.0, (_utc(end) - _utc(start)).total_seconds())


@dataclass(frozen=True)
class RunFacts:
    """One run of the period with its audit events."""

    info: Any
    events: list[Any]

    @property
    def needed_human(self) -> bool:
        """True when a person was asked (an approval, an escalation) or still is."""
        return self.info.status == "awaiting_approval" or any(e.kind in HUMAN_KINDS for e in self.events)


@dataclass
class Kpis:
    """Every KPI of the console's KPI page for one period."""

    period: Period
    runs: int = 0
    runs_by_workflow: dict[str, dict[str, int]] = field(default_factory=dict)
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    graduation_rate: float = DEFAULT_GRADUATION_RATE
    escalations: dict[str, Any] = field(default_factory=dict)
    cost: dict[str, Any] = field(default_factory=dict)
    errors_by_agent: dict[str, dict[str, Any]] = field(default_factory=dict)
    incidents: dict[str, Any] = field(default_factory=dict)
    latency: dict[str, Any] = field(default_factory=dict)


def approval_stats(events: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Decisions per action category: decided, approved unchanged, edited, rejected, approval rate.

    Categories and the rate are those of ``opsgraph autonomy`` (``category_of`` the approved
    tool; approved unchanged / decided), counted over the page's period instead of the
    autonomy window.
    """
    from opsgraph.governance.autonomy import category_of

    stats: dict[str, dict[str, Any]] = defaultdict(lambda: {"decided": 0, "approved": 0, "edited": 0, "rejected": 0})
    for event in events:
        if event.kind != "approval" or not isinstance(event.result, dict):
            continue
        column = {"approve": "approved", "edit": "edited", "reject": "rejected"}.get(event.result.get("decision"))
        if column is None:
            continue
        row = stats[category_of(event.name or "")]
        row["decided"] += 1
        row[column] += 1
    return {name: {**row, "rate": row["approved"] / row["decided"]} for name, row in sorted(stats.items())}


def graduation_rate(policy: Any) -> float:
    """The approval rate a category needs before it may be promoted (``autonomy.graduation.min_rate``, 0.85)."""
    from opsgraph.governance.autonomy import graduation

    try:
        return graduation(policy).min_rate
    except (TypeError, ValueError, AttributeError):  # a policy the schema has not checked: the documented default
        return DEFAULT_GRADUATION_RATE


def with_modes(stats: dict[str, dict[str, Any]], store: Any, policy: Any) -> dict[str, dict[str, Any]]:
    """Each category's row with the autonomy mode in force now (supervised, threshold, autonomous)."""
    from opsgraph.governance.autonomy import effective_mode

    return {name: {**row, "mode": effective_mode(name, policy, store)} for name, row in stats.items()}


def collect(store: Any, period: Period) -> list[RunFacts]:
    """The runs registered in ``period`` with their events, oldest first."""
    runs = [r for r in store.runs(MAX_RUNS) if period.contains(r.created_at)]
    return [RunFacts(r, store.events(r.thread_id)) for r in sorted(runs, key=lambda r: r.created_at)]


def compute(store: Any, policy: Any, period: Period,
            stats: Callable[[Iterable[Any]], dict[str, dict[str, Any]]] = approval_stats) -> Kpis:
    """Every KPI of ``period`` from the audit store."""
    facts = collect(store, period)
    every_event = [e for f in facts for e in f.events]
    return Kpis(
        period=period, runs=len(facts), runs_by_workflow=runs_by_workflow(facts),
        decisions=with_modes(stats(every_event), store, policy), graduation_rate=graduation_rate(policy),
        escalations=escalations(facts), cost=cost_kpis(facts), errors_by_agent=errors_by_agent(facts),
        incidents=incident_times(facts), latency=run_latency(facts),
    )


def runs_by_workflow(facts: list[RunFacts]) -> dict[str, dict[str, int]]:
    """Runs per workflow and status (completed, failed, awaiting_approval, ...)."""
    table: dict[str, Counter] = defaultdict(Counter)
    for f in facts:
        table[f.info.graph_id][f.info.status] += 1
    return {graph: dict(sorted(counts.items())) for graph, counts in sorted(table.items())}


def escalations(facts: list[RunFacts]) -> dict[str, Any]:
    """Hand-overs to people: escalation events, approvals decided and pending, share of runs that needed one."""
    handed = sum(1 for f in facts for e in f.events if e.kind == "escalation")
    decided = sum(1 for f in facts for e in f.events if e.kind == "approval")
    pending = sum(1 for f in facts if f.info.status == "awaiting_approval")
    needed = sum(1 for f in facts if f.needed_human)
    return {"escalations": handed, "approvals_decided": decided, "approvals_pending": pending,
            "runs_needing_human": needed, "share": needed / len(facts) if facts else 0.0}


def cost_kpis(facts: list[RunFacts]) -> dict[str, Any]:
    """Model cost and tokens of the period: in all, per resolution, per workflow, per transaction."""
    from opsgraph.accounting import aggregate, run_calls

    calls = [call for f in facts for call in run_calls(f.info, f.events).values()]
    summary = aggregate(calls)
    completed = {f.info.thread_id for f in facts if f.info.status == "completed"}
    resolved = aggregate(c for c in calls if c["thread_id"] in completed)
    runs_of = Counter(f.info.graph_id for f in facts)
    per_workflow = {graph: {**row, "runs": runs_of[graph], "usd_per_run": row["cost_usd"] / runs_of[graph],
                            "tokens_per_run": row["tokens"] / runs_of[graph]}
                    for graph, row in sorted(summary["by_graph"].items()) if runs_of[graph]}
    return {
        "total_usd": summary["total_usd"], "tokens": summary["tokens"], "model_calls": summary["model_calls"],
        "resolutions": len(completed),
        "usd_per_resolution": resolved["total_usd"] / len(completed) if completed else None,
        "tokens_per_transaction": summary["tokens"] / len(facts) if facts else None,
        "per_workflow": per_workflow, "pricing": _pricing(calls),
    }


def _pricing(calls: list[dict[str, Any]]) -> str:
    from opsgraph.models.pricing import pricing_note

    return pricing_note(calls)


def errors_by_agent(facts: list[RunFacts]) -> dict[str, dict[str, Any]]:
    """Per agent: attempts (tool and model calls), errors among them, and the error rate."""
    rows: dict[str, Counter] = defaultdict(Counter)
    for event in (e for f in facts for e in f.events):
        if not event.agent:
            continue
        if event.kind in ("tool_call", "model_call"):
            rows[event.agent]["attempts"] += 1
            rows[event.agent]["errors"] += int(not event.ok)
        elif event.kind == "run_failed":
            rows[event.agent]["errors"] += 1
    return {agent: {"attempts": row["attempts"], "errors": row["errors"],
                    "rate": row["errors"] / row["attempts"] if row["attempts"] else 1.0}
            for agent, row in sorted(rows.items())}


def incident_times(facts: list[RunFacts]) -> dict[str, Any]:
    """MTTD and MTTR (seconds) of the incident runs of the period (definitions in the module doc)."""
    incidents = [f for f in facts if f.info.graph_id in INCIDENT_GRAPHS]
    detect = [_seconds(f.info.created_at, first.ts) for f in incidents
              if (first := next((e for e in f.events if e.kind == "tool_call" and e.ok), None))]
    repair = [_seconds(f.info.created_at, f.events[-1].ts) for f in incidents
              if f.info.status == "completed" and f.events]
    return {"incidents": len(incidents), "detected": len(detect), "resolved": len(repair),
            "mttd_s": _mean(detect), "mttr_s": _mean(repair), "workflows": list(INCIDENT_GRAPHS)}


def run_latency(facts: list[RunFacts]) -> dict[str, Any]:
    """p50 and p95 (seconds) of the latency of finished runs that never waited for a person."""
    seconds = sorted(_seconds(f.info.created_at, f.events[-1].ts) for f in facts
                     if f.info.status in FINISHED and f.events and not f.needed_human)
    return {"runs": len(seconds), "p50_s": percentile(seconds, 50), "p95_s": percentile(seconds, 95),
            "samples": seconds}


def percentile(values: list[float], pct: float) -> float | None:
    """The ``pct`` percentile of sorted ``values`` by linear interpolation (as numpy's default), None if empty."""
    if not values:
        return None
    rank = (len(values) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
