"""Typed state and reducers for every opsgraph graph, in one place."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages


def merge_unique(left: list[str] | None, right: list[str] | None) -> list[str]:
    """Append items not already present, keeping first-seen order."""
    merged = list(left or [])
    merged += [item for item in (right or []) if item not in merged]
    return merged


class CallRecord(TypedDict):
    """One model call: who, which tier and model, tokens, cost, latency, why that tier."""

    agent: str
    tier: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float
    rule: str
    signals: dict[str, Any]


class ActionRecord(TypedDict):
    """One executed (or refused) tool call."""

    agent: str
    tool: str
    tool_call_id: str
    args: dict[str, Any]
    writes: bool
    ok: bool
    status: Literal["done", "error", "refused", "rejected"]
    result: Any
    latency_ms: float


class ApprovalRecord(TypedDict):
    """A human decision on a gated action."""

    kind: str
    tool_call_id: str
    decision: Literal["approve", "reject", "edit", "auto"]
    reason: str
    by: str
    proposal: dict[str, Any]
    final_args: dict[str, Any]


class OpsState(TypedDict):
    """Fields shared by every opsgraph graph."""

    messages: Annotated[list[AnyMessage], add_messages]
    active_agent: str
    steps: int
    agent_rounds: int
    visited: Annotated[list[str], operator.add]
    actions: Annotated[list[ActionRecord], operator.add]
    calls: Annotated[list[CallRecord], operator.add]
    approvals: Annotated[list[ApprovalRecord], operator.add]
    citations: Annotated[list[str], merge_unique]
    stop_reason: str | None


class ShipmentEvent(TypedDict):
    """A supply-chain exception: an inbound shipment is late."""

    shipment_id: str
    delay_days: int
    description: str


class IncidentReport(TypedDict):
    """What a supply-chain exception run did, for people and for evals."""

    title: str
    outcome: Literal["completed", "stopped"]
    stop_reason: str | None
    what_happened: str
    actions_taken: list[str]
    orders_affected: list[str]
    customers_notified: list[str]
    transfers: list[dict[str, Any]]
    purchase_orders: list[dict[str, Any]]
    approvals: list[dict[str, Any]]
    policies_cited: list[str]
    cost: dict[str, Any]
    agents: list[str]


class SupplyChainInput(TypedDict):
    """Input of ``supply_chain_exception``."""

    event: ShipmentEvent
    messages: NotRequired[list[AnyMessage]]


class SupplyChainOutput(TypedDict):
    """Output of ``supply_chain_exception``."""

    report: IncidentReport
    messages: list[AnyMessage]


class SupplyChainState(OpsState):
    """Full state of ``supply_chain_exception``."""

    event: ShipmentEvent
    report: IncidentReport
