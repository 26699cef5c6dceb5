"""How long the console's KPI page takes to compute and draw as the audit trail grows.

Writes a synthetic audit store (runs of three workflows, each with model calls carrying usage,
tool calls, some failures, approvals and escalations) through the store's public API, then
times ``kpis.compute`` (reads every run of the period and its events) and ``charts.all_charts``
(five matplotlib SVGs). Usage: ``python bench/bench_console_kpis.py [--runs 200 1000 3000]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from opsgraph.console.charts import all_charts
from opsgraph.console.kpis import Period, compute
from opsgraph.governance.audit import AuditStore
from opsgraph.governance.policy import Policy

GRAPHS = ("supply_chain_exception", "support_desk", "procurement_review")
AGENTS = ("supervisor", "logistics", "inventory", "procurement", "billing", "triage")


def fill(store: AuditStore, runs: int, seed: int = 7) -> None:
    """``runs`` runs of about 30 events each, with decisions and failures mixed in."""
    rng = random.Random(seed)
    for index in range(runs):
        thread = f"bench-{index}"
        store.register_run(thread, rng.choice(GRAPHS), f"run {index}")
        for step in range(12):
            agent = rng.choice(AGENTS)
            usage = {"call_id": f"{thread}:{step}", "agent": agent, "tier": rng.choice(("small", "large")),
                     "model": "offline:small", "input_tokens": rng.randint(300, 3000), "output_tokens": rng.randint(20, 300),
                     "cost_usd": rng.random() / 1000}
            store.record(thread, f"model:{step}", "model_call", agent=agent, name="offline:small", result={"usage": usage})
            store.record(thread, f"tool:{step}", "tool_call", agent=agent, name="get_shipment", args={"id": step},
                         result={"ok": True}, ok=rng.random() > 0.03)
        if rng.random() < 0.3:
            verb = rng.choice(("approve", "approve", "approve", "edit", "reject"))
            store.record(thread, "approval", "approval", agent="dana", result={"kind": "purchase_order", "decision": verb})
        if rng.random() < 0.05:
            store.record(thread, "escalation", "escalation", agent="triage", ok=False)
        store.set_status(thread, rng.choice(("completed", "completed", "completed", "failed", "awaiting_approval")))


def measure(runs: int, repeats: int) -> dict[str, float]:
    """Median seconds of compute and of drawing the charts over ``repeats`` tries."""
    with tempfile.TemporaryDirectory() as tmp:
        store = AuditStore(Path(tmp) / "audit.db")
        fill(store, runs)
        today = datetime.now(timezone.utc).date()
        period = Period(today, today)
        computed, drawn = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            kpis = compute(store, Policy(raw={}), period)
            computed.append(time.perf_counter() - started)
            started = time.perf_counter()
            all_charts(kpis)
            drawn.append(time.perf_counter() - started)
        events = sum(len(store.events(r.thread_id)) for r in store.runs(runs))
        store.close()
    return {"runs": runs, "events": events, "compute_s": statistics.median(computed),
            "charts_s": statistics.median(drawn)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[200, 1000, 3000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("| runs | audit events | KPIs computed (s) | charts drawn (s) |\n|---:|---:|---:|---:|")
    for runs in args.runs:
        row = measure(runs, args.repeats)
        print(f"| {row['runs']:,} | {row['events']:,} | {row['compute_s']:.2f} | {row['charts_s']:.2f} |")


if __name__ == "__main__":
    main()
