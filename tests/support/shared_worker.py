"""One machine of the shared-database tests: a process of its own, settings from the environment.

Usage: ``python -m tests.support.shared_worker COMMAND ARGS...``

- ``pause THREAD DIR``: start a supply-chain run on THREAD; after its first step, create
  ``DIR/started`` and wait for ``DIR/go-on`` before carrying on; print the result as JSON.
- ``crash THREAD``: start a supply-chain run on THREAD and kill this process (exit 9) right after
  the first tool call is written to the audit trail, before the step is checkpointed.
- ``setup INDEX GO_FILE``: wait for GO_FILE, then open every store of the shared database at
  once (audit, claims, checkpoints, LangGraph store) and write one thing to each; print them.
- ``put NAMESPACE KEY JSON`` / ``get NAMESPACE KEY``: write or read one LangGraph store item.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from opsgraph.settings import load_settings

GRAPH = "supply_chain_exception"
OPTIONS = {"shipment": "SH-0001", "delay_days": 5}
WAIT_S = 120


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{path} never appeared")
        time.sleep(0.01)


def pause(thread: str, folder: str) -> dict[str, Any]:
    """Start a run that holds after its first step until the test says go on."""
    from opsgraph.runner import open_runner

    def on_step(node: str, data: dict[str, Any]) -> None:
        if not (Path(folder) / "started").exists():
            (Path(folder) / "started").touch()
            _wait_for(Path(folder) / "go-on")

    with open_runner(load_settings(), with_knowledge=False) as runner:
        result = runner.start(GRAPH, runner.make_input(GRAPH, OPTIONS), thread_id=thread, on_step=on_step)
    return {"status": result.status, "reason": result.reason}


def crash(thread: str) -> None:
    """Start a run and die right after its first tool call reached the audit trail."""
    from opsgraph.runner import open_runner

    with open_runner(load_settings(), with_knowledge=False) as runner:
        audit = runner.context.audit
        record = audit.record

        def record_then_die(thread_id: str, event_key: str, kind: str, **fields: Any) -> bool:
            written = record(thread_id, event_key, kind, **fields)
            if kind == "tool_call":
                os._exit(9)  # no cleanup, no checkpoint of the step: as if the machine went down
            return written

        audit.record = record_then_die  # type: ignore[method-assign]
        runner.start(GRAPH, runner.make_input(GRAPH, OPTIONS), thread_id=thread)


def setup(index: int, go: str) -> dict[str, Any]:
    """First use of every shared store by many processes at the same moment."""
    from langgraph.checkpoint.base import empty_checkpoint

    from opsgraph.governance.audit import open_audit_store
    from opsgraph.governance.claims import open_claims
    from opsgraph.persistence import open_checkpointer
    from opsgraph.store import open_store

    settings, thread = load_settings(), f"setup-{index}"
    _wait_for(Path(go))
    with open_audit_store(settings) as audit:
        audit.register_run(thread, GRAPH, f"worker {index}")
        audit.record(thread, "opened", "tool_call", name="setup")
    claims = open_claims(settings.effective_checkpoint_url)
    try:
        claimed = claims.claim_thread(thread, GRAPH)
    finally:
        claims.close()
    with open_checkpointer(settings.effective_checkpoint_url) as saver:
        config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        saver.put(config, empty_checkpoint(), {"source": "input", "step": -1}, {})
    with open_store(settings) as store:
        store.put(("setup",), thread, {"index": index})
    return {"thread": thread, "claimed": claimed}


def put(namespace: str, key: str, value: str) -> dict[str, Any]:
    """Write one item to the LangGraph store of the settings."""
    from opsgraph.store import open_store

    with open_store(load_settings()) as store:
        store.put(tuple(namespace.split("/")), key, json.loads(value))
    return {"put": key}


def get(namespace: str, key: str) -> dict[str, Any]:
    """Read one item from the LangGraph store of the settings (null when absent)."""
    from opsgraph.store import open_store

    with open_store(load_settings()) as store:
        item = store.get(tuple(namespace.split("/")), key)
    return {"value": item.value if item is not None else None}


def main() -> None:
    """Run the command named on the command line and print what it did as JSON."""
    command, args = sys.argv[1], sys.argv[2:]
    if command == "crash":
        crash(*args)
        raise SystemExit("the run finished without writing a tool call")
    handlers = {"pause": pause, "put": put, "get": get, "setup": lambda i, go: setup(int(i), go)}
    print(json.dumps(handlers[command](*args)))


if __name__ == "__main__":
    main()
