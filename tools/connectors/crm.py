"""CRM: customers, their sales orders, plans and support tickets."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from opsgraph.tools.connectors.base import (Conn, Connector, ValidationFailed, money, next_id, norm_id, not_found,
                                            priced_line, validate)

Plan = Literal["basic", "pro", "enterprise"]
TicketStatus = Literal["open", "pending", "resolved", "closed"]
TicketCategory = Literal["billing", "technical", "account"]


class PlanChange(BaseModel):
    """Move a customer to another subscription plan."""

    customer_id: str
    plan: Plan


class NewTicket(BaseModel):
    """A support ticket opened on behalf of a customer."""

    customer_id: str
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=5000)
    category: TicketCategory


class TicketUpdate(BaseModel):
    """A status change with a note on a ticket."""

    ticket_id: str
    status: TicketStatus
    note: str = Field(min_length=1, max_length=5000)


def load_customer(conn: Conn, customer_id: str) -> dict[str, Any]:
    """A customer's account with counts of open orders and tickets; raises NotFound."""
    row = conn.execute("SELECT * FROM customers WHERE customer_id = ?", (norm_id(customer_id),)).fetchone()
    if row is None:
        raise not_found("customer", customer_id)
    cid = row["customer_id"]
    open_orders = conn.execute("SELECT COUNT(*) FROM sales_orders WHERE customer_id = ? AND status = 'open'", (cid,))
    open_tickets = conn.execute("SELECT COUNT(*) FROM tickets WHERE customer_id = ? AND status IN ('open', 'pending')",
                                (cid,))
    return {"customer_id": cid, "name": row["name"], "email": row["email"], "tier": row["tier"], "plan": row["plan"],
            "region": row["region"], "customer_since": row["customer_since"],
            "open_orders": open_orders.fetchone()[0], "open_tickets": open_tickets.fetchone()[0]}


def load_order(conn: Conn, order_id: str) -> dict[str, Any]:
    """A sales order with lines, total and the customer's tier; raises NotFound."""
    row = conn.execute("SELECT o.*, c.name AS customer_name, c.tier AS customer_tier FROM sales_orders o JOIN "
                       "customers c ON c.customer_id = o.customer_id WHERE o.order_id = ?", (norm_id(order_id),)).fetchone()
    if row is None:
        raise not_found("order", order_id)
    lines = [{"sku_id": r["sku_id"], "sku_name": r["name"], **priced_line(r)} for r in conn.execute(
        "SELECT l.*, k.name FROM sales_order_lines l JOIN skus k ON k.sku_id = l.sku_id WHERE l.order_id = ? "
        "ORDER BY l.line_no", (row["order_id"],))]
    invoices = [r[0] for r in conn.execute("SELECT invoice_id FROM invoices WHERE order_id = ? ORDER BY invoice_id",
                                           (row["order_id"],))]
    header = {k: row[k] for k in ("order_id", "customer_id", "customer_name", "customer_tier", "dc_id", "status",
                                  "order_date", "promised_date")}
    return {**header, "lines": lines, "total_usd": money(sum(line["line_total"] for line in lines)),
            "invoice_ids": invoices}


def load_ticket(conn: Conn, ticket_id: str) -> dict[str, Any]:
    """A support ticket with its notes; raises NotFound."""
    row = conn.execute("SELECT t.*, c.tier AS customer_tier, c.plan AS customer_plan FROM tickets t JOIN customers c "
                       "ON c.customer_id = t.customer_id WHERE t.ticket_id = ?", (norm_id(ticket_id),)).fetchone()
    if row is None:
        raise not_found("ticket", ticket_id)
    notes = [dict(r) for r in conn.execute("SELECT note_no, status, note, business_date FROM ticket_notes "
                                           "WHERE ticket_id = ? ORDER BY note_no", (row["ticket_id"],))]
    return {**dict(row), "notes": notes}


class CRM(Connector):
    """Customer relationship management: accounts, orders, plans, support tickets."""

    system = "crm"
    operations = ("get_customer", "get_order", "list_orders", "change_plan", "get_ticket", "create_ticket",
                  "update_ticket", "customer_names")

    def get_customer(self, customer_id: str) -> dict[str, Any]:
        """A customer's account: tier, plan, region, contact, open orders and tickets."""
        return self._read("get_customer", lambda conn: load_customer(conn, customer_id))

    def customer_names(self) -> list[str]:
        """Every customer's name: what the PII masker recognises as a name without any cue word."""
        return self._read("customer_names", lambda conn: [r[0] for r in conn.execute("SELECT name FROM customers")])

    def get_order(self, order_id: str) -> dict[str, Any]:
        """A sales order with lines, DC, status and promised date."""
        return self._read("get_order", lambda conn: load_order(conn, order_id))

    def list_orders(self, customer_id: str) -> dict[str, Any]:
        """A customer's sales orders, newest first."""
        def read(conn: Conn) -> dict[str, Any]:
            customer = load_customer(conn, customer_id)
            rows = conn.execute(
                "SELECT o.order_id, o.dc_id, o.status, o.order_date, o.promised_date, "
                "ROUND(CAST(SUM(l.quantity * l.unit_price) AS NUMERIC), 2) AS total_usd "
                "FROM sales_orders o JOIN sales_order_lines l "
                "ON l.order_id = o.order_id WHERE o.customer_id = ? GROUP BY o.order_id "
                "ORDER BY o.order_date DESC, o.order_id DESC", (customer["customer_id"],)).fetchall()
            return {"customer_id": customer["customer_id"], "orders": [dict(r) for r in rows], "count": len(rows)}
        return self._read("list_orders", read)

    def change_plan(self, customer_id: str, plan: str, idempotency_key: str) -> dict[str, Any]:
        """Move a customer to the basic, pro or enterprise plan, effective today."""
        req = validate(PlanChange, {"customer_id": customer_id, "plan": plan})
        req.customer_id = norm_id(req.customer_id)
        return self._write("change_plan", idempotency_key, req.model_dump(), lambda conn: self._change(conn, req))

    def _change(self, conn: Conn, req: PlanChange) -> dict[str, Any]:
        customer = load_customer(conn, req.customer_id)
        if customer["plan"] == req.plan:
            raise ValidationFailed(f"customer {req.customer_id} is already on the {req.plan} plan; nothing to change")
        conn.execute("UPDATE customers SET plan = ? WHERE customer_id = ?", (req.plan, req.customer_id))
        # The next id is chosen as SQLite numbers a rowid (highest plus one), the same on Postgres.
        conn.execute("INSERT INTO plan_changes (change_id, customer_id, old_plan, new_plan, business_date) VALUES "
                     "((SELECT COALESCE(MAX(change_id), 0) + 1 FROM plan_changes), ?, ?, ?, ?)",
                     (req.customer_id, customer["plan"], req.plan, self.today.isoformat()))
        return {"customer_id": req.customer_id, "old_plan": customer["plan"], "new_plan": req.plan,
                "effective_date": self.today.isoformat()}

    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        """A support ticket with subject, body, status, priority, category and notes."""
        return self._read("get_ticket", lambda conn: load_ticket(conn, ticket_id))

    def create_ticket(self, customer_id: str, subject: str, body: str, category: str,
                      idempotency_key: str) -> dict[str, Any]:
        """Open a ticket for a customer; platinum and gold customers get high priority."""
        req = validate(NewTicket, {"customer_id": customer_id, "subject": subject, "body": body, "category": category})
        req.customer_id = norm_id(req.customer_id)
        return self._write("create_ticket", idempotency_key, req.model_dump(), lambda conn: self._open(conn, req))

    def _open(self, conn: Conn, req: NewTicket) -> dict[str, Any]:
        customer = load_customer(conn, req.customer_id)
        priority = "high" if customer["tier"] in ("platinum", "gold") else "normal"
        ticket_id = next_id(conn, "tickets", "ticket_id", "TCK-", 4)
        conn.execute("INSERT INTO tickets VALUES (?, ?, ?, ?, 'open', ?, ?, ?)",
                     (ticket_id, req.customer_id, req.subject, req.body, priority, req.category, self.today.isoformat()))
        return load_ticket(conn, ticket_id)

    def update_ticket(self, ticket_id: str, status: str, note: str, idempotency_key: str) -> dict[str, Any]:
        """Set a ticket's status (open, pending, resolved, closed) and add a note."""
        req = validate(TicketUpdate, {"ticket_id": ticket_id, "status": status, "note": note})
        req.ticket_id = norm_id(req.ticket_id)
        return self._write("update_ticket", idempotency_key, req.model_dump(), lambda conn: self._update(conn, req))

    def _update(self, conn: Conn, req: TicketUpdate) -> dict[str, Any]:
        ticket = load_ticket(conn, req.ticket_id)
        if ticket["status"] == "closed" and req.status != "closed":
            raise ValidationFailed(f"ticket {req.ticket_id} is closed; open a new ticket instead of reopening it")
        conn.execute("UPDATE tickets SET status = ? WHERE ticket_id = ?", (req.status, req.ticket_id))
        conn.execute("INSERT INTO ticket_notes VALUES (?, ?, ?, ?, ?)",
                     (req.ticket_id, len(ticket["notes"]) + 1, req.status, req.note, self.today.isoformat()))
        return load_ticket(conn, req.ticket_id)
