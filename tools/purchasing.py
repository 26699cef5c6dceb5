"""Purchasing review tools: draft a purchase order from a purchase request, and check one against policy.

The maker (buyer) drafts with ``draft_purchase_order``; the checkers run
``check_po_compliance`` (approved supplier, ESG, reliability, competitive bids) and
``check_po_budget`` (cost centre budget, single-order ceiling, approval threshold). All
three are read-only and deterministic, so a verdict can be grounded in their results.
Thresholds come from policy.yaml, passed in when the tools are built::

    tools = {t.name: t for t in build_purchasing_tools(world, policy)}
    draft = tools["draft_purchase_order"].invoke(
        {"request": {"sku_id": "SKU-003", "quantity": 65, "dc_id": "DC-WEST", "preferred_supplier_id": "SUP-006"}})
    tools["check_po_compliance"].invoke(draft)   # extra keys of the draft are ignored

Each check returns ``outcome`` (one of :data:`OUTCOMES`), ``reasons`` (one line per failed
rule), ``confidence`` (share of the rules that could be evaluated), ``checks`` (every rule
with ``ok``) and ``required_changes``: what a revised draft request must change
(``exclude_supplier_ids``, ``competitive_quotes``), empty when no change would help.
"""

from __future__ import annotations

from typing import Any

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from opsgraph.tools.catalog import LineItem
from opsgraph.tools.connectors.base import ConnectorError, ValidationFailed, norm_id, plain
from opsgraph.tools.tool_base import SharedSchemaTool

# The outcome a check reports; a checker's prompt maps each to a verdict (reject, revise, approve).
BLOCKING, FIXABLE, PASSED = "blocking rule broken", "fixable issues found", "every check passed"
OUTCOMES = (BLOCKING, FIXABLE, PASSED)
MIN_QUOTES = 3


class PurchaseRequestArgs(BaseModel):
    """A purchase request, possibly amended by reviewers' required changes."""

    sku_id: str = Field(description="SKU to buy, e.g. SKU-003.")
    quantity: int = Field(gt=0, le=100_000, description="Units needed (positive whole number).")
    dc_id: str = Field(description="Distribution centre to deliver to, e.g. DC-WEST.")
    needed_by: str | None = Field(None, description="Date the goods are needed, YYYY-MM-DD, if given.")
    preferred_supplier_id: str | None = Field(None, description="Supplier the requester prefers, e.g. SUP-006.")
    exclude_supplier_ids: list[str] = Field(default_factory=list, description="Suppliers the draft must not use.")
    competitive_quotes: bool = Field(False, description="True to attach quotes from three approved suppliers.")
    cost_center: str = Field("CC-OPS", description="Cost centre to charge, e.g. CC-OPS (default).")
    expedite: bool = Field(False, description="True to ask for expedited delivery.")
    notes: str = Field("", max_length=2000, description="Why the goods are needed.")


class DraftArgs(BaseModel):
    request: PurchaseRequestArgs = Field(description="The purchase request (with any required changes) to draft from.")


class ProposalArgs(BaseModel):
    """A proposed purchase order, e.g. the result of draft_purchase_order."""

    supplier_id: str = Field(description="Supplier of the proposal, e.g. SUP-006.")
    dc_id: str = Field(description="Delivery DC, e.g. DC-WEST.")
    lines: list[LineItem] = Field(min_length=1, max_length=50, description="SKUs and quantities.")
    cost_center: str = Field("CC-OPS", description="Cost centre charged, e.g. CC-OPS.")
    expedite: bool = Field(False, description="True when expedited delivery is asked for.")
    quote_supplier_ids: list[str] = Field(default_factory=list,
                                          description="Suppliers whose quotes are attached to the proposal.")


DESCRIPTIONS = {
    "draft_purchase_order": (
        "Draft a purchase order for a purchase request without creating anything. Uses the preferred supplier unless "
        "it is excluded or does not sell the SKU, otherwise the cheapest approved supplier that is not excluded; "
        "prices the line from the supplier's price list and, with competitive_quotes, attaches quotes from up to "
        "three approved suppliers of the SKU. Returns the proposal: supplier_id, dc_id, lines, total_usd, "
        "expected_date, whether it meets needed_by, quote_supplier_ids, quotes and a justification."),
    "check_po_compliance": (
        "Check a proposed purchase order against procurement policy: approved supplier list, minimum ESG score, "
        "minimum supplier reliability, and three competitive quotes from approved suppliers above the bidding "
        "threshold. Returns outcome, reasons (one per failed rule), confidence, every check with ok, and "
        "required_changes for a revised draft. Read-only."),
    "check_po_budget": (
        "Check a proposed purchase order against finance policy: the cost centre's remaining budget, the ceiling on "
        "a single purchase order, and whether the operations manager must approve it at creation. Returns outcome, "
        "reasons (one per failed rule), confidence, every check with ok, notes and required_changes. Read-only."),
}


def _rule(rule: str, ok: bool | None, detail: str, policy_key: str, *, blocking: bool = False,
          fix: dict[str, Any] | None = None) -> dict[str, Any]:
    # ok=None: the rule could not be evaluated (it lowers confidence and counts as failed).
    return {"rule": rule, "ok": ok, "detail": detail, "policy": policy_key, "blocking": blocking, "fix": fix or {}}


def summarize(checks: list[dict[str, Any]], notes: list[str] | None = None) -> dict[str, Any]:
    """The outcome, reasons, confidence and required changes of a list of evaluated rules."""
    failed = [c for c in checks if c["ok"] is not True]
    if any(c["blocking"] for c in failed):
        outcome = BLOCKING
    else:
        outcome = FIXABLE if failed else PASSED
    excluded = sorted({s for c in failed for s in c["fix"].get("exclude_supplier_ids", [])})
    evaluated = sum(1 for c in checks if c["ok"] is not None)
    return {
        "outcome": outcome,
        "confidence": round(evaluated / len(checks), 2) if checks else 0.0,
        "reasons": [c["detail"] for c in failed],
        "required_changes": {"exclude_supplier_ids": excluded,
                             "competitive_quotes": any(c["fix"].get("competitive_quotes") for c in failed)},
        "checks": [{k: c[k] for k in ("rule", "ok", "detail", "policy")} for c in checks],
        "notes": list(notes or []),
    }


def _unpriced(exc: ConnectorError) -> dict[str, Any]:
    """A check's result when the proposal cannot even be priced: one blocking rule that could not be evaluated."""
    rule = _rule("priced_from_price_list", None, f"the proposal cannot be priced: {exc}", "procurement", blocking=True)
    return {**summarize([rule]), "total_usd": None}


def _order(proposal: dict[str, Any]) -> dict[str, Any]:
    keys = ("supplier_id", "dc_id", "lines", "cost_center", "expedite")
    return {k: proposal[k] for k in keys if k in proposal}


def draft_purchase_order(world: Any, request: dict[str, Any]) -> dict[str, Any]:
    """A priced proposal for ``request`` (see ``DESCRIPTIONS['draft_purchase_order']``)."""
    req = PurchaseRequestArgs.model_validate(request)
    offers = world.erp.list_suppliers(req.sku_id)["suppliers"]
    supplier, sourcing = _pick_supplier(req, offers)
    order = {"supplier_id": supplier["supplier_id"], "dc_id": req.dc_id, "cost_center": req.cost_center,
             "expedite": req.expedite, "lines": [{"sku_id": req.sku_id, "quantity": req.quantity}]}
    quote = world.erp.quote_purchase_order(order)
    quotes = _competitive_quotes(world, req, offers, supplier["supplier_id"]) if req.competitive_quotes else []
    meets = None if not req.needed_by else quote["expected_date"] <= req.needed_by
    return {
        "supplier_id": quote["supplier_id"], "supplier_name": quote["supplier_name"], "dc_id": quote["dc_id"],
        "cost_center": quote["cost_center"], "expedite": quote["expedite"], "lines": quote["lines"],
        "total_usd": quote["total_usd"], "approved_supplier": quote["approved_supplier"],
        "expected_date": quote["expected_date"], "needed_by": req.needed_by, "meets_need_date": meets,
        "quote_supplier_ids": [q["supplier_id"] for q in quotes], "quotes": quotes, "sourcing": sourcing,
        "justification": _justification(req, quote),
    }


def _pick_supplier(req: PurchaseRequestArgs, offers: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    excluded = {norm_id(s) for s in req.exclude_supplier_ids}
    preferred = norm_id(req.preferred_supplier_id) if req.preferred_supplier_id else None
    if preferred and preferred not in excluded:
        match = next((o for o in offers if o["supplier_id"] == preferred), None)
        if match:
            return match, f"preferred supplier {preferred}"
    for offer in offers:  # cheapest first
        if offer["approved"] and offer["supplier_id"] not in excluded:
            why = f"cheapest approved supplier not excluded ({', '.join(sorted(excluded))})" if excluded else \
                "cheapest approved supplier"
            return offer, why
    sellers = ", ".join(o["supplier_id"] for o in offers) or "none"
    raise ValidationFailed(f"no approved supplier outside the excluded ones sells {req.sku_id}; sellers: {sellers}")


def _competitive_quotes(world: Any, req: PurchaseRequestArgs, offers: list[dict[str, Any]],
                        chosen: str) -> list[dict[str, Any]]:
    excluded = {norm_id(s) for s in req.exclude_supplier_ids}
    eligible = [o for o in offers if o["approved"] and o["supplier_id"] not in excluded]
    ranked = sorted(eligible, key=lambda o: (o["supplier_id"] != chosen, o["unit_price"]))[:MIN_QUOTES]
    quotes = []
    for offer in ranked:
        order = {"supplier_id": offer["supplier_id"], "dc_id": req.dc_id, "cost_center": req.cost_center,
                 "lines": [{"sku_id": req.sku_id, "quantity": req.quantity}]}
        priced = world.erp.quote_purchase_order(order)
        quotes.append({"supplier_id": priced["supplier_id"], "supplier_name": priced["supplier_name"],
                       "unit_price": priced["lines"][0]["unit_price"], "total_usd": priced["total_usd"]})
    return quotes


def _justification(req: PurchaseRequestArgs, quote: dict[str, Any]) -> str:
    text = f"Purchase request: {req.quantity} x {req.sku_id} for {req.dc_id}"
    if req.needed_by:
        text += f", needed by {req.needed_by} (expected {quote['expected_date']})"
    return text + (f". {req.notes.strip()}" if req.notes.strip() else ".")


def check_compliance(world: Any, policy: Any, proposal: dict[str, Any]) -> dict[str, Any]:
    """Procurement-policy checks of a proposal (see ``DESCRIPTIONS['check_po_compliance']``)."""
    try:
        quote = world.erp.quote_purchase_order(_order(proposal))
        supplier = world.erp.get_supplier(quote["supplier_id"])
    except ConnectorError as exc:
        return _unpriced(exc)
    sid = supplier["supplier_id"]
    exclude = {"exclude_supplier_ids": [sid]}
    min_esg, min_rel = policy.get("procurement.min_esg_score"), policy.get("procurement.min_supplier_reliability")
    checks = [
        _rule("approved_supplier", supplier["approved"] or not policy.get("procurement.approved_suppliers_only"),
              f"supplier {sid} ({supplier['supplier_name']}) is {'on' if supplier['approved'] else 'not on'} "
              "the approved supplier list", "procurement.approved_suppliers_only", fix=exclude),
        _rule("min_esg_score", supplier["esg_score"] >= min_esg,
              f"supplier {sid} has an ESG score of {supplier['esg_score']} (minimum {min_esg})",
              "procurement.min_esg_score", fix=exclude),
        _rule("min_supplier_reliability", supplier["reliability"] >= min_rel,
              f"supplier {sid} delivers {supplier['reliability']:.0%} on time (minimum {min_rel:.0%})",
              "procurement.min_supplier_reliability", fix=exclude),
        _bids_rule(world, policy, proposal, quote),
    ]
    return {**summarize(checks), "supplier_id": sid, "total_usd": quote["total_usd"]}


def _bids_rule(world: Any, policy: Any, proposal: dict[str, Any], quote: dict[str, Any]) -> dict[str, Any]:
    limit = float(policy.get("procurement.competitive_bids_above_usd"))
    key = "procurement.competitive_bids_above_usd"
    if quote["total_usd"] <= limit:
        return _rule("competitive_bids", True, f"${quote['total_usd']:,.2f} is within the ${limit:,.0f} "
                     "single-quote limit", key)
    valid = _valid_quotes(world, proposal)
    if len(valid) >= MIN_QUOTES:
        return _rule("competitive_bids", True, f"{len(valid)} quotes from approved suppliers on file "
                     f"({', '.join(valid)})", key)
    sellers = {o["supplier_id"] for line in quote["lines"] for o in world.erp.list_suppliers(line["sku_id"])["suppliers"]
               if o["approved"]}
    detail = (f"${quote['total_usd']:,.2f} is above ${limit:,.0f}: {MIN_QUOTES} quotes from approved suppliers are "
              f"required, {len(valid)} on file")
    if len(sellers) < MIN_QUOTES:
        # Too few approved sellers: only a sole-source justification (a human) can settle it.
        return _rule("competitive_bids", False, detail + f"; only {len(sellers)} approved suppliers sell it, so a "
                     "sole-source justification is needed", key)
    return _rule("competitive_bids", False, detail, key, fix={"competitive_quotes": True})


def _valid_quotes(world: Any, proposal: dict[str, Any]) -> list[str]:
    """Quoted suppliers that are approved and really sell every line (each re-priced, not trusted)."""
    valid = []
    for sid in dict.fromkeys(norm_id(s) for s in proposal.get("quote_supplier_ids") or []):
        try:
            priced = world.erp.quote_purchase_order({**_order(proposal), "supplier_id": sid})
        except ConnectorError:
            continue
        if priced["approved_supplier"]:
            valid.append(sid)
    return valid


def check_budget(world: Any, policy: Any, proposal: dict[str, Any]) -> dict[str, Any]:
    """Finance-policy checks of a proposal (see ``DESCRIPTIONS['check_po_budget']``)."""
    try:
        quote = world.erp.quote_purchase_order(_order(proposal))
        budget = world.erp.get_budget(quote["cost_center"])
    except ConnectorError as exc:
        return _unpriced(exc)
    total, ceiling = quote["total_usd"], float(policy.get("procurement.max_single_po_usd"))
    threshold = float(policy.get("approvals.purchase_order.threshold_usd"))
    checks = [
        _rule("within_budget", total <= budget["remaining_usd"],
              f"${total:,.2f} against ${budget['remaining_usd']:,.2f} left in {budget['cost_center']} "
              f"({budget['period']})", "finance budget check"),
        # Above the ceiling only a CFO framework agreement helps; splitting the order is prohibited.
        _rule("max_single_po", total <= ceiling, f"${total:,.2f} against the ${ceiling:,.0f} ceiling on a single "
              "purchase order", "procurement.max_single_po_usd", blocking=True),
    ]
    role = policy.get("approvals.purchase_order.approver_role")
    notes = [f"${total:,.2f} is above ${threshold:,.0f}: the {role} approves it when it is created"] if total > threshold \
        else [f"${total:,.2f} is within the ${threshold:,.0f} the buyer may release"]
    return {**summarize(checks, notes), "total_usd": total, "budget_remaining_usd": budget["remaining_usd"]}


def build_purchasing_tools(world: Any, policy: Any) -> list[StructuredTool]:
    """The draft and check tools over ``world`` with thresholds from ``policy``."""

    def draft(request: Any) -> dict[str, Any]:
        return draft_purchase_order(world, plain(request))

    def compliance(**proposal: Any) -> dict[str, Any]:
        return check_compliance(world, policy, plain(proposal))

    def budget(**proposal: Any) -> dict[str, Any]:
        return check_budget(world, policy, plain(proposal))

    meta = {"system": "erp", "writes": False}
    return [
        SharedSchemaTool.from_function(func=draft, name="draft_purchase_order", args_schema=DraftArgs,
                                     description=DESCRIPTIONS["draft_purchase_order"], metadata=meta),
        SharedSchemaTool.from_function(func=compliance, name="check_po_compliance", args_schema=ProposalArgs,
                                     description=DESCRIPTIONS["check_po_compliance"], metadata=meta),
        SharedSchemaTool.from_function(func=budget, name="check_po_budget", args_schema=ProposalArgs,
                                     description=DESCRIPTIONS["check_po_budget"], metadata=meta),
    ]
