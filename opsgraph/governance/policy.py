"""Typed access to ``policy.yaml``: thresholds, limits and per-agent permissions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class PolicyError(ValueError):
    """policy.yaml is missing, malformed, or asked for something it does not define."""


@dataclass(frozen=True)
class KnowledgeAccess:
    """Which knowledge an agent may read."""

    departments: tuple[str, ...]
    max_access: str


@dataclass(frozen=True)
class AgentPolicy:
    """Permissions and defaults of one agent."""

    name: str
    tier: str
    tools: tuple[str, ...]
    knowledge: KnowledgeAccess
    history: str = "full"
    extra: dict[str, Any] = field(default_factory=dict)

    def may_call(self, tool_name: str) -> bool:
        """True when this agent is allowed to execute ``tool_name``."""
        return tool_name in self.tools


@dataclass(frozen=True)
class Policy:
    """The whole operating policy; ``raw`` keeps the YAML for dotted look-ups."""

    raw: dict[str, Any]
    path: Path | None = None

    def get(self, dotted: str) -> Any:
        """Value at a dotted path such as ``approvals.purchase_order.threshold_usd``."""
        node: Any = self.raw
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                raise PolicyError(f"policy has no value at {dotted!r}")
            node = node[part]
        return node

    @property
    def access_levels(self) -> tuple[str, ...]:
        """Knowledge access levels, lowest first."""
        return tuple(self.raw.get("access_levels", ["public", "internal", "confidential", "restricted"]))

    def access_rank(self, level: str) -> int:
        """Numeric rank of an access level (unknown levels rank as most restricted)."""
        levels = self.access_levels
        return levels.index(level) if level in levels else len(levels)

    @property
    def agent_names(self) -> tuple[str, ...]:
        """Names of every agent the policy defines."""
        return tuple(self.raw.get("agents", {}))

    def agent(self, name: str) -> AgentPolicy:
        """Permissions of agent ``name``; unknown agents get no tools and public knowledge only."""
        spec = self.raw.get("agents", {}).get(name)
        if spec is None:
            return AgentPolicy(name, "small", (), KnowledgeAccess((), "public"))
        know = spec.get("knowledge", {}) or {}
        extra = {k: v for k, v in spec.items() if k not in ("tier", "tools", "knowledge", "history")}
        return AgentPolicy(
            name=name,
            tier=str(spec.get("tier", "small")),
            tools=tuple(spec.get("tools", []) or []),
            knowledge=KnowledgeAccess(tuple(know.get("departments", []) or []), str(know.get("max_access", "public"))),
            history=str(spec.get("history", "full")),
            extra=extra,
        )


def load_policy(path: Path) -> Policy:
    """Read policy.yaml at ``path`` and validate it against the schema; raises PolicyError.

    The error names the first problem's key and line: a duplicate key, a wrong type, an
    unknown key in a closed section, a NaN or negative limit.
    """
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise PolicyError(f"policy file {path} does not exist") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        lines = key_lines(root, path)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy file {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or "agents" not in raw:
        raise PolicyError(f"policy file {path} must be a mapping with an 'agents' section")
    validate_policy(raw, lines, path)
    return Policy(raw=raw, path=Path(path))


def key_lines(root: yaml.Node | None, path: Path | str) -> dict[tuple[str, ...], int]:
    """Line (1-based) of every key in a composed YAML document; a key given twice is an error.

    A plain YAML load keeps the last of two equal keys without a word, so a policy edited in
    two places would silently lose one of them.
    """
    lines: dict[tuple[str, ...], int] = {}
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(root, ())] if root is not None else []
    while stack:
        node, where = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key, line = str(key_node.value), key_node.start_mark.line + 1
                if key in seen:
                    raise PolicyError(f"policy file {path}: duplicate key {_dotted((*where, key))!r} at line {line} "
                                      f"(first given at line {seen[key]})")
                seen[key] = lines[(*where, key)] = line
                stack.append((value_node, (*where, key)))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*where, str(index))] = item.start_mark.line + 1
                stack.append((item, (*where, str(index))))
    return lines


def validate_policy(raw: dict[str, Any], lines: dict[tuple[str, ...], int], path: Path | str) -> None:
    """Check ``raw`` against the policy schema; raises PolicyError naming the first bad key and its line."""
    from pydantic import ValidationError

    from opsgraph.governance.policy_schema import PolicySchema, bad_numbers, cross_problems

    problems = list(bad_numbers(raw))
    if not problems:
        try:
            problems = list(cross_problems(PolicySchema.model_validate(raw)))
        except ValidationError as exc:
            problems = [(tuple(str(p) for p in e["loc"]), _message(e)) for e in exc.errors()]
    if problems:
        where, message = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise PolicyError(f"policy file {path}: {_dotted(where) or 'top level'}{_line(where, lines)}: {message}{more}")


def _message(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key here"
    if error["type"] == "missing":
        return "required key is missing"
    return f"{error['msg']} (got {error.get('input')!r})"


def _line(where: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> str:
    """`` (line N)`` of the key, or of its nearest enclosing key that is in the file."""
    for end in range(len(where), 0, -1):
        if where[:end] in lines:
            return f" (line {lines[where[:end]]})"
    return ""


def _dotted(where: tuple[str, ...]) -> str:
    return ".".join(where)
