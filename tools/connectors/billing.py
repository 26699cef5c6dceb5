"""Billing: invoices, payments received and refunds."""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, Field

from opsgraph.tools.connectors.base import (ApprovalRequired, Conn, Connector, ValidationFailed, money, next_id,
                                            norm_id, not_found, validate)
from opsgraph.tools.connectors.crm import load_customer


class RefundRequest(BaseModel):
    """Money back to a customer against one invoice."""

    invoice_id: str
    amount_usd: float = Field(gt=0, le=1_000_000)
    reason: str = Field(min_length=1, max_length=1000)


def load_invoice(conn: Conn, invoice_id: str) -> dict[str, Any]:
    """An invoice with payments, refunds and what can still be refunded; raises NotFound."""
    row = conn.execute("SELECT i.*, c.name AS customer_name, c.tier AS customer_tier FROM invoices i JOIN customers c "
                       "ON c.customer_id = i.customer_id WHERE i.invoice_id = ?", (norm_id(invoice_id),)).fetchone()
    if row is None:
        raise not_found("invoice", invoice_id)
    payments = [dict(r) for r in conn.execute("SELECT payment_id, amount_usd, paid_date, method FROM payments "
                                              "WHERE invoice_id = ? ORDER BY payment_id", (row["invoice_id"],))]
    refunds = _refunds(conn, row["invoice_id"])
    paid = money(sum(p["amount_usd"] for p in payments))
    refunded = money(sum(r["amount_usd"] for r in refunds))
    header = {k: row[k] for k in ("invoice_id", "customer_id", "customer_name", "customer_tier", "order_id",
                                  "amount_usd", "status", "issued_date", "due_date", "dispute_reason", "disputed_usd")}
    return {**header, "paid_usd": paid, "refunded_usd": refunded, "refundable_usd": money(paid - refunded),
            "payments": payments, "refunds": refunds}


def _refunds(conn: Conn, invoice_id: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute("SELECT refund_id, amount_usd, reason, approved_by, issued_date FROM refunds "
                                          "WHERE invoice_id = ? ORDER BY refund_id", (invoice_id,))]


# Reason categories a refund can be for; a duplicate charge can only be refunded once.
DUPLICATE_CHARGE, OTHER = "duplicate_charge", "other"
_DUPLICATE = re.compile(r"\b(duplicate|duplicated|double[- ]?charged?|charged (?:twice|two times)|twice)\b", re.IGNORECASE)


def reason_category(reason: str) -> str:
    """The business reason a refund is for, from its free-text reason (duplicate charge, or other)."""
    return DUPLICATE_CHARGE if _DUPLICATE.search(reason or "") else OTHER


def refundable_for(invoice: dict[str, Any], category: str) -> tuple[float, str]:
    """What may still be refunded on ``invoice`` for ``category``, and what bounds it (for messages).

    Any refund is bounded by payments minus earlier refunds. A duplicate charge is money
    paid beyond the invoice amount; what was already refunded as a duplicate comes off it, so
    the same duplicate is never paid back twice, whatever conversation asks.
    """
    cap, why = invoice["refundable_usd"], "payments minus earlier refunds"
    if category == DUPLICATE_CHARGE:
        duplicate = max(0.0, money(invoice["paid_usd"] - invoice["amount_usd"]))
        done = money(sum(r["amount_usd"] for r in invoice["refunds"] if reason_category(r["reason"]) == DUPLICATE_CHARGE))
        if duplicate - done < cap:
            cap, why = money(duplicate - done), (f"the duplicate payment of ${duplicate:,.2f} minus "
                                                 f"${done:,.2f} already refunded for it")
    return max(0.0, cap), why


def load_refund(conn: Conn, refund_id: str) -> dict[str, Any]:
    """One refund; raises NotFound."""
    row = conn.execute("SELECT refund_id, invoice_id, amount_usd, reason, approved_by, issued_date FROM refunds "
                       "WHERE refund_id = ?", (norm_id(refund_id),)).fetchone()
    if row is None:
        raise not_found("refund", refund_id)
    return dict(row)


def _status_after(invoice: dict[str, Any], refunded_total: float) -> str:
    net = money(invoice["paid_usd"] - refunded_total)
    if net <= 0:
        return "refunded"
    # Paying more than the invoice (a duplicate charge) and getting the extra back settles it.
    if net >= invoice["amount_usd"]:
        return "paid"
    return "partially_refunded"


def _check_refundable(invoice: dict[str, Any], req: RefundRequest) -> None:
    category = reason_category(req.reason)
    cap, why = refundable_for(invoice, category)
    if category == DUPLICATE_CHARGE and cap <= 0:
        raise ValidationFailed(f"the duplicate charge on {req.invoice_id} has already been refunded (or there is no "
                               "duplicate payment on record); it is not refunded again")
    if req.amount_usd > cap:
        raise ValidationFailed(f"cannot refund ${req.amount_usd:,.2f} on {req.invoice_id}: only ${cap:,.2f} is "
                               f"refundable ({why})")


class Billing(Connector):
    """Billing system: what customers owe, paid and got back."""

    system = "billing"
    operations = ("get_invoice", "list_invoices", "issue_refund", "check_refund", "list_refunds")

    def get_invoice(self, invoice_id: str) -> dict[str, Any]:
        """An invoice with status, dispute, payments, refunds and the refundable balance."""
        return self._read("get_invoice", lambda conn: load_invoice(conn, invoice_id))

    def list_invoices(self, customer_id: str) -> dict[str, Any]:
        """A customer's invoices, newest first."""
        def read(conn: Conn) -> dict[str, Any]:
            customer = load_customer(conn, customer_id)
            rows = conn.execute("SELECT invoice_id, order_id, amount_usd, status, issued_date, due_date FROM invoices "
                                "WHERE customer_id = ? ORDER BY issued_date DESC, invoice_id DESC",
                                (customer["customer_id"],)).fetchall()
            return {"customer_id": customer["customer_id"], "invoices": [dict(r) for r in rows], "count": len(rows)}
        return self._read("list_invoices", read)

    def issue_refund(self, invoice_id: str, amount_usd: float, reason: str, idempotency_key: str,
                     approved_by: str | None = None, *, auto_limit_usd: float | None = None,
                     approval_id: str | None = None) -> dict[str, Any]:
        """Refund up to what is refundable for the reason; above ``auto_limit_usd`` only with an approval.

        ``auto_limit_usd`` applies to the running total refunded on the invoice, checked in
        the same transaction as the write, so concurrent requests cannot together pass it.
        None means the caller enforces approvals itself (direct use from trusted code).
        """
        req = self._refund_request(invoice_id, amount_usd, reason)
        approver = (approved_by or "").strip() or None
        approval = {"approved_by": approver, "approval_id": (approval_id or "").strip() or None}
        # approved_by records who signed off; it is not part of the request identity.
        return self._write("issue_refund", idempotency_key, req.model_dump(),
                           lambda conn: self._refund(conn, req, approval, auto_limit_usd))

    def check_refund(self, invoice_id: str, amount_usd: float, reason: str) -> dict[str, Any]:
        """Check a refund with the rules :meth:`issue_refund` applies, without writing; raises ConnectorError."""
        req = self._refund_request(invoice_id, amount_usd, reason or "refund")

        def read(conn: Conn) -> dict[str, Any]:
            invoice = load_invoice(conn, req.invoice_id)
            _check_refundable(invoice, req)
            return {**req.model_dump(), "customer_id": invoice["customer_id"], "refunded_usd": invoice["refunded_usd"]}
        return self._read("check_refund", read)

    @staticmethod
    def _refund_request(invoice_id: str, amount_usd: float, reason: str) -> RefundRequest:
        if isinstance(amount_usd, (int, float)) and not math.isfinite(amount_usd):
            raise ValidationFailed("amount_usd must be a finite number of dollars")
        req = validate(RefundRequest, {"invoice_id": invoice_id, "amount_usd": amount_usd, "reason": reason})
        req.invoice_id, req.amount_usd = norm_id(req.invoice_id), money(req.amount_usd)
        if req.amount_usd <= 0:
            raise ValidationFailed("amount_usd must be at least $0.01")
        return req

    def _refund(self, conn: Conn, req: RefundRequest, approval: dict[str, Any],
                limit: float | None) -> dict[str, Any]:
        invoice = load_invoice(conn, req.invoice_id)
        _check_refundable(invoice, req)
        total = money(invoice["refunded_usd"] + req.amount_usd)
        if limit is not None and not (total <= limit) and not approval["approved_by"]:
            raise ApprovalRequired(f"refunds on {req.invoice_id} would total ${total:,.2f}, above the automatic limit "
                                   f"of ${limit:,.2f}; a billing manager must approve this refund")
        refund_id = next_id(conn, "refunds", "refund_id", "REF-", 4)
        conn.execute("INSERT INTO refunds VALUES (?, ?, ?, ?, ?, ?)",
                     (refund_id, req.invoice_id, req.amount_usd, req.reason, approval["approved_by"],
                      self.today.isoformat()))
        status = _status_after(invoice, invoice["refunded_usd"] + req.amount_usd)
        conn.execute("UPDATE invoices SET status = ? WHERE invoice_id = ?", (status, req.invoice_id))
        return {"refund_id": refund_id, "invoice_id": req.invoice_id, "customer_id": invoice["customer_id"],
                "amount_usd": req.amount_usd, "reason": req.reason, "approved_by": approval["approved_by"],
                "approval_id": approval["approval_id"], "reason_category": reason_category(req.reason),
                "issued_date": self.today.isoformat(), "invoice_status": status,
                "refundable_usd": money(invoice["refundable_usd"] - req.amount_usd)}

    def list_refunds(self, invoice_id: str) -> dict[str, Any]:
        """Refunds issued against an invoice."""
        def read(conn: Conn) -> dict[str, Any]:
            invoice = load_invoice(conn, invoice_id)
            return {"invoice_id": invoice["invoice_id"], "refunds": invoice["refunds"], "count": len(invoice["refunds"])}
        return self._read("list_refunds", read)
