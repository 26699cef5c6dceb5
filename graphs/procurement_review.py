"""``procurement_review``: a buyer proposes a purchase order; compliance and finance check it in one thread.

    START -> intake -> buyer -> moderator -> compliance -> moderator -> finance -> moderator
    moderator -> buyer                  (a reviewer asked for changes and rounds remain)
    moderator -> purchase -> [approval] -> tools -> report   (every reviewer approved)
    moderator -> escalate -> purchase | report               (max rounds: a human decides)
    moderator -> report                                      (rejected, or stopped)
    agent -> tools -> agent             (tool rounds of the buyer and the reviewers)

A group chat with a fixed speaking order, run by the ``moderator`` (code, not a model): the
buyer (maker) drafts a proposal with ``draft_purchase_order``; the moderator posts it to the
thread as a review request; each reviewer (checker) reads policy from the knowledge layer,
checks the proposal with its deterministic check tool and gives a typed verdict
(:class:`ReviewVerdict`: approve, revise with reasons and required changes, or reject, with a
confidence). The thread (``messages``) holds every proposal, review, verdict, round decision
and human decision: it is the audit trail, and the audit store has each verdict too.

Combining one round's verdicts (:func:`resolve_verdicts`, :data:`CONFLICT_RULE`):

1. Every reviewer must approve: unanimous approval is the only way to ``approve``.
2. Any objection beats approval, whatever the confidences: one ``revise`` or ``reject`` blocks.
3. Between ``reject`` and ``revise`` the more confident objection wins (the highest confidence
   on each side); an exact tie goes to ``reject``, the conservative choice.

Stop rules: ``approve`` raises the proposal exactly as reviewed (through the approval gate
above ``approvals.purchase_order.threshold_usd``); ``reject`` ends the review without an
order; ``revise`` sends the reviewers' reasons and required changes back to the buyer until
``procurement.review_max_rounds`` rounds have run, then escalates to a human with the full
thread via ``interrupt`` (approve, reject, or edit the proposal). The human's decision on an
escalation stands as the purchase order approval. A reviewer whose verdict cannot be parsed
counts as ``revise`` with confidence 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt
from pydantic import BaseModel, Field

from opsgraph.agents.base import AgentSpec
from opsgraph.agents.buyer import BUYER
from opsgraph.agents.compliance import COMPLIANCE
from opsgraph.agents.finance import FINANCE
from opsgraph.graphs.binding import bind_last
from opsgraph.graphs.components import (APPROVAL, TOOLS, after_turn, agent_turn, approval_node, audit_model_call,
                               execute_tool_calls, guard_step, needs_gate, thread_id)
from opsgraph.graphs.history import context_policy, history_view
from opsgraph.graphs.incident import cost_summary
from opsgraph.graphs.state import (ProcurementInput, ProcurementOutput, ProcurementReport, ProcurementState, RoundDecision,
                          VerdictRecord)
from opsgraph.context import OpsContext, resolve_context
from opsgraph.governance.approvals import apply_edits, parse_decision
from opsgraph.prompts import load_prompt

GRAPH_ID = "procurement_review"
INTAKE, MODERATOR = "intake", "moderator"
PURCHASE, ESCALATE, REPORT = "purchase", "escalate", "report"
PURCHASING = "purchasing"  # the policy actor that raises an approved proposal (not a model)
MEMBERS = {spec.name: spec for spec in (BUYER, COMPLIANCE, FINANCE)}
REVIEWERS = (COMPLIANCE.name, FINANCE.name)
CONFLICT_RULE = ("every reviewer must approve; any objection (revise or reject) beats approval; between reject and "
                 "revise the more confident objection wins, an exact tie goes to reject")
VERDICT_QUESTION = "Give your verdict on the proposed purchase order."
# What reviewers see of a proposal (the draft's sourcing notes and quote details stay in the buyer's turn).
PROPOSAL_KEYS = ("supplier_id", "supplier_name", "dc_id", "cost_center", "expedite", "lines", "total_usd",
                 "quote_supplier_ids", "expected_date", "needed_by", "justification")


@dataclass(frozen=True)
class Panel:
    """The maker (drafts with ``draft_purchase_order``), the checkers in speaking order and the policy.yaml key
    of the round limit: the default panel, or one a workflow spec declares."""

    maker: AgentSpec = BUYER
    checkers: tuple[AgentSpec, ...] = (COMPLIANCE, FINANCE)
    max_rounds: str = "procurement.review_max_rounds"
    members: dict[str, AgentSpec] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", {spec.name: spec for spec in (self.maker, *self.checkers)})

    @property
    def reviewers(self) -> tuple[str, ...]:
        """The checkers' names, in speaking order."""
        return tuple(spec.name for spec in self.checkers)


DEFAULT_PANEL = Panel()


class RequiredChanges(BaseModel):
    """What the buyer's next draft must change."""

    exclude_supplier_ids: list[str] = Field(default_factory=list, description="Suppliers the draft must not use.")
    competitive_quotes: bool = Field(False, description="True when quotes from three approved suppliers are needed.")


class ReviewVerdict(BaseModel):
    """A reviewer's typed verdict on one proposed purchase order."""

    verdict: Literal["reject", "revise", "approve"] = Field(description="reject, revise or approve.")
    reasons: list[str] = Field(default_factory=list, description="One line per failed rule; empty to approve.")
    confidence: float = Field(ge=0.0, le=1.0, description="How sure the check is, 0-1.")
    required_changes: RequiredChanges = Field(default_factory=RequiredChanges,
                                              description="Changes a revised draft must make.")


def resolve_verdicts(verdicts: list[dict[str, Any]]) -> tuple[str, str]:
    """The round's decision from its verdicts, and the rule that decided it (see module doc)."""
    objections = [v for v in verdicts if v["verdict"] != "approve"]
    if verdicts and not objections:
        return "approve", "unanimous approval"
    kinds = {v["verdict"] for v in objections}
    if len(kinds) <= 1:
        kind = kinds.pop() if kinds else "revise"
        return kind, f"an objection beats approval ({kind})"
    reject = max(v["confidence"] for v in objections if v["verdict"] == "reject")
    revise = max(v["confidence"] for v in objections if v["verdict"] == "revise")
    if revise > reject:
        return "revise", f"revise ({revise:.2f}) is more confident than reject ({reject:.2f})"
    return "reject", f"reject ({reject:.2f}) is at least as confident as revise ({revise:.2f})"


def _request_message(request: dict[str, Any]) -> HumanMessage:
    supplier = f", preferred supplier {request['preferred_supplier_id']}" if request.get("preferred_supplier_id") else ""
    needed = f", needed by {request['needed_by']}" if request.get("needed_by") else ""
    text = (f"Purchase request: {request['quantity']} x {request['sku_id']} for {request['dc_id']}{needed}{supplier}."
            f" {request.get('notes') or ''}".rstrip())
    return HumanMessage(content=text + "\n" + json.dumps({"request": request}), name="requester")


def intake(state: ProcurementState, panel: Panel = DEFAULT_PANEL) -> dict:
    """Open the review thread with the purchase request (as text and as data), after any caller messages."""
    request = {k: v for k, v in state["request"].items() if v not in (None, "")}
    maker = panel.maker.name
    return {"messages": [_request_message(request)], "amended": request, "round": 1, "steps": 0, "floor_start": 0,
            "active_agent": maker, "agent_rounds": 0, "visited": [maker]}


def make_member(name: str, panel: Panel = DEFAULT_PANEL):
    """Node for the buyer or a reviewer: a model round, then tools, or the moderator (after a verdict)."""
    spec = panel.members[name]

    def member(state: ProcurementState, runtime: Runtime[OpsContext]) -> Command[Literal["tools", "approval",
                                                                                        "moderator"]]:
        ctx = resolve_context(runtime.context)
        update = agent_turn(spec, ctx, state, {})
        goto = after_turn(update["messages"][0], ctx, MODERATOR)
        if goto == MODERATOR and name in panel.reviewers:
            update = _with_verdict(spec, ctx, state, update, panel.maker.name)
        return Command(goto=goto, update=update)

    member.__name__ = name
    return member


def _with_verdict(spec: AgentSpec, ctx: OpsContext, state: ProcurementState, update: dict, maker: str) -> dict:
    """Ask the reviewer for its typed verdict after its review, and post it to the thread."""
    reviewer = spec.name
    thread = [*state["messages"], *update["messages"]]
    view = history_view(thread, reviewer, context_policy(reviewer, ctx.policy, spec.history))
    asked = [SystemMessage(load_prompt(spec.prompt)), *view, HumanMessage(VERDICT_QUESTION, name=MODERATOR)]
    # No verdict after the retry with feedback and the large tier raises ModelDecisionError:
    # the run ends failed naming the reviewer (resumable), never approved and never a silent loop.
    verdict, record = ctx.gateway.structured(reviewer, asked, ReviewVerdict, state=state)
    calls = [record]
    entry = VerdictRecord(round=int(state.get("round") or 1), reviewer=reviewer, verdict=verdict.verdict,
                          reasons=list(verdict.reasons), confidence=float(verdict.confidence),
                          required_changes=verdict.required_changes.model_dump())
    note = AIMessage(name=reviewer, content=_verdict_text(entry))
    if calls:
        audit_model_call(ctx, reviewer, len(thread), calls[0], note)
    ctx.audit.record(thread_id(), f"verdict:{entry['round']}:{reviewer}", "verdict", agent=reviewer,
                     name="review_verdict", result=entry, ok=entry["verdict"] == "approve")
    review = {"agent": maker, "reviewer": reviewer, "approved": entry["verdict"] == "approve",
              "reason": "; ".join(entry["reasons"])}
    return {**update, "messages": [*update["messages"], note], "calls": [*update["calls"], *calls],
            "verdicts": [entry], "reviews": [review]}


def _verdict_text(entry: VerdictRecord) -> str:
    reasons = "; ".join(entry["reasons"]) or "none"
    changes = {k: v for k, v in entry["required_changes"].items() if v}
    return (f"Verdict of {entry['reviewer']} on round {entry['round']}: {entry['verdict'].upper()} "
            f"(confidence {entry['confidence']:.2f}). Reasons: {reasons}."
            + (f" Required changes: {json.dumps(changes)}." if changes else ""))


def tools(state: ProcurementState, runtime: Runtime[OpsContext]) -> Command[Literal["buyer", "compliance", "finance",
                                                                                   "report"]]:
    """Execute the active member's tool calls and give it the floor back (after a purchase: the report)."""
    update = execute_tool_calls(state, resolve_context(runtime.context))
    agent = state["active_agent"]
    return Command(goto=REPORT if agent == PURCHASING else agent, update=update)


def moderator(state: ProcurementState, runtime: Runtime[OpsContext], panel: Panel = DEFAULT_PANEL
              ) -> Command[Literal["buyer", "compliance", "finance", "purchase", "escalate", "report"]]:
    """The group chat manager: gives the floor in a fixed order and applies the stop rules."""
    ctx = resolve_context(runtime.context)
    stop = guard_step(state, ctx)
    if stop:
        return Command(goto=REPORT, update={"stop_reason": stop})
    steps = int(state.get("steps") or 0) + 1
    if state.get("active_agent") == panel.maker.name:
        return _open_review(state, ctx, steps, panel)
    done = {v["reviewer"] for v in state.get("verdicts") or [] if v["round"] == state["round"]}
    waiting = [r for r in panel.reviewers if r not in done]
    if waiting:
        return Command(goto=waiting[0], update=_floor(state, waiting[0], steps))
    return _close_round(state, ctx, steps, panel)


def _floor(state: ProcurementState, member: str, steps: int) -> dict[str, Any]:
    return {"steps": steps, "active_agent": member, "agent_rounds": 0, "visited": [member],
            "floor_start": len(state.get("actions") or [])}


def _latest_draft(state: ProcurementState, maker: str) -> dict[str, Any] | None:
    drafts = [a["result"] for a in (state.get("actions") or [])[int(state.get("floor_start") or 0):]
              if a["agent"] == maker and a["tool"] == "draft_purchase_order" and a["ok"]
              and isinstance(a["result"], dict)]
    return drafts[-1] if drafts else None


def _open_review(state: ProcurementState, ctx: OpsContext, steps: int, panel: Panel) -> Command:
    proposal = _latest_draft(state, panel.maker.name)
    if proposal is None:
        return Command(goto=REPORT, update={"steps": steps, "proposal": None,
                                            "stop_reason": "the buyer produced no valid proposal to review"})
    first = panel.reviewers[0]
    update = {**_floor(state, first, steps), "proposal": proposal,
              "messages": [_review_request(proposal, int(state["round"]), max_rounds(ctx, panel.max_rounds))]}
    return Command(goto=first, update=update)


def max_rounds(ctx: OpsContext, key: str = DEFAULT_PANEL.max_rounds) -> int:
    """Review rounds before a human decides (policy.yaml ``procurement.review_max_rounds``, or the panel's key)."""
    return int(ctx.policy.get(key))


def _review_request(proposal: dict[str, Any], round_no: int, max_rounds: int) -> HumanMessage:
    lines = ", ".join(f"{line['quantity']} x {line['sku_id']} at ${line['unit_price']:,.2f}" for line in proposal["lines"])
    quotes = proposal.get("quote_supplier_ids") or []
    bids = f"quotes attached from {', '.join(quotes)}" if quotes else "quotes attached: none"
    text = (f"Review round {round_no} of {max_rounds}. The buyer proposes a purchase order to "
            f"{proposal['supplier_id']} ({proposal.get('supplier_name', '')}) for {proposal['dc_id']}: {lines}, "
            f"total ${proposal['total_usd']:,.2f}; {bids}. Reviewers, check it against policy.")
    data = {"proposal": {k: proposal[k] for k in PROPOSAL_KEYS if k in proposal}}
    return HumanMessage(content=text + "\n" + json.dumps(data), name=MODERATOR)


def _close_round(state: ProcurementState, ctx: OpsContext, steps: int, panel: Panel) -> Command:
    """Combine the round's verdicts and apply the stop rules."""
    round_no = int(state["round"])
    verdicts = [v for v in state.get("verdicts") or [] if v["round"] == round_no]
    decision, rule = resolve_verdicts(verdicts)
    record = RoundDecision(round=round_no, decision=decision, rule=rule)
    ctx.audit.record(thread_id(), f"review_decision:{round_no}", "review_decision", agent=MODERATOR,
                     name=decision, args={"verdicts": verdicts}, result=record, ok=decision == "approve")
    update: dict[str, Any] = {"steps": steps, "decisions": [record]}
    if decision == "approve":
        return Command(goto=PURCHASE, update=update)
    if decision == "reject":
        note = AIMessage(name=MODERATOR, content=f"Review round {round_no}: REJECT ({rule}). No purchase order.")
        return Command(goto=REPORT, update={**update, "messages": [note]})
    if round_no >= max_rounds(ctx, panel.max_rounds):
        return Command(goto=ESCALATE, update=update)
    amended = amend_request(state.get("amended") or dict(state["request"]), verdicts)
    feedback = _feedback(record, verdicts, amended)
    maker = panel.maker.name
    return Command(goto=maker, update={**update, **_floor(state, maker, steps), "round": round_no + 1,
                                            "amended": amended, "messages": [feedback]})


def amend_request(request: dict[str, Any], verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    """The purchase request with every reviewer's required changes applied."""
    excluded = list(request.get("exclude_supplier_ids") or [])
    quotes = bool(request.get("competitive_quotes"))
    for verdict in verdicts:
        changes = verdict.get("required_changes") or {}
        excluded += [s for s in changes.get("exclude_supplier_ids") or [] if s not in excluded]
        quotes = quotes or bool(changes.get("competitive_quotes"))
    amended = {**request, "exclude_supplier_ids": excluded, "competitive_quotes": quotes}
    return {k: v for k, v in amended.items() if v not in (None, "", [], False)}


def _feedback(decision: RoundDecision, verdicts: list[dict[str, Any]], amended: dict[str, Any]) -> HumanMessage:
    lines = [f"Review round {decision['round']}: REVISE ({decision['rule']})."]
    lines += [f"- {v['reviewer']} ({v['verdict']}, confidence {v['confidence']:.2f}): "
              f"{'; '.join(v['reasons']) or 'no objection'}" for v in verdicts]
    lines.append("Buyer, revise the proposal: the purchase request below carries the reviewers' required changes.")
    return HumanMessage(content="\n".join(lines) + "\n" + json.dumps({"request": amended}), name=MODERATOR)


def order_args(proposal: dict[str, Any]) -> dict[str, Any]:
    """``create_purchase_order`` arguments for a reviewed proposal (nothing the reviewers did not see)."""
    return {"supplier_id": proposal["supplier_id"], "dc_id": proposal["dc_id"],
            "lines": [{"sku_id": line["sku_id"], "quantity": line["quantity"]} for line in proposal["lines"]],
            "justification": proposal.get("justification") or "approved by procurement review",
            "expedite": bool(proposal.get("expedite")), "cost_center": proposal.get("cost_center") or "CC-OPS"}


def _escalation_request(state: ProcurementState, ctx: OpsContext, key: str) -> dict[str, Any]:
    proposal = state.get("proposal") or {}
    rounds = int(state["round"])
    return {
        "type": "escalation", "kind": "purchase_order", "agent": MODERATOR, "tool": "create_purchase_order",
        "reason": f"no agreement after {rounds} review rounds", "args": order_args(proposal) if proposal else {},
        "proposal": proposal, "amount_usd": float(proposal.get("total_usd") or 0.0),
        "threshold_usd": float(ctx.policy.get("approvals.purchase_order.threshold_usd")),
        "policy": f"{key} = {max_rounds(ctx, key)}",
        "verdicts": list(state.get("verdicts") or []), "decisions": list(state.get("decisions") or []),
        "thread": [_line(m) for m in state["messages"]], "options": ["approve", "reject", "edit"],
    }


def _line(message: Any) -> str:
    calls = "; ".join(f"{c['name']}({json.dumps(c['args'], default=str)[:200]})" for c in getattr(message, "tool_calls", []))
    who = getattr(message, "name", None) or message.type
    return f"{who}: {str(message.content)[:600]}" + (f" [calls: {calls}]" if calls else "")


def escalate(state: ProcurementState, runtime: Runtime[OpsContext], panel: Panel = DEFAULT_PANEL
             ) -> Command[Literal["purchase", "report"]]:
    """Max rounds without agreement: a human reads the thread and approves, rejects or edits the proposal."""
    ctx = resolve_context(runtime.context)
    request = _escalation_request(state, ctx, panel.max_rounds)
    key = f"escalation:{state['round']}"
    ctx.audit.record(thread_id(), key, "escalation", agent=MODERATOR, name="procurement_review",
                     args={"reason": request["reason"]}, result={"verdicts": request["verdicts"]}, ok=False)
    decision = parse_decision(interrupt(request))
    ctx.audit.record(thread_id(), key + ":decision", "approval", agent=decision["by"], name="procurement_review",
                     args=request["args"], result=decision)
    note = AIMessage(name=MODERATOR, content=f"Escalated to a human after {state['round']} rounds ({request['reason']}); "
                                             f"{decision['by']} decided: {decision['decision']}"
                                             + (f" — {decision['reason']}" if decision["reason"] else "") + ".")
    update = {"messages": [note], "escalation": {**decision, "reason_for_escalation": request["reason"]}}
    has_proposal = bool(state.get("proposal"))
    return Command(goto=PURCHASE if decision["decision"] != "reject" and has_proposal else REPORT, update=update)


def purchase(state: ProcurementState, runtime: Runtime[OpsContext]) -> Command[Literal["approval", "tools"]]:
    """Raise the proposal exactly as reviewed; above the threshold the approval gate holds it for a human."""
    ctx = resolve_context(runtime.context)
    args = order_args(state["proposal"])
    call = {"name": "create_purchase_order", "args": args, "id": f"purchase-round-{state['round']}", "type": "tool_call"}
    escalation = state.get("escalation")
    who = f"as decided by {escalation['by']}" if escalation else "as every reviewer approved"
    message = AIMessage(name=PURCHASING, tool_calls=[call],
                        content=f"Raising the purchase order to {args['supplier_id']} {who}.")
    update: dict[str, Any] = {"messages": [message], "active_agent": PURCHASING, "visited": [PURCHASING]}
    if escalation:
        # The human who settled the escalation has approved this order: no second interrupt.
        final = apply_edits(args, escalation["edits"]) if escalation["decision"] == "edit" else args
        update["approvals"] = [{"kind": "purchase_order", "tool_call_id": call["id"], "decision": escalation["decision"],
                                "reason": escalation["reason"], "by": escalation["by"], "proposal": state["proposal"],
                                "final_args": final}]
        return Command(goto=TOOLS, update=update)
    return Command(goto=APPROVAL if needs_gate(message, ctx) else TOOLS, update=update)


def report(state: ProcurementState) -> dict:
    """The review's report, built from the thread's verdicts, decisions and executed tools."""
    return {"report": build_procurement_report(state)}


def _purchase_order(state: ProcurementState) -> dict[str, Any] | None:
    for action in reversed(state.get("actions") or []):
        if action["tool"] != "create_purchase_order":
            continue
        result = action["result"] if isinstance(action["result"], dict) else {}
        if action["ok"]:
            return {k: result.get(k) for k in ("po_id", "supplier_id", "total_usd", "status", "approved_by")}
        return {"po_id": None, "supplier_id": action["args"].get("supplier_id"), "total_usd": None,
                "status": action["status"], "approved_by": None, "detail": str(action["result"])[:300]}
    return None


def _outcome(state: ProcurementState, order: dict[str, Any] | None) -> str:
    if state.get("stop_reason"):
        return "stopped"
    if state.get("escalation"):
        return "escalated"
    return "approved" if order and order.get("po_id") else "rejected"


def build_procurement_report(state: ProcurementState) -> ProcurementReport:
    """The structured report of a finished (or stopped) procurement review."""
    order = _purchase_order(state)
    request = dict(state["request"])
    report = ProcurementReport(
        title=f"Purchase request: {request['quantity']} x {request['sku_id']} for {request['dc_id']}",
        outcome=_outcome(state, order), stop_reason=state.get("stop_reason"), request=request,
        proposal=state.get("proposal"), rounds=int(state.get("round") or 0),
        decisions=list(state.get("decisions") or []), verdicts=list(state.get("verdicts") or []),
        conflict_rule=CONFLICT_RULE, escalation=state.get("escalation"), purchase_order=order,
        approvals=[{k: a[k] for k in ("kind", "decision", "reason", "by")} for a in state.get("approvals") or []],
        policies_cited=list(state.get("citations") or []), cost=cost_summary(state.get("calls") or []),
        agents=list(dict.fromkeys(state.get("visited") or [])), summary=[])
    report["summary"] = _summary_lines(report)
    return report


def _summary_lines(report: ProcurementReport) -> list[str]:
    lines = [f"Outcome: {report['outcome']} after {report['rounds']} round(s)"]
    if report["stop_reason"]:
        lines.append(f"Stopped: {report['stop_reason']}")
    for d in report["decisions"]:
        said = [f"{v['reviewer']} {v['verdict']} ({v['confidence']:.2f})" for v in report["verdicts"]
                if v["round"] == d["round"]]
        lines.append(f"Round {d['round']}: {', '.join(said)} -> {d['decision']} ({d['rule']})")
    if report["escalation"]:
        e = report["escalation"]
        lines.append(f"Escalated ({e['reason_for_escalation']}): {e['decision']} by {e['by']}")
    po = report["purchase_order"]
    if po:
        total = f"${po['total_usd']:,.2f}" if po.get("total_usd") is not None else "-"
        lines.append(f"Purchase order: {po.get('po_id') or '(none)'} {po.get('supplier_id')} {total} [{po['status']}]")
    lines += [f"Approval: {a['kind']} {a['decision']} by {a['by']}" for a in report["approvals"]]
    if report["policies_cited"]:
        lines.append("Policies: " + "; ".join(report["policies_cited"]))
    return lines



def _routes(panel: Panel) -> dict[str, tuple[str, ...] | None]:
    """Where the moderator and the tool node may send a declared panel (None: read from the Literal hints)."""
    if panel is DEFAULT_PANEL:
        return {MODERATOR: None, TOOLS: None}
    members = tuple(panel.members)
    return {MODERATOR: (*members, PURCHASE, ESCALATE, REPORT), TOOLS: (*members, REPORT)}


def build_procurement_review_graph(panel: Panel = DEFAULT_PANEL) -> StateGraph:
    """The uncompiled ``procurement_review`` graph; the caller picks the checkpointer.

    ``panel`` replaces the maker, the checkers and the round limit's policy key (a workflow spec declares its own).
    """
    graph = StateGraph(ProcurementState, context_schema=OpsContext, input_schema=ProcurementInput,
                       output_schema=ProcurementOutput)
    graph.add_node(INTAKE, bind_last(intake, panel, DEFAULT_PANEL))
    for name in panel.members:
        graph.add_node(name, make_member(name, panel))
    routes = _routes(panel)
    for name, node in ((MODERATOR, bind_last(moderator, panel, DEFAULT_PANEL)), (TOOLS, tools), (APPROVAL, approval_node),
                       (PURCHASE, purchase), (ESCALATE, bind_last(escalate, panel, DEFAULT_PANEL)), (REPORT, report)):
        graph.add_node(name, node, destinations=routes.get(name))
    graph.add_edge(START, INTAKE)
    graph.add_edge(INTAKE, panel.maker.name)
    graph.set_finish_point(REPORT)
    return graph
