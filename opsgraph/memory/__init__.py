"""Memory that lasts and learns: episodes of past runs and lessons from human feedback.

Built on a LangGraph ``BaseStore`` (namespaces per subject, semantic search with the
project's offline embedding); see docs/memory.md.
"""

from __future__ import annotations

from typing import Any

from opsgraph.governance.policy import Policy
from opsgraph.memory.layer import LessonRefused, Memory
from opsgraph.memory.store import close_store, open_memory_store
from opsgraph.settings import Settings

__all__ = ["LessonRefused", "Memory", "close_memory", "open_memory", "open_memory_store"]


def open_memory(settings: Settings, policy: Policy, *, audit: Any = None, world: Any = None,
                embed: Any = None) -> Memory:
    """The memory layer of the data home, on the store :func:`open_memory_store` opens."""
    return Memory(open_memory_store(settings, embed=embed), policy, audit=audit, world=world)


def close_memory(memory: Memory | None) -> None:
    """Close the store under ``memory`` (if any)."""
    if memory is not None:
        close_store(memory.store)
