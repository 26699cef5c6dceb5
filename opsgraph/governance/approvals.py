"""Human approval gates: which tool calls need a person, and validated human decisions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.tools import BaseTool

from opsgraph.governance.policy import Policy

Decision = Literal["approve", "reject", "edit"]
EDITABLE = {"purchase_order": ("quantity", "supplier_id", "lines", "dc_id"), "refund": ("amount_usd",)}


class DecisionError(ValueError):
    """A human decision is malformed (unknown verb, bad edit JSON, wrong fields)."""


@dataclass(frozen=True)
class GateCheck:
    """The outcome of checking one tool call against its approval rule."""

    kind: str
    amount_usd: float
    threshold_usd: float
    proposal: dict[str, Any]
    rule: str

    @property
    def needs_human(self) -> bool:
        """True when the amount is above what policy lets an agent do alone."""
        return self.amount_usd > self.threshold_usd


def gate_kind(tool: BaseTool | None) -> str | None:
    """Approval kind declared in a tool's metadata, if any."""
    return (tool.metadata or {}).get("approval") if tool is not None else None


def check_gate(kind: str, args: dict[str, Any], policy: Policy, world: Any) -> GateCheck | None:
    """Price the action and compare it with policy; None when it cannot be priced (bad args)."""
    try:
        if kind == "purchase_order":
            quote = world.erp.quote_purchase_order(args)
            limit = float(policy.get("approvals.purchase_order.threshold_usd"))
            return GateCheck(kind, float(quote["total_usd"]), limit, quote, "approvals.purchase_order.threshold_usd")
        if kind == "refund":
            limit = float(policy.get("approvals.refund.auto_limit_usd"))
            return GateCheck(kind, float(args["amount_usd"]), limit, dict(args), "approvals.refund.auto_limit_usd")
    except Exception:  # noqa: BLE001 - invalid proposals are reported by the tool itself
        return None
    return None


def parse_decision(raw: Any) -> dict[str, Any]:
    """Normalise a resume value into ``{decision, reason, edits, by}`` or raise DecisionError."""
    if isinstance(raw, str):
        raw = {"decision": raw}
    if not isinstance(raw, dict):
        raise DecisionError("a decision must be 'approve', 'reject' or an object with a 'decision' field")
    decision = raw.get("decision")
    if decision not in ("approve", "reject", "edit"):
        raise DecisionError(f"unknown decision {decision!r}; use approve, reject or edit")
    edits = raw.get("edits") or {}
    if decision == "edit":
        edits = parse_edits(edits)
    return {"decision": decision, "reason": str(raw.get("reason") or ""), "edits": edits, "by": str(raw.get("by") or "operator")}


def parse_edits(edits: Any) -> dict[str, Any]:
    """Validate an edit (JSON text or dict) of a gated proposal."""
    if isinstance(edits, str):
        try:
            edits = json.loads(edits)
        except json.JSONDecodeError as exc:
            raise DecisionError(f"--edit is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(edits, dict) or not edits:
        raise DecisionError('--edit must be a non-empty JSON object, e.g. {"quantity": 300} or {"supplier_id": "SUP-004"}')
    allowed = {field for fields in EDITABLE.values() for field in fields}
    unknown = sorted(set(edits) - allowed)
    if unknown:
        raise DecisionError(f"cannot edit {', '.join(unknown)}; editable fields: {', '.join(sorted(allowed))}")
    if "quantity" in edits and (not isinstance(edits["quantity"], int) or isinstance(edits["quantity"], bool) or edits["quantity"] <= 0):
        raise DecisionError("quantity must be a positive whole number")
    return edits


def apply_edits(args: dict[str, Any], edits: dict[str, Any]) -> dict[str, Any]:
    """New tool arguments with the human's edits applied (quantity applies to every PO line)."""
    updated = {**args, **{k: v for k, v in edits.items() if k != "quantity"}}
    if "quantity" in edits and isinstance(args.get("lines"), list):
        updated["lines"] = [{**line, "quantity": edits["quantity"]} for line in args["lines"]]
    return updated
