"""Graph ids known to opsgraph: builder, topology, and how to turn CLI options into input."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from langgraph.graph import StateGraph

from opsgraph.errors import UserError


@dataclass(frozen=True)
class GraphEntry:
    """One runnable workflow."""

    graph_id: str
    topology: str
    description: str
    builder: Callable[[], StateGraph]
    make_input: Callable[[dict[str, Any], Any], dict[str, Any]]
    title: Callable[[dict[str, Any]], str]
    # Turns one line typed in the chat REPL into graph input (new thread or next turn).
    chat_input: Callable[[str, Any], dict[str, Any]] | None = None


_SHIPMENT = re.compile(r"\bSH-\d{4}\b")
_DAYS = re.compile(r"\b(\d{1,3})\s*(?:calendar\s+|business\s+)?days?\b", re.IGNORECASE)
MAX_EVENT_CHARS = 4000


def supply_chain_input(options: dict[str, Any], world: Any) -> dict[str, Any]:
    """Validate ``--shipment/--delay-days/--event`` against the world; raise UserError if unusable."""
    event_text = (options.get("event") or "").strip()
    if len(event_text) > MAX_EVENT_CHARS:
        raise UserError(f"--event is {len(event_text)} characters; the limit is {MAX_EVENT_CHARS}")
    shipment = options.get("shipment") or _first(_SHIPMENT, event_text)
    days = options.get("delay_days") or _first_int(_DAYS, event_text)
    if not shipment:
        raise UserError("name the late shipment with --shipment SH-0001 (or mention its id in --event)")
    if days is None:
        raise UserError("give the delay with --delay-days N (or write 'N days' in --event)")
    if not 1 <= int(days) <= 60:
        raise UserError(f"--delay-days must be between 1 and 60, got {days}")
    _require_shipment(world, shipment)
    description = event_text or f"Inbound shipment {shipment} is delayed by {days} days."
    return {"event": {"shipment_id": shipment, "delay_days": int(days), "description": description}}


def _require_shipment(world: Any, shipment: str) -> None:
    from tools.connectors.base import ConnectorError

    try:
        world.tms.get_shipment(shipment)
    except ConnectorError as exc:
        raise UserError(str(exc)) from None


def _first(pattern: re.Pattern, text: str) -> str | None:
    match = pattern.search(text)
    return match.group(0) if match else None


def _first_int(pattern: re.Pattern, text: str) -> int | None:
    match = pattern.search(text)
    return int(match.group(1)) if match else None


def _supply_chain_builder() -> StateGraph:
    from graphs.supply_chain import build_supply_chain_graph

    return build_supply_chain_graph()


def graph_entries() -> dict[str, GraphEntry]:
    """Every registered workflow by graph id."""
    entries = [
        GraphEntry(
            "supply_chain_exception", "supervisor",
            "A late inbound shipment: logistics, inventory, procurement and customer comms under a supervisor.",
            _supply_chain_builder, supply_chain_input,
            lambda inp: f"shipment {inp['event']['shipment_id']} +{inp['event']['delay_days']}d",
            chat_input=lambda text, world: supply_chain_input({"event": text}, world),
        ),
    ]
    return {entry.graph_id: entry for entry in entries}


def get_entry(graph_id: str) -> GraphEntry:
    """The entry for ``graph_id`` or a UserError listing the known ids."""
    entries = graph_entries()
    if graph_id not in entries:
        raise UserError(f"unknown graph {graph_id!r}; known graphs: {', '.join(sorted(entries))}")
    return entries[graph_id]
