"""Tell the user when a run starts in a world that earlier runs already changed.

Runs write to one persistent mock enterprise. Running the same command twice delays the
shipment twice and may raise a second purchase order; that is correct for the world as it
now is, but surprising unless said. The notice names what is already there and how to get
the seeded world back.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

RESET_HINT = "'opsgraph world reset' brings back the seeded world"

# What each write operation is called in the notice, by the operation's name without its system.
WRITE_NAMES = {
    "report_shipment_delay": "delay", "create_purchase_order": "purchase order", "transfer_stock": "stock transfer",
    "notify_customers": "customer notice", "send_message": "message", "book_reroute": "reroute",
    "issue_refund": "refund", "change_plan": "plan change", "create_ticket": "ticket", "update_ticket": "ticket update",
}


def shipment_of(graph_input: dict[str, Any]) -> str | None:
    """The shipment a run is about (supply-chain style inputs), or None."""
    event = graph_input.get("event")
    if isinstance(event, dict) and event.get("shipment_id"):
        return str(event["shipment_id"])
    value = graph_input.get("shipment_id")
    return str(value) if value else None


def earlier_effects(writes: list[dict[str, Any]], shipment: str | None) -> str | None:
    """One notice about the effects earlier runs left in the world, or None for an untouched world."""
    if not writes:
        return None
    summary = _summary(writes)
    delays = [w["result"] for w in writes
              if _op(w) == "report_shipment_delay" and w["result"].get("shipment_id") == shipment]
    if delays:
        days = sum(int(d.get("delay_days") or 0) for d in delays)
        times = "once" if len(delays) == 1 else f"{len(delays)} times"
        return (f"note: earlier runs already delayed {shipment} {times} ({days} days in all; ETA now "
                f"{delays[-1].get('new_eta', '?')}) and left {summary} in this world; this run adds to them — "
                f"{RESET_HINT}")
    return f"note: earlier runs left {summary} in this world; this run starts from that state — {RESET_HINT}"


def _op(write: dict[str, Any]) -> str:
    return str(write["operation"]).rsplit(".", 1)[-1]


def _summary(writes: list[dict[str, Any]]) -> str:
    counts = Counter(WRITE_NAMES.get(_op(w), _op(w).replace("_", " ")) for w in writes)
    return ", ".join(f"{n} {name}{'' if n == 1 else 's'}" for name, n in counts.most_common())
