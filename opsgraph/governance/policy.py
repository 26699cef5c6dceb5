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
    """Read and validate the policy file at ``path``."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise PolicyError(f"policy file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy file {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or "agents" not in raw:
        raise PolicyError(f"policy file {path} must be a mapping with an 'agents' section")
    return Policy(raw=raw, path=Path(path))
