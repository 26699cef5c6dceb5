"""Sixty runs across every graph, Celery worker processes, and what a run left behind.

The runs are chosen so that none changes what another one sees (each supply-chain run has
its own shipment, supplier and SKUs; each purchase its own supplier), so the same sixty runs
end the same way whatever order they run in. That is what lets a test compare sixty runs
spread over several workers, one of them killed, with the same runs done one after another.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from opsgraph.settings import Settings

SHIPMENTS = ("SH-0001", "SH-0041", "SH-0003", "SH-0004", "SH-0005", "SH-0007", "SH-0011", "SH-0013", "SH-0016",
             "SH-0022", "SH-0031", "SH-0039", "SH-0024", "SH-0049")
SUPPORT = ("I was charged twice for invoice INV-0001; please refund the duplicate charge. Ticket TCK-0001.",
           "Since my password change our sync fails with error 401. Ticket TCK-0002.",
           "Please upgrade us from the pro plan to the enterprise plan. Ticket TCK-0003.")
RETAIL = "I want to cancel my order #W2378156, I'm Yusuf Rossi in zip 19122"
# Purchases above the approval threshold, each from a supplier no other run buys from.
APPROVE, REJECT, PENDING, RACE = "d00", "d56", "d57", "d59"
PURCHASES = {REJECT: "100 units of SKU-041 for DC-EAST from SUP-018", PENDING: "100 units of SKU-042 for DC-WEST from SUP-015"}
# Budgets raised identically in every world, so no run is refused for money another one spent first.
BUDGET_TOP_UP_USD = 10_000_000


def plan() -> list[tuple[str, str, dict[str, Any]]]:
    """(thread id, graph id, CLI-style options) of the sixty runs."""
    runs: list[tuple[str, dict[str, Any]]] = [("supply_chain_exception", {"shipment": s, "delay_days": 5})
                                              for s in SHIPMENTS]
    runs += [("contract_review", {"contract": f"CTR-{1001 + i % 6}"}) for i in range(12)]
    runs += [("supplier_risk", {"supplier": f"SUP-{1 + i % 22:03d}"}) for i in range(25)]
    runs += [("support_desk", {"message": m}) for m in SUPPORT]
    runs += [("retail_support", {"message": RETAIL}), ("procurement_review",
             {"request": "65 units of SKU-003 for DC-WEST from SUP-006"})]
    runs += [("procurement_review", {"request": PURCHASES[REJECT]}), ("procurement_review", {"request": PURCHASES[PENDING]})]
    runs += [("operations_director", {"shipment": "SH-0060", "delay_days": 4}),
             ("operations_director", {"request": "60 units of SKU-041 for DC-CENTRAL from SUP-019"})]
    return [(f"d{i:02d}-{graph.split('_')[0]}", graph, options) for i, (graph, options) in enumerate(runs)]


def decision_for(thread_id: str) -> dict[str, Any] | None:
    """The answer a human gives the thread's approval (None: left waiting). The race thread gets two."""
    prefix = thread_id[:3]
    if prefix == APPROVE:
        return {"decision": "approve", "reason": "expedite is worth it", "by": "dana"}
    if prefix == REJECT:
        return {"decision": "reject", "reason": "no budget this quarter", "by": "erik"}
    return None


def top_up_budgets(settings: Settings) -> None:
    """Raise every cost centre's budget in the settings' world (SQLite file or Postgres), before any run."""
    from opsgraph.context import open_world

    world = open_world(settings)
    try:
        with world._db.transaction() as conn:  # the world's own handle: one SQL for both backends
            conn.execute("UPDATE budgets SET amount_usd = amount_usd + ?", (BUDGET_TOP_UP_USD,))
    finally:
        world.close()


def world_summary(settings: Settings) -> dict[str, Any]:
    """What the runs wrote to the world: every write's idempotency key and operation, row counts, the outbox."""
    from opsgraph.context import open_world

    tables = ("purchase_orders", "purchase_order_lines", "stock_transfers", "shipment_events", "outbox",
              "refunds", "ticket_notes", "tickets")
    world = open_world(settings)
    try:
        with world._db.read() as conn:
            writes = sorted(tuple(r) for r in conn.execute("SELECT key, operation FROM idempotency").fetchall())
            counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
            outbox = Counter(tuple(r) for r in conn.execute("SELECT customer_id, subject FROM outbox").fetchall())
            orders = Counter(tuple(r) for r in conn.execute(
                "SELECT supplier_id, dc_id, total_usd, approved_by FROM purchase_orders").fetchall())
    finally:
        world.close()
    return {"writes": writes, "counts": counts, "outbox": outbox, "purchase_orders": orders}


QUEUE_BOOKKEEPING = ("task_started", "task_refused")


def audit_summary(audit: Any, thread_id: str, skip: tuple[str, ...] = ()) -> Counter:
    """The thread's audit events counted by (kind, name, ok), queue bookkeeping and ``skip`` kinds left out."""
    left_out = QUEUE_BOOKKEEPING + skip
    return Counter((e.kind, e.name, e.ok) for e in audit.events(thread_id) if e.kind not in left_out)


@contextmanager
def workers(count: int, env: dict[str, str], logs: Path) -> Iterator[list[subprocess.Popen]]:
    """``count`` ``opsgraph worker`` processes, each the leader of its own process group; all killed after."""
    logs.mkdir(parents=True, exist_ok=True)
    procs = []
    try:
        for n in range(count):
            log = open(logs / f"worker-{n}.log", "wb")
            procs.append(subprocess.Popen([sys.executable, "-m", "opsgraph", "worker", "--concurrency", "1",
                                           "--loglevel", "INFO"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True, cwd=logs))
            log.close()
        yield procs
    finally:
        for proc in procs:
            kill_group(proc)


def forget_queue(redis_url: str, queue: str) -> None:
    """Remove a test queue from Redis: its messages and the bindings kombu keeps for it."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    finally:
        client.close()


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the worker's whole process group (its pool processes too) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
