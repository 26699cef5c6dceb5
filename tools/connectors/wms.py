"""Warehouse management: stock per DC, orders hit by a late shipment, replenishment, transfers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from opsgraph.tools.connectors.base import (Conn, Connector, ValidationFailed, money, next_id, norm_id, not_found,
                                            validate)
from opsgraph.tools.connectors.tms import load_shipment

TIER_RANK_SQL = "CASE c.tier WHEN 'platinum' THEN 0 WHEN 'gold' THEN 1 WHEN 'silver' THEN 2 ELSE 3 END"


class Transfer(BaseModel):
    """Move ``quantity`` units of one SKU from one DC to another."""

    sku_id: str
    from_dc_id: str
    to_dc_id: str
    quantity: int = Field(gt=0, le=100_000)


class TransferRequest(BaseModel):
    """A batch of transfers applied atomically."""

    transfers: list[Transfer] = Field(min_length=1, max_length=50)


def load_sku(conn: Conn, sku_id: str) -> dict[str, Any]:
    """A SKU's master data; raises NotFound."""
    row = conn.execute("SELECT * FROM skus WHERE sku_id = ?", (norm_id(sku_id),)).fetchone()
    if row is None:
        raise not_found("sku", sku_id)
    return dict(row)


def load_dc(conn: Conn, dc_id: str) -> dict[str, Any]:
    """A distribution centre; raises NotFound."""
    row = conn.execute("SELECT * FROM dcs WHERE dc_id = ?", (norm_id(dc_id),)).fetchone()
    if row is None:
        raise not_found("dc", dc_id)
    return dict(row)


def load_transfer(conn: Conn, transfer_id: str) -> dict[str, Any]:
    """A completed stock transfer; raises NotFound."""
    row = conn.execute("SELECT * FROM stock_transfers WHERE transfer_id = ?", (norm_id(transfer_id),)).fetchone()
    if row is None:
        raise not_found("transfer", transfer_id)
    return dict(row)


def stock_levels(conn: Conn, sku_id: str) -> list[dict[str, Any]]:
    """Stock of one SKU at every DC."""
    rows = conn.execute("SELECT dc_id, on_hand, reserved, reorder_point FROM stock WHERE sku_id = ? ORDER BY dc_id",
                        (sku_id,)).fetchall()
    return [{"dc_id": r["dc_id"], "on_hand": r["on_hand"], "reserved": r["reserved"],
             "available": r["on_hand"] - r["reserved"], "reorder_point": r["reorder_point"]} for r in rows]


def _open_demand(conn: Conn, dc_id: str, sku_id: str) -> int:
    row = conn.execute(
        "SELECT COALESCE(SUM(l.quantity), 0) FROM sales_orders o JOIN sales_order_lines l ON l.order_id = o.order_id "
        "WHERE o.status = 'open' AND o.dc_id = ? AND l.sku_id = ?", (dc_id, sku_id)).fetchone()
    return int(row[0])


def _due_lines(conn: Conn, shipment: dict[str, Any]) -> list[Any]:
    """Open order lines at the shipment's DC for its SKUs, promised before its ETA, in service order.

    Service order is the shortage-allocation rule of the corpus: customer tier first, then the
    earliest promised date within a tier.
    """
    skus = sorted({line["sku_id"] for line in shipment["lines"]})
    marks = ", ".join("?" * len(skus))
    return conn.execute(
        "SELECT o.order_id, o.customer_id, c.tier AS customer_tier, l.sku_id, l.quantity, o.promised_date "
        "FROM sales_orders o JOIN sales_order_lines l ON l.order_id = o.order_id "
        "JOIN customers c ON c.customer_id = o.customer_id "
        f"WHERE o.status = 'open' AND o.dc_id = ? AND o.promised_date < ? AND l.sku_id IN ({marks}) "
        f"ORDER BY {TIER_RANK_SQL}, o.promised_date, o.order_id, l.line_no",
        (shipment["dc_id"], shipment["eta"], *skus)).fetchall()


def affected_orders(conn: Conn, shipment: dict[str, Any]) -> dict[str, Any]:
    """Order lines the DC cannot serve before the shipment arrives, and the shortfall per SKU."""
    # A delivered shipment's goods are already on the shelf: no order waits for it any more.
    affected = [] if shipment["status"] == "delivered" else _allocate(conn, shipment)
    short: dict[str, int] = {}
    for line in affected:
        short[line["sku_id"]] = short.get(line["sku_id"], 0) + line["short_quantity"]
    return {
        "shipment_id": shipment["shipment_id"], "dc_id": shipment["dc_id"], "new_eta": shipment["eta"],
        "shipment_status": shipment["status"], "affected_orders": affected,
        "order_ids": list(dict.fromkeys(a["order_id"] for a in affected)),
        "customer_ids": list(dict.fromkeys(a["customer_id"] for a in affected)),
        "shortfall": [{"sku_id": sku, "dc_id": shipment["dc_id"], "quantity": qty} for sku, qty in sorted(short.items())],
    }


def _allocate(conn: Conn, shipment: dict[str, Any]) -> list[dict[str, Any]]:
    """Give available stock to due lines, higher tier first (earliest promise first within a tier).

    A line that is not fully covered is affected, with the uncovered part as short_quantity.
    """
    left = {line["sku_id"]: level["available"] for line in shipment["lines"]
            for level in stock_levels(conn, line["sku_id"]) if level["dc_id"] == shipment["dc_id"]}
    affected = []
    for row in _due_lines(conn, shipment):
        covered = min(max(left.get(row["sku_id"], 0), 0), row["quantity"])
        left[row["sku_id"]] = left.get(row["sku_id"], 0) - covered
        if covered < row["quantity"]:
            affected.append({**dict(row), "short_quantity": row["quantity"] - covered})
    return affected


def _spare_by_dc(conn: Conn, sku_id: str, exclude_dc: str) -> list[tuple[str, int]]:
    """Stock other DCs can give away without dropping below reorder point or starving their own orders."""
    spare = []
    for level in stock_levels(conn, sku_id):
        if level["dc_id"] == exclude_dc:
            continue
        free = level["available"] - _open_demand(conn, level["dc_id"], sku_id) - level["reorder_point"]
        if free > 0:
            spare.append((level["dc_id"], free))
    return sorted(spare, key=lambda item: (-item[1], item[0]))


def best_supplier(conn: Conn, sku_id: str, standards: tuple[float, float] = (0.0, 0.0)) -> Any:
    """The approved supplier with the lowest price per unit of reliability for a SKU.

    ``standards`` is (minimum reliability, minimum ESG score): an approved supplier below
    either is on probation, where a new order needs a person's agreement, so it is never picked.
    """
    return conn.execute(
        "SELECT s.supplier_id, s.name, s.reliability, s.lead_time_days, p.unit_price FROM supplier_prices p "
        "JOIN suppliers s ON s.supplier_id = p.supplier_id WHERE p.sku_id = ? AND s.approved = 1 "
        "AND s.reliability >= ? AND s.esg_score >= ? "
        "ORDER BY p.unit_price / s.reliability, s.supplier_id LIMIT 1", (sku_id, *standards)).fetchone()


def _plan_transfers(conn: Conn, shortfall: list[dict[str, Any]]) -> tuple[list[dict], dict[str, int]]:
    transfers, remainder = [], {}
    for short in shortfall:
        need = short["quantity"]
        for dc_id, spare in _spare_by_dc(conn, short["sku_id"], short["dc_id"]):
            if need <= 0:
                break
            moved = min(spare, need)
            transfers.append({"sku_id": short["sku_id"], "from_dc_id": dc_id, "to_dc_id": short["dc_id"], "quantity": moved})
            need -= moved
        if need > 0:
            remainder[short["sku_id"]] = need
    return transfers, remainder


def _plan_purchases(conn: Conn, impact: dict[str, Any], remainder: dict[str, int],
                    standards: tuple[float, float]) -> tuple[list, list]:
    grouped: dict[str, dict[str, Any]] = {}
    uncovered = []
    for sku_id, quantity in remainder.items():
        supplier = best_supplier(conn, sku_id, standards)
        if supplier is None:
            uncovered.append({"sku_id": sku_id, "dc_id": impact["dc_id"], "quantity": quantity,
                              "reason": f"no approved supplier meeting the reliability and ESG minimums offers {sku_id}"})
            continue
        po = grouped.setdefault(supplier["supplier_id"], {
            "supplier_id": supplier["supplier_id"], "supplier_name": supplier["name"], "dc_id": impact["dc_id"],
            "lines": [], "estimated_total_usd": 0.0, "expedite": True})
        po["lines"].append({"sku_id": sku_id, "quantity": quantity})
        po["estimated_total_usd"] = money(po["estimated_total_usd"] + quantity * supplier["unit_price"])
    for po in grouped.values():
        po["justification"] = _justification(impact, po["lines"])
    return list(grouped.values()), uncovered


def _justification(impact: dict[str, Any], lines: list[dict[str, Any]]) -> str:
    skus = {line["sku_id"] for line in lines}
    orders = list(dict.fromkeys(a["order_id"] for a in impact["affected_orders"] if a["sku_id"] in skus))
    wanted = ", ".join(f"{line['quantity']} x {line['sku_id']}" for line in lines)
    return (f"Expedite {wanted} to {impact['dc_id']}: inbound shipment {impact['shipment_id']} now arrives "
            f"{impact['new_eta']}, after the promised dates of orders {', '.join(orders)}; "
            "transfers from other DCs cannot cover this quantity.")


class WMS(Connector):
    """Warehouse management system: stock at the four DCs and what it can serve."""

    system = "wms"
    operations = ("check_stock", "find_affected_orders", "plan_replenishment", "transfer_stock")

    def check_stock(self, sku_id: str) -> dict[str, Any]:
        """On-hand, reserved and available stock of a SKU at every DC."""
        def read(conn: Conn) -> dict[str, Any]:
            sku = load_sku(conn, sku_id)
            stock = stock_levels(conn, sku["sku_id"])
            return {"sku_id": sku["sku_id"], "sku_name": sku["name"], "stock": stock,
                    "total_available": sum(s["available"] for s in stock)}
        return self._read("check_stock", read)

    def find_affected_orders(self, shipment_id: str) -> dict[str, Any]:
        """Open orders at the shipment's DC that stock cannot serve before the (possibly delayed) ETA."""
        return self._read("find_affected_orders", lambda conn: affected_orders(conn, load_shipment(conn, shipment_id)))

    def plan_replenishment(self, shipment_id: str, min_reliability: float = 0.0,
                           min_esg_score: float = 0.0) -> dict[str, Any]:
        """Propose transfers first, then expedite purchase orders per supplier, for the shortfall.

        Purchase orders go only to approved suppliers at or above both minimums (from policy).
        """
        def read(conn: Conn) -> dict[str, Any]:
            impact = affected_orders(conn, load_shipment(conn, shipment_id))
            transfers, remainder = _plan_transfers(conn, impact["shortfall"])
            purchase_orders, uncovered = _plan_purchases(conn, impact, remainder, (min_reliability, min_esg_score))
            return {"shipment_id": impact["shipment_id"], "dc_id": impact["dc_id"], "new_eta": impact["new_eta"],
                    "shortfall": impact["shortfall"], "transfers": transfers,
                    "purchase_orders": purchase_orders, "uncovered": uncovered}
        return self._read("plan_replenishment", read)

    def transfer_stock(self, transfers: list[dict[str, Any]], idempotency_key: str) -> dict[str, Any]:
        """Move stock between DCs; all transfers happen or none (refuses more than available)."""
        req = validate(TransferRequest, {"transfers": transfers})
        for t in req.transfers:
            t.sku_id, t.from_dc_id, t.to_dc_id = norm_id(t.sku_id), norm_id(t.from_dc_id), norm_id(t.to_dc_id)
        return self._write("transfer_stock", idempotency_key, req.model_dump(), lambda conn: self._apply(conn, req))

    def _apply(self, conn: Conn, req: TransferRequest) -> dict[str, Any]:
        done = []
        for t in req.transfers:
            load_sku(conn, t.sku_id)
            load_dc(conn, t.from_dc_id)
            load_dc(conn, t.to_dc_id)
            if t.from_dc_id == t.to_dc_id:
                raise ValidationFailed(f"transfer of {t.sku_id} goes from {t.from_dc_id} to itself; pick another DC")
            self._move(conn, t)
            transfer_id = next_id(conn, "stock_transfers", "transfer_id", "TR-", 4)
            conn.execute("INSERT INTO stock_transfers VALUES (?, ?, ?, ?, ?, ?)",
                         (transfer_id, t.sku_id, t.from_dc_id, t.to_dc_id, t.quantity, self.today.isoformat()))
            done.append({"transfer_id": transfer_id, **t.model_dump()})
        return {"transfers": done, "count": len(done), "business_date": self.today.isoformat()}

    @staticmethod
    def _move(conn: Conn, t: Transfer) -> None:
        row = conn.execute("SELECT on_hand - reserved FROM stock WHERE dc_id = ? AND sku_id = ?",
                           (t.from_dc_id, t.sku_id)).fetchone()
        available = int(row[0]) if row else 0
        if t.quantity > available:
            raise ValidationFailed(f"cannot move {t.quantity} x {t.sku_id} from {t.from_dc_id}: only {available} "
                                   "available (on hand minus reserved); nothing was transferred")
        conn.execute("UPDATE stock SET on_hand = on_hand - ? WHERE dc_id = ? AND sku_id = ?",
                     (t.quantity, t.from_dc_id, t.sku_id))
        conn.execute("INSERT INTO stock (dc_id, sku_id, on_hand, reserved, reorder_point) VALUES (?, ?, ?, 0, 0) "
                     "ON CONFLICT (dc_id, sku_id) DO UPDATE SET on_hand = stock.on_hand + excluded.on_hand",
                     (t.to_dc_id, t.sku_id, t.quantity))
