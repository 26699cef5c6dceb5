"""Billing: invoices, payments received and refunds."""

from __future__ import annotations

import sqlite3
from typing import Any

from pydantic import BaseModel, Field

from opsgraph.tools.connectors.base import Connector, ValidationFailed, money, next_id, norm_id, not_found, validate
from opsgraph.tools.connectors.crm import load_customer


class RefundRequest(BaseModel):
    """Money back to a customer against one invoice."""

    invoice_id: str
    amount_usd: float = Field(gt=0, le=1_000_000)
    reason: str = Field(min_length=1, max_length=1000)


def load_invoice(conn: sqlite3.Connection, invoice_id: str) -> dict[str, Any]:
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


def _refunds(conn: sqlite3.Connection, invoice_id: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute("SELECT refund_id, amount_usd, reason, approved_by, issued_date FROM refunds "
                                          "WHERE invoice_id = ? ORDER BY refund_id", (invoice_id,))]


def load_refund(conn: sqlite3.Connection, refund_id: str) -> dict[str, Any]:
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


class Billing(Connector):
    """Billing system: what customers owe, paid and got back."""

    system = "billing"
    operations = ("get_invoice", "list_invoices", "issue_refund", "list_refunds")

    def get_invoice(self, invoice_id: str) -> dict[str, Any]:
        """An invoice with status, dispute, payments, refunds and the refundable balance."""
        return self._read("get_invoice", lambda conn: load_invoice(conn, invoice_id))

    def list_invoices(self, customer_id: str) -> dict[str, Any]:
        """A customer's invoices, newest first."""
        def read(conn: sqlite3.Connection) -> dict[str, Any]:
            customer = load_customer(conn, customer_id)
            rows = conn.execute("SELECT invoice_id, order_id, amount_usd, status, issued_date, due_date FROM invoices "
                                "WHERE customer_id = ? ORDER BY issued_date DESC, invoice_id DESC",
                                (customer["customer_id"],)).fetchall()
            return {"customer_id": customer["customer_id"], "invoices": [dict(r) for r in rows], "count": len(rows)}
        return self._read("list_invoices", read)

    def issue_refund(self, invoice_id: str, amount_usd: float, reason: str, idempotency_key: str,
                     approved_by: str | None = None) -> dict[str, Any]:
        """Refund up to the invoice's refundable balance (payments minus earlier refunds)."""
        req = validate(RefundRequest, {"invoice_id": invoice_id, "amount_usd": amount_usd, "reason": reason})
        req.invoice_id, req.amount_usd = norm_id(req.invoice_id), money(req.amount_usd)
        if req.amount_usd <= 0:
            raise ValidationFailed("amount_usd must be at least $0.01")
        approver = (approved_by or "").strip() or None
        # approved_by records who signed off; it is not part of the request identity.
        return self._write("issue_refund", idempotency_key, req.model_dump(),
                           lambda conn: self._refund(conn, req, approver))

    def _refund(self, conn: sqlite3.Connection, req: RefundRequest, approver: str | None) -> dict[str, Any]:
        invoice = load_invoice(conn, req.invoice_id)
        if req.amount_usd > invoice["refundable_usd"]:
            raise ValidationFailed(f"cannot refund ${req.amount_usd:,.2f} on {req.invoice_id}: only "
                                   f"${invoice['refundable_usd']:,.2f} is refundable (payments minus earlier refunds)")
        refund_id = next_id(conn, "refunds", "refund_id", "REF-", 4)
        conn.execute("INSERT INTO refunds VALUES (?, ?, ?, ?, ?, ?)",
                     (refund_id, req.invoice_id, req.amount_usd, req.reason, approver, self.today.isoformat()))
        status = _status_after(invoice, invoice["refunded_usd"] + req.amount_usd)
        conn.execute("UPDATE invoices SET status = ? WHERE invoice_id = ?", (status, req.invoice_id))
        return {"refund_id": refund_id, "invoice_id": req.invoice_id, "customer_id": invoice["customer_id"],
                "amount_usd": req.amount_usd, "reason": req.reason, "approved_by": approver,
                "issued_date": self.today.isoformat(), "invoice_status": status,
                "refundable_usd": money(invoice["refundable_usd"] - req.amount_usd)}

    def list_refunds(self, invoice_id: str) -> dict[str, Any]:
        """Refunds issued against an invoice."""
        def read(conn: sqlite3.Connection) -> dict[str, Any]:
            invoice = load_invoice(conn, invoice_id)
            return {"invoice_id": invoice["invoice_id"], "refunds": invoice["refunds"], "count": len(invoice["refunds"])}
        return self._read("list_refunds", read)
