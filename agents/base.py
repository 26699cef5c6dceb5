"""What defines a specialist agent: identity, prompt, tools it is built with, context policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

HistoryPolicy = Literal["full", "last_message", "summary", "own_turns"]


@dataclass(frozen=True)
class AgentSpec:
    """A specialist agent. Its default tier and permissions live in policy.yaml."""

    name: str
    description: str
    prompt: str
    tools: tuple[str, ...]
    history: HistoryPolicy = "full"
    # Agents this one may hand the conversation to (handoff topologies make the tools).
    handoffs: tuple[str, ...] = ()
