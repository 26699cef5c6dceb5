"""Demand sensor: turns the point-of-sale, promotion and event feeds into signals and a forecast."""

from opsgraph.agents.base import AgentSpec

DEMAND_SENSOR = AgentSpec(
    name="demand_sensor",
    description="Reads the demand feeds of a SKU, reports the signals and forecasts daily demand per DC.",
    prompt="demand_sensor",
    tools=("detect_demand_signals", "forecast_demand"),
    history="own_turns",
)
