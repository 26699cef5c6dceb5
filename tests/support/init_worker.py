"""One process of the concurrent-initialisation test.

Usage: ``python -m tests.support.init_worker INDEX GO_FILE [sqlite|postgres]``. Everything is
imported first; the process then waits for ``GO_FILE`` so that all workers open the (fresh)
data home at the same moment, makes its committed writes and prints them as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import empty_checkpoint

from opsgraph.context import build_context
from opsgraph.knowledge.store import KnowledgeStore
from opsgraph.persistence import open_checkpointer
from opsgraph.settings import load_settings


def _wait_for(go: Path) -> None:
    deadline = time.monotonic() + 120
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("the go file never appeared")
        time.sleep(0.002)


def _checkpoint(url: str, thread: str) -> str:
    """First use of the checkpointer (tables created on demand) plus one committed checkpoint."""
    with open_checkpointer(url) as saver:
        config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        saved = saver.put(config, empty_checkpoint(), {"source": "input", "step": -1}, {})
        return saved["configurable"]["checkpoint_id"]


def sqlite_worker(index: int) -> dict[str, Any]:
    """Fresh data home: world seeded, audit and run registry, checkpoints and Chroma created on first use."""
    settings = load_settings()
    thread = f"init-{index}"
    context = build_context(settings, with_knowledge=False)
    try:
        sent = context.world.notifications.send_message(
            customer_id="CUST-001", subject=f"worker {index}", body="concurrent start", idempotency_key=thread)
        context.audit.register_run(thread, "supply_chain_exception", f"worker {index}")
        context.audit.record(thread, "send", "tool_call", name="send_message", result=sent)
    finally:
        context.audit.close()
        context.world.close()
    checkpoint = _checkpoint(settings.effective_checkpoint_url, thread)
    KnowledgeStore(settings).open(create=True)
    return {"thread": thread, "outbox_id": sent["outbox_id"], "checkpoint_id": checkpoint}


def postgres_worker(index: int) -> dict[str, Any]:
    """First use of the Postgres checkpointer from many processes at once."""
    thread = f"pg-init-{index}"
    return {"thread": thread, "checkpoint_id": _checkpoint(load_settings().effective_checkpoint_url, thread)}


def main() -> None:
    """Wait for the go file, run the chosen worker, print what it committed."""
    index, go = int(sys.argv[1]), Path(sys.argv[2])
    kind = sys.argv[3] if len(sys.argv) > 3 else "sqlite"
    _wait_for(go)
    done = sqlite_worker(index) if kind == "sqlite" else postgres_worker(index)
    print(json.dumps(done))


if __name__ == "__main__":
    main()
