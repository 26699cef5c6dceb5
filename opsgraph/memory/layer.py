"""The memory layer: episodes and lessons in a LangGraph ``BaseStore``, recalled by subject and meaning.

The layer is given its store (any ``BaseStore``: the SQLite file of the data home, a Postgres
store, an in-memory store in tests); it never opens one itself. Every write and every
forget is audited (``memory_write``, ``memory_refused``, ``memory_forget``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from langgraph.store.base import BaseStore, Item, SearchItem

from opsgraph.errors import UserError
from opsgraph.governance.policy import Policy
from opsgraph.memory.lessons import Lesson, policy_conflict
from opsgraph.memory.records import ROOT, Episode, kind_of, namespace, namespaces_of, now_iso

RECALL_HEADING = "Relevant past episodes and lessons:"
DEFAULT_RECALL = {"max_items": 5, "max_age_days": 365, "namespaces": ["supplier", "sku", "customer", "carrier",
                                                                      "shipment", "agent"]}
LIST_LIMIT = 1000
MEMORY_LEDGER = "memory"  # audit thread of memory events that belong to no run (a forget from the CLI)


class LessonRefused(UserError):
    """A lesson contradicts policy.yaml and was not stored."""


class Memory:
    """Episodic memory and lessons of one deployment, on the ``BaseStore`` it is given."""

    def __init__(self, store: BaseStore, policy: Policy, *, audit: Any = None, world: Any = None,
                 clock: Callable[[], str] = now_iso) -> None:
        self.store, self.policy, self.audit, self.world, self.clock = store, policy, audit, world, clock

    def write_episode(self, episode: Episode, agents: list[str]) -> str:
        """Store ``episode`` under each of its subjects and agents; returns its id.

        A run resumed after it failed ends again with a new outcome: its episode is rewritten.
        """
        value = {**episode, "created_at": episode.get("created_at") or self.clock()}
        self._put(value, namespaces_of(episode["subjects"], agents))
        self._audit(episode["thread_id"], "memory_write", value, ok=True, version=episode["outcome"])
        return episode["id"]

    def write_lesson(self, lesson: Lesson) -> str:
        """Store ``lesson`` under its subjects; raises LessonRefused (audited) when it contradicts policy.

        A lesson is written once: the run's later steps do not write it again, so one an
        operator forgot while the run was still waiting stays forgotten.
        """
        why = policy_conflict(lesson, self.policy, self.world)
        if why:
            self._audit(lesson["thread_id"], "memory_refused", {**lesson, "refused": why}, ok=False)
            raise LessonRefused(f"lesson not stored: {why}; lessons never override policy.yaml")
        value = {**lesson, "created_at": lesson.get("created_at") or self.clock()}
        if self._audit(lesson["thread_id"], "memory_write", value, ok=True) is False:
            return lesson["id"]
        self._put(value, namespaces_of(lesson["subjects"], []) or [namespace("category", lesson["category"])])
        return lesson["id"]

    def _put(self, value: dict[str, Any], spaces: list[tuple[str, ...]]) -> None:
        stored = {**value, "namespaces": [list(ns) for ns in spaces]}
        for space in spaces:
            self.store.put(space, value["id"], stored)

    def is_empty(self) -> bool:
        """True while nothing has been remembered (or everything was forgotten)."""
        return not self.store.search((ROOT,), limit=1)

    def get(self, memory_id: str) -> dict[str, Any] | None:
        """The memory with this id, or None."""
        found = self.store.search((ROOT,), filter={"id": memory_id}, limit=1)
        return dict(found[0].value) if found else None

    def forget(self, memory_id: str, by: str = "operator") -> dict[str, Any]:
        """Delete every copy of a memory (audited); raises UserError when there is none."""
        value = self.get(memory_id)
        if value is None:
            raise UserError(f"no memory with id {memory_id!r}; see 'opsgraph memory list'")
        for space in value.get("namespaces") or []:
            self.store.delete(tuple(space), memory_id)
        self._audit(value.get("thread_id") or MEMORY_LEDGER, "memory_forget",
                    {"id": memory_id, "kind": value.get("kind"), "text": value.get("text"), "by": by}, ok=True,
                    version=self.clock())
        return value

    def items(self, subject: str | None = None, kind: str | None = None, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        """Memories, newest first: all of them, or those about ``subject`` (an id such as SUP-006)."""
        space = _subject_space(subject) if subject else (ROOT,)
        found = self.store.search(space, filter={"kind": kind} if kind else None, limit=limit)
        return sorted(_unique(found), key=lambda v: v.get("created_at", ""), reverse=True)

    def search(self, query: str, limit: int = 10, subject: str | None = None) -> list[dict[str, Any]]:
        """Memories closest in meaning to ``query`` (each with its ``score``)."""
        space = _subject_space(subject) if subject else (ROOT,)
        return _unique(self.store.search(space, query=query, limit=limit * 4))[:limit]

    def recall(self, subject_ids: list[str], query: str, agent: str) -> dict[str, Any]:
        """What ``agent`` may recall about ``subject_ids``: lessons first, then episodes, cited.

        The agent's ``memory.agents.<name>`` policy caps the items, their age and the kinds of
        namespace searched; the result is what the ``recall_memory`` tool returns.
        """
        rules = recall_rules(self.policy, agent)
        oldest = datetime.now(timezone.utc) - timedelta(days=int(rules["max_age_days"]))
        found: dict[str, dict[str, Any]] = {}
        for space in self._spaces(subject_ids, agent, rules):
            for value in _unique(self.store.search(space, query=query or None, limit=int(rules["max_items"]) * 2)):
                if _when(value) >= oldest and value["id"] not in found:
                    found[value["id"]] = value
        ranked = sorted(found.values(), key=lambda v: (v.get("kind") != "lesson", -float(v.get("score") or 0)))
        chosen = ranked[: int(rules["max_items"])]
        return {"heading": RECALL_HEADING, "subjects": subject_ids, "count": len(chosen),
                "items": [_cited(v) for v in chosen], "note": _note(chosen)}

    def _spaces(self, subject_ids: list[str], agent: str, rules: dict[str, Any]) -> list[tuple[str, ...]]:
        allowed = set(rules["namespaces"])
        spaces = [namespace(kind, sid) for sid in dict.fromkeys(subject_ids)
                  if (kind := kind_of(sid)) and kind in allowed]
        if "agent" in allowed:
            spaces.append(namespace("agent", agent))
        return spaces

    def _audit(self, thread_id: str, kind: str, value: dict[str, Any], ok: bool, version: str = "") -> bool | None:
        """Record a memory event once per memory (and ``version``); False when it was recorded before."""
        if self.audit is None:
            return None
        detail = {k: value.get(k) for k in ("id", "kind", "text", "category", "subjects", "refused", "by") if k in value}
        key = f"{kind}:{value['id']}" + (f":{version}" if version else "")
        return self.audit.record(thread_id, key, kind, agent="memory", name=str(value.get("kind") or "memory"),
                                 args={"id": value["id"]}, result=detail, ok=ok)


def recall_rules(policy: Policy, agent: str) -> dict[str, Any]:
    """``memory.agents.<agent>`` of policy.yaml over the defaults (``memory.defaults``, then built in)."""
    section = policy.raw.get("memory") or {}
    return {**DEFAULT_RECALL, **(section.get("defaults") or {}), **((section.get("agents") or {}).get(agent) or {})}


def _subject_space(subject: str) -> tuple[str, ...]:
    kind = kind_of(subject)
    if kind is None:
        raise UserError(f"{subject!r} is not a supplier, SKU, customer, carrier or shipment id "
                        "(e.g. SUP-006, SKU-003, CUST-001, SH-0001)")
    return namespace(kind, subject.upper())


def _unique(found: list[Item | SearchItem]) -> list[dict[str, Any]]:
    """Values of ``found`` once per memory id (a memory is stored under each of its subjects)."""
    seen: dict[str, dict[str, Any]] = {}
    for item in found:
        value = dict(item.value)
        if getattr(item, "score", None) is not None:
            value["score"] = round(float(item.score), 4)
        seen.setdefault(value.get("id", item.key), value)
    return list(seen.values())


def _when(value: dict[str, Any]) -> datetime:
    try:
        stamp = datetime.fromisoformat(str(value.get("created_at")))
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def citation(value: dict[str, Any]) -> str:
    """How a memory is cited: ``memory:le_3f2a9c1d04 (lesson, 2026-11-30)``."""
    return f"memory:{value['id']} ({value.get('kind', 'memory')}, {str(value.get('created_at', ''))[:10]})"


def _cited(value: dict[str, Any]) -> dict[str, Any]:
    item = {"memory_id": value["id"], "kind": value.get("kind"), "text": value.get("text"), "citation": citation(value)}
    if value.get("stated_values"):
        item["stated_values"] = value["stated_values"]
    return item


def _note(chosen: list[dict[str, Any]]) -> str:
    if not chosen:
        return "no past episodes or lessons for these subjects"
    return "past decisions, for guidance only: policy.yaml and the approval rules still apply"
