"""Processes that use one Postgres world at the same time.

``race_worker`` runs in a ``multiprocessing`` (spawn) child: for each trial it waits at a
barrier shared with the other process, then makes its writes, so both processes hit the
world at the same moment, trial after trial. ``python -m tests.support.pg_world_worker INDEX
GO_FILE`` is one process of the concurrent-open test: it waits for ``GO_FILE``, opens the
world in the database of its settings (``OPSGRAPH_DATABASE_URL``) and makes one committed write.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def _outcome(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        return {"ok": True, "result": fn(*args, **kwargs)}
    except Exception as exc:  # noqa: BLE001 - a database error is an outcome the test counts too
        return {"ok": False, "error": type(exc).__name__, "message": str(exc)}


def _trial(world: Any, who: str, trial: dict[str, Any], barrier: Any) -> dict[str, Any]:
    """One trial's three races: a split refund, a shared idempotency key, a burst of new ids."""
    n = trial["n"]
    barrier.wait()
    refund = _outcome(world.billing.issue_refund, trial["invoice_id"], trial["amount_usd"], "goodwill credit",
                      f"refund-{n}-{who}", auto_limit_usd=trial["limit_usd"])
    barrier.wait()
    shared = _outcome(world.notifications.send_message, "CUST-001", f"trial {n}", "one request, two senders",
                      f"shared-{n}")
    barrier.wait()
    tickets = [_outcome(world.crm.create_ticket, "CUST-002", f"{who} trial {n} #{i}", "burst", "technical",
                        f"ticket-{n}-{who}-{i}") for i in range(trial["tickets"])]
    return {"n": n, "refund": refund, "shared": shared, "tickets": tickets}


def race_worker(url: str, schema: str, who: str, trials: list[dict[str, Any]], barrier: Any, out: Any) -> None:
    """Run every trial against the world at ``url``/``schema``; put the outcomes on ``out``."""
    from opsgraph.tools.world import World

    world = World(url, schema=schema)
    try:
        out.put((who, [_trial(world, who, trial, barrier) for trial in trials]))
    except BaseException as exc:  # noqa: BLE001 - the parent reports it
        barrier.abort()
        out.put((who, f"{type(exc).__name__}: {exc}"))
    finally:
        world.close()


def open_and_write(index: int, go: Path) -> dict[str, Any]:
    """Wait for ``go``, open the world of the settings' database (seeding it if nobody has), send one message."""
    from opsgraph.settings import load_settings
    from opsgraph.tools.world import World

    settings = load_settings()
    deadline = time.monotonic() + 120
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("the go file never appeared")
        time.sleep(0.002)
    world = World.open(settings.database_url, seed=settings.world_seed)
    try:
        sent = world.notifications.send_message("CUST-001", f"worker {index}", "concurrent open", f"open-{index}")
    finally:
        world.close()
    return {"index": index, "outbox_id": sent["outbox_id"]}


if __name__ == "__main__":
    print(json.dumps(open_and_write(int(sys.argv[1]), Path(sys.argv[2]))))
