"""Tamper evidence for the audit trail: every event is chained to the one before it in its thread.

An event's hash is sha256 over its previous event's hash and a canonical JSON of its own
fields, exactly as stored. The store keeps a chain head per thread (last hash and number of
events), updated in the same transaction as each insert. Recomputing the chain then tells
which event was changed (its content no longer matches its hash), inserted (the chain skips
over it) or deleted (an event points at a hash no remaining event has, or the head does).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Sequence

# The stored columns the hash covers, in this order; seq is assigned by the database and is not.
HASHED_FIELDS = ("thread_id", "event_key", "ts", "agent", "kind", "name", "args", "result", "ok")


@dataclass(frozen=True)
class ChainedEvent:
    """One stored event as the chain sees it: its position, its stored fields and its two hashes."""

    seq: int
    fields: dict[str, Any]
    prev_hash: str | None
    hash: str | None


@dataclass(frozen=True)
class ChainHead:
    """The last hash of a thread's chain and how many events it holds."""

    hash: str
    events: int


@dataclass(frozen=True)
class ChainBreak:
    """The first place a thread's chain no longer holds: which event, and what was done to it."""

    thread_id: str
    seq: int | None
    change: str  # "changed", "inserted" or "deleted"
    message: str


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """The hash of an event with ``fields`` (stored values) following ``prev_hash`` ("" for the first)."""
    canonical = json.dumps({name: fields.get(name) for name in HASHED_FIELDS}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def find_break(thread_id: str, events: Sequence[ChainedEvent], head: ChainHead | None) -> ChainBreak | None:
    """The first change, insertion or deletion in one thread's events (in seq order), or None when intact.

    Events written before chaining existed (no hash) are skipped while they lead the thread.
    """
    start = 0
    while start < len(events) and events[start].hash is None:
        start += 1
    chained = list(events[start:])
    expected, last_good = "", None
    for position, event in enumerate(chained):
        successor = chained[position + 1].prev_hash if position + 1 < len(chained) else (head.hash if head else None)
        problem = _check(thread_id, event, expected, successor, last_good)
        if problem is not None:
            return problem
        expected, last_good = str(event.hash), event.seq
    return _check_head(thread_id, head, expected, last_good, len(chained))


def _check(thread_id: str, event: ChainedEvent, expected: str, successor: str | None,
           last_good: int | None) -> ChainBreak | None:
    """What is wrong with ``event``, given the hash it should follow and what its successor points at."""
    if successor == expected and successor != event.hash:
        # The next link skips this event: it was never part of the chain.
        return ChainBreak(thread_id, event.seq, "inserted", f"event #{event.seq} was inserted")
    valid = event.hash is not None and event_hash(event.prev_hash or "", event.fields) == event.hash
    if not valid:
        return ChainBreak(thread_id, event.seq, "changed", f"event #{event.seq} was changed")
    if event.prev_hash != expected:
        where = f"between #{last_good} and #{event.seq}" if last_good is not None else f"before #{event.seq}"
        return ChainBreak(thread_id, event.seq, "deleted", f"an event {where} was deleted")
    return None


def _check_head(thread_id: str, head: ChainHead | None, expected: str, last_good: int | None,
                count: int) -> ChainBreak | None:
    """The chain head must name the last event: otherwise events at the end were deleted."""
    if head is None:
        if count:
            return ChainBreak(thread_id, None, "deleted", "the chain head of this thread was deleted")
        return None
    if head.hash != expected or head.events != count:
        after = f"after #{last_good}" if last_good is not None else "of this thread"
        return ChainBreak(thread_id, None, "deleted", f"the last event {after} was deleted")
    return None
