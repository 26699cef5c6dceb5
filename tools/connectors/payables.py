"""Accounts payable: supplier invoices, goods receipts and the three-way match between them and the PO.

The match is arithmetic, done here in code, never by a model: per SKU it compares what the
purchase order agreed (quantity, unit price), what the warehouse received (goods receipts)
and what the supplier invoiced. The amount we owe is what was received, up to what was
ordered, at the PO price; the variance is what the invoice asks beyond that.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from opsgraph.tools.connectors.base import (ApprovalRequired, Conn, Connector, ValidationFailed, money, norm_id,
                                            not_found, priced_line)
from opsgraph.tools.connectors.erp import load_purchase_order

MATCHED, MISMATCH = "matched", "mismatch"


def load_supplier_invoice(conn: Conn, invoice_id: str) -> dict[str, Any]:
    """A supplier invoice with its lines and the note the supplier wrote on it; raises NotFound."""
    row = conn.execute("SELECT * FROM supplier_invoices WHERE supplier_invoice_id = ?", (norm_id(invoice_id),)).fetchone()
    if row is None:
        raise not_found("supplier invoice", invoice_id)
    lines = [priced_line(r) for r in conn.execute(
        "SELECT * FROM supplier_invoice_lines WHERE supplier_invoice_id = ? ORDER BY line_no", (row["supplier_invoice_id"],))]
    header = {k: row[k] for k in ("supplier_invoice_id", "supplier_id", "po_id", "amount_usd", "status", "invoice_date",
                                  "due_date", "note", "decided_by", "decision_reason")}
    return {**header, "lines": lines}


def load_receipts(conn: Conn, po_id: str) -> list[dict[str, Any]]:
    """Goods receipts booked against ``po_id`` (oldest first), each with its lines."""
    receipts = []
    for row in conn.execute("SELECT * FROM goods_receipts WHERE po_id = ? ORDER BY receipt_id", (norm_id(po_id),)):
        lines = [{"sku_id": r["sku_id"], "quantity": r["quantity"]} for r in conn.execute(
            "SELECT sku_id, quantity FROM goods_receipt_lines WHERE receipt_id = ? ORDER BY line_no", (row["receipt_id"],))]
        receipts.append({**{k: row[k] for k in ("receipt_id", "po_id", "dc_id", "received_date", "received_by")},
                         "lines": lines})
    return receipts


def three_way_match(order: dict[str, Any], receipts: list[dict[str, Any]], invoice: dict[str, Any],
                    tolerance_usd: float) -> dict[str, Any]:
    """Compare PO, receipts and invoice SKU by SKU; the variance is what the invoice asks beyond what we owe."""
    ordered = {line["sku_id"]: line for line in order["lines"]}
    received: dict[str, int] = defaultdict(int)
    for receipt in receipts:
        for line in receipt["lines"]:
            received[line["sku_id"]] += int(line["quantity"])
    lines = [_line_match(sku, ordered.get(sku), received.get(sku, 0), line)
             for sku, line in _invoiced_by_sku(invoice).items()]
    variance = money(sum(line["variance_usd"] for line in lines))
    issues = sorted({issue for line in lines for issue in line["issues"]} | ({"missing_receipt"} if not receipts else set()))
    return {"supplier_invoice_id": invoice["supplier_invoice_id"], "po_id": order["po_id"],
            "result": MATCHED if not issues else MISMATCH, "issues": issues, "lines": lines,
            "invoiced_usd": money(sum(line["invoiced_usd"] for line in lines)),
            "owed_usd": money(sum(line["owed_usd"] for line in lines)), "variance_usd": variance,
            "tolerance_usd": tolerance_usd, "within_tolerance": abs(variance) <= tolerance_usd,
            "receipts": [r["receipt_id"] for r in receipts]}


def _invoiced_by_sku(invoice: dict[str, Any]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for line in invoice["lines"]:
        seen = merged.setdefault(line["sku_id"], {"quantity": 0, "amount": 0.0})
        seen["quantity"] += int(line["quantity"])
        seen["amount"] += float(line["quantity"]) * float(line["unit_price"])
    return merged


def _line_match(sku: str, ordered: dict[str, Any] | None, received: int, invoiced: dict[str, Any]) -> dict[str, Any]:
    """One SKU: owed = min(received, ordered) x PO price; everything invoiced beyond that is variance."""
    quantity, amount = invoiced["quantity"], money(invoiced["amount"])
    unit_price = money(amount / quantity) if quantity else 0.0
    if ordered is None:
        return {"sku_id": sku, "ordered": 0, "received": received, "invoiced": quantity, "po_unit_price": None,
                "invoice_unit_price": unit_price, "invoiced_usd": amount, "owed_usd": 0.0, "variance_usd": amount,
                "issues": ["not_on_po"]}
    po_price = float(ordered["unit_price"])
    owed = money(min(received, int(ordered["quantity"]), quantity) * po_price)
    issues = []
    if quantity > received:
        issues.append("quantity_short" if received else "missing_receipt")
    if quantity > int(ordered["quantity"]):
        issues.append("quantity_over_po")
    if abs(unit_price - po_price) >= 0.005:
        issues.append("price_differs")
    return {"sku_id": sku, "ordered": int(ordered["quantity"]), "received": received, "invoiced": quantity,
            "po_unit_price": po_price, "invoice_unit_price": unit_price, "invoiced_usd": amount, "owed_usd": owed,
            "variance_usd": money(amount - owed), "issues": issues}


class Payables(Connector):
    """Accounts payable: supplier invoices against purchase orders and goods receipts."""

    system = "payables"
    operations = ("get_supplier_invoice", "get_goods_receipts", "match_invoice", "approve_invoice_payment")

    def get_supplier_invoice(self, supplier_invoice_id: str) -> dict[str, Any]:
        """A supplier invoice with its lines, status and the supplier's note."""
        return self._read("get_supplier_invoice", lambda conn: load_supplier_invoice(conn, supplier_invoice_id))

    def get_goods_receipts(self, po_id: str) -> dict[str, Any]:
        """Goods received against a purchase order, receipt by receipt."""
        def read(conn: Conn) -> dict[str, Any]:
            order = load_purchase_order(conn, po_id)
            receipts = load_receipts(conn, order["po_id"])
            return {"po_id": order["po_id"], "receipts": receipts, "count": len(receipts)}
        return self._read("get_goods_receipts", read)

    def match_invoice(self, supplier_invoice_id: str, tolerance_usd: float) -> dict[str, Any]:
        """The three-way match of an invoice (see :func:`three_way_match`)."""
        return self._read("match_invoice", lambda conn: _match(conn, supplier_invoice_id, tolerance_usd))

    def approve_invoice_payment(self, supplier_invoice_id: str, justification: str, idempotency_key: str, *,
                                tolerance_usd: float | None, approved_by: str | None = None) -> dict[str, Any]:
        """Release a received invoice for payment. Above the match tolerance it needs an approver, checked
        in the write transaction; ``tolerance_usd`` None means the caller enforces approvals itself."""
        if not (justification or "").strip():
            raise ValidationFailed("justification is required: say why this invoice may be paid")
        request = {"supplier_invoice_id": norm_id(supplier_invoice_id), "justification": justification.strip()}
        approver = (approved_by or "").strip() or None
        return self._write("approve_invoice_payment", idempotency_key, request,
                           lambda conn: self._approve(conn, request, tolerance_usd, approver))

    def _approve(self, conn: Conn, request: dict[str, Any], tolerance_usd: float | None,
                 approver: str | None) -> dict[str, Any]:
        invoice = load_supplier_invoice(conn, request["supplier_invoice_id"])
        if invoice["status"] != "received":
            raise ValidationFailed(f"{invoice['supplier_invoice_id']} is already {invoice['status']}"
                                   f"{' by ' + invoice['decided_by'] if invoice['decided_by'] else ''}; "
                                   "it is not released again")
        match = _match(conn, invoice["supplier_invoice_id"], tolerance_usd if tolerance_usd is not None else 0.0)
        if tolerance_usd is not None and not match["within_tolerance"] and approver is None:
            raise ApprovalRequired(f"{invoice['supplier_invoice_id']} does not match: variance "
                                   f"${match['variance_usd']:,.2f} ({', '.join(match['issues'])}) is above the "
                                   f"tolerance of ${tolerance_usd:,.2f}; an accounts payable approver must release it")
        conn.execute("UPDATE supplier_invoices SET status = 'approved', decided_by = ?, decision_reason = ? "
                     "WHERE supplier_invoice_id = ?", (approver or "auto (within tolerance)", request["justification"],
                                                       invoice["supplier_invoice_id"]))
        return {"supplier_invoice_id": invoice["supplier_invoice_id"], "status": "approved",
                "approved_by": approver, "amount_usd": invoice["amount_usd"], "variance_usd": match["variance_usd"],
                "issues": match["issues"]}


def _match(conn: Conn, invoice_id: str, tolerance_usd: float) -> dict[str, Any]:
    invoice = load_supplier_invoice(conn, invoice_id)
    order = load_purchase_order(conn, invoice["po_id"])
    return three_way_match(order, load_receipts(conn, order["po_id"]), invoice, float(tolerance_usd))
