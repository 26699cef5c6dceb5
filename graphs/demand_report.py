"""Readable lines of the demand board report: what changed on the board, by whom, why, with the numbers."""

from __future__ import annotations

from typing import Any, Callable


def _forecast(data: dict[str, Any]) -> str:
    rows = ", ".join(f"{r['dc_id']} {r['daily']:g}/day" for r in data.get("forecast") or [])
    extra = f", uplift {data['uplift_pct']:g}% ({data.get('campaign')})" if data.get("uplift_pct") else ""
    return f"{data.get('method', 'trend')}: {rows}{extra}"


def _signals(data: dict[str, Any]) -> str:
    parts = [f"{r['dc_id']} {r['trend']}" + (f", {r['stockout_days']} stock-out days censored" if r["stockout_days"]
                                             else "") + (f", events {r['event_pct']:+g}%" if r["event_pct"] else "")
             for r in data.get("signals") or []]
    conflict = f"; conflicting signals at {', '.join(data['conflicting_dcs'])}" if data.get("conflicting_dcs") else ""
    return "; ".join(parts) + conflict


def _safety(data: dict[str, Any]) -> str:
    rows = ", ".join(f"{r['dc_id']} SS {r['safety_stock']} ROP {r['reorder_point']} (avail {r['available']})"
                     for r in data.get("safety_stock") or [])
    return f"z {data.get('z')} at {data.get('service_level')}, lead time {data.get('lead_time_days')} d " \
           f"({data.get('supplier_id')}): {rows}"


def _replenishment(data: dict[str, Any]) -> str:
    orders = ", ".join(f"{o['dc_id']} {o['lines'][0]['quantity']} units (${o['estimated_usd']:,.2f})"
                       for o in data.get("purchase_orders") or []) or "no order needed"
    raised = ", ".join(f"{o.get('po_id') or '-'} {o['status']}" for o in data.get("orders_raised") or [])
    return orders + (f"; raised: {raised}" if raised else "")


def _promotions(data: dict[str, Any]) -> str:
    campaign = data.get("campaign")
    if not campaign:
        return "no campaign starts in the horizon"
    return (f"{campaign['promo_id']} starts {campaign['start_date']}; uplift {data.get('uplift_pct'):g}% measured on "
            f"{', '.join(data.get('measured_from') or []) or 'no past campaign'}")


DESCRIBE: dict[str, Callable[[dict[str, Any]], str]] = {
    "signals": _signals, "forecast": _forecast, "safety_stock": _safety, "replenishment": _replenishment,
    "promotions": _promotions}


def summary_lines(board: dict[str, Any], outcome: str, cycles: int, stop: str | None) -> list[str]:
    """One line per accepted write (section, version, author, numbers, why) and per rejected write."""
    state = f"stopped: {stop}" if stop else "quiescent"
    lines = [f"Board after {cycles} cycles: {state} (outcome {outcome})."]
    for entry in board["history"]:
        numbers = DESCRIBE.get(entry["section"], lambda d: "")(entry["data"])
        why = f" Why: {entry['why']}" if entry["why"] else ""
        lines.append(f"{entry['section']} v{entry['version']} (based on v{entry['based_on']}, cycle {entry['cycle']}, "
                     f"{entry['author']}): {numbers}.{why}")
    for entry in board["rejections"]:
        lines.append(f"REJECTED {entry['section']} write by {entry['author']} in cycle {entry['cycle']}: based on "
                     f"v{entry['based_on']}, current v{entry['current']} ({entry['reason']}); the agent re-read and "
                     "retried.")
    return lines
