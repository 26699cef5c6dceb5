"""Demand sensing arithmetic: signals, forecasts, promotion uplift, safety stock and order quantities.

Pure functions over the demand feeds (``connectors/demand.py``): the numbers on the demand
board come from here, never from a model. Stock-out days are censored (nothing was on the
shelf, so zero sales say nothing about demand) and campaign days are kept out of the base
level, so neither a stock-out nor a past promotion bends the baseline.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from statistics import NormalDist, mean, pstdev
from typing import Any

HORIZON_DAYS, WINDOW_DAYS = 14, 28


def _in(day: str, start: str, end: str) -> bool:
    return start <= day <= end


def clean_days(days: list[dict[str, Any]], promotions: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(day index, units) of the days that show base demand: no stock-out, no campaign running."""
    return [(i, d["units"]) for i, d in enumerate(days) if not d["stockout"]
            and not any(_in(d["date"], p["start_date"], p["end_date"]) for p in promotions)]


def linear_fit(points: list[tuple[int, int]]) -> tuple[float, float]:
    """(intercept, slope per day) of the least-squares line through ``points``; flat when fewer than 2."""
    if len(points) < 2:
        return (float(points[0][1]) if points else 0.0), 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = mean(xs), mean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    return my - slope * mx, slope


def base_level(days: list[dict[str, Any]], promotions: list[dict[str, Any]], method: str) -> dict[str, float]:
    """Daily base demand over the coming horizon and its day-to-day standard deviation, for one DC."""
    points = clean_days(days, promotions)
    recent = [p for p in points if p[0] >= len(days) - WINDOW_DAYS] or points
    if method == "moving_average":
        level = mean(u for _, u in recent) if recent else 0.0
        sigma = pstdev([u for _, u in recent]) if len(recent) > 1 else 0.0
        return {"base_daily": round(level, 2), "sigma_daily": round(sigma, 2), "slope_per_day": 0.0}
    intercept, slope = linear_fit(points)
    # The mid-point of the horizon stands for the whole horizon of a straight line.
    level = max(0.0, intercept + slope * (len(days) - 1 + HORIZON_DAYS / 2))
    residuals = [u - (intercept + slope * x) for x, u in points]
    sigma = pstdev(residuals) if len(residuals) > 1 else 0.0
    return {"base_daily": round(level, 2), "sigma_daily": round(sigma, 2), "slope_per_day": round(slope, 3)}


def overlap_share(start: str, end: str, today: date, horizon: int = HORIZON_DAYS) -> float:
    """Share of the horizon (today .. today+horizon-1) that the period start..end covers."""
    first, last = today.isoformat(), (today + timedelta(days=horizon - 1)).isoformat()
    lo, hi = max(start, first), min(end, last)
    if lo > hi:
        return 0.0
    return ((date.fromisoformat(hi) - date.fromisoformat(lo)).days + 1) / horizon


def event_effect(events: list[dict[str, Any]], dc_id: str, today: date) -> float:
    """Percent change the feed's dated impact figures give this DC over the horizon (notes are never read)."""
    return round(sum(e["impact_pct"] * overlap_share(e["start_date"], e["end_date"], today)
                     for e in events if e["dc_id"] == dc_id), 2)


def forecast_rows(history: dict[str, list], promotions: list[dict], events: list[dict], today: date,
                  method: str, uplift_pct: float = 0.0) -> list[dict[str, Any]]:
    """One forecast row per DC: base level, events, campaign uplift, and the daily demand they give."""
    rows = []
    for dc_id, days in sorted(history.items()):
        base = base_level(days, promotions, method)
        event_pct = event_effect(events, dc_id, today)
        daily = base["base_daily"] * (1 + event_pct / 100) * (1 + uplift_pct / 100)
        rows.append({"dc_id": dc_id, **base, "event_pct": event_pct, "uplift_pct": round(uplift_pct, 2),
                     "daily": round(daily, 2)})
    return rows


def measured_uplift(history: dict[str, list], promo: dict[str, Any]) -> float | None:
    """Percent lift of a past campaign: units per day during it over the 14 clean days before it, all DCs."""
    during, before = [], []
    start = date.fromisoformat(promo["start_date"])
    lead_in = (start - timedelta(days=14)).isoformat()
    for days in history.values():
        during += [d["units"] for d in days if _in(d["date"], promo["start_date"], promo["end_date"])]
        before += [d["units"] for d in days if lead_in <= d["date"] < promo["start_date"] and not d["stockout"]]
    if not during or not before or mean(before) == 0:
        return None
    return round((mean(during) / mean(before) - 1) * 100, 1)


def signals(history: dict[str, list], promotions: list[dict], events: list[dict], today: date) -> list[dict]:
    """What the feeds say per DC: trend, censored stock-out days, dated events, and where they disagree."""
    rows = []
    for dc_id, days in sorted(history.items()):
        base = base_level(days, promotions, "trend")
        event_pct = event_effect(events, dc_id, today)
        trend = "up" if base["slope_per_day"] > 0.02 else "down" if base["slope_per_day"] < -0.02 else "flat"
        conflict = (trend == "down" and event_pct > 0) or (trend == "up" and event_pct < 0)
        rows.append({"dc_id": dc_id, "trend": trend, "slope_per_day": base["slope_per_day"],
                     "stockout_days": sum(1 for d in days if d["stockout"]), "event_pct": event_pct,
                     "conflicting": conflict,
                     "events": [e["event_id"] for e in events if e["dc_id"] == dc_id]})
    return rows


def z_value(service_level: float) -> float:
    """The standard normal quantile of a cycle service level (0.95 -> 1.645)."""
    return round(NormalDist().inv_cdf(service_level), 3)


def stock_targets(row: dict[str, Any], z: float, lead_time: float, review_days: int, available: int) -> dict:
    """Safety stock = z * sigma * sqrt(lead time); reorder point and order-up-to level around it."""
    safety = math.ceil(z * row["sigma_daily"] * math.sqrt(lead_time))
    reorder = math.ceil(row["daily"] * lead_time) + safety
    order_up_to = math.ceil(row["daily"] * (lead_time + review_days)) + safety
    return {"dc_id": row["dc_id"], "daily": row["daily"], "sigma_daily": row["sigma_daily"], "safety_stock": safety,
            "reorder_point": reorder, "order_up_to": order_up_to, "available": available,
            "below_reorder_point": available <= reorder}


def order_quantity(target: dict[str, Any], available: int) -> int:
    """Units to bring a DC at or below its reorder point back up to its order-up-to level; else 0."""
    if available > target["reorder_point"]:
        return 0
    return max(0, int(target["order_up_to"]) - available)
