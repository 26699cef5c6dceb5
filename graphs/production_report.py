"""The ``production_planning`` report, built from the run's state, its executed tools and the MES."""

from __future__ import annotations

from typing import Any

from opsgraph.graphs.incident import cost_summary
from opsgraph.graphs.state import ProductionReport
from opsgraph.tools.connectors.base import NotFound

EVENT_TITLES = {"breakdown": "Breakdown of {work_centre_id} for {days} days",
                "late_material": "Late material: {shipment_id} {days} days late", "rush": "Rush order {job_id}"}


def _results(state: dict, tool: str, ok: bool = True) -> list[dict[str, Any]]:
    return [a for a in state.get("actions") or [] if a["tool"] == tool and a["ok"] == ok]


def _touched_jobs(state: dict) -> list[str]:
    jobs: list[str] = []
    for call in state.get("calls_for_bids") or []:
        jobs += [j for j in call["job_ids"] if j not in jobs]
    return jobs


def _schedule(state: dict, ctx: Any) -> list[dict[str, Any]]:
    rows = []
    for job_id in _touched_jobs(state):
        try:
            job = ctx.world.mes.get_job(job_id)
        except NotFound:
            continue
        rows.append({k: job[k] for k in ("job_id", "order_id", "work_centre_id", "quantity", "start_date",
                                         "finish_date", "due_date", "status")})
    return rows


def _moved(state: dict) -> list[dict[str, Any]]:
    event = state["event"]
    why = EVENT_TITLES[event["kind"]].format(**{k: event.get(k) for k in ("work_centre_id", "days", "shipment_id", "job_id")})
    moves = []
    for action in _results(state, "assign_job"):
        r = action["result"]
        moves.append({"job_id": r["job_id"], "order_id": r["order_id"], "from_work_centre_id": r["from_work_centre_id"],
                      "to_work_centre_id": r["work_centre_id"], "quantity": r["quantity"],
                      "old_finish_date": r["old_finish_date"], "new_finish_date": r["finish_date"],
                      "due_date": r["due_date"], "commitment_moved": r["commitment_moved"],
                      "promised_date": r["promised_date"], "approved_by": r["approved_by"],
                      "split_off": r["remainder_job_id"], "why": why})
    return moves


def _purchase_orders(state: dict) -> list[dict[str, Any]]:
    orders = []
    for action in state.get("actions") or []:
        if action["tool"] != "create_purchase_order":
            continue
        result = action["result"] if isinstance(action["result"], dict) else {}
        orders.append({"status": action["status"], "po_id": result.get("po_id"),
                       "supplier_id": result.get("supplier_id") or action["args"].get("supplier_id"),
                       "total_usd": result.get("total_usd"), "lines": action["args"].get("lines"),
                       "approved_by": result.get("approved_by"), "detail": None if action["ok"] else str(result)[:200]})
    return orders


def _shortfalls(state: dict) -> list[dict[str, Any]]:
    checks = _results(state, "check_materials")
    if not checks:
        return []
    return [m for m in checks[-1]["result"]["materials"] if m["shortfall"] > 0]


def build_production_report(state: dict, ctx: Any) -> ProductionReport:
    """Everything a planner needs to check the run: schedule, awards and scores, moves, approvals, purchases."""
    event, stop = state["event"], state.get("stop_reason")
    moved = _moved(state)
    title = EVENT_TITLES[event["kind"]].format(**{k: event.get(k) for k in ("work_centre_id", "days", "shipment_id",
                                                                           "job_id")})
    return ProductionReport(
        title=title, outcome="stopped" if stop else "completed", stop_reason=stop, event=dict(event),
        rounds=int(state.get("round") or 0), calls_for_bids=list(state.get("calls_for_bids") or []),
        awards=list(state.get("awards") or []), rejected_bids=list(state.get("rejected_bids") or []),
        no_bids=list(state.get("no_bids") or []), schedule=_schedule(state, ctx), moved=moved,
        commitments_moved=[m for m in moved if m["commitment_moved"]], unassigned=list(state.get("unassigned") or []),
        approvals=[{k: a.get(k) for k in ("kind", "tool_call_id", "decision", "by", "reason")}
                   for a in state.get("approvals") or []],
        purchase_orders=_purchase_orders(state), material_shortfalls=_shortfalls(state),
        cost=cost_summary(state.get("calls") or []),
    )
