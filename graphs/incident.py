"""The incident report of a supply-chain exception run, built from what the run actually did.

Facts come from executed tool results and recorded approvals, not from model prose, so the
report cannot claim an action that did not happen.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

from opsgraph.graphs.state import IncidentReport
from opsgraph.models.pricing import pricing_note


def done_actions(actions: Iterable[dict], tool: str) -> list[dict]:
    """Successful calls of ``tool`` whose result is a record."""
    return [a for a in actions if a["tool"] == tool and a["ok"] and isinstance(a["result"], dict)]


def cost_summary(calls: list[dict]) -> dict[str, Any]:
    """Totals and a per-agent, per-tier breakdown of model calls."""
    by_agent: dict[str, dict[str, float]] = defaultdict(lambda: {"calls": 0, "tokens": 0, "cost_usd": 0.0})
    by_tier: dict[str, dict[str, float]] = defaultdict(lambda: {"calls": 0, "tokens": 0, "cost_usd": 0.0})
    for call in calls:
        tokens = call["input_tokens"] + call["output_tokens"]
        for bucket in (by_agent[call["agent"]], by_tier[call["tier"]]):
            bucket["calls"] += 1
            bucket["tokens"] += tokens
            bucket["cost_usd"] = round(bucket["cost_usd"] + call["cost_usd"], 8)
    return {
        "model_calls": len(calls),
        "input_tokens": sum(c["input_tokens"] for c in calls),
        "output_tokens": sum(c["output_tokens"] for c in calls),
        "total_usd": round(sum(c["cost_usd"] for c in calls), 8),
        "escalations": sum(1 for c in calls if c.get("escalated")),
        "by_agent": dict(by_agent),
        "by_tier": dict(by_tier),
        "pricing": pricing_note(calls),
    }


def _what_happened(state: dict) -> str:
    event = state["event"]
    delays = done_actions(state.get("actions", []), "report_shipment_delay")
    if delays:
        d = delays[-1]["result"]
        return (f"Shipment {d.get('shipment_id', event['shipment_id'])} delayed {d.get('delay_days')} days: "
                f"ETA moved from {d.get('old_eta')} to {d.get('new_eta')}.")
    return f"Shipment {event['shipment_id']} reported delayed by {event['delay_days']} days; the delay was not recorded."


def _action_line(action: dict) -> str:
    result = action["result"] if isinstance(action["result"], dict) else {}
    key = next((k for k in ("po_id", "outbox_id", "new_eta", "count") if k in result), None)
    detail = f" ({key}={result[key]})" if key else ""
    return f"{action['agent']}: {action['tool']}{detail}"


def _purchase_orders(state: dict) -> list[dict[str, Any]]:
    created = [
        {"po_id": a["result"].get("po_id"), "supplier_id": a["result"].get("supplier_id", a["args"].get("supplier_id")),
         "total_usd": a["result"].get("total_usd"), "status": a["result"].get("status", "issued"),
         "approved_by": a["result"].get("approved_by")}
        for a in done_actions(state.get("actions", []), "create_purchase_order")
    ]
    rejected = [
        {"po_id": None, "supplier_id": a["args"].get("supplier_id"), "total_usd": None, "status": "rejected",
         "approved_by": None}
        for a in state.get("actions", []) if a["tool"] == "create_purchase_order" and a["status"] == "rejected"
    ]
    return created + rejected


def build_incident_report(state: dict) -> IncidentReport:
    """The structured report for a finished (or stopped) supply-chain run."""
    actions = state.get("actions", [])
    affected = [o["order_id"] for a in done_actions(actions, "find_affected_orders") for o in a["result"].get("affected_orders", [])]
    notified = [n["customer_id"] for a in done_actions(actions, "notify_customers") for n in a["result"].get("notified", [])]
    transfers = [t for a in done_actions(actions, "transfer_stock") for t in a["args"].get("transfers", [])]
    stop = state.get("stop_reason")
    return IncidentReport(
        title=f"Delay of inbound shipment {state['event']['shipment_id']}",
        outcome="stopped" if stop else "completed",
        stop_reason=stop,
        what_happened=_what_happened(state),
        actions_taken=[_action_line(a) for a in actions if a["writes"] and a["ok"]],
        orders_affected=sorted(set(affected)),
        customers_notified=sorted(set(notified)),
        transfers=transfers,
        purchase_orders=_purchase_orders(state),
        approvals=[{k: a[k] for k in ("kind", "decision", "reason", "by")} for a in state.get("approvals", [])],
        policies_cited=list(state.get("citations", [])),
        cost=cost_summary(state.get("calls", [])),
        agents=list(dict.fromkeys(state.get("visited", []))),
    )
