"""ERP: suppliers and their price lists, budgets per cost centre, purchase orders."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from opsgraph.tools.connectors.base import (ApprovalRequired, Conn, Connector, ValidationFailed, money, next_id,
                                            norm_id, not_found, priced_line, validate)
from opsgraph.tools.connectors.wms import load_dc, load_sku


class PurchaseOrderLine(BaseModel):
    """One SKU and quantity on a purchase order."""

    sku_id: str
    quantity: int = Field(gt=0, le=100_000)


class PurchaseOrderRequest(BaseModel):
    """What a buyer asks the ERP to order; prices come from the supplier's price list."""

    # Proposals may carry extra fields (estimated_total_usd, supplier_name): they are not part of the order.
    model_config = ConfigDict(extra="ignore")

    supplier_id: str
    dc_id: str
    lines: list[PurchaseOrderLine] = Field(min_length=1, max_length=50)
    justification: str = Field("", max_length=2000)
    expedite: bool = False
    cost_center: str = "CC-OPS"


def parse_request(req: Any) -> PurchaseOrderRequest:
    """Validate and normalise a purchase order request (dict or model)."""
    request = validate(PurchaseOrderRequest, req)
    request.supplier_id, request.dc_id = norm_id(request.supplier_id), norm_id(request.dc_id)
    request.cost_center = norm_id(request.cost_center)
    for line in request.lines:
        line.sku_id = norm_id(line.sku_id)
    skus = [line.sku_id for line in request.lines]
    duplicates = sorted({sku for sku in skus if skus.count(sku) > 1})
    if duplicates:
        raise ValidationFailed(f"{', '.join(duplicates)} appears on more than one line; combine the quantities into one line")
    return request


def _supplier_row(conn: Conn, supplier_id: str) -> Any:
    row = conn.execute("SELECT * FROM suppliers WHERE supplier_id = ?", (norm_id(supplier_id),)).fetchone()
    if row is None:
        raise not_found("supplier", supplier_id)
    return row


def _supplier_summary(row: Any) -> dict[str, Any]:
    return {"supplier_id": row["supplier_id"], "supplier_name": row["name"], "country": row["country"],
            "category": row["category"], "approved": bool(row["approved"]), "reliability": row["reliability"],
            "esg_score": row["esg_score"], "lead_time_days": row["lead_time_days"],
            "financial_health": row["financial_health"]}


def load_supplier(conn: Conn, supplier_id: str) -> dict[str, Any]:
    """A supplier with quarterly performance history and aggregates; raises NotFound."""
    row = _supplier_row(conn, supplier_id)
    history = [dict(r) for r in conn.execute(
        "SELECT period, deliveries, on_time, defect_rate FROM supplier_performance WHERE supplier_id = ? ORDER BY period",
        (row["supplier_id"],))]
    deliveries = sum(h["deliveries"] for h in history)
    offered = conn.execute("SELECT COUNT(*) FROM supplier_prices WHERE supplier_id = ?", (row["supplier_id"],)).fetchone()[0]
    open_pos = conn.execute("SELECT COUNT(*) FROM purchase_orders WHERE supplier_id = ? AND status = 'issued'",
                            (row["supplier_id"],)).fetchone()[0]
    return {
        **_supplier_summary(row), "performance": history,
        "on_time_rate": round(sum(h["on_time"] for h in history) / deliveries, 3) if deliveries else None,
        "defect_rate": round(sum(h["defect_rate"] * h["deliveries"] for h in history) / deliveries, 4) if deliveries else None,
        "skus_offered": offered, "open_purchase_orders": open_pos,
    }


def load_budget(conn: Conn, cost_center: str) -> dict[str, Any]:
    """A cost centre's budget for the current period; raises NotFound."""
    row = conn.execute("SELECT * FROM budgets WHERE cost_center = ?", (norm_id(cost_center),)).fetchone()
    if row is None:
        raise not_found("cost center", cost_center)
    return {"cost_center": row["cost_center"], "name": row["name"], "amount_usd": row["amount_usd"],
            "spent_usd": row["spent_usd"], "remaining_usd": money(row["amount_usd"] - row["spent_usd"]),
            "period": row["period"]}


def load_purchase_order(conn: Conn, po_id: str) -> dict[str, Any]:
    """A purchase order with its lines; raises NotFound."""
    row = conn.execute("SELECT p.*, s.name AS supplier_name FROM purchase_orders p JOIN suppliers s "
                       "ON s.supplier_id = p.supplier_id WHERE p.po_id = ?", (norm_id(po_id),)).fetchone()
    if row is None:
        raise not_found("purchase order", po_id)
    lines = [priced_line(r) for r in conn.execute(
        "SELECT * FROM purchase_order_lines WHERE po_id = ? ORDER BY line_no", (row["po_id"],))]
    header = {k: row[k] for k in ("po_id", "supplier_id", "supplier_name", "dc_id", "cost_center", "status",
                                  "total_usd", "justification", "approved_by", "order_date", "expected_date")}
    return {**header, "expedite": bool(row["expedite"]), "lines": lines}


def price_request(conn: Conn, req: PurchaseOrderRequest, today: date) -> dict[str, Any]:
    """Price a request from the supplier's price list, checking every reference exists."""
    supplier = _supplier_row(conn, req.supplier_id)
    load_dc(conn, req.dc_id)
    load_budget(conn, req.cost_center)
    lines = []
    for line in req.lines:
        load_sku(conn, line.sku_id)
        price = conn.execute("SELECT unit_price FROM supplier_prices WHERE supplier_id = ? AND sku_id = ?",
                             (req.supplier_id, line.sku_id)).fetchone()
        if price is None:
            sellers = [r[0] for r in conn.execute("SELECT supplier_id FROM supplier_prices WHERE sku_id = ? "
                                                  "ORDER BY supplier_id", (line.sku_id,))]
            raise ValidationFailed(f"supplier {req.supplier_id} does not sell {line.sku_id}; "
                                   f"suppliers that do: {', '.join(sellers) or 'none'}")
        lines.append({"sku_id": line.sku_id, "quantity": line.quantity, "unit_price": price[0],
                      "line_total": money(line.quantity * price[0])})
    lead = supplier["lead_time_days"]
    # Expedited orders ship by air from the supplier: a quarter of the lead time, at least two days.
    days = max(2, math.ceil(lead / 4)) if req.expedite else lead
    return {"supplier_id": req.supplier_id, "supplier_name": supplier["name"], "dc_id": req.dc_id,
            "cost_center": req.cost_center, "expedite": req.expedite, "lines": lines,
            "total_usd": money(sum(line["line_total"] for line in lines)),
            "approved_supplier": bool(supplier["approved"]), "lead_time_days": days,
            "expected_date": (today + timedelta(days=days)).isoformat()}


def supplier_spend(conn: Conn, supplier_id: str, since: date) -> dict[str, Any]:
    """Purchase orders to one supplier from ``since`` on (not cancelled): they add up against the threshold."""
    rows = conn.execute("SELECT po_id, total_usd FROM purchase_orders WHERE supplier_id = ? AND status != 'cancelled' "
                        "AND order_date >= ? ORDER BY po_id", (norm_id(supplier_id), since.isoformat())).fetchall()
    return {"supplier_id": norm_id(supplier_id), "since": since.isoformat(), "po_ids": [r["po_id"] for r in rows],
            "total_usd": money(sum(r["total_usd"] for r in rows))}


def check_issuable(conn: Conn, req: PurchaseOrderRequest, today: date) -> dict[str, Any]:
    """The priced order when it may be issued (approved supplier, budget left); raises ValidationFailed."""
    quote = price_request(conn, req, today)
    if not quote["approved_supplier"]:
        raise ValidationFailed(f"supplier {req.supplier_id} ({quote['supplier_name']}) is not an approved supplier; "
                               "choose an approved one (see list_suppliers)")
    budget = load_budget(conn, req.cost_center)
    if quote["total_usd"] > budget["remaining_usd"]:
        raise ValidationFailed(f"cost centre {req.cost_center} has ${budget['remaining_usd']:,.2f} left in "
                               f"{budget['period']}; this purchase order needs ${quote['total_usd']:,.2f}")
    return {**quote, "budget_remaining_usd": budget["remaining_usd"]}


class ERP(Connector):
    """Enterprise resource planning: who we buy from, what it costs, what we may spend."""

    system = "erp"
    operations = ("list_suppliers", "get_supplier", "get_budget", "quote_purchase_order",
                  "create_purchase_order", "check_purchase_order", "supplier_spend", "get_purchase_order",
                  "list_purchase_orders")

    def list_suppliers(self, sku_id: str) -> dict[str, Any]:
        """Suppliers offering a SKU with price, lead time, approval, reliability and ESG score; cheapest first."""
        def read(conn: Conn) -> dict[str, Any]:
            sku = load_sku(conn, sku_id)
            rows = conn.execute("SELECT s.*, p.unit_price FROM supplier_prices p JOIN suppliers s ON "
                                "s.supplier_id = p.supplier_id WHERE p.sku_id = ? ORDER BY p.unit_price, s.supplier_id",
                                (sku["sku_id"],)).fetchall()
            offers = [{**_supplier_summary(r), "unit_price": r["unit_price"]} for r in rows]
            return {"sku_id": sku["sku_id"], "sku_name": sku["name"], "suppliers": offers, "count": len(offers)}
        return self._read("list_suppliers", read)

    def get_supplier(self, supplier_id: str) -> dict[str, Any]:
        """A supplier's profile, scores and quarterly performance history."""
        return self._read("get_supplier", lambda conn: load_supplier(conn, supplier_id))

    def get_budget(self, cost_center: str = "CC-OPS") -> dict[str, Any]:
        """Budget, spend and remaining amount of a cost centre."""
        return self._read("get_budget", lambda conn: load_budget(conn, cost_center))

    def quote_purchase_order(self, req: Any) -> dict[str, Any]:
        """Price a purchase order request without writing anything."""
        request = parse_request(req)
        return self._read("quote_purchase_order", lambda conn: price_request(conn, request, self.today))

    def supplier_spend(self, supplier_id: str, window_days: int) -> dict[str, Any]:
        """What was ordered from a supplier in the last ``window_days`` days (split orders add up)."""
        since = self.today - timedelta(days=max(0, int(window_days)))
        return self._read("supplier_spend", lambda conn: supplier_spend(conn, supplier_id, since))

    def check_purchase_order(self, req: Any) -> dict[str, Any]:
        """Check an order with the rules :meth:`create_purchase_order` applies, without writing; raises ConnectorError."""
        request = parse_request(req)
        return self._read("check_purchase_order", lambda conn: check_issuable(conn, request, self.today))

    def create_purchase_order(self, req: Any, idempotency_key: str, approved_by: str | None = None, *,
                              threshold_usd: float | None = None, window_days: int = 14,
                              approval_id: str | None = None) -> dict[str, Any]:
        """Issue a purchase order from an approved supplier and charge its cost centre.

        ``threshold_usd`` applies to this order plus the supplier's orders of the last
        ``window_days`` days, checked in the write transaction; above it the order needs an
        approver. None means the caller enforces approvals itself (direct use from trusted code).
        """
        request = parse_request(req)
        if not request.justification.strip():
            raise ValidationFailed("justification is required: say why this purchase order is needed")
        approval = {"approved_by": (approved_by or "").strip() or None, "approval_id": (approval_id or "").strip() or None,
                    "threshold_usd": threshold_usd, "window_days": window_days}
        # approved_by is who signed off, not part of the request: a replay after approval is the same order.
        return self._write("create_purchase_order", idempotency_key, request.model_dump(),
                           lambda conn: self._issue(conn, request, approval, str(idempotency_key).strip()))

    def _issue(self, conn: Conn, req: PurchaseOrderRequest, approval: dict[str, Any], key: str) -> dict:
        quote = check_issuable(conn, req, self.today)
        _require_approval(conn, req, quote, approval, self.today)
        approver = approval["approved_by"]
        po_id = next_id(conn, "purchase_orders", "po_id", "PO-", 5)
        conn.execute("INSERT INTO purchase_orders VALUES (?, ?, ?, ?, 'issued', ?, ?, ?, ?, ?, ?, ?)",
                     (po_id, req.supplier_id, req.dc_id, req.cost_center, quote["total_usd"], int(req.expedite),
                      req.justification, approver, key, self.today.isoformat(), quote["expected_date"]))
        conn.executemany("INSERT INTO purchase_order_lines VALUES (?, ?, ?, ?, ?)",
                         [(po_id, n, line["sku_id"], line["quantity"], line["unit_price"])
                          for n, line in enumerate(quote["lines"], start=1)])
        # Postgres rounds NUMERIC, not DOUBLE PRECISION; the cast keeps this one statement for both databases.
        conn.execute("UPDATE budgets SET spent_usd = ROUND(CAST(spent_usd + ? AS NUMERIC), 2) WHERE cost_center = ?",
                     (quote["total_usd"], req.cost_center))
        return {"po_id": po_id, "status": "issued", **quote, "justification": req.justification,
                "approved_by": approver, "approval_id": approval["approval_id"], "order_date": self.today.isoformat(),
                "budget_remaining_usd": money(quote["budget_remaining_usd"] - quote["total_usd"])}

    def get_purchase_order(self, po_id: str) -> dict[str, Any]:
        """A purchase order with its lines."""
        return self._read("get_purchase_order", lambda conn: load_purchase_order(conn, po_id))

    def list_purchase_orders(self, supplier_id: str | None = None) -> dict[str, Any]:
        """Purchase order headers, optionally for one supplier, oldest first."""
        def read(conn: Conn) -> dict[str, Any]:
            where, params = "", ()
            if supplier_id:
                params = (_supplier_row(conn, supplier_id)["supplier_id"],)
                where = "WHERE supplier_id = ?"
            rows = conn.execute("SELECT po_id, supplier_id, dc_id, status, total_usd, order_date, expected_date, "
                                f"approved_by FROM purchase_orders {where} ORDER BY po_id", params).fetchall()
            return {"purchase_orders": [dict(r) for r in rows], "count": len(rows)}
        return self._read("list_purchase_orders", read)


def _require_approval(conn: Conn, req: PurchaseOrderRequest, quote: dict[str, Any],
                      approval: dict[str, Any], today: date) -> None:
    # Inside the write transaction: two concurrent orders each under the threshold cannot together pass it.
    limit = approval["threshold_usd"]
    if limit is None or approval["approved_by"]:
        return
    since = today - timedelta(days=max(0, int(approval["window_days"])))
    earlier = supplier_spend(conn, req.supplier_id, since)
    total = money(earlier["total_usd"] + quote["total_usd"])
    if not total <= limit:
        raise ApprovalRequired(f"orders to {req.supplier_id} in the last {approval['window_days']} days would total "
                               f"${total:,.2f} ({', '.join(earlier['po_ids']) or 'no earlier orders'} plus this one), "
                               f"above the approval threshold of ${limit:,.2f}; an operations manager must approve it")
