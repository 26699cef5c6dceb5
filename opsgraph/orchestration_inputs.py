"""Graph input for ``support_desk``, ``procurement_review`` and ``operations_director`` from CLI options or chat text.

Ids are checked against the mock enterprise before a run starts, so a typo is a one-line
error rather than a run that fails half-way. A purchase request is given as JSON or in words::

    --request '{"sku_id": "SKU-003", "quantity": 65, "dc_id": "DC-WEST", "preferred_supplier_id": "SUP-006"}'
    --request "65 units of SKU-003 for DC-WEST from SUP-006, needed by 2026-03-20"
"""

from __future__ import annotations

import json
import re
from typing import Any

from opsgraph.errors import UserError
from opsgraph.registry import checked_text, connector_errors_as_user_errors, found_id, supply_chain_input

MAX_QUANTITY = 100_000
REQUEST_KEYS = ("sku_id", "quantity", "dc_id", "needed_by", "preferred_supplier_id", "cost_center", "competitive_quotes",
                "notes")
_SKU = re.compile(r"\bSKU-\d{3}\b", re.IGNORECASE)
_DC = re.compile(r"\bDC-[A-Z]+\b", re.IGNORECASE)
_SUPPLIER = re.compile(r"\bSUP-\d{3}\b", re.IGNORECASE)
_COST_CENTER = re.compile(r"\bCC-[A-Z]+\b", re.IGNORECASE)
_DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")
# A quantity is a whole number of units. "1,500" and "1.500" (a comma or a dot before exactly
# three digits, repeated consistently) are thousands separators, as written in English and in
# much of Europe; "2.5" is a fraction, which is refused rather than read as 2 or 25.
_QUANTITY = re.compile(r"(?<![\d.,])(\d{1,3}(?:([,.])\d{3})(?:\2\d{3})*|\d{1,7})(?![\d]|[.,]\d)\s*"
                       r"(?:x\b|×|units?\b|pcs\b|pieces\b|of\b)", re.IGNORECASE)
_FRACTION = re.compile(r"(?<![\d.,])\d+[.,]\d{1,2}(?!\d)\s*(?:x\b|×|units?\b|pcs\b|pieces\b)", re.IGNORECASE)
_SHIPMENT = re.compile(r"\bSH-\d{4}\b", re.IGNORECASE)


def support_desk_input(options: dict[str, Any], world: Any) -> dict[str, Any]:
    """``--message '...' [--customer CUST-005]`` -> ``{"messages": [HumanMessage], "customer_id": ...}``."""
    from langchain_core.messages import HumanMessage

    text = checked_text(options.get("message") or options.get("event"), "the message")
    if not text:
        raise UserError("write the customer's message with --message, e.g. --message 'I was charged twice on INV-0001'")
    graph_input: dict[str, Any] = {"messages": [HumanMessage(content=text)]}
    customer = (options.get("customer") or "").strip().upper()
    if customer:
        with connector_errors_as_user_errors():
            world.crm.get_customer(customer)
        graph_input["customer_id"] = customer
    return graph_input


def support_desk_chat(text: str, world: Any) -> dict[str, Any]:
    """A chat line as the customer's next message (a new thread or the next turn of one)."""
    return support_desk_input({"message": text}, world)


def parse_purchase_request(text: str) -> dict[str, Any]:
    """A purchase request from JSON or from words; raises UserError when something essential is missing."""
    text = checked_text(text, "the purchase request")
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"--request is not valid JSON: {exc.msg} at position {exc.pos}") from None
        if not isinstance(data, dict):
            raise UserError("--request must be a JSON object with sku_id, quantity and dc_id")
        data = data.get("request", data) if isinstance(data.get("request"), dict) else data
        unknown = sorted(set(data) - set(REQUEST_KEYS))
        if unknown:
            raise UserError(f"unknown purchase request fields: {', '.join(unknown)}; use {', '.join(REQUEST_KEYS)}")
        return dict(data)
    found = {"sku_id": found_id(_SKU, text), "quantity": parse_quantity(text),
             "dc_id": found_id(_DC, text), "preferred_supplier_id": found_id(_SUPPLIER, text),
             "needed_by": found_id(_DATE, text), "cost_center": found_id(_COST_CENTER, text), "notes": text}
    return {k: v for k, v in found.items() if v is not None}


def parse_quantity(text: str) -> int | None:
    """The number of units in ``text`` ("1,500 units" -> 1500), or None; UserError for a fraction."""
    fraction = _FRACTION.search(text)
    if fraction:
        raise UserError(f"quantity must be a whole number of units, got {fraction.group(0).strip()!r}")
    match = _QUANTITY.search(text)
    return int(re.sub(r"[,.]", "", match.group(1))) if match else None


def validate_purchase_request(request: dict[str, Any], world: Any) -> dict[str, Any]:
    """The request with ids normalised, checked against the mock enterprise (raises UserError)."""
    missing = [k for k in ("sku_id", "quantity", "dc_id") if not request.get(k)]
    if missing:
        raise UserError(f"the purchase request needs {', '.join(missing)}, e.g. '65 units of SKU-003 for DC-WEST'")
    quantity = request["quantity"]
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
        raise UserError(f"quantity must be a whole number from 1 to {MAX_QUANTITY}, got {quantity!r}")
    clean = {**request, **{k: str(request[k]).strip().upper() for k in ("sku_id", "dc_id", "preferred_supplier_id",
                                                                        "cost_center") if request.get(k)}}
    with connector_errors_as_user_errors():
        stock = world.wms.check_stock(clean["sku_id"])
        if clean.get("preferred_supplier_id"):
            world.erp.get_supplier(clean["preferred_supplier_id"])
        if clean.get("cost_center"):
            world.erp.get_budget(clean["cost_center"])
    dcs = [row["dc_id"] for row in stock["stock"]]
    if clean["dc_id"] not in dcs:
        raise UserError(f"unknown dc {clean['dc_id']!r}; DC ids are {', '.join(dcs)}")
    return clean


def procurement_review_input(options: dict[str, Any], world: Any) -> dict[str, Any]:
    """``--request JSON-or-words`` -> ``{"request": {...}}``."""
    text = options.get("request") or options.get("event")
    if not (text or "").strip():
        raise UserError("describe the purchase with --request, e.g. --request '65 units of SKU-003 for DC-WEST "
                        "from SUP-006'")
    return {"request": validate_purchase_request(parse_purchase_request(text), world)}


def procurement_review_chat(text: str, world: Any) -> dict[str, Any]:
    """A chat line such as 'buy 100 x SKU-001 for DC-EAST from SUP-001' as ``procurement_review`` input."""
    return procurement_review_input({"request": text}, world)


def operations_director_input(options: dict[str, Any], world: Any) -> dict[str, Any]:
    """A shipment event (``--shipment/--delay-days/--event``) and/or a purchase request (``--request``)."""
    graph_input: dict[str, Any] = {}
    if options.get("shipment") or found_id(_SHIPMENT, options.get("event") or ""):
        graph_input |= supply_chain_input(options, world)
    if (options.get("request") or "").strip():
        graph_input["request"] = validate_purchase_request(parse_purchase_request(options["request"]), world)
    if not graph_input:
        raise UserError("give the director work: --shipment SH-0001 --delay-days 5 and/or --request "
                        "'200 units of SKU-001 for DC-EAST from SUP-001'")
    return graph_input


def operations_director_chat(text: str, world: Any) -> dict[str, Any]:
    """A chat line naming a late shipment (SH-...), a purchase (SKU-...), or both."""
    has_sku = bool(_SKU.search(text))
    options = {"event": text if _SHIPMENT.search(text) else None, "request": text if has_sku else None}
    return operations_director_input(options, world)


def director_title(graph_input: dict[str, Any]) -> str:
    """Run title of an ``operations_director`` run."""
    parts = []
    if graph_input.get("event"):
        parts.append(f"shipment {graph_input['event']['shipment_id']} +{graph_input['event']['delay_days']}d")
    if graph_input.get("request"):
        parts.append(request_title(graph_input))
    return "; ".join(parts)


def request_title(graph_input: dict[str, Any]) -> str:
    """Run title of a purchase request."""
    request = graph_input["request"]
    return f"buy {request['quantity']} x {request['sku_id']} -> {request['dc_id']}"


def support_title(graph_input: dict[str, Any]) -> str:
    """Run title of a support conversation: its first message."""
    text = str(graph_input["messages"][0].content)
    return text if len(text) <= 60 else text[:59] + "…"
