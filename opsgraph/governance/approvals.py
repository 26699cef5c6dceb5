"""Human approval gates: which tool calls need a person, and validated human decisions.

The gate fails closed: whenever an action cannot be priced for certain (a threshold that is
missing, not a number, negative or NaN, a quote that failed for a transient reason) the
action goes to a human. Limits are cumulative: the amount compared with the threshold is
what was already done (refunds on the invoice, purchase orders to the supplier within
``approvals.purchase_order.split_window_days``), read from the database, plus this action,
plus earlier actions of the same model message that will run before it.

A human may edit a proposal. Each approval kind has its own editable fields::

    refund          {"amount_usd": 120.0}                    (at most the proposed amount)
    purchase_order  {"supplier_id": "SUP-004"}, {"dc_id": "DC-WEST"},
                    {"lines": {"SKU-003": 150}}              (per line, by SKU)
                    {"lines": {"2": 40}}                     (per line, by 1-based position)
                    {"quantity": 300}                        (only on a single-line order)

An edited action is checked with the same rules the connector applies before the decision
is accepted; a refused edit raises :class:`DecisionError` and the approval stays pending.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.tools import BaseTool

from opsgraph.governance.policy import Policy

Decision = Literal["approve", "reject", "edit"]
EDITABLE = {"purchase_order": ("quantity", "supplier_id", "lines", "dc_id"), "refund": ("amount_usd",)}
RULES = {"purchase_order": "approvals.purchase_order.threshold_usd", "refund": "approvals.refund.auto_limit_usd",
         # A supplier invoice release is priced by its three-way match variance, not by its amount.
         "invoice_payment": "approvals.invoice_payment.mismatch_tolerance_usd"}
WINDOW_RULE = "approvals.purchase_order.split_window_days"
DEFAULT_SPLIT_WINDOW_DAYS = 14


class DecisionError(ValueError):
    """A human decision is malformed (unknown verb, bad edit JSON, wrong fields) or the edited action is invalid."""


@dataclass(frozen=True)
class GateCheck:
    """The outcome of checking one tool call against its approval rule.

    ``prior_usd`` is what already counts against the same limit (same invoice, same
    supplier within the window). ``doubt`` says why the action could not be priced for
    certain (it then goes to a human); ``invalid`` says why the action cannot run at all
    (the tool refuses it, so nobody is asked).
    """

    kind: str
    amount_usd: float
    threshold_usd: float | None
    proposal: dict[str, Any]
    rule: str
    prior_usd: float = 0.0
    doubt: str | None = None
    invalid: str | None = None

    @property
    def total_usd(self) -> float:
        """This action plus what already counts against the same limit."""
        return round(self.prior_usd + self.amount_usd, 2)

    @property
    def needs_human(self) -> bool:
        """True unless the action is certainly within what policy lets an agent do alone."""
        if self.invalid:
            return False
        if self.doubt or self.threshold_usd is None:
            return True
        return not (math.isfinite(self.total_usd) and self.total_usd <= self.threshold_usd)

    @property
    def scope_key(self) -> str:
        """What the limit adds up over: one invoice, or one supplier."""
        return str(self.proposal.get("invoice_id") or self.proposal.get("supplier_id") or "").upper()


def gate_kind(tool: BaseTool | None) -> str | None:
    """Approval kind declared in a tool's metadata, if any."""
    return (tool.metadata or {}).get("approval") if tool is not None else None


def read_limit(policy: Policy | None, key: str) -> float | None:
    """A non-negative finite number at ``key`` in policy, or None when it is missing or not usable."""
    try:
        value = policy.get(key) if policy is not None else None
    except Exception:  # noqa: BLE001 - a missing block or key is a doubt, decided by the caller
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def split_window_days(policy: Policy | None) -> int:
    """Days within which purchase orders to one supplier add up (policy, else the documented 14)."""
    days = read_limit(policy, WINDOW_RULE)
    return int(days) if days is not None else DEFAULT_SPLIT_WINDOW_DAYS


def check_gate(kind: str, args: dict[str, Any], policy: Policy, world: Any,
               pending: dict[str, float] | None = None) -> GateCheck:
    """Price the action and compare the running total with policy; never "go ahead" on doubt.

    ``pending`` maps a limit's scope key (invoice or supplier id) to amounts of earlier calls
    of the same message that will run first.
    """
    rule = RULES.get(kind, f"approvals.{kind}")
    limit = read_limit(policy, rule)
    try:
        check = _price(kind, args, policy, world, limit, rule)
    except Exception as exc:  # noqa: BLE001 - sorted below: a refused request or a doubt
        return _unpriced(kind, args, limit, rule, exc)
    doubt = None if limit is not None else f"policy value {rule} is missing or not a usable number"
    extra = (pending or {}).get(check.scope_key, 0.0)
    return GateCheck(check.kind, check.amount_usd, limit, check.proposal, rule, round(check.prior_usd + extra, 2),
                     doubt=doubt)


def _price(kind: str, args: dict[str, Any], policy: Policy, world: Any, limit: float | None, rule: str) -> GateCheck:
    if kind == "purchase_order":
        quote = world.erp.quote_purchase_order(args)
        prior = world.erp.supplier_spend(quote["supplier_id"], split_window_days(policy))["total_usd"]
        return GateCheck(kind, float(quote["total_usd"]), limit, quote, rule, float(prior))
    if kind == "refund":
        amount = args.get("amount_usd")
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount) or amount <= 0:
            raise _Invalid(f"amount_usd must be a positive number of dollars, got {amount!r}")
        invoice = world.billing.get_invoice(str(args.get("invoice_id") or ""))
        proposal = {**args, "invoice_id": invoice["invoice_id"]}
        return GateCheck(kind, float(amount), limit, proposal, rule, float(invoice["refunded_usd"]))
    if kind == "invoice_payment":
        return _price_invoice_release(args, limit, rule, world)
    raise LookupError(f"no pricing rule for approval kind {kind!r}")


def _price_invoice_release(args: dict[str, Any], limit: float | None, rule: str, world: Any) -> GateCheck:
    """The release's amount is its match variance, computed by the payables system from the database."""
    match = world.payables.match_invoice(str(args.get("supplier_invoice_id") or ""), limit if limit is not None else 0.0)
    proposal = {**args, "supplier_invoice_id": match["supplier_invoice_id"], "variance_usd": match["variance_usd"],
                "issues": match["issues"]}
    return GateCheck("invoice_payment", abs(float(match["variance_usd"])), limit, proposal, rule)


class _Invalid(ValueError):
    """The request itself is malformed: the tool will refuse it, nobody needs to be asked."""


def _unpriced(kind: str, args: dict[str, Any], limit: float | None, rule: str, exc: Exception) -> GateCheck:
    from opsgraph.tools.connectors.base import NotFound, ValidationFailed

    if isinstance(exc, (_Invalid, NotFound, ValidationFailed)):
        return GateCheck(kind, math.nan, limit, dict(args), rule, invalid=str(exc))
    # Anything else (a transient failure, a bug) is doubt: a person decides.
    return GateCheck(kind, math.nan, limit, dict(args), rule, doubt=f"could not price the action: {type(exc).__name__}: {exc}")


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
    """Validate the form of an edit (JSON text or dict) of a gated proposal; fields per kind are checked later."""
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
    if "quantity" in edits:
        _whole(edits["quantity"], "quantity")
    if "amount_usd" in edits and not _positive_amount(edits["amount_usd"]):
        raise DecisionError("amount_usd must be a positive number of dollars")
    if "lines" in edits:
        if not isinstance(edits["lines"], dict) or not edits["lines"]:
            raise DecisionError('lines must map a SKU or a line number to a new quantity, e.g. {"lines": {"SKU-003": 150}}')
        for value in edits["lines"].values():
            _whole(value, "each line quantity")
    return edits


def _whole(value: Any, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 100_000:
        raise DecisionError(f"{what} must be a whole number from 1 to 100000")


def _positive_amount(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def apply_edits(args: dict[str, Any], edits: dict[str, Any], kind: str | None = None) -> dict[str, Any]:
    """New tool arguments with the human's edits applied; raises DecisionError for fields of another kind.

    Without ``kind`` (callers that edit a proposal they priced themselves) the fields of every kind are allowed.
    """
    if kind is not None:
        foreign = sorted(set(edits) - set(EDITABLE.get(kind, ())))
        if foreign:
            raise DecisionError(f"cannot edit {', '.join(foreign)} on a {kind.replace('_', ' ')}; "
                                f"editable: {', '.join(EDITABLE.get(kind, ())) or 'nothing'}")
    updated = {**args, **{k: v for k, v in edits.items() if k not in ("quantity", "lines")}}
    lines = [dict(line) for line in args.get("lines") or []]
    if "quantity" in edits and lines:
        if len(lines) > 1:
            raise DecisionError(f"this order has {len(lines)} lines; edit them one by one, "
                                f'e.g. {{"lines": {{"{lines[0].get("sku_id")}": {edits["quantity"]}}}}}')
        lines[0]["quantity"] = edits["quantity"]
    for ref, quantity in (edits.get("lines") or {}).items():
        lines[_line_index(lines, str(ref))]["quantity"] = quantity
    if lines:
        updated["lines"] = lines
    return updated


def _line_index(lines: list[dict[str, Any]], ref: str) -> int:
    for index, line in enumerate(lines):
        if str(line.get("sku_id", "")).strip().upper() == ref.strip().upper():
            return index
    if ref.isdigit() and 1 <= int(ref) <= len(lines):
        return int(ref) - 1
    skus = ", ".join(str(line.get("sku_id")) for line in lines)
    raise DecisionError(f"no line {ref!r} on this order; its lines are {skus} (or 1-{len(lines)} by position)")


def validate_edited(kind: str, original: dict[str, Any], edited: dict[str, Any], world: Any) -> dict[str, Any]:
    """Check an edited action with the rules the connector applies; returns its priced form or raises DecisionError."""
    from opsgraph.tools.connectors.base import ConnectorError

    try:
        if kind == "refund":
            if float(edited["amount_usd"]) > float(original["amount_usd"]):
                raise DecisionError(f"an edit may lower a refund, not raise it: proposed ${float(original['amount_usd']):,.2f}")
            return world.billing.check_refund(edited["invoice_id"], edited["amount_usd"], edited.get("reason") or "")
        if kind == "purchase_order":
            return world.erp.check_purchase_order(edited)
    except ConnectorError as exc:
        raise DecisionError(f"edit refused: {exc}") from None
    raise DecisionError(f"no edit rules for approval kind {kind!r}")
