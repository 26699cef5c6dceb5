"""``opsgraph eval tau2-retail``: gold replay, or the agent-mode benchmark against a simulated user."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsgraph.errors import UserError
from opsgraph.evals.tau2.data import existing_file, load_tasks
from opsgraph.settings import Settings
from opsgraph.tools.connectors.base import WorldError
from opsgraph.tools.connectors.retail_store import read_db_json

GOLD_FILE = "tau2-retail-gold-hashes.json"


@dataclass(frozen=True)
class Tau2Options:
    """The ``opsgraph eval tau2-retail`` command line."""

    extra: list[str]
    replay_gold: bool
    agent: bool
    tasks_file: Path | None
    db: Path | None
    hashes_out: Path | None
    repeat: int
    concurrency: int
    routing: str
    out: Path


def data_files(settings: Settings, options: Tau2Options) -> tuple[Path, Path]:
    """``(tasks.json, db.json)`` from the options, else from the configured tau2 data folder."""
    base = settings.tau2_data_path
    tasks = existing_file(options.tasks_file, "--tasks-file", base / "tasks.json" if base else None)
    db = existing_file(options.db, "--db", base / "db.json" if base else None)
    return tasks, db


def load_db(path: Path) -> dict[str, Any]:
    """A tau2 ``db.json``; a one-line UserError when it is not one."""
    try:
        return read_db_json(path)
    except WorldError as exc:
        raise UserError(str(exc)) from None


def run_tau2(settings: Settings, options: Tau2Options, console: Any) -> None:
    """Dispatch to gold replay or agent mode; exactly one must be asked for."""
    if options.extra:
        raise UserError(f"unexpected argument after tau2-retail: {options.extra[0]}")
    if options.replay_gold == options.agent:
        raise UserError("tau2-retail needs exactly one of --replay-gold or --agent")
    if options.replay_gold:
        return replay_command(settings, options, console)
    from opsgraph.evals.tau2.agent_cli import agent_command

    return agent_command(settings, options, console)


def replay_command(settings: Settings, options: Tau2Options, console: Any) -> None:
    """Gold-replay every task and write ``{task_id: canonical hash}``."""
    from opsgraph.evals.tau2.replay import replay_tasks, write_hashes

    tasks_path, db_path = data_files(settings, options)
    tasks, db = load_tasks(tasks_path), load_db(db_path)
    hashes, failures = replay_tasks(tasks, db)
    target = options.hashes_out or options.out / GOLD_FILE
    write_hashes(hashes, target)
    failed = sum(len(v) for v in failures.values())
    console.print(f"replayed {len(hashes)} tasks from {tasks_path}; {failed} gold actions raised and were skipped "
                  f"(in {len(failures)} tasks); hashes written to {target}", markup=False, highlight=False)
    for task_id, records in failures.items():
        for record in records:
            console.print(f"  task {task_id} {record['action_id']} {record['name']}: {record['error']}",
                          markup=False, highlight=False)
