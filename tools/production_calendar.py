"""Work-centre calendars: how many hours a work centre has free on each day, and what a bid is.

Pure functions over plain records, so a bid's numbers (can it, by when, at what cost) come
from code and can be checked in a unit test without a database:

- a work centre works Monday to Friday, ``hours_per_day`` each day, except its downtime;
- scheduled jobs fill its days in order of start date (a job never starts before its own
  start date and takes whatever hours are left on each day until its hours are placed);
- a bid fills the announced job's hours into what is left, from its earliest start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Iterable

# No bid finishes later than this many days from the business date: beyond it the calendar is not planned.
HORIZON_DAYS = 45


@dataclass(frozen=True)
class Bid:
    """What a work centre can offer for one job, computed from its calendar."""

    job_id: str
    work_centre_id: str
    can_bid: bool
    reason: str
    quantity: int = 0
    hours: float = 0.0
    start_date: str | None = None
    finish_date: str | None = None
    cost_usd: float = 0.0
    meets_due_date: bool = False
    days_late: int = 0
    partial: bool = False

    @property
    def cost_per_unit_usd(self) -> float:
        """Cost per unit offered: a partial bid is compared with full ones on the same footing."""
        return round(self.cost_usd / self.quantity, 4) if self.quantity else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The bid as JSON-ready data (cost per unit included)."""
        data = dict(self.__dict__)
        data["cost_per_unit_usd"] = self.cost_per_unit_usd
        return data


def working_day(day: date, down: set[date]) -> bool:
    """A weekday that is not downtime."""
    return day.weekday() < 5 and day not in down


def downtime_days(windows: Iterable[dict[str, Any]]) -> set[date]:
    """Every calendar day inside the downtime windows (``start_date``..``end_date`` inclusive)."""
    days: set[date] = set()
    for window in windows:
        day, end = date.fromisoformat(window["start_date"]), date.fromisoformat(window["end_date"])
        while day <= end:
            days.add(day)
            day += timedelta(days=1)
    return days


def place_hours(free: dict[date, float], hours: float, earliest: date, centre: dict[str, Any],
                down: set[date], today: date) -> tuple[date | None, date | None]:
    """Book ``hours`` into ``free`` from ``earliest``; (first day used, last day used) or (None, None) past the horizon."""
    day, left, first = max(earliest, today), hours, None
    limit = today + timedelta(days=HORIZON_DAYS)
    while left > 1e-9:
        if day > limit:
            return None, None
        if working_day(day, down):
            available = free.setdefault(day, float(centre["hours_per_day"]))
            used = min(available, left)
            if used > 0:
                first = first or day
                free[day] = available - used
                left -= used
        if left > 1e-9:
            day += timedelta(days=1)
    return first, day


def free_hours(centre: dict[str, Any], jobs: list[dict[str, Any]], down: set[date], today: date) -> dict[date, float]:
    """Hours left per day once ``jobs`` (the centre's scheduled jobs) are placed in start-date order."""
    free: dict[date, float] = {}
    for job in sorted(jobs, key=lambda j: (j["start_date"] or "", j["job_id"])):
        start = date.fromisoformat(job["start_date"]) if job["start_date"] else today
        place_hours(free, job_hours(job), start, centre, down, today)
    return free


def job_hours(job: dict[str, Any], quantity: int | None = None) -> float:
    """Processing hours of ``quantity`` units (default: the whole job)."""
    units = job["quantity"] if quantity is None else quantity
    return round(units * float(job["hours_per_unit"]), 4)


def compute_bid(centre: dict[str, Any], job: dict[str, Any], booked: list[dict[str, Any]], down: set[date],
                today: date, earliest: date) -> Bid:
    """The bid ``centre`` can make for ``job``: capability, batch limit, free hours, cost, lateness."""
    wc, job_id = centre["work_centre_id"], job["job_id"]
    if job["operation"] not in centre["capabilities"]:
        return Bid(job_id, wc, False, f"{wc} has no {job['operation']} capability "
                                      f"(it does {', '.join(centre['capabilities'])})")
    batch = int(centre.get("max_batch_units") or 0)
    quantity = min(job["quantity"], batch) if batch else job["quantity"]
    hours = job_hours(job, quantity)
    free = free_hours(centre, booked, down, today)
    first, last = place_hours(free, hours, earliest, centre, down, today)
    if last is None:
        return Bid(job_id, wc, False, f"{wc} has no free capacity for {hours:g} h within {HORIZON_DAYS} days")
    cost = round(hours * float(centre["hourly_cost_usd"]) + float(centre["changeover_usd"]), 2)
    late = max(0, (last - date.fromisoformat(job["due_date"])).days)
    reason = "full quantity" if quantity == job["quantity"] else f"partial: at most {batch} units per batch"
    return Bid(job_id, wc, True, reason, quantity, hours, first.isoformat(), last.isoformat(), cost,
               late == 0, late, quantity < job["quantity"])
