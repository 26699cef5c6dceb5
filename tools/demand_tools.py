"""LangChain tools of the demand sensing workflow: read the feeds, compute, propose orders.

Every number an agent puts on the demand board comes out of one of these tools (arithmetic in
``demand_math.py``); thresholds (service level, review period, supplier minimums) come from
policy.yaml when the tools are built. Free text in the feeds (event notes) is passed through as
data and never changes a number::

    tools = {t.name: t for t in build_demand_tools(world, policy)}
    tools["forecast_demand"].invoke({"sku_id": "SKU-001"})
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from opsgraph.tools import demand_math as dm
from opsgraph.tools.connectors.base import NotFound, ValidationFailed
from opsgraph.tools.tool_base import SharedSchemaTool


class DemandSkuArgs(BaseModel):
    sku_id: str = Field(description="SKU id with a sales history, e.g. SKU-001.")


class ForecastArgs(DemandSkuArgs):
    method: Literal["trend", "moving_average"] = Field(
        "trend", description="trend (least-squares line, default) or moving_average (last 28 clean days).")


class ForecastRow(BaseModel):
    dc_id: str = Field(description="DC id, e.g. DC-EAST.")
    daily: float = Field(ge=0, description="Forecast units per day.")
    sigma_daily: float = Field(ge=0, description="Standard deviation of daily demand.")


class SafetyStockArgs(DemandSkuArgs):
    forecast: list[ForecastRow] = Field(min_length=1, max_length=10, description="The board's forecast rows.")


class TargetRow(BaseModel):
    dc_id: str = Field(description="DC id, e.g. DC-EAST.")
    reorder_point: int = Field(ge=0, description="Reorder point in units.")
    order_up_to: int = Field(ge=0, description="Order-up-to level in units.")


class OrderPlanArgs(DemandSkuArgs):
    safety_stock: list[TargetRow] = Field(min_length=1, max_length=10, description="The board's safety stock rows.")


DESCRIPTIONS = {
    "detect_demand_signals": "Read the point-of-sale, promotions and weather/event feeds of a SKU and report the "
                             "signals per DC: trend, stock-out days (censored), dated event impact, conflicts.",
    "forecast_demand": "Forecast the daily demand of a SKU per DC for the next 14 days from its sales history "
                       "(stock-out and campaign days excluded) and dated events; method trend or moving_average.",
    "plan_promotion_uplift": "Check the promotions calendar of a SKU for a campaign starting in the next 14 days, "
                             "measure the uplift of its past campaigns and return the forecast adjusted for it.",
    "compute_safety_stock": "Compute safety stock, reorder point and order-up-to level per DC from the board's "
                            "forecast rows, the preferred supplier's lead time and the policy service level.",
    "plan_purchase_orders": "Propose purchase orders for the DCs at or below their reorder point from the board's "
                            "safety stock rows, current stock and the preferred eligible supplier.",
}


class DemandTools:
    """The computations behind the tools, bound to one world and policy."""

    def __init__(self, world: Any, policy: Any) -> None:
        self.world, self.policy = world, policy

    def _setting(self, path: str, default: Any) -> Any:
        try:
            return self.policy.get(path) if self.policy is not None else default
        except Exception:  # noqa: BLE001 - tools built without the setting use the documented default
            return default

    def _feeds(self, sku_id: str) -> tuple[str, dict, list, list]:
        history = self.world.demand.sales_history(sku_id)
        promos = self.world.demand.promotions(sku_id)["promotions"]
        events = self.world.demand.events(sku_id)["events"]
        return history["sku_id"], history["dcs"], promos, events

    def signals(self, sku_id: str) -> dict[str, Any]:
        sku, history, promos, events = self._feeds(sku_id)
        rows = dm.signals(history, promos, events, self.world.today)
        notes = [{"event_id": e["event_id"], "dc_id": e["dc_id"], "note": e["note"], "untrusted_text": True}
                 for e in events]
        return {"sku_id": sku, "as_of": self.world.today.isoformat(), "signals": rows, "event_notes": notes,
                "conflicting_dcs": [r["dc_id"] for r in rows if r["conflicting"]]}

    def forecast(self, sku_id: str, method: str = "trend") -> dict[str, Any]:
        sku, history, promos, events = self._feeds(sku_id)
        rows = dm.forecast_rows(history, promos, events, self.world.today, method)
        return {"sku_id": sku, "method": method, "horizon_days": dm.HORIZON_DAYS, "forecast": rows}

    def promotion(self, sku_id: str) -> dict[str, Any]:
        sku, history, promos, events = self._feeds(sku_id)
        today = self.world.today.isoformat()
        starting = [p for p in promos if p["start_date"] >= today and dm.overlap_share(
            p["start_date"], p["end_date"], self.world.today) > 0]
        past = [p for p in promos if p["end_date"] < today]
        lifts = [u for u in (dm.measured_uplift(history, p) for p in past) if u is not None]
        uplift = round(sum(lifts) / len(lifts), 1) if lifts else 0.0
        if not starting:
            return {"sku_id": sku, "campaign": None, "uplift_pct": 0.0, "measured_from": [], "forecast": None}
        share = dm.overlap_share(starting[0]["start_date"], starting[0]["end_date"], self.world.today)
        rows = dm.forecast_rows(history, promos, events, self.world.today, "trend", round(uplift * share, 2))
        return {"sku_id": sku, "campaign": starting[0], "uplift_pct": uplift, "horizon_share": round(share, 3),
                "measured_from": [p["promo_id"] for p in past], "forecast": rows}

    def supplier(self, sku_id: str) -> dict[str, Any]:
        """The cheapest supplier that meets the procurement minimums (approved, reliability, ESG)."""
        offers = self.world.demand.lead_times(sku_id)["lead_times"]
        min_rel = float(self._setting("procurement.min_supplier_reliability", 0.8))
        min_esg = float(self._setting("procurement.min_esg_score", 50))
        eligible = [o for o in offers if o["approved"] and o["reliability"] >= min_rel and o["esg_score"] >= min_esg]
        if not eligible:
            raise NotFound(f"no eligible supplier with a lead-time record for {sku_id}")
        return min(eligible, key=lambda o: (o["unit_price"], o["lead_time_days"], o["supplier_id"]))

    def _available(self, sku_id: str) -> dict[str, int]:
        return {s["dc_id"]: int(s["available"]) for s in self.world.wms.check_stock(sku_id)["stock"]}

    def safety_stock(self, sku_id: str, forecast: list[dict[str, Any]]) -> dict[str, Any]:
        level = float(self._setting("demand_sensing.service_level", 0.95))
        review = int(self._setting("demand_sensing.review_period_days", 7))
        supplier = self.supplier(sku_id)
        z, lead = dm.z_value(level), float(supplier["lead_time_days"])
        stock = self._available(sku_id)
        rows = [dm.stock_targets(r, z, lead, review, stock.get(r["dc_id"], 0)) for r in forecast]
        return {"sku_id": sku_id.upper(), "service_level": level, "z": z, "supplier_id": supplier["supplier_id"],
                "lead_time_days": lead, "review_period_days": review, "safety_stock": rows}

    def order_plan(self, sku_id: str, safety_stock: list[dict[str, Any]]) -> dict[str, Any]:
        supplier, stock = self.supplier(sku_id), self._available(sku_id)
        orders, skipped = [], []
        for row in safety_stock:
            available = stock.get(row["dc_id"], 0)
            quantity = dm.order_quantity(row, available)
            if not quantity:
                skipped.append(row["dc_id"])
                continue
            orders.append({"supplier_id": supplier["supplier_id"], "dc_id": row["dc_id"],
                           "lines": [{"sku_id": sku_id.upper(), "quantity": quantity}],
                           "estimated_usd": round(quantity * supplier["unit_price"], 2),
                           "justification": f"{row['dc_id']} has {available} available, at or below its reorder "
                                            f"point {row['reorder_point']}; order up to {row['order_up_to']}."})
        return {"sku_id": sku_id.upper(), "purchase_orders": orders, "no_order_needed": skipped}


def build_demand_tools(world: Any, policy: Any = None) -> list[StructuredTool]:
    """The five demand sensing tools over ``world`` with thresholds from ``policy``."""
    impl = DemandTools(world, policy)

    def tool(name: str, schema: type[BaseModel], fn: Any) -> StructuredTool:
        def run(**kwargs: Any) -> dict[str, Any]:
            plain = {k: ([v.model_dump() if isinstance(v, BaseModel) else v for v in val] if isinstance(val, list)
                         else val) for k, val in kwargs.items()}
            return fn(**plain)

        return SharedSchemaTool.from_function(func=run, name=name, description=DESCRIPTIONS[name], args_schema=schema,
                                              metadata={"system": "demand", "writes": False})

    return [tool("detect_demand_signals", DemandSkuArgs, impl.signals),
            tool("forecast_demand", ForecastArgs, impl.forecast),
            tool("plan_promotion_uplift", DemandSkuArgs, impl.promotion),
            tool("compute_safety_stock", SafetyStockArgs, impl.safety_stock),
            tool("plan_purchase_orders", OrderPlanArgs, impl.order_plan)]


__all__ = ["build_demand_tools", "DemandTools", "ValidationFailed"]
