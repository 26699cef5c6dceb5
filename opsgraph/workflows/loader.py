"""Load a workflow spec file and validate it; every problem names the file and its line.

Validation runs in two passes: the schema (types, required and unknown keys, the topology
kind), then the references a schema cannot see: agents named by the topology, tools in the
catalog, prompt files, the permissions policy.yaml grants, the input and report kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import ValidationError

from opsgraph.errors import UserError
from opsgraph.workflows.spec import COMPILED_TOPOLOGIES, RESERVED_TOPOLOGIES, WorkflowSpec

Lines = dict[tuple[str, ...], int]


class WorkflowSpecError(UserError):
    """A workflow spec is malformed; ``problems`` holds one ``file:line: message`` per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec, the file it came from and the line of every key."""

    spec: WorkflowSpec
    path: Path
    lines: Lines


def load_spec(path: Path | str, policy: Any = None) -> LoadedSpec:
    """Read, parse and validate ``path``; raises WorkflowSpecError listing every problem with its line."""
    path = Path(path)
    raw, lines = _read(path)
    problems = Problems(path, lines)
    spec = _schema(raw, problems)
    if spec is not None:
        from opsgraph.workflows.references import check_references

        check_references(spec, problems, policy)
    problems.raise_any()
    assert spec is not None
    return LoadedSpec(spec, path, lines)


class Problems:
    """Collects ``file:line: message`` problems for one spec file."""

    def __init__(self, path: Path, lines: Lines) -> None:
        self.path, self.lines, self.found = path, lines, []  # type: list[str]

    def add(self, where: Iterable[Any], message: str) -> None:
        """Record a problem at key path ``where`` (its line, or its nearest enclosing key's)."""
        keys = tuple(str(k) for k in where)
        problem = f"{self.path}:{self.line(keys)}: {message}"
        if problem not in self.found:  # e.g. one agent listed twice on one line
            self.found.append(problem)

    def line(self, keys: tuple[str, ...]) -> int:
        """Line of ``keys``; parts that are not keys in the file (a union's tag) are skipped."""
        known: tuple[str, ...] = ()
        for key in keys:
            if (*known, key) in self.lines:
                known = (*known, key)
        return self.lines.get(known, 1)

    def raise_any(self) -> None:
        """Raise WorkflowSpecError if any problem was recorded."""
        if self.found:
            raise WorkflowSpecError(self.found)


def _read(path: Path) -> tuple[dict[str, Any], Lines]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkflowSpecError([f"{path}: cannot read the workflow spec ({exc.strerror or exc})"]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise WorkflowSpecError([f"{path}:{line}: not valid YAML ({getattr(exc, 'problem', None) or exc})"]) from None
    if not isinstance(raw, dict):
        raise WorkflowSpecError([f"{path}:1: a workflow spec must be a mapping (id, description, agents, ...)"])
    lines, duplicates = key_lines(root)
    if duplicates:
        raise WorkflowSpecError([f"{path}:{line}: duplicate key {key!r}" for key, line in duplicates])
    return raw, lines


def key_lines(root: yaml.Node | None) -> tuple[Lines, list[tuple[str, int]]]:
    """Line (1-based) of every key and list item in a composed document, and any duplicate keys."""
    lines: Lines = {(): 1}
    duplicates: list[tuple[str, int]] = []
    stack = [(root, ())] if root is not None else []
    while stack:
        node, where = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = (*where, str(key_node.value))
                if key in lines:
                    duplicates.append((".".join(key), key_node.start_mark.line + 1))
                lines[key] = key_node.start_mark.line + 1
                stack.append((value_node, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*where, str(index))] = item.start_mark.line + 1
                stack.append((item, (*where, str(index))))
    return lines, sorted(duplicates, key=lambda d: d[1])


def _schema(raw: dict[str, Any], problems: Problems) -> WorkflowSpec | None:
    """The spec if it matches the schema; otherwise every schema problem is recorded."""
    if not _topology_kind_ok(raw, problems):
        return None
    try:
        return WorkflowSpec.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            error["loc"] = _without_tag(tuple(error["loc"]))
            problems.add(error["loc"], _message(error))
        return None


def _topology_kind_ok(raw: dict[str, Any], problems: Problems) -> bool:
    topology = raw.get("topology")
    kind = topology.get("kind") if isinstance(topology, dict) else None
    if kind is None or kind in COMPILED_TOPOLOGIES:
        return True
    if kind in RESERVED_TOPOLOGIES:
        problems.add(("topology", "kind"), f"topology {kind!r} cannot be compiled from a spec yet; "
                     f"use one of: {', '.join(COMPILED_TOPOLOGIES)}")
    else:
        reserved = f" (reserved: {', '.join(RESERVED_TOPOLOGIES)})" if RESERVED_TOPOLOGIES else ""
        problems.add(("topology", "kind"), f"unknown topology {kind!r}; use one of: {', '.join(COMPILED_TOPOLOGIES)}"
                     + reserved)
    return False


def _without_tag(loc: tuple) -> tuple:
    """``loc`` without the union tag pydantic puts after ``topology`` (it may equal a field name: supervisor)."""
    if len(loc) > 1 and loc[0] == "topology" and loc[1] in COMPILED_TOPOLOGIES:
        return (loc[0], *loc[2:])
    return loc


def _message(error: dict[str, Any]) -> str:
    where = ".".join(str(k) for k in error["loc"])
    if error["type"] == "missing":
        return f"missing required field {where!r}"
    if error["type"] == "extra_forbidden":
        return f"unknown field {where!r}"
    if error["type"] == "too_short":
        return f"{where}: needs at least {error['ctx']['min_length']} item(s) (got {error['ctx'].get('actual_length')})"
    if error["type"] == "union_tag_not_found":
        return f"{where or 'topology'}: 'kind' is required ({', '.join(COMPILED_TOPOLOGIES)})"
    return f"{where}: {error['msg']} (got {error.get('input')!r})"
