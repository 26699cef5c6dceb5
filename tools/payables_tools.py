"""Accounts payable tools: read a supplier invoice and its goods receipts, match them, release for payment.

The match tolerance comes from policy.yaml (``approvals.invoice_payment.mismatch_tolerance_usd``).
The release tool carries the ``invoice_payment`` approval rule: the approval gate prices a
release by the match variance and puts one above the tolerance to a human; the connector
checks the same again inside its write transaction.
"""

from __future__ import annotations

from typing import Any, Callable

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from opsgraph.tools.catalog import APPROVAL_ID_HELP, APPROVER_HELP, KEY_HELP, ApprovalId, Approver, IdempotencyKey
from opsgraph.tools.tool_base import SharedSchemaTool

TOLERANCE_RULE = "approvals.invoice_payment.mismatch_tolerance_usd"

DESCRIPTIONS = {
    "get_supplier_invoice": (
        "A supplier (vendor) invoice from accounts payable: supplier, purchase order, amount, status, lines "
        "(sku_id, quantity, unit_price) and the supplier's free-text note."),
    "get_goods_receipts": (
        "Goods receipts booked by the warehouse against a purchase order: each receipt's date and the quantity "
        "received per SKU. No receipt means nothing has been received yet."),
    "match_invoice": (
        "Three-way match of a supplier invoice against its purchase order and goods receipts, computed by the "
        "payables system: per SKU ordered, received and invoiced quantities and prices, the amount owed, the "
        "variance in USD, the issues (quantity_short, missing_receipt, price_differs, quantity_over_po, "
        "not_on_po) and whether the variance is within the policy tolerance."),
    "approve_invoice_payment": (
        "Release a supplier invoice for payment, with your justification (the match result and any "
        "discrepancy). A release whose match variance is above the policy tolerance waits for an accounts "
        "payable approver."),
}


class SupplierInvoiceArgs(BaseModel):
    supplier_invoice_id: str = Field(description="Supplier invoice id, e.g. VINV-0001.")


class ReceiptArgs(BaseModel):
    po_id: str = Field(description="Purchase order id, e.g. PO-00001.")


class ReleaseArgs(SupplierInvoiceArgs):
    justification: str = Field(min_length=1, max_length=2000,
                               description="Why the invoice may be paid: the match result and any discrepancy.")
    idempotency_key: IdempotencyKey = Field(description=KEY_HELP)
    approved_by: Approver = Field(None, description=APPROVER_HELP)
    approval_id: ApprovalId = Field(None, description=APPROVAL_ID_HELP)


def match_tolerance(policy: Any) -> float | None:
    """The policy's match tolerance in USD, or None when it is missing or unusable (then every release needs a human)."""
    from opsgraph.governance.approvals import read_limit

    return read_limit(policy, TOLERANCE_RULE)


def _tool(name: str, schema: type[BaseModel], fn: Callable[..., dict[str, Any]], *, writes: bool = False,
          approval: str | None = None) -> StructuredTool:
    metadata: dict[str, Any] = {"system": "payables", "writes": writes}
    if approval:
        metadata["approval"] = approval
    return SharedSchemaTool.from_function(func=fn, name=name, description=DESCRIPTIONS[name], args_schema=schema,
                                          metadata=metadata)


def build_payables_tools(world: Any, policy: Any) -> list[StructuredTool]:
    """The accounts payable tools over ``world``, with the match tolerance from ``policy``."""
    payables = world.payables

    def match(supplier_invoice_id: str) -> dict[str, Any]:
        tolerance = match_tolerance(policy)
        # No usable tolerance: report every variance as outside it, so a release goes to a human.
        return payables.match_invoice(supplier_invoice_id, tolerance if tolerance is not None else 0.0)

    def release(*, idempotency_key: str, approved_by: str | None = None, approval_id: str | None = None,
                **req: Any) -> dict[str, Any]:
        tolerance = match_tolerance(policy)
        return payables.approve_invoice_payment(req["supplier_invoice_id"], req["justification"], idempotency_key,
                                                tolerance_usd=tolerance if tolerance is not None else 0.0,
                                                approved_by=approved_by)

    return [
        _tool("get_supplier_invoice", SupplierInvoiceArgs, payables.get_supplier_invoice),
        _tool("get_goods_receipts", ReceiptArgs, payables.get_goods_receipts),
        _tool("match_invoice", SupplierInvoiceArgs, match),
        _tool("approve_invoice_payment", ReleaseArgs, release, writes=True, approval="invoice_payment"),
    ]
