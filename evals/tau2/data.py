"""Where the tau2 retail data lives and how its tasks are read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsgraph.errors import UserError


@dataclass(frozen=True)
class Task:
    """One tau2 task: its id, the user's scenario and what a correct run must do."""

    task_id: str
    scenario: dict[str, Any]
    actions: tuple[dict[str, Any], ...]
    communicate_info: tuple[str, ...]
    reward_basis: tuple[str, ...]

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "Task":
        """Build a task from one entry of tau2's ``tasks.json``."""
        criteria = raw.get("evaluation_criteria") or {}
        return cls(task_id=str(raw["id"]), scenario=dict(raw.get("user_scenario") or {}),
                   actions=tuple(criteria.get("actions") or ()),
                   communicate_info=tuple(str(x) for x in criteria.get("communicate_info") or ()),
                   reward_basis=tuple(criteria.get("reward_basis") or ("DB",)))


def existing_file(path: Path | str | None, what: str, default: Path | None) -> Path:
    """``path`` (or ``default``) when it is a file, else a one-line UserError naming the option."""
    chosen = Path(path) if path else default
    if chosen is None:
        raise UserError(f"no {what} given and no tau2 retail data found; pass {what} PATH")
    if not chosen.is_file():
        raise UserError(f"{what} {chosen} does not exist")
    return chosen


def load_tasks(path: Path) -> list[Task]:
    """The tasks of a tau2 ``tasks.json``; a UserError in one line when the file is not one."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        tasks = [Task.from_json(entry) for entry in raw]
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UserError(f"tasks file {path} is not a tau2 tasks.json ({type(exc).__name__}: {exc})") from None
    if not tasks:
        raise UserError(f"tasks file {path} holds no tasks")
    return tasks
