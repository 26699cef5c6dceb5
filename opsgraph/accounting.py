"""Cost accounting across runs: model-call records from the audit store, aggregated and charted.

Each model call is audited with its full call record (agent, tier, model, tokens, cost,
latency, routing rule and signals). A call that was later marked escalated is audited
again under the same ``call_id``; the later record wins, so nothing is counted twice.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from opsgraph.governance.audit import AuditStore

GROUPS = ("graph", "agent", "tier", "model")


def recorded_calls(store: AuditStore, *, graph_id: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """Call records of the most recent ``limit`` runs (of ``graph_id`` when given), with thread and graph."""
    calls: dict[str, dict[str, Any]] = {}
    for run in store.runs(limit):
        if graph_id and run.graph_id != graph_id:
            continue
        calls.update(run_calls(run, store.events(run.thread_id, kind="model_call")))
    return list(calls.values())


def run_calls(run: Any, events: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Call records of one run's ``model_call`` events (other kinds are skipped) by call id; a later
    record of the same call replaces the earlier one."""
    calls: dict[str, dict[str, Any]] = {}
    for event in events:
        usage = (event.result or {}).get("usage") if event.kind == "model_call" else None
        if not isinstance(usage, dict):
            continue
        key = usage.get("call_id") or f"{run.thread_id}:{event.seq}"
        calls[key] = {**usage, "thread_id": run.thread_id, "graph": run.graph_id}
    return calls


def _bucket() -> dict[str, Any]:
    return {"calls": 0, "tokens": 0, "cost_usd": 0.0, "escalated": 0}


def aggregate(calls: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Totals, and calls/tokens/cost/escalations per graph, agent, tier, model and agent x tier."""
    calls = list(calls)
    groups: dict[str, dict[str, dict[str, Any]]] = {g: defaultdict(_bucket) for g in (*GROUPS, "agent_tier")}
    for call in calls:
        keys = {g: str(call.get(g, "?")) for g in GROUPS} | {"agent_tier": f"{call.get('agent')}/{call.get('tier')}"}
        for group, key in keys.items():
            bucket = groups[group][key]
            bucket["calls"] += 1
            bucket["tokens"] += int(call["input_tokens"]) + int(call["output_tokens"])
            bucket["cost_usd"] = round(bucket["cost_usd"] + float(call["cost_usd"]), 8)
            bucket["escalated"] += int(bool(call.get("escalated")))
    return {
        "runs": len({c.get("thread_id") for c in calls}),
        "model_calls": len(calls),
        "tokens": sum(int(c["input_tokens"]) + int(c["output_tokens"]) for c in calls),
        "total_usd": round(sum(float(c["cost_usd"]) for c in calls), 8),
        "escalations": sum(1 for c in calls if c.get("escalated")),
        **{f"by_{group}": dict(rows) for group, rows in groups.items()},
    }


def cost_chart(summary: dict[str, Any], path: Path, title: str = "Model cost by agent and tier") -> Path:
    """Write a stacked bar chart (one bar per agent, one colour per tier) as PNG; tokens when nothing cost money."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    import matplotlib.pyplot as plt

    metric = "cost_usd" if summary["total_usd"] > 0 else "tokens"
    agents = sorted(summary["by_agent"])
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(agents) + 2), 4))
    bottom = [0.0] * len(agents)
    for tier, colour in (("small", "#4c9be8"), ("large", "#e8794c")):
        values = [summary["by_agent_tier"].get(f"{a}/{tier}", {}).get(metric, 0) for a in agents]
        ax.bar(agents, values, bottom=bottom, label=tier, color=colour)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel("cost (USD)" if metric == "cost_usd" else "tokens (no priced calls)")
    ax.set_title(f"{title} — {summary['runs']} runs, {summary['model_calls']} calls")
    ax.legend(title="tier")
    ax.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
