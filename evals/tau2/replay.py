"""Gold replay: run each task's expected actions on a fresh database and hash the result.

As tau2 builds its reference state: every gold action runs in order, reads included,
and an action that raises is recorded and skipped (the database keeps whatever it holds).

    hashes, log = replay_tasks(load_tasks(Path("tasks.json")), read_db_json(Path("db.json")))
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opsgraph.evals.tau2.data import Task
from opsgraph.tools.connectors.retail_store import Encoded, RetailStore, encode


def replay_task(task: Task, db: dict[str, Any] | Encoded) -> tuple[RetailStore, list[dict[str, Any]]]:
    """Run ``task``'s gold actions on a fresh copy of ``db``; returns the store and one record per action.

    ``db`` is a database (as :func:`read_db_json` gives it) or its :func:`encode` rows.
    """
    rows = db if "products" in db and isinstance(db["products"], list) else encode(db)
    store = RetailStore.from_encoded(rows)
    records = []
    for position, action in enumerate(task.actions):
        name, arguments = action.get("name", ""), action.get("arguments") or {}
        key = f"gold:{task.task_id}:{position}:{action.get('action_id', '')}"
        record: dict[str, Any] = {"action_id": action.get("action_id"), "name": name}
        try:
            store.retail.call(name, dict(arguments), key)
            record["ok"] = True
        except Exception as exc:  # noqa: BLE001 - tau2 logs a failing gold action and carries on
            record.update(ok=False, error=str(exc))
        records.append(record)
    return store, records


def gold_hash(task: Task, db: dict[str, Any] | Encoded) -> str:
    """Canonical hash of the database after ``task``'s gold actions."""
    store, _ = replay_task(task, db)
    try:
        return store.canonical_hash()
    finally:
        store.close()


def replay_tasks(tasks: list[Task], db: dict[str, Any]) -> tuple[dict[str, str], dict[str, list[dict[str, Any]]]]:
    """Gold-replay every task: ``({task_id: canonical hash}, {task_id: [failed action records]})``."""
    hashes, failures = {}, {}
    rows = encode(db)
    for task in tasks:
        store, records = replay_task(task, rows)
        try:
            hashes[task.task_id] = store.canonical_hash()
        finally:
            store.close()
        failed = [r for r in records if not r["ok"]]
        if failed:
            failures[task.task_id] = failed
    return hashes, failures


def write_hashes(hashes: dict[str, str], path: Path) -> None:
    """Write ``{task_id: hash}`` as JSON (task order kept), creating the folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(hashes, indent=2) + "\n", encoding="utf-8")
