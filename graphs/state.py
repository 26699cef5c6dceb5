"""Typed state and reducers for every opsgraph graph, in one place."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

from opsgraph.governance.budgets import merge_budget


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
    call_id: NotRequired[str]
    router_ms: NotRequired[float]
    escalated: NotRequired[bool]  # this attempt was superseded: retried with feedback or on the large tier
    escalation_reason: NotRequired[str | None]
    validation: NotRequired[str | None]  # what was wrong with (or recovered from) the answer


def _attempts(record: CallRecord) -> list[CallRecord]:
    """A call record and the attempts it superseded, oldest first, each without its chain."""
    earlier = record.get("escalated_from")
    own = {k: v for k, v in record.items() if k != "escalated_from"}
    return [*_attempts(earlier), own] if earlier else [own]


def add_calls(left: list[CallRecord] | None, right: list[CallRecord] | None) -> list[CallRecord]:
    """Append call records; an escalated call brings its earlier attempts (``escalated_from``, nested) along.

    A record whose ``call_id`` is already present replaces it: that is how an earlier
    small-tier call is marked escalated when a checker's rejection sends its retry to large.
    """
    merged = list(left or [])
    index = {c["call_id"]: i for i, c in enumerate(merged) if c.get("call_id")}
    for record in right or []:
        for attempt in _attempts(record):
            position = index.get(attempt.get("call_id")) if attempt.get("call_id") else None
            if position is None:
                index[attempt.get("call_id")] = len(merged)
                merged.append(attempt)
            else:
                merged[position] = attempt
    return merged


class ReviewRecord(TypedDict):
    """A checker's verdict on a maker agent's answer; a rejection sends the retry to the large tier."""

    agent: str
    reviewer: str
    approved: bool
    reason: str


class BudgetOverrides(TypedDict, total=False):
    """Per-run caps that replace policy.yaml ``budgets`` (kept in state so a resumed run sees them)."""

    max_usd: float
    max_tokens: int
    agents: dict[str, dict[str, float]]
    carried: dict[str, Any]  # spend of the enclosing run before a team subgraph started


class ActionRecord(TypedDict):
    """One executed (or refused) tool call."""

    agent: str
    tool: str
    tool_call_id: str
    args: dict[str, Any]
    writes: bool
    ok: bool
    status: Literal["done", "error", "refused", "rejected", "skipped"]
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
    calls: Annotated[list[CallRecord], add_calls]
    approvals: Annotated[list[ApprovalRecord], operator.add]
    citations: Annotated[list[str], merge_unique]
    stop_reason: str | None
    reviews: Annotated[list[ReviewRecord], operator.add]
    budget: Annotated[BudgetOverrides, merge_budget]


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
    budget: NotRequired[BudgetOverrides]  # caps (and spend carried in) when run as a team


class SupplyChainOutput(TypedDict):
    """Output of ``supply_chain_exception``."""

    report: IncidentReport
    messages: list[AnyMessage]


class SupplyChainState(OpsState):
    """Full state of ``supply_chain_exception``."""

    event: ShipmentEvent
    report: IncidentReport


class StepCheck(TypedDict):
    """The validation of one step's output in a sequential chain."""

    step: str
    agent: str
    ok: bool
    errors: list[str]


class ContractReport(TypedDict):
    """What a contract review found, for approvers and for evals."""

    title: str
    outcome: Literal["completed", "stopped"]
    stop_reason: str | None
    contract_id: str
    supplier: str | None
    recommendation: str | None
    highest_risk: str | None
    flagged_risks: list[dict[str, Any]]
    rationale: str | None
    terms: dict[str, Any] | None
    validation: list[StepCheck]
    steps: list[str]
    policies_cited: list[str]
    cost: dict[str, Any]


class ContractReviewInput(TypedDict):
    """Input of ``contract_review``."""

    contract_id: str
    messages: NotRequired[list[AnyMessage]]


class ContractReviewOutput(TypedDict):
    """Output of ``contract_review``."""

    report: ContractReport
    messages: list[AnyMessage]


class ContractReviewState(OpsState):
    """Full state of ``contract_review``: each step's validated output, and the draft under check."""

    contract_id: str
    draft: dict[str, Any] | None
    terms: dict[str, Any] | None
    compliance: dict[str, Any] | None
    summary: dict[str, Any] | None
    validation: Annotated[list[StepCheck], operator.add]
    report: ContractReport


class RiskFinding(TypedDict):
    """One assessor's scored finding on a supplier (invalid findings are kept, but do not vote)."""

    assessor: str
    dimension: str
    supplier_id: str
    score: float
    risk_level: str
    confidence: float
    evidence: list[str]
    citations: list[str]
    valid: bool
    errors: list[str]


class RiskReport(TypedDict):
    """The reconciled supplier risk rating, how it was reached and whether people must look."""

    title: str
    outcome: Literal["completed", "stopped"]
    stop_reason: str | None
    supplier_id: str
    supplier_name: str | None
    risk_level: str | None
    score: float | None
    method: str
    votes: dict[str, float]
    findings: list[RiskFinding]
    disagreement: dict[str, Any] | None
    needs_review: bool
    review_reasons: list[str]
    actions: str | None
    policies_cited: list[str]
    cost: dict[str, Any]


class SupplierRiskInput(TypedDict):
    """Input of ``supplier_risk``."""

    supplier_id: str
    messages: NotRequired[list[AnyMessage]]


class SupplierRiskOutput(TypedDict):
    """Output of ``supplier_risk``."""

    report: RiskReport
    messages: list[AnyMessage]


class SupplierRiskState(OpsState):
    """Full state of ``supplier_risk``: findings arrive from assessors running in parallel."""

    supplier_id: str
    findings: Annotated[list[RiskFinding], operator.add]
    reconciled: dict[str, Any] | None
    report: RiskReport


class BranchState(TypedDict):
    """What every parallel agent branch (``Send``) carries: its own conversation (``transcript``),
    apart from the other branches', and the accounting it hands back to the parent graph."""

    transcript: Annotated[list[AnyMessage], add_messages]
    active_agent: str
    agent_rounds: int
    actions: Annotated[list[ActionRecord], operator.add]
    calls: Annotated[list[CallRecord], add_calls]
    citations: Annotated[list[str], merge_unique]
    budget: Annotated[BudgetOverrides, merge_budget]
    visited: Annotated[list[str], operator.add]
    messages: Annotated[list[AnyMessage], add_messages]


class BranchOutput(TypedDict):
    """What every parallel agent branch hands back: its trail, reply and accounting."""

    visited: list[str]
    messages: list[AnyMessage]
    actions: list[ActionRecord]
    calls: list[CallRecord]
    citations: list[str]


class AssessorState(BranchState):
    """State of one assessor branch."""

    assessor: str
    supplier_id: str
    findings: Annotated[list[RiskFinding], operator.add]


class AssessorOutput(BranchOutput):
    """What an assessor branch hands back to ``supplier_risk``: its finding, report and accounting."""

    findings: list[RiskFinding]


# --- support_desk (handoff) -------------------------------------------------------------


class HandoffRecord(TypedDict):
    """One performed handoff between agents of the support desk."""

    from_agent: str
    to_agent: str
    reason: str
    tool_call_id: str
    request: int


class SupportReport(TypedDict):
    """What one customer message on a ``support_desk`` thread led to."""

    title: str
    outcome: Literal["answered", "refused", "failed", "escalated", "stopped"]
    stop_reason: str | None
    reply: str
    route: list[str]
    handoffs: list[dict[str, Any]]
    escalation: dict[str, Any] | None
    actions_taken: list[str]
    refunds: list[dict[str, Any]]
    tickets_updated: list[dict[str, Any]]
    plan_changes: list[dict[str, Any]]
    approvals: list[dict[str, Any]]
    policies_cited: list[str]
    cost: dict[str, Any]
    summary: list[str]


class SupportInput(TypedDict):
    """Input of ``support_desk``: the customer's message (one per turn), optionally who they are."""

    messages: list[AnyMessage]
    customer_id: NotRequired[str]


class SupportOutput(TypedDict):
    """Output of ``support_desk``."""

    messages: list[AnyMessage]
    report: SupportReport


class SupportState(OpsState):
    """Full state of ``support_desk``; ``route``/``handoff_count`` restart with each customer message."""

    customer_id: str | None
    requests: int
    turn_start: int
    route: list[str]
    handoff_count: int
    handoffs: Annotated[list[HandoffRecord], operator.add]
    escalation: dict[str, Any] | None
    report: SupportReport


# --- procurement_review (group chat, maker-checker) ------------------------------------


class PurchaseRequest(TypedDict):
    """What a requester asks procurement to buy."""

    sku_id: str
    quantity: int
    dc_id: str
    needed_by: NotRequired[str | None]
    preferred_supplier_id: NotRequired[str | None]
    cost_center: NotRequired[str]
    notes: NotRequired[str]


class VerdictRecord(TypedDict):
    """One reviewer's typed verdict on one round's proposal."""

    round: int
    reviewer: str
    verdict: Literal["approve", "revise", "reject"]
    reasons: list[str]
    confidence: float
    required_changes: dict[str, Any]


class RoundDecision(TypedDict):
    """How one review round's verdicts were combined (see graphs/procurement_review.py)."""

    round: int
    decision: Literal["approve", "revise", "reject"]
    rule: str


class ProcurementReport(TypedDict):
    """What a ``procurement_review`` run decided and did, for people and for evals."""

    title: str
    outcome: Literal["approved", "rejected", "escalated", "stopped"]
    stop_reason: str | None
    request: dict[str, Any]
    proposal: dict[str, Any] | None
    rounds: int
    decisions: list[dict[str, Any]]
    verdicts: list[dict[str, Any]]
    conflict_rule: str
    escalation: dict[str, Any] | None
    purchase_order: dict[str, Any] | None
    approvals: list[dict[str, Any]]
    policies_cited: list[str]
    cost: dict[str, Any]
    agents: list[str]
    summary: list[str]


class ProcurementInput(TypedDict):
    """Input of ``procurement_review``."""

    request: PurchaseRequest
    messages: NotRequired[list[AnyMessage]]
    budget: NotRequired[BudgetOverrides]  # caps (and spend carried in) when run as a team


class ProcurementOutput(TypedDict):
    """Output of ``procurement_review``."""

    report: ProcurementReport
    messages: list[AnyMessage]


class ProcurementState(OpsState):
    """Full state of ``procurement_review``; ``messages`` is the shared review thread (the audit trail)."""

    request: PurchaseRequest
    amended: dict[str, Any]
    round: int
    floor_start: int
    proposal: dict[str, Any] | None
    verdicts: Annotated[list[VerdictRecord], operator.add]
    decisions: Annotated[list[RoundDecision], operator.add]
    escalation: dict[str, Any] | None
    report: ProcurementReport


# --- operations_director (hierarchical) ------------------------------------------------


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Shallow merge; the right side wins per key."""
    return {**(left or {}), **(right or {})}


class DirectorReport(TypedDict):
    """What the teams did under the operations director."""

    title: str
    outcome: Literal["completed", "stopped"]
    stop_reason: str | None
    teams: dict[str, dict[str, Any]]
    purchase_orders: list[dict[str, Any]]
    approvals: list[dict[str, Any]]
    cost: dict[str, Any]
    agents: list[str]
    summary: list[str]


class DirectorInput(TypedDict):
    """Input of ``operations_director``: a shipment event, a purchase request, or both."""

    event: NotRequired[ShipmentEvent]
    request: NotRequired[PurchaseRequest]
    messages: NotRequired[list[AnyMessage]]


class DirectorOutput(TypedDict):
    """Output of ``operations_director``."""

    report: DirectorReport
    messages: list[AnyMessage]


class DirectorState(OpsState):
    """Full state of ``operations_director``; each team's own thread lives in its subgraph checkpoint."""

    event: ShipmentEvent
    request: PurchaseRequest
    team_reports: Annotated[dict[str, dict[str, Any]], merge_dicts]
    report: DirectorReport


# --- demand_sensing (blackboard) -------------------------------------------------------

from opsgraph.graphs.board import Board, BoardWrite, apply_board_writes  # noqa: E402 - kept with its section


class DemandSensingInput(TypedDict):
    """Input of ``demand_sensing``: the SKU whose board is worked on."""

    sku_id: str
    messages: NotRequired[list[AnyMessage]]


class DemandReport(TypedDict):
    """What changed on the board and why, per section with its version history."""

    title: str
    outcome: Literal["completed", "stopped"]
    stop_reason: str | None
    sku_id: str
    cycles: int
    quiescent: bool
    summary: list[str]
    sections: dict[str, Any]
    rejections: list[dict[str, Any]]
    purchase_orders: list[dict[str, Any]]
    approvals: list[dict[str, Any]]
    cost: dict[str, Any]


class DemandSensingOutput(TypedDict):
    """Output of ``demand_sensing``."""

    report: DemandReport
    messages: list[AnyMessage]


class DemandSensingState(OpsState):
    """Full state of ``demand_sensing``: the board, what each agent last read, the cycle count."""

    sku_id: str
    board: Annotated[Board, apply_board_writes]
    seen: Annotated[dict[str, dict[str, int]], lambda a, b: {**(a or {}), **(b or {})}]
    ran: Annotated[dict[str, int], lambda a, b: {**(a or {}), **(b or {})}]
    cycle: int
    audited: dict[str, int]
    report: DemandReport


class BoardAgentState(BranchState):
    """One agent's branch in a cycle: its own conversation over the board snapshot it read."""

    agent: str
    sku_id: str
    cycle: int
    snapshot: Board
    approvals: Annotated[list[ApprovalRecord], operator.add]
    board: list[BoardWrite]
    seen: dict[str, dict[str, int]]
    ran: dict[str, int]


class BoardAgentOutput(BranchOutput):
    """What a branch hands back: board writes, what it read, approvals, its accounting."""

    board: list[BoardWrite]
    seen: dict[str, dict[str, int]]
    ran: dict[str, int]
    approvals: list[ApprovalRecord]


# --- production_planning (market) -------------------------------------------------------


class ProductionEvent(TypedDict):
    """What happened in the plant: a breakdown, late material or a rush order."""

    kind: Literal["breakdown", "late_material", "rush"]
    work_centre_id: str | None
    days: int | None
    shipment_id: str | None
    job_id: str | None
    note: str


class ProductionInput(TypedDict):
    """Input of ``production_planning``."""

    event: ProductionEvent
    messages: NotRequired[list[AnyMessage]]
    budget: NotRequired[BudgetOverrides]


class ProductionReport(TypedDict):
    """What a production planning run did: the new schedule, awards, moves, approvals, purchases."""

    title: str
    outcome: Literal["completed", "stopped"]
    stop_reason: str | None
    event: dict[str, Any]
    rounds: int
    calls_for_bids: list[dict[str, Any]]
    awards: list[dict[str, Any]]
    rejected_bids: list[dict[str, Any]]
    no_bids: list[dict[str, Any]]
    schedule: list[dict[str, Any]]
    moved: list[dict[str, Any]]
    commitments_moved: list[dict[str, Any]]
    unassigned: list[dict[str, Any]]
    approvals: list[dict[str, Any]]
    purchase_orders: list[dict[str, Any]]
    material_shortfalls: list[dict[str, Any]]
    cost: dict[str, Any]


class ProductionOutput(TypedDict):
    """Output of ``production_planning``."""

    report: ProductionReport
    messages: list[AnyMessage]


class ProductionState(OpsState):
    """Full state of ``production_planning``: bids arrive from work centres bidding in parallel."""

    event: ProductionEvent
    round: int
    open_jobs: list[dict[str, Any]]
    calls_for_bids: Annotated[list[dict[str, Any]], operator.add]
    bids: Annotated[list[dict[str, Any]], operator.add]
    no_bids: Annotated[list[dict[str, Any]], operator.add]
    awards: Annotated[list[dict[str, Any]], operator.add]
    rejected_bids: Annotated[list[dict[str, Any]], operator.add]
    pending_awards: list[dict[str, Any]]
    unassigned: list[dict[str, Any]]
    report: ProductionReport


class BidderState(BranchState):
    """State of one work centre's bidding branch."""

    work_centre_id: str
    round: int
    job_ids: list[str]
    bids: Annotated[list[dict[str, Any]], operator.add]
    no_bids: Annotated[list[dict[str, Any]], operator.add]


class BidderOutput(BranchOutput):
    """What a bidding branch hands back: its bids, no-bids, reply and accounting."""

    bids: list[dict[str, Any]]
    no_bids: list[dict[str, Any]]


# --- pipeline: agents in sequence with tools and approvals (compiled from workflow specs) ---------------------

class PipelineReport(TypedDict):
    """What a pipeline run did: facts from executed tools and recorded approvals, the last agent's answer."""

    title: str
    outcome: Literal["completed", "stopped"]
    stop_reason: str | None
    subject_id: str
    answer: str | None
    steps: list[str]
    actions: list[dict[str, Any]]
    approvals: list[dict[str, Any]]
    policies_cited: list[str]
    cost: dict[str, Any]


class PipelineInput(TypedDict):
    """Input of a pipeline: the id of the record it works on (an invoice, say)."""

    subject_id: str
    messages: NotRequired[list[AnyMessage]]


class PipelineOutput(TypedDict):
    """Output of a pipeline."""

    report: PipelineReport
    messages: list[AnyMessage]


class PipelineState(OpsState):
    """Full state of a pipeline."""

    subject_id: str
    report: PipelineReport
