"""Customer notifications, written to an outbox (a real deployment would drain it to email/SMS)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from opsgraph.tools.connectors.base import Conn, Connector, next_id, norm_id, not_found, now_utc, validate
from opsgraph.tools.connectors.crm import load_customer, load_order

# Customers whose contracts promise faster delay notice also get a text message.
SMS_TIERS = frozenset({"platinum", "gold"})


class NotifyRequest(BaseModel):
    """Tell the customers behind some orders about a new expected date."""

    order_ids: list[str] = Field(min_length=1, max_length=200)
    new_eta: date
    reason: str = Field("", max_length=1000)


class MessageRequest(BaseModel):
    """A free-form message to one customer."""

    customer_id: str
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=5000)


def load_message(conn: Conn, outbox_id: str) -> dict[str, Any]:
    """One outbox message; raises NotFound."""
    row = conn.execute("SELECT * FROM outbox WHERE outbox_id = ?", (norm_id(outbox_id),)).fetchone()
    if row is None:
        raise not_found("message", outbox_id)
    return _message(row)


def _message(row: Any) -> dict[str, Any]:
    return {"outbox_id": row["outbox_id"], "customer_id": row["customer_id"], "channels": row["channels"].split(","),
            "subject": row["subject"], "body": row["body"], "order_ids": json.loads(row["order_ids"]),
            "business_date": row["business_date"], "created_at": row["created_at"]}


def _delay_text(name: str, order_ids: list[str], new_eta: str, reason: str) -> tuple[str, str]:
    orders = ", ".join(order_ids)
    plural = "orders" if len(order_ids) > 1 else "order"
    because = f" Reason: {reason.strip()}" if reason.strip() else ""
    body = (f"Dear {name}, stock for your {plural} {orders} is arriving later than planned. "
            f"The new expected date is {new_eta}.{because} We are sorry for the inconvenience and will keep "
            "you updated. - Operations team")
    return f"Update on your {plural} {orders}", body


class Notifications(Connector):
    """Outbound customer communication."""

    system = "notifications"
    operations = ("notify_customers", "send_message", "outbox")

    def notify_customers(self, order_ids: list[str], new_eta: str, reason: str | None, idempotency_key: str) -> dict:
        """One message per distinct customer behind ``order_ids``; platinum/gold also get SMS."""
        req = validate(NotifyRequest, {"order_ids": order_ids, "new_eta": new_eta, "reason": reason or ""})
        req.order_ids = list(dict.fromkeys(norm_id(o) for o in req.order_ids))
        return self._write("notify_customers", idempotency_key, req.model_dump(mode="json"),
                           lambda conn: self._notify(conn, req))

    def _notify(self, conn: Conn, req: NotifyRequest) -> dict[str, Any]:
        by_customer: dict[str, list[str]] = {}
        for order_id in req.order_ids:
            order = load_order(conn, order_id)
            by_customer.setdefault(order["customer_id"], []).append(order["order_id"])
        notified = []
        for customer_id, orders in by_customer.items():
            customer = load_customer(conn, customer_id)
            channels = ["email", "sms"] if customer["tier"] in SMS_TIERS else ["email"]
            subject, body = _delay_text(customer["name"], orders, req.new_eta.isoformat(), req.reason)
            outbox_id = self._enqueue(conn, customer_id, channels, subject, body, orders)
            notified.append({"customer_id": customer_id, "customer_tier": customer["tier"], "order_ids": orders,
                             "channels": channels, "outbox_id": outbox_id})
        return {"notified": notified, "count": len(notified), "new_eta": req.new_eta.isoformat()}

    def _enqueue(self, conn: Conn, customer_id: str, channels: list[str], subject: str, body: str,
                 order_ids: list[str]) -> str:
        outbox_id = next_id(conn, "outbox", "outbox_id", "MSG-", 4)
        conn.execute("INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (outbox_id, customer_id, ",".join(channels), subject, body, json.dumps(order_ids),
                      self.today.isoformat(), now_utc()))
        return outbox_id

    def send_message(self, customer_id: str, subject: str, body: str, idempotency_key: str) -> dict[str, Any]:
        """Email one customer (e.g. a reply to a support ticket)."""
        req = validate(MessageRequest, {"customer_id": customer_id, "subject": subject, "body": body})
        req.customer_id = norm_id(req.customer_id)

        def write(conn: Conn) -> dict[str, Any]:
            customer = load_customer(conn, req.customer_id)
            outbox_id = self._enqueue(conn, customer["customer_id"], ["email"], req.subject, req.body, [])
            return {"outbox_id": outbox_id, "customer_id": customer["customer_id"], "channels": ["email"],
                    "subject": req.subject}
        return self._write("send_message", idempotency_key, req.model_dump(), write)

    def outbox(self, customer_id: str | None = None) -> dict[str, Any]:
        """Messages waiting in the outbox, optionally for one customer, oldest first."""
        def read(conn: Conn) -> dict[str, Any]:
            if customer_id:
                cid = load_customer(conn, customer_id)["customer_id"]
                rows = conn.execute("SELECT * FROM outbox WHERE customer_id = ? ORDER BY outbox_id", (cid,)).fetchall()
            else:
                rows = conn.execute("SELECT * FROM outbox ORDER BY outbox_id").fetchall()
            return {"messages": [_message(r) for r in rows], "count": len(rows)}
        return self._read("outbox", read)
