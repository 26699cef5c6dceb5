"""Transport management: inbound shipments, delays, reroute options and bookings."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from opsgraph.tools.connectors.base import (Conn, Connector, ValidationFailed, money, norm_id, not_found, now_utc,
                                            validate)

Mode = Literal["ocean", "rail", "truck", "air"]
SPEED_RANK = {"ocean": 0, "rail": 1, "truck": 2, "air": 3}
# Each step up in speed saves about two days of transit; freight is priced per kilogram.
DAYS_PER_SPEED_STEP = 2
RATE_PER_KG = {"ocean": 0.12, "rail": 0.35, "truck": 0.85, "air": 4.20}
# Land modes only make sense when the goods start on the same continent as the DCs.
LAND_COUNTRIES = frozenset({"US", "CA", "MX"})


class DelayRequest(BaseModel):
    """A reported delay of an inbound shipment."""

    shipment_id: str
    delay_days: int = Field(ge=1, le=60)
    reason: str = Field(min_length=1, max_length=500)


class RerouteRequest(BaseModel):
    """Moving a shipment to a faster carrier/mode."""

    shipment_id: str
    carrier_id: str
    mode: Mode


def load_shipment(conn: Conn, shipment_id: str) -> dict[str, Any]:
    """A shipment with carrier, supplier and lines; raises NotFound."""
    row = conn.execute(
        "SELECT s.*, c.name AS carrier_name, p.name AS supplier_name FROM shipments s "
        "JOIN carriers c ON c.carrier_id = s.carrier_id JOIN suppliers p ON p.supplier_id = s.supplier_id "
        "WHERE s.shipment_id = ?", (norm_id(shipment_id),)).fetchone()
    if row is None:
        raise not_found("shipment", shipment_id)
    lines = conn.execute(
        "SELECT l.sku_id, k.name AS sku_name, l.quantity, k.weight_kg FROM shipment_lines l "
        "JOIN skus k ON k.sku_id = l.sku_id WHERE l.shipment_id = ? ORDER BY l.line_no", (row["shipment_id"],)).fetchall()
    return {
        "shipment_id": row["shipment_id"], "status": row["status"], "dc_id": row["dc_id"],
        "eta": row["eta"], "original_eta": row["original_eta"], "total_delay_days": row["delay_days"],
        "delay_reason": row["delay_reason"], "supplier_id": row["supplier_id"], "supplier_name": row["supplier_name"],
        "carrier_id": row["carrier_id"], "carrier_name": row["carrier_name"], "mode": row["mode"],
        "origin": row["origin"], "origin_country": row["origin_country"],
        "total_weight_kg": round(sum(line["quantity"] * line["weight_kg"] for line in lines), 1),
        "lines": [{"sku_id": line["sku_id"], "sku_name": line["sku_name"], "quantity": line["quantity"]} for line in lines],
    }


def load_carrier(conn: Conn, carrier_id: str) -> dict[str, Any]:
    """A carrier with its modes; raises NotFound."""
    row = conn.execute("SELECT * FROM carriers WHERE carrier_id = ?", (norm_id(carrier_id),)).fetchone()
    if row is None:
        raise not_found("carrier", carrier_id)
    return {"carrier_id": row["carrier_id"], "carrier_name": row["name"], "on_time_rate": row["on_time_rate"],
            "modes": row["modes"].split(","), "base_fee_usd": row["base_fee_usd"]}


def reroute_options(conn: Conn, shipment: dict[str, Any], today: date) -> list[dict[str, Any]]:
    """Faster carrier/mode combinations for a shipment still on its way, best first."""
    if shipment["status"] == "delivered":
        raise ValidationFailed(f"shipment {shipment['shipment_id']} was delivered on {shipment['eta']}; "
                               "only in-transit or delayed shipments can be rerouted")
    eta = date.fromisoformat(shipment["eta"])
    remaining = (eta - today).days
    options = []
    for carrier in conn.execute("SELECT * FROM carriers ORDER BY carrier_id"):
        for mode in carrier["modes"].split(","):
            saved = _days_saved(shipment, mode, remaining)
            if saved <= 0:
                continue
            cost = shipment["total_weight_kg"] * RATE_PER_KG[mode] + carrier["base_fee_usd"]
            options.append({"carrier_id": carrier["carrier_id"], "carrier_name": carrier["name"], "mode": mode,
                            "days_saved": saved, "new_eta": (eta - timedelta(days=saved)).isoformat(),
                            "cost_usd": money(cost), "on_time_rate": carrier["on_time_rate"]})
    return sorted(options, key=lambda o: (-o["days_saved"], o["cost_usd"], o["carrier_id"]))


def _days_saved(shipment: dict[str, Any], mode: str, remaining: int) -> int:
    steps = SPEED_RANK[mode] - SPEED_RANK[shipment["mode"]]
    if steps <= 0 or (mode in ("rail", "truck") and shipment["origin_country"] not in LAND_COUNTRIES):
        return 0
    # Goods cannot arrive before tomorrow, whatever the mode.
    return max(0, min(steps * DAYS_PER_SPEED_STEP, remaining - 1))


def record_event(conn: Conn, shipment_id: str, kind: str, detail: dict[str, Any], today: date) -> None:
    """Append to a shipment's history (delays, reroutes)."""
    # The next id is chosen as SQLite numbers a rowid (highest plus one), the same on Postgres.
    conn.execute(
        "INSERT INTO shipment_events (event_id, shipment_id, kind, detail, business_date, created_at) VALUES "
        "((SELECT COALESCE(MAX(event_id), 0) + 1 FROM shipment_events), ?, ?, ?, ?, ?)",
        (shipment_id, kind, json.dumps(detail, sort_keys=True), today.isoformat(), now_utc()))


class TMS(Connector):
    """Transport management system: where inbound goods are and when they arrive."""

    system = "tms"
    operations = ("get_shipment", "report_shipment_delay", "get_reroute_options", "book_reroute")

    def get_shipment(self, shipment_id: str) -> dict[str, Any]:
        """A shipment with supplier, carrier, mode, DC, status, ETA and lines."""
        return self._read("get_shipment", lambda conn: load_shipment(conn, shipment_id))

    def report_shipment_delay(self, shipment_id: str, delay_days: int, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Push a shipment's ETA back by ``delay_days`` (1..60) and mark it delayed."""
        req = validate(DelayRequest, {"shipment_id": shipment_id, "delay_days": delay_days, "reason": reason})
        req.shipment_id = norm_id(req.shipment_id)
        return self._write("report_shipment_delay", idempotency_key, req.model_dump(),
                           lambda conn: self._apply_delay(conn, req))

    def _apply_delay(self, conn: Conn, req: DelayRequest) -> dict[str, Any]:
        shipment = load_shipment(conn, req.shipment_id)
        if shipment["status"] == "delivered":
            raise ValidationFailed(f"shipment {req.shipment_id} was delivered on {shipment['eta']}; "
                                   "a delivered shipment cannot be delayed")
        new_eta = (date.fromisoformat(shipment["eta"]) + timedelta(days=req.delay_days)).isoformat()
        conn.execute("UPDATE shipments SET eta = ?, status = 'delayed', delay_days = delay_days + ?, delay_reason = ? "
                     "WHERE shipment_id = ?", (new_eta, req.delay_days, req.reason, req.shipment_id))
        result = {"shipment_id": req.shipment_id, "dc_id": shipment["dc_id"], "old_eta": shipment["eta"],
                  "new_eta": new_eta, "delay_days": req.delay_days, "reason": req.reason, "status": "delayed"}
        record_event(conn, req.shipment_id, "delay", result, self.today)
        return result

    def get_reroute_options(self, shipment_id: str) -> dict[str, Any]:
        """Faster carrier/mode options with days saved and cost."""
        def read(conn: Conn) -> dict[str, Any]:
            shipment = load_shipment(conn, shipment_id)
            options = reroute_options(conn, shipment, self.today)
            result = {"shipment_id": shipment["shipment_id"], "current_mode": shipment["mode"],
                      "carrier_id": shipment["carrier_id"], "eta": shipment["eta"], "options": options}
            if not options:
                result["note"] = "no faster option: the shipment is already on the fastest feasible mode or due tomorrow"
            return result
        return self._read("get_reroute_options", read)

    def book_reroute(self, shipment_id: str, carrier_id: str, mode: str, idempotency_key: str) -> dict[str, Any]:
        """Move a shipment to one of its reroute options; the ETA moves up by the option's days saved."""
        req = validate(RerouteRequest, {"shipment_id": shipment_id, "carrier_id": carrier_id, "mode": mode})
        req.shipment_id, req.carrier_id = norm_id(req.shipment_id), norm_id(req.carrier_id)
        return self._write("book_reroute", idempotency_key, req.model_dump(), lambda conn: self._apply_reroute(conn, req))

    def _apply_reroute(self, conn: Conn, req: RerouteRequest) -> dict[str, Any]:
        shipment = load_shipment(conn, req.shipment_id)
        load_carrier(conn, req.carrier_id)
        options = reroute_options(conn, shipment, self.today)
        chosen = next((o for o in options if o["carrier_id"] == req.carrier_id and o["mode"] == req.mode), None)
        if chosen is None:
            offered = ", ".join(f"{o['carrier_id']}/{o['mode']}" for o in options) or "none"
            raise ValidationFailed(f"{req.carrier_id}/{req.mode} is not a reroute option for {req.shipment_id}; "
                                   f"options: {offered} (see get_reroute_options)")
        status = "delayed" if chosen["new_eta"] > shipment["original_eta"] else "in_transit"
        conn.execute("UPDATE shipments SET carrier_id = ?, mode = ?, eta = ?, status = ? WHERE shipment_id = ?",
                     (req.carrier_id, req.mode, chosen["new_eta"], status, req.shipment_id))
        result = {"shipment_id": req.shipment_id, "carrier_id": req.carrier_id, "carrier_name": chosen["carrier_name"],
                  "mode": req.mode, "old_eta": shipment["eta"], "new_eta": chosen["new_eta"],
                  "days_saved": chosen["days_saved"], "cost_usd": chosen["cost_usd"], "status": status}
        record_event(conn, req.shipment_id, "reroute", result, self.today)
        return result
