"""Lessons from human feedback, and the policy check every lesson passes before it is stored.

A reviewed edit or rejection that comes with a reason becomes a lesson bound to its scope:
the approval's category (``purchase_order``, ``refund``) and its subjects (supplier, SKU,
customer). Besides its text, a lesson may state values for the records it is about
(``{"applies_to": {"sku_id": "SKU-003"}, "at_most": {"quantity": 250}}``), so an agent that
recalls it can propose what the approver accepts.

Lessons never override policy.yaml: one that asks to skip an approval, to exceed a threshold
or limit, to split orders, or to buy from a supplier the procurement policy forbids is
refused when written, with the reason.
"""

from __future__ import annotations

import re
from typing import Any, Literal, TypedDict

from opsgraph.governance.policy import Policy, PolicyError
from opsgraph.memory.records import collect_subjects, memory_id


class Lesson(TypedDict):
    """What a human decision taught, bound to a category and subjects."""

    id: str
    kind: Literal["lesson"]
    text: str
    category: str
    subjects: dict[str, list[str]]
    decision: str
    by: str
    reason: str
    changes: list[dict[str, Any]]
    stated_values: list[dict[str, Any]]
    thread_id: str
    created_at: str


_SKIP_APPROVAL = re.compile(r"\b(skip|bypass|waive|avoid|no need (?:for|of)|without|don'?t (?:ask|need|wait)|"
                            r"do not (?:ask|need|wait)|auto-?approve\w*|self-?approve\w*)\b[^.;]{0,40}?"
                            r"\b(approv\w*|sign-?off|review\w*|human)", re.IGNORECASE)
_AUTO_APPROVE = re.compile(r"\bauto-?approve\w*|\bapprove (?:it |them )?automatically", re.IGNORECASE)
_EXCEED = re.compile(r"\b(exceed\w*|go (?:over|above)|ignore|raise|lift|increase|bypass)\b[^.;]{0,40}?"
                     r"\b(threshold|limit|cap|maximum)\b", re.IGNORECASE)
_SPLIT = re.compile(r"\bsplit\w*\b[^.;]{0,40}?\b(order|po|purchase)", re.IGNORECASE)
_USE_SUPPLIER = re.compile(r"\b(?:use|prefer|switch(?:ing)? to|order from|buy from|go with|source from|"
                           r"only from)\s+(SUP-[A-Z0-9]{2,8})", re.IGNORECASE)


def lesson_from_decision(decision: dict[str, Any], thread_id: str, day: str) -> Lesson | None:
    """The lesson a decided approval teaches, or None (an approval, or no reason given).

    ``decision``: ``{kind, decision, reason, by, proposal, final_args, approval_id}`` as the
    approval gate records it (an escalation's decision is given the same shape).
    """
    if decision.get("decision") not in ("edit", "reject") or not str(decision.get("reason") or "").strip():
        return None
    kind = str(decision.get("kind") or "approval")
    proposal = decision.get("proposal") or {}
    final = decision.get("final_args") or {}
    changes = _changes(proposal, final) if decision["decision"] == "edit" else []
    subjects = collect_subjects(proposal, final)
    text = f"{day}: {_what(kind, proposal)} {_verb(decision['decision'], changes)} by {decision['by']}: " \
           f"'{decision['reason'].strip()}'"
    return Lesson(id=memory_id("le", thread_id, decision.get("approval_id") or decision.get("tool_call_id")),
                  kind="lesson", text=text, category=kind, subjects=subjects, decision=decision["decision"],
                  by=str(decision["by"]), reason=decision["reason"].strip(), changes=changes,
                  stated_values=_stated(changes), thread_id=thread_id, created_at="")


def _what(kind: str, proposal: dict[str, Any]) -> str:
    if kind == "purchase_order":
        skus = ", ".join(str(line.get("sku_id")) for line in proposal.get("lines") or [])
        total = f" (${float(proposal['total_usd']):,.2f})" if proposal.get("total_usd") is not None else ""
        return f"PO for {skus or 'goods'} from {proposal.get('supplier_id', 'a supplier')}{total}"
    if kind == "refund":
        return f"refund of ${float(proposal.get('amount_usd') or 0):,.2f} on {proposal.get('invoice_id', 'an invoice')}"
    return kind.replace("_", " ")


def _verb(decision: str, changes: list[dict[str, Any]]) -> str:
    if decision == "reject":
        return "rejected"
    said = ", ".join(f"{c.get('sku_id', '') + ' ' if c.get('sku_id') else ''}{c['field']} {c['from']} -> {c['to']}"
                     for c in changes)
    return f"edited {said}" if said else "edited"


def _changes(proposal: dict[str, Any], final: dict[str, Any]) -> list[dict[str, Any]]:
    """What the human changed: line quantities, the supplier, the DC, an amount."""
    before = {line.get("sku_id"): line for line in proposal.get("lines") or []}
    changes = [{"field": "quantity", "sku_id": sku, "from": before[sku].get("quantity"), "to": line.get("quantity"),
                "unit_price": before[sku].get("unit_price")}
               for line in final.get("lines") or [] if (sku := line.get("sku_id")) in before
               and before[sku].get("quantity") != line.get("quantity")]
    for field in ("supplier_id", "dc_id", "amount_usd"):
        if field in final and field in proposal and final[field] != proposal[field]:
            changes.append({"field": field, "from": proposal[field], "to": final[field]})
    return changes


def _stated(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Values the lesson states for its records: a trimmed quantity is at most, a raised one at least."""
    stated = []
    for change in changes:
        if change["field"] != "quantity" or not all(isinstance(change[k], (int, float)) for k in ("from", "to")):
            continue
        bound = "at_most" if change["to"] < change["from"] else "at_least"
        stated.append({"applies_to": {"sku_id": change["sku_id"]}, bound: {"quantity": change["to"]},
                       "unit_price": change.get("unit_price")})
    return stated


def policy_conflict(lesson: dict[str, Any], policy: Policy, world: Any = None) -> str | None:
    """Why ``lesson`` contradicts policy.yaml, or None. Policy always wins over what a lesson says."""
    text = f"{lesson.get('reason', '')} {lesson.get('text', '')}"
    if _SKIP_APPROVAL.search(text) or _AUTO_APPROVE.search(text):
        return (f"it asks to skip a human approval that policy requires "
                f"(approvals.purchase_order.approver_role = {_get(policy, 'approvals.purchase_order.approver_role')})")
    if _EXCEED.search(text):
        return (f"it asks to exceed a policy limit (approvals.purchase_order.threshold_usd = "
                f"{_get(policy, 'approvals.purchase_order.threshold_usd')}, procurement.max_single_po_usd = "
                f"{_get(policy, 'procurement.max_single_po_usd')})")
    if _SPLIT.search(text):
        return "it asks to split orders, which policy prohibits (approvals.purchase_order.split_window_days)"
    suppliers = [m.upper() for m in _USE_SUPPLIER.findall(text)]
    suppliers += [c["to"] for c in lesson.get("changes") or [] if c.get("field") == "supplier_id"]
    for supplier in dict.fromkeys(suppliers):
        why = supplier_refusal(supplier, policy, world)
        if why:
            return why
    return _over_max(lesson, policy)


def supplier_refusal(supplier_id: str, policy: Policy, world: Any) -> str | None:
    """Why the procurement policy forbids buying from ``supplier_id``, or None (or no world to ask)."""
    if world is None:
        return None
    try:
        supplier = world.erp.get_supplier(supplier_id)
    except Exception:  # noqa: BLE001 - an unknown supplier cannot be recommended either
        return f"it recommends {supplier_id}, which is not a known supplier"
    only_approved = _get(policy, "procurement.approved_suppliers_only")
    min_reliability = _get(policy, "procurement.min_supplier_reliability")
    rules = [("procurement.approved_suppliers_only", bool(only_approved) and not supplier.get("approved"),
              "not an approved supplier"),
             ("procurement.min_supplier_reliability", _below(supplier.get("reliability"), min_reliability),
              f"reliability {supplier.get('reliability')}"),
             ("procurement.min_esg_score", _below(supplier.get("esg_score"), _get(policy, "procurement.min_esg_score")),
              f"ESG score {supplier.get('esg_score')}")]
    for key, broken, detail in rules:
        if broken:
            return f"it recommends {supplier_id}, which policy forbids ({key}: {detail})"
    return None


def _over_max(lesson: dict[str, Any], policy: Policy) -> str | None:
    limit = _get(policy, "procurement.max_single_po_usd")
    for stated in lesson.get("stated_values") or []:
        wanted = (stated.get("at_least") or {}).get("quantity")
        price = stated.get("unit_price")
        if limit is not None and wanted is not None and price is not None and wanted * price > float(limit):
            return f"it asks for orders above procurement.max_single_po_usd = {limit}"
    return None


def _below(value: Any, minimum: Any) -> bool:
    return value is not None and minimum is not None and float(value) < float(minimum)


def _get(policy: Policy, dotted: str) -> Any:
    try:
        return policy.get(dotted)
    except PolicyError:
        return None
