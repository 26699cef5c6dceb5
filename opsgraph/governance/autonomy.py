"""Autonomy levels per write action category, their measured graduation, and promote/demote.

Every write tool belongs to one action category (:data:`TOOL_CATEGORIES`). A category runs in
one of three modes:

- ``supervised``: every proposal waits for a human (approve, reject or edit);
- ``threshold``: a human decides only above the policy limit (categories with one: purchase
  orders, refunds);
- ``autonomous``: no human is asked; the hard limits the connectors check still refuse.

The effective mode is the ``autonomy.categories`` default in policy.yaml, overridden by the
latest promote or demote recorded in the audit store, so every process sees the same mode.
The approval rate that graduation is measured on comes from the ``approval`` audit events:
proposals approved unchanged divided by all decided proposals in the rolling window.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from opsgraph.errors import UserError

Mode = Literal["supervised", "threshold", "autonomous"]
MODES: tuple[Mode, ...] = ("supervised", "threshold", "autonomous")
# Promote and demote records live under this thread id of the audit store, one event per change.
AUTONOMY_THREAD = "opsgraph:autonomy"
CHANGE_EVENT = "autonomy_changed"
DEFAULT_WINDOW_DAYS = 30
DEFAULT_MIN_RATE = 0.85
DEFAULT_MIN_DECISIONS = 20

# The one mapping from write tool to action category. A write tool missing here is treated as
# supervised (fail closed) until it is given a category.
TOOL_CATEGORIES: dict[str, str] = {
    "create_purchase_order": "purchase_order",
    "issue_refund": "refund",
    "approve_invoice_payment": "invoice_payment",
    "transfer_stock": "stock_transfer",
    "notify_customers": "customer_notice",
    "send_message": "customer_notice",
    "change_plan": "plan_change",
    "report_shipment_delay": "shipment_update",
    "book_reroute": "shipment_update",
    "create_ticket": "ticket_update",
    "update_ticket": "ticket_update",
    "modify_user_address": "retail_order_change",
    "modify_pending_order_address": "retail_order_change",
    "modify_pending_order_payment": "retail_order_change",
    "modify_pending_order_items": "retail_order_change",
    "cancel_pending_order": "retail_order_change",
    "return_delivered_order_items": "retail_order_change",
    "exchange_delivered_order_items": "retail_order_change",
    "record_downtime": "production_schedule",
    "assign_job": "production_schedule",
}
UNCATEGORISED = "uncategorised"
# Categories whose tools carry a priced approval rule (a policy limit): only these have a threshold mode.
THRESHOLD_CATEGORIES = frozenset({"purchase_order", "refund", "invoice_payment"})
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(TOOL_CATEGORIES.values()))


@dataclass(frozen=True)
class Graduation:
    """The bar a category must meet before it is promoted."""

    window_days: int = DEFAULT_WINDOW_DAYS
    min_rate: float = DEFAULT_MIN_RATE
    min_decisions: int = DEFAULT_MIN_DECISIONS


@dataclass(frozen=True)
class CategoryStats:
    """One action category: its mode, its human decisions in the window and the graduation bar.

    ``rate`` is approved-unchanged / decisions (None without decisions). ``bar_met`` needs both
    ``decisions >= min_decisions`` and ``rate >= min_rate``. ``flagged`` marks a category that
    runs without a human on every proposal (threshold or autonomous) while its rate is below
    ``min_rate``: it is shown, never changed automatically.
    """

    category: str
    mode: Mode
    default_mode: Mode
    decisions: int
    approved: int
    edits: int
    rejections: int
    rate: float | None
    window_days: int
    min_rate: float
    min_decisions: int
    bar_met: bool
    flagged: bool
    next_mode: Mode | None
    changed_by: str | None = None
    changed_at: str | None = None
    change_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output and other front ends."""
        return asdict(self)


def category_of(tool_name: str) -> str:
    """The action category of a write tool (``uncategorised`` when the mapping lacks it)."""
    return TOOL_CATEGORIES.get(tool_name, UNCATEGORISED)


def ladder(category: str) -> tuple[Mode, ...]:
    """The modes a category moves through, one step at a time, least autonomous first."""
    return MODES if category in THRESHOLD_CATEGORIES else ("supervised", "autonomous")


def graduation(policy: Any) -> Graduation:
    """``autonomy.window_days`` and ``autonomy.graduation`` from policy (defaults when absent)."""
    section = (policy.raw.get("autonomy") or {}) if policy is not None else {}
    bar = section.get("graduation") or {}
    return Graduation(window_days=int(section.get("window_days", DEFAULT_WINDOW_DAYS)),
                      min_rate=float(bar.get("min_rate", DEFAULT_MIN_RATE)),
                      min_decisions=int(bar.get("min_decisions", DEFAULT_MIN_DECISIONS)))


def default_mode(category: str, policy: Any) -> Mode:
    """The policy.yaml mode of ``category``; without one, today's behaviour (threshold where there is a limit)."""
    configured = ((policy.raw.get("autonomy") or {}).get("categories") or {}) if policy is not None else {}
    if category in configured:
        return configured[category]
    if category == UNCATEGORISED:
        return "supervised"
    return "threshold" if category in THRESHOLD_CATEGORIES else "autonomous"


def changes(audit: Any) -> list[Any]:
    """Every recorded promote/demote, oldest first."""
    return audit.events(AUTONOMY_THREAD, CHANGE_EVENT)


def effective_mode(category: str, policy: Any, audit: Any) -> Mode:
    """The mode in force: the latest recorded change of ``category``, else its policy default."""
    latest = _latest_change(category, changes(audit))
    return latest.result["to"] if latest is not None else default_mode(category, policy)


def autonomy_grant(category: str, policy: Any, audit: Any) -> dict[str, str]:
    """Who stands behind a write no human was asked about: the category's autonomous mode, and which change set it."""
    latest = _latest_change(category, changes(audit))
    source = f"autonomy:{latest.result.get('id')}" if latest is not None else "autonomy:policy.yaml"
    return {"by": f"autonomous {category}", "approval_id": source}


def _latest_change(category: str, recorded: list[Any]) -> Any:
    mine = [e for e in recorded if e.name == category]
    return mine[-1] if mine else None


def tally(decisions: list[dict[str, Any]], category: str, since: datetime) -> dict[str, int]:
    """Decisions of ``category`` from ``since`` on: approved (unchanged), edits, rejections."""
    counts = {"approved": 0, "edits": 0, "rejections": 0}
    column = {"approve": "approved", "edit": "edits", "reject": "rejections"}
    for decision in decisions:
        if decision["category"] == category and decision["at"] >= since and decision["decision"] in column:
            counts[column[decision["decision"]]] += 1
    return counts


def human_decisions(audit: Any, since: datetime) -> list[dict[str, Any]]:
    """Every human approval decision recorded from ``since`` on, with its category and time."""
    found = []
    for event in audit.events_since("approval", since.isoformat(timespec="milliseconds")):
        record = event.result if isinstance(event.result, dict) else {}
        found.append({"category": category_of(event.name or ""), "decision": record.get("decision"),
                      "at": _parse_ts(event.ts), "thread_id": event.thread_id})
    return found


def category_stats(audit: Any, policy: Any, now: datetime | None = None) -> list[CategoryStats]:
    """Mode, decisions, approval rate and graduation bar of every action category, in a fixed order."""
    bar = graduation(policy)
    now = now or datetime.now(timezone.utc)
    since = now - timedelta(days=bar.window_days)
    decisions = human_decisions(audit, since)
    recorded = changes(audit)
    return [_stats(category, policy, bar, decisions, since, _latest_change(category, recorded))
            for category in CATEGORIES]


def _stats(category: str, policy: Any, bar: Graduation, decisions: list[dict[str, Any]], since: datetime,
           latest: Any) -> CategoryStats:
    counts = tally(decisions, category, since)
    total = sum(counts.values())
    rate = round(counts["approved"] / total, 4) if total else None
    mode = latest.result["to"] if latest is not None else default_mode(category, policy)
    met = total >= bar.min_decisions and rate is not None and rate >= bar.min_rate
    steps = ladder(category)
    after = steps[steps.index(mode) + 1] if mode in steps and steps.index(mode) + 1 < len(steps) else None
    change = latest.result if latest is not None else {}
    return CategoryStats(category, mode, default_mode(category, policy), total, counts["approved"], counts["edits"],
                         counts["rejections"], rate, bar.window_days, bar.min_rate, bar.min_decisions, met,
                         flagged=mode != "supervised" and rate is not None and rate < bar.min_rate, next_mode=after,
                         changed_by=change.get("by"), changed_at=latest.ts if latest is not None else None,
                         change_reason=change.get("reason"))


def promote(audit: Any, policy: Any, category: str, by: str, reason: str, to: str | None = None,
            now: datetime | None = None) -> CategoryStats:
    """Move ``category`` one step up its ladder when the graduation bar is met; raises UserError otherwise."""
    stats = _one(audit, policy, category, now)
    target = _check_target(stats, to, up=True)
    if not stats.bar_met:
        raise UserError(f"cannot promote {category} to {target}: {bar_text(stats)}")
    return _record_change(audit, policy, stats, target, by, reason, "promote", now)


def demote(audit: Any, policy: Any, category: str, by: str, reason: str, to: str | None = None,
           now: datetime | None = None) -> CategoryStats:
    """Move ``category`` down (one step, or to ``to``); always allowed, whatever the numbers."""
    stats = _one(audit, policy, category, now)
    target = _check_target(stats, to, up=False)
    return _record_change(audit, policy, stats, target, by, reason, "demote", now)


def bar_text(stats: CategoryStats) -> str:
    """The numbers against the bar, as one clause."""
    rate = f"{stats.rate:.2f}" if stats.rate is not None else "n/a"
    return (f"approval rate {rate} ({stats.approved} of {stats.decisions} decisions approved unchanged, "
            f"{stats.edits} edited, {stats.rejections} rejected in the last {stats.window_days} days); "
            f"the bar is {stats.min_rate:.2f} over at least {stats.min_decisions} decisions")


def _one(audit: Any, policy: Any, category: str, now: datetime | None) -> CategoryStats:
    for stats in category_stats(audit, policy, now):
        if stats.category == category:
            return stats
    raise UserError(f"no action category {category!r}; categories: {', '.join(CATEGORIES)}")


def _check_target(stats: CategoryStats, to: str | None, *, up: bool) -> Mode:
    steps = ladder(stats.category)
    if to is not None and to not in steps:
        raise UserError(f"{stats.category} has no mode {to!r}; its modes: {' -> '.join(steps)}")
    here = steps.index(stats.mode)
    if up:
        if here + 1 >= len(steps):
            raise UserError(f"{stats.category} is already {stats.mode}; there is nothing to promote it to")
        target = to or steps[here + 1]
        if steps.index(target) != here + 1:
            raise UserError(f"cannot promote {stats.category} from {stats.mode} to {target}: one step at a time "
                            f"({' -> '.join(steps)}); promote it to {steps[here + 1]} first")
        return target
    if here == 0:
        raise UserError(f"{stats.category} is already supervised; there is nothing to demote it to")
    target = to or steps[here - 1]
    if steps.index(target) >= here:
        raise UserError(f"cannot demote {stats.category} from {stats.mode} to {target}: pick a lower mode "
                        f"({' -> '.join(steps[:here])})")
    return target


def _record_change(audit: Any, policy: Any, stats: CategoryStats, target: Mode, by: str, reason: str, verb: str,
                   now: datetime | None) -> CategoryStats:
    by, reason = (by or "").strip(), (reason or "").strip()
    if not by or not reason:
        raise UserError(f"{verb} needs --by NAME and --reason TEXT: every change of autonomy is audited with both")
    number = sum(1 for e in changes(audit) if e.name == stats.category) + 1
    numbers = {k: getattr(stats, k) for k in ("decisions", "approved", "edits", "rejections", "rate")}
    record = {"category": stats.category, "from": stats.mode, "to": target, "by": by, "reason": reason,
              "action": verb, "numbers": numbers, "id": uuid.uuid4().hex[:12]}
    # The key numbers each category's changes: of two concurrent changes from the same mode, one wins.
    if not audit.record(AUTONOMY_THREAD, f"{stats.category}:{number}", CHANGE_EVENT, agent=by, name=stats.category,
                        args={"from": stats.mode, "to": target}, result=record):
        raise UserError(f"{stats.category} was changed by someone else meanwhile; check 'opsgraph autonomy' and retry")
    return _one(audit, policy, stats.category, now)


def _parse_ts(text: str) -> datetime:
    stamp = datetime.fromisoformat(text)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
