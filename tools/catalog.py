"""LangChain tools over the mock enterprise connectors.

Argument names match the keys the connectors return (``shipment_id``, ``lines``,
``transfers``, ``order_ids``, ``new_eta`` ...), so a proposal from one tool can be passed to
the next as is. Write tools take ``idempotency_key`` (and, for gated tools, ``approved_by``)
as injected arguments: they are in ``args_schema`` but not in ``tool_call_schema``, so a
model never sees them; the graph's tool executor adds them to the call args::

    tools = build_tools(world)
    tools["report_shipment_delay"].invoke(
        {"shipment_id": "SH-0001", "delay_days": 5, "reason": "port strike", "idempotency_key": "run-1:delay"})

Invalid arguments raise pydantic's ``ValidationError``; refused requests raise
:class:`tools.connectors.base.ConnectorError`. Either way nothing is written.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Callable, Literal

from langchain_core.tools import BaseTool, InjectedToolArg, StructuredTool
from pydantic import BaseModel, Field, field_validator

from opsgraph.tools.connectors.base import plain
from opsgraph.tools.tool_base import SharedSchemaTool

KEY_HELP = "Idempotency key added by the tool executor; never chosen by the model."
APPROVER_HELP = "Who approved this action, added by the approval gate; never chosen by the model."
APPROVAL_ID_HELP = "Which recorded approval this action carries, added by the approval gate; never chosen by the model."
IdempotencyKey = Annotated[str, InjectedToolArg]
Approver = Annotated[str | None, InjectedToolArg]
ApprovalId = Annotated[str | None, InjectedToolArg]


def _no_bool(value: Any) -> Any:
    # pydantic would read true as 1: a yes/no is never an amount or a quantity.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


def _id(what: str, example: str) -> Any:
    return Field(description=f"{what}, e.g. {example}.")


class ShipmentArgs(BaseModel):
    shipment_id: str = _id("Inbound shipment id", "SH-0001")


class DelayArgs(ShipmentArgs):
    delay_days: int = Field(ge=1, le=60, description="How many days later than its current ETA the shipment arrives (1-60).")
    reason: str = Field(min_length=1, max_length=500, description="Why it is late, e.g. 'port congestion in Hamburg'.")
    idempotency_key: IdempotencyKey = Field(description=KEY_HELP)


class RerouteArgs(ShipmentArgs):
    carrier_id: str = _id("Carrier id from get_reroute_options", "CAR-05")
    mode: Literal["ocean", "rail", "truck", "air"] = Field(description="Transport mode of the chosen option.")
    idempotency_key: IdempotencyKey = Field(description=KEY_HELP)


class SkuArgs(BaseModel):
    sku_id: str = _id("SKU id", "SKU-001")


class TransferItem(BaseModel):
    """One stock movement between two DCs."""

    sku_id: str = _id("SKU to move", "SKU-001")
    from_dc_id: str = _id("DC giving the stock", "DC-WEST")
    to_dc_id: str = _id("DC receiving the stock", "DC-EAST")
    quantity: int = Field(gt=0, le=100_000, description="Units to move (positive whole number).")


class TransferArgs(BaseModel):
    transfers: list[TransferItem] = Field(min_length=1, max_length=50,
                                          description="Transfers to apply together, e.g. from plan_replenishment.")
    idempotency_key: IdempotencyKey = Field(description=KEY_HELP)


class SupplierArgs(BaseModel):
    supplier_id: str = _id("Supplier id", "SUP-001")


class BudgetArgs(BaseModel):
    cost_center: str = Field("CC-OPS", description="Cost centre, e.g. CC-OPS (default), CC-LOG, CC-IT.")


class LineItem(BaseModel):
    """One purchase order line."""

    sku_id: str = _id("SKU to order", "SKU-001")
    quantity: int = Field(gt=0, le=100_000, description="Units to order (positive whole number).")

    _quantity_not_bool = field_validator("quantity", mode="before")(_no_bool)


class QuoteArgs(BaseModel):
    supplier_id: str = _id("Supplier to order from", "SUP-001")
    dc_id: str = _id("DC to deliver to", "DC-EAST")
    lines: list[LineItem] = Field(min_length=1, max_length=50, description="SKUs and quantities to order.")
    justification: str = Field("", max_length=2000, description="Why the purchase is needed.")
    expedite: bool = Field(False, description="True to ask the supplier for expedited delivery.")
    cost_center: str = Field("CC-OPS", description="Cost centre charged, e.g. CC-OPS (default).")


class CreatePurchaseOrderArgs(QuoteArgs):
    justification: str = Field(min_length=1, max_length=2000,
                               description="Why the purchase is needed (shortfall, affected orders, shipment).")
    idempotency_key: IdempotencyKey = Field(description=KEY_HELP)
    approved_by: Approver = Field(None, description=APPROVER_HELP)
    approval_id: ApprovalId = Field(None, description=APPROVAL_ID_HELP)


class PurchaseOrderArgs(BaseModel):
    po_id: str = _id("Purchase order id", "PO-00001")


class CustomerArgs(BaseModel):
    customer_id: str = _id("Customer id", "CUST-001")


class OrderArgs(BaseModel):
    order_id: str = _id("Sales order id", "SO-0001")


class PlanArgs(CustomerArgs):
    plan: Literal["basic", "pro", "enterprise"] = Field(description="The plan to move the customer to.")
    idempotency_key: IdempotencyKey = Field(description=KEY_HELP)


class TicketArgs(BaseModel):
    ticket_id: str = _id("Support ticket id", "TCK-0001")


class NewTicketArgs(CustomerArgs):
    subject: str = Field(min_length=1, max_length=200, description="One-line summary of the request.")
    body: str = Field(min_length=1, max_length=5000, description="The customer's request in full.")
    category: Literal["billing", "technical", "account"] = Field(description="Which team handles it.")
    idempotency_key: IdempotencyKey = Field(description=KEY_HELP)


class UpdateTicketArgs(TicketArgs):
    status: Literal["open", "pending", "resolved", "closed"] = Field(description="The ticket's new status.")
    note: str = Field(min_length=1, max_length=5000, description="What was done, or what the customer must do next.")
    idempotency_key: IdempotencyKey = Field(description=KEY_HELP)


class InvoiceArgs(BaseModel):
    invoice_id: str = _id("Invoice id", "INV-0001")


class RefundArgs(InvoiceArgs):
    amount_usd: float = Field(gt=0, le=1_000_000, description="Amount to refund in US dollars, e.g. 189.00.")

    _amount_not_bool = field_validator("amount_usd", mode="before")(_no_bool)
    reason: str = Field(min_length=1, max_length=1000, description="Why the refund is due, e.g. 'duplicate charge'.")
    idempotency_key: IdempotencyKey = Field(description=KEY_HELP)
    approved_by: Approver = Field(None, description=APPROVER_HELP)
    approval_id: ApprovalId = Field(None, description=APPROVAL_ID_HELP)


class NotifyArgs(BaseModel):
    order_ids: list[str] = Field(min_length=1, max_length=200,
                                 description="Sales order ids whose customers to notify, e.g. ['SO-0001', 'SO-0002'].")
    new_eta: date = Field(description="The new expected date, YYYY-MM-DD, e.g. 2026-03-09.")
    reason: str = Field("", max_length=1000, description="Short reason for the delay, shown to the customer.")
    idempotency_key: IdempotencyKey = Field(description=KEY_HELP)


class MessageArgs(CustomerArgs):
    subject: str = Field(min_length=1, max_length=200, description="Subject line.")
    body: str = Field(min_length=1, max_length=5000, description="Message text.")
    idempotency_key: IdempotencyKey = Field(description=KEY_HELP)


DESCRIPTIONS: dict[str, str] = {
    "get_shipment": (
        "Look up an inbound shipment in the transport management system (TMS) by id, e.g. SH-0001. Returns its status "
        "(in_transit, delayed, delivered), destination dc_id, current eta and original_eta, supplier, carrier_name, mode "
        "and the lines (sku_id, quantity) it carries. Use it first when a shipment is mentioned, to learn which DC and "
        "SKUs a delay touches."),
    "report_shipment_delay": (
        "Record in the TMS that an inbound shipment arrives delay_days later than its current ETA (1-60 days), and why. "
        "Moves the ETA, marks the shipment delayed and returns old_eta, new_eta and delay_days. Record a reported delay "
        "once, before assessing impact, so find_affected_orders and plan_replenishment work from the new ETA."),
    "get_reroute_options": (
        "List faster ways to bring an inbound shipment in: carrier/mode combinations (truck, rail or air) with days_saved, "
        "the resulting new_eta and cost_usd, best first. Read-only. Book one with book_reroute only when the days saved "
        "justify the freight cost."),
    "book_reroute": (
        "Move an inbound shipment to one of the carrier/mode options returned by get_reroute_options. The ETA moves up "
        "by that option's days_saved and its cost_usd is incurred. Refused when the carrier/mode is not currently an "
        "option for the shipment."),
    "check_stock": (
        "Stock of one SKU (e.g. SKU-001) at every distribution centre (DC-EAST, DC-WEST, DC-CENTRAL, DC-SOUTH): on_hand, "
        "reserved, available (on hand minus reserved) and reorder_point. Use it to see whether another DC could cover "
        "a shortage."),
    "find_affected_orders": (
        "Find the open sales orders a late inbound shipment puts at risk: orders at the shipment's DC that need its SKUs, "
        "are promised before its current (delayed) ETA and cannot be served from available stock. Returns "
        "affected_orders (order_id, customer_id, customer_tier, sku_id, quantity, short_quantity, promised_date), the "
        "distinct order_ids and customer_ids, the new_eta and the shortfall per SKU. Record the delay first so the ETA "
        "is current."),
    "plan_replenishment": (
        "Propose how to cover the shortfall a late inbound shipment causes, without changing anything: first transfers "
        "(sku_id, from_dc_id, to_dc_id, quantity) from DCs with spare stock above their reorder point, then expedite "
        "purchase_orders for the rest, one per supplier, each with supplier_id, dc_id, lines (sku_id, quantity), "
        "estimated_total_usd, expedite and justification, from the approved supplier with the best price for its "
        "reliability; uncovered lists what no approved supplier sells. Carry the plan out with transfer_stock and "
        "create_purchase_order."),
    "transfer_stock": (
        "Move stock between distribution centres, e.g. the transfers proposed by plan_replenishment. Each transfer has "
        "sku_id, from_dc_id, to_dc_id and quantity. All transfers in one call are applied together or not at all; a "
        "transfer larger than the source DC's available stock is refused. Returns a transfer_id per move."),
    "list_suppliers": (
        "Suppliers that sell a SKU, cheapest first, with unit_price, lead_time_days, approved (only approved suppliers "
        "may receive purchase orders), reliability (share of on-time deliveries, 0-1), esg_score (0-100) and "
        "financial_health (0-100). Use it to compare quotes or find an alternate supplier."),
    "get_supplier": (
        "Profile of one supplier, e.g. SUP-001: country, category, approved flag, reliability, esg_score, "
        "financial_health, lead time, quarterly performance history (deliveries, on-time deliveries, defect rate) with "
        "the aggregated on_time_rate and defect_rate, and its number of open purchase orders. Use it for compliance and "
        "supplier-risk checks."),
    "get_budget": (
        "Budget of a cost centre for the current period (default CC-OPS; others are CC-LOG, CC-IT, CC-FIN and CC-MKT): "
        "amount_usd, spent_usd and remaining_usd. Check it before raising a purchase order."),
    "quote_purchase_order": (
        "Price a purchase order from the supplier's price list without creating it: returns the lines with unit_price "
        "and line_total, total_usd, whether the supplier is approved, the lead time and expected_date. Checks that the "
        "supplier, DC, cost centre and SKUs exist and that the supplier sells each SKU. Use it to check a proposal "
        "against approval thresholds and the budget."),
    "create_purchase_order": (
        "Issue a purchase order in the ERP, e.g. one proposed by plan_replenishment: supplier_id, dc_id, lines "
        "(sku_id, quantity), a justification, expedite, and the cost_center to charge (default CC-OPS). Prices come from "
        "the supplier's price list and the total is charged to the cost centre's budget. Refused for unapproved "
        "suppliers, SKUs the supplier does not sell, or a total above the remaining budget. Orders above the policy "
        "threshold wait for a human approval before they are issued. Returns po_id, total_usd and status 'issued'."),
    "get_purchase_order": (
        "A purchase order, e.g. PO-00001, with supplier, DC, status (issued, received, cancelled), total_usd, lines, "
        "justification, approver and order and expected dates."),
    "get_customer": (
        "A customer account, e.g. CUST-001: name, email, tier (platinum, gold, silver, bronze), plan (basic, pro, "
        "enterprise), region, and counts of open orders and open tickets. The tier decides service levels and "
        "notification channels."),
    "get_order": (
        "A sales order, e.g. SO-0001, with customer_id, customer_tier, the shipping dc_id, status (open, shipped, "
        "delivered), order and promised dates, lines with prices, total_usd and invoice_ids."),
    "list_orders": "All sales orders of a customer, newest first, with status, DC, order and promised dates and total_usd.",
    "change_plan": (
        "Move a customer to another subscription plan (basic, pro or enterprise), effective today. Returns old_plan and "
        "new_plan. Refused when the customer is already on that plan."),
    "get_ticket": (
        "A support ticket, e.g. TCK-0001, with customer, subject, body, status, priority, category (billing, technical, "
        "account), the customer's tier and plan, and the notes added so far."),
    "create_ticket": (
        "Open a support ticket for a customer with a subject, body and category (billing, technical or account). "
        "Platinum and gold customers get high priority. Returns the new ticket with its ticket_id."),
    "update_ticket": (
        "Set a support ticket's status (open, pending, resolved or closed) and add a note saying what was done or what "
        "the customer must do next. A closed ticket cannot be reopened."),
    "get_invoice": (
        "An invoice, e.g. INV-0001, with customer, order, amount_usd, status (open, paid, disputed, refunded, "
        "partially_refunded), dispute_reason and disputed_usd, the payments received, refunds already issued and "
        "refundable_usd (payments minus refunds). Read it before issuing a refund."),
    "list_invoices": "All invoices of a customer, newest first, with amount_usd, status and issue and due dates.",
    "issue_refund": (
        "Refund amount_usd to a customer against an invoice, with a reason such as a duplicate charge. Refused above "
        "the invoice's refundable_usd. Refunds above the policy's automatic limit wait for a human approval before they "
        "are issued. Returns refund_id, the invoice's new status and the refundable_usd left."),
    "notify_customers": (
        "Tell the customers behind a list of sales orders (order_ids, e.g. from find_affected_orders) that their goods "
        "arrive later, with the new_eta (YYYY-MM-DD) and an optional reason. Sends one message per distinct customer "
        "covering all of their orders: email for everyone, plus SMS for platinum and gold customers. Returns who was "
        "notified, on which channels, with outbox ids."),
    "send_message": (
        "Email one customer a message with a subject and body, e.g. a reply to their support ticket with next steps. "
        "Returns the outbox_id."),
}


def _tool(name: str, system: str, schema: type[BaseModel], fn: Callable[..., dict[str, Any]], *,
          writes: bool = False, approval: str | None = None) -> StructuredTool:
    def run(**kwargs: Any) -> dict[str, Any]:
        # Nested arguments arrive as pydantic models; connectors take plain data.
        return fn(**plain(kwargs))

    metadata: dict[str, Any] = {"system": system, "writes": writes}
    if approval:
        metadata["approval"] = approval
    return SharedSchemaTool.from_function(func=run, name=name, description=DESCRIPTIONS[name], args_schema=schema,
                                          metadata=metadata)


def _logistics_tools(world: Any, policy: Any = None) -> list[StructuredTool]:
    tms, wms = world.tms, world.wms
    # Expedite orders obey the same supplier minimums as any purchase order (procurement policy).
    standards = {} if policy is None else {
        "min_reliability": float(policy.get("procurement.min_supplier_reliability")),
        "min_esg_score": float(policy.get("procurement.min_esg_score"))}

    def plan_replenishment(shipment_id: str) -> dict[str, Any]:
        return wms.plan_replenishment(shipment_id, **standards)

    return [
        _tool("get_shipment", "tms", ShipmentArgs, tms.get_shipment),
        _tool("report_shipment_delay", "tms", DelayArgs, tms.report_shipment_delay, writes=True),
        _tool("get_reroute_options", "tms", ShipmentArgs, tms.get_reroute_options),
        _tool("book_reroute", "tms", RerouteArgs, tms.book_reroute, writes=True),
        _tool("check_stock", "wms", SkuArgs, wms.check_stock),
        _tool("find_affected_orders", "wms", ShipmentArgs, wms.find_affected_orders),
        _tool("plan_replenishment", "wms", ShipmentArgs, plan_replenishment),
        _tool("transfer_stock", "wms", TransferArgs, wms.transfer_stock, writes=True),
    ]


def approval_limits(policy: Any) -> dict[str, Any]:
    """Limits the write tools hand to their connectors (checked inside the write transaction).

    Without a policy (tools built for direct use) connectors leave approvals to the caller.
    With one, a limit that is missing or not a usable number becomes 0: every write needs a human.
    """
    if policy is None:
        return {"refund": None, "purchase_order": None, "window_days": 14}
    from opsgraph.governance.approvals import RULES, read_limit, split_window_days

    return {"refund": read_limit(policy, RULES["refund"]) or 0.0,
            "purchase_order": read_limit(policy, RULES["purchase_order"]) or 0.0,
            "window_days": split_window_days(policy)}


def _procurement_tools(world: Any, limits: dict[str, Any]) -> list[StructuredTool]:
    erp = world.erp

    def create(*, idempotency_key: str, approved_by: str | None = None, approval_id: str | None = None,
               **req: Any) -> dict[str, Any]:
        return erp.create_purchase_order(req, idempotency_key, approved_by=approved_by, approval_id=approval_id,
                                         threshold_usd=limits["purchase_order"], window_days=limits["window_days"])

    return [
        _tool("list_suppliers", "erp", SkuArgs, erp.list_suppliers),
        _tool("get_supplier", "erp", SupplierArgs, erp.get_supplier),
        _tool("get_budget", "erp", BudgetArgs, erp.get_budget),
        _tool("quote_purchase_order", "erp", QuoteArgs, lambda **req: erp.quote_purchase_order(req)),
        _tool("create_purchase_order", "erp", CreatePurchaseOrderArgs, create, writes=True, approval="purchase_order"),
        _tool("get_purchase_order", "erp", PurchaseOrderArgs, erp.get_purchase_order),
    ]


def _customer_tools(world: Any, limits: dict[str, Any]) -> list[StructuredTool]:
    crm, billing, notifications = world.crm, world.billing, world.notifications

    def refund(*, idempotency_key: str, approved_by: str | None = None, approval_id: str | None = None,
               **req: Any) -> dict[str, Any]:
        return billing.issue_refund(**req, idempotency_key=idempotency_key, approved_by=approved_by,
                                    approval_id=approval_id, auto_limit_usd=limits["refund"])
    return [
        _tool("get_customer", "crm", CustomerArgs, crm.get_customer),
        _tool("get_order", "crm", OrderArgs, crm.get_order),
        _tool("list_orders", "crm", CustomerArgs, crm.list_orders),
        _tool("change_plan", "crm", PlanArgs, crm.change_plan, writes=True),
        _tool("get_ticket", "crm", TicketArgs, crm.get_ticket),
        _tool("create_ticket", "crm", NewTicketArgs, crm.create_ticket, writes=True),
        _tool("update_ticket", "crm", UpdateTicketArgs, crm.update_ticket, writes=True),
        _tool("get_invoice", "billing", InvoiceArgs, billing.get_invoice),
        _tool("list_invoices", "billing", CustomerArgs, billing.list_invoices),
        _tool("issue_refund", "billing", RefundArgs, refund, writes=True, approval="refund"),
        _tool("notify_customers", "notifications", NotifyArgs, notifications.notify_customers, writes=True),
        _tool("send_message", "notifications", MessageArgs, notifications.send_message, writes=True),
    ]


def build_tools(world: Any, policy: Any = None) -> dict[str, BaseTool]:
    """One LangChain tool per connector operation an agent uses, keyed by tool name.

    With ``policy``, the review tools (contracts, supplier risk scores) and the purchasing
    tools (draft and check a purchase order) are included too: their thresholds come from it,
    and ``plan_replenishment`` proposes purchase orders only from suppliers that meet its
    reliability and ESG minimums.
    """
    limits = approval_limits(policy)
    tools = _logistics_tools(world, policy) + _procurement_tools(world, limits) + _customer_tools(world, limits)
    if policy is not None:
        from opsgraph.tools.purchasing import build_purchasing_tools
        from opsgraph.tools.review_tools import build_review_tools

        tools += build_review_tools(world, policy)
        tools += build_purchasing_tools(world, policy)
        from opsgraph.tools.demand_tools import build_demand_tools

        tools += build_demand_tools(world, policy)
        from opsgraph.tools.production_tools import build_production_tools

        tools += build_production_tools(world, policy)
        from opsgraph.tools.payables_tools import build_payables_tools

        tools += build_payables_tools(world, policy)
    return {tool.name: tool for tool in tools}
