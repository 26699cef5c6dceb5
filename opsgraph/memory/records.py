"""What a memory is: subjects and their namespaces, episodes made from finished runs.

Every memory is stored once per subject it is about, under ``("memory", <kind>, <id>)``
(``("memory", "supplier", "SUP-006")``), and once per agent that acted, under
``("memory", "agent", <name>)``; every copy has the same key, so forgetting deletes them all.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any, Iterator, Literal, TypedDict

ROOT = "memory"
SubjectKind = Literal["supplier", "sku", "customer", "carrier", "shipment"]
# Argument and field names that name a subject, and the kind of subject they name.
SUBJECT_KEYS: dict[str, SubjectKind] = {
    "supplier_id": "supplier", "preferred_supplier_id": "supplier", "sku_id": "sku", "customer_id": "customer",
    "carrier_id": "carrier", "shipment_id": "shipment",
}
# Id prefixes of each kind, for ids given without a field name (``recall_memory(["SUP-006"])``).
PREFIXES: dict[str, SubjectKind] = {"SUP": "supplier", "SKU": "sku", "CUST": "customer", "CAR": "carrier",
                                    "SH": "shipment"}
SUBJECT_KINDS: tuple[str, ...] = ("supplier", "sku", "customer", "carrier", "shipment", "agent")
# Arguments worth remembering about an action: ids, quantities and amounts, not prose.
_PROSE = re.compile(r"justification|reason|note|message|body|summary|description|query|text")
_ID = re.compile(r"^[A-Z]{2,5}-[A-Z0-9]{2,8}$")


class Episode(TypedDict):
    """One finished run (or decided approval), as remembered."""

    id: str
    kind: Literal["episode"]
    text: str
    graph: str
    thread_id: str
    event_type: str
    event: dict[str, Any]
    subjects: dict[str, list[str]]
    actions: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    outcome: str
    cost: dict[str, Any]
    created_at: str


def now_iso() -> str:
    """The current UTC time, as stored on memories."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def memory_id(prefix: str, *parts: Any) -> str:
    """A stable id for a memory made from ``parts`` (``le_3f2a9c1d04``): writing it again overwrites it."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"{prefix}_{digest}"


def kind_of(subject_id: str) -> SubjectKind | None:
    """The kind of subject an id names, from its prefix (``SUP-006`` -> supplier)."""
    return PREFIXES.get(subject_id.split("-", 1)[0].upper()) if _ID.match(subject_id.upper()) else None


def namespace(kind: str, subject_id: str) -> tuple[str, str, str]:
    """The namespace of one subject's memories."""
    return (ROOT, kind, subject_id)


def namespaces_of(subjects: dict[str, list[str]], agents: list[str]) -> list[tuple[str, ...]]:
    """Every namespace a memory with these subjects and agents is stored in."""
    found = [namespace(kind, sid) for kind, ids in subjects.items() for sid in ids]
    return found + [namespace("agent", name) for name in agents]


def collect_subjects(*sources: Any) -> dict[str, list[str]]:
    """Subject ids named anywhere in ``sources`` (dicts and lists, nested), by kind, in order."""
    found: dict[str, list[str]] = {}
    for source in sources:
        for key, value in _pairs(source):
            kind = SUBJECT_KEYS.get(key)
            if kind and isinstance(value, str) and _ID.match(value) and value not in found.setdefault(kind, []):
                found[kind].append(value)
    return {kind: ids for kind, ids in found.items() if ids}


def _pairs(data: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield str(key), value
            yield from _pairs(value)
    elif isinstance(data, list):
        for item in data:
            yield from _pairs(item)


def key_args(args: dict[str, Any]) -> dict[str, Any]:
    """The arguments of an action worth remembering: ids, numbers, flags and lines, no prose."""
    kept = {}
    for key, value in (args or {}).items():
        if _PROSE.search(key) or key == "idempotency_key":
            continue
        if isinstance(value, (int, float, bool)) or (isinstance(value, str) and len(value) <= 40):
            kept[key] = value
        elif isinstance(value, list) and all(isinstance(v, (dict, str)) for v in value):
            kept[key] = [key_args(v) if isinstance(v, dict) else v for v in value][:10]
        elif isinstance(value, dict):
            kept[key] = key_args(value)
    return kept


def event_of(graph_id: str, values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The event type that started a run and its facts, normalised from the graph's input."""
    if isinstance(values.get("event"), dict):
        event = values["event"]
        return str(event.get("type") or ("shipment_delay" if "shipment_id" in event else graph_id)), key_args(event)
    if isinstance(values.get("request"), dict):
        return "purchase_request", key_args(values["request"])
    for name in ("ticket", "supplier_id", "contract_id", "message"):
        value = values.get(name)
        if value:
            # Free text (a customer's message) is not remembered, only that the run started from one.
            return f"{graph_id}:{name}", key_args(value if isinstance(value, dict) else {name: value})
    return graph_id, {}


def episode_text(graph_id: str, event_type: str, event: dict[str, Any], actions: list[dict[str, Any]],
                 decisions: list[dict[str, Any]], outcome: str, day: str) -> str:
    """The one paragraph an agent reads (and the store embeds) for an episode."""
    facts = ", ".join(f"{k}={v}" for k, v in event.items() if not isinstance(v, (dict, list)))
    done = "; ".join(_action_line(a) for a in actions if a.get("writes"))[:400] or "no writes"
    said = "; ".join(_decision_line(d) for d in decisions) or "no human decision"
    return f"{day}: {graph_id} run on {event_type} ({facts}). Actions: {done}. Decisions: {said}. Outcome: {outcome}."


def _action_line(action: dict[str, Any]) -> str:
    args = action.get("args") or {}
    ids = [str(v) for v in args.values() if isinstance(v, str) and _ID.match(v)]
    lines = [f"{line.get('quantity')} x {line.get('sku_id')}" for line in args.get("lines") or [] if isinstance(line, dict)]
    return f"{action['tool']}({', '.join(ids + lines)}) {action.get('status', '')}".strip()


def _decision_line(decision: dict[str, Any]) -> str:
    reason = f": '{decision['reason']}'" if decision.get("reason") else ""
    edits = f" {json.dumps(decision['edits'])}" if decision.get("edits") else ""
    return f"{decision.get('kind', 'approval')} {decision['decision']}{edits} by {decision.get('by')}{reason}"
