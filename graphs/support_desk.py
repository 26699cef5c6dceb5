"""``support_desk``: triage hands a customer to billing, technical support or account management.

    START -> intake -> {triage | the specialist already talking to the customer}
    agent -> tools -> agent            (tool rounds)
    agent -> approval -> tools          (refunds whose running total on the invoice passes
                                         approvals.refund.auto_limit_usd, or that cannot be priced)
    tools -> other agent                (a handoff: ``transfer_to_<agent>`` returned a Command)
    tools -> escalate -> finish         (ping-pong or handoff limit: a human takes over)
    agent -> finish -> END              (the agent answered the customer)

Handoffs are tools (:mod:`graphs.handoff`); the tool node executes a message's ordinary
calls first (with the usual permission checks, approvals and audit), then at most one
handoff, and answers every call so the thread stays valid. The agent holding the
conversation is kept in ``active_agent``: the next customer message on the same thread goes
straight to it. Each customer message may be handed on at most ``support.max_handoffs``
times and may bounce between two agents only once (A -> B -> A); beyond that the desk
escalates to a human instead of handing on.

Writes act for a customer, so they need the customer the channel verified (input
``customer_id``: the ``--customer`` option, the chat session, the API caller); a name or id
in the message verifies nothing. Without one the desk reads and answers but every write is
refused, and the reply says how to verify. A request whose write was refused or failed is
reported as ``refused``/``failed`` and its ticket cannot be closed as resolved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import BaseTool
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from opsgraph.agents.account_management import ACCOUNT_MANAGEMENT
from opsgraph.agents.base import AgentSpec
from opsgraph.agents.billing import BILLING
from opsgraph.agents.technical_support import TECHNICAL_SUPPORT
from opsgraph.agents.triage import TRIAGE
from opsgraph.graphs.binding import bind_last
from opsgraph.graphs.components import (APPROVAL, TOOLS, after_turn, agent_turn, approval_gate, execute_tool_calls,
                                        guard_step, last_ai, thread_id)
from opsgraph.graphs.handoff import (MAX_BOUNCES, create_handoff_tool, handoff_tool_name, handoff_update,
                                     perform_handoffs)
from opsgraph.graphs.incident import cost_summary, done_actions
from opsgraph.graphs.state import SupportInput, SupportOutput, SupportReport, SupportState
from opsgraph.citations import collect_citations
from opsgraph.context import OpsContext, resolve_context
from opsgraph.governance.ownership import IDENTITY_HELP

GRAPH_ID = "support_desk"
INTAKE, ESCALATE, FINISH = "intake", "escalate", "finish"
DESK = "support_desk"  # author of the desk's own messages (escalation notices, customer context)
CUSTOMER_NOTE = "Customer on this conversation:"
Agent = Literal["triage", "billing", "technical_support", "account_management"]
AGENTS = {spec.name: spec for spec in (TRIAGE, BILLING, TECHNICAL_SUPPORT, ACCOUNT_MANAGEMENT)}
assert set(AGENTS) == set(get_args(Agent)), "agent specs and the Agent literal must agree"
HANDOFF_TOOLS = {handoff_tool_name(name): create_handoff_tool(name, spec.description)
                 for name, spec in AGENTS.items() if name != TRIAGE.name}


@dataclass(frozen=True)
class Desk:
    """The desk's agents (each with its handoff targets), the entry agent and the handoff guards:
    the default desk, or one a workflow spec declares."""

    agents: dict[str, AgentSpec] = field(default_factory=lambda: dict(AGENTS))
    entry: str = TRIAGE.name
    # The policy.yaml key of the per-request handoff limit, and the ping-pong guard (A -> B -> A returns).
    max_handoffs: str = "support.max_handoffs"
    max_bounces: int = MAX_BOUNCES
    handoff_tools: dict[str, BaseTool] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # One transfer tool per agent that some agent may hand to; its description is the target's.
        targets = dict.fromkeys(t for spec in self.agents.values() for t in spec.handoffs)
        tools = {handoff_tool_name(t): create_handoff_tool(t, self.agents[t].description) for t in targets}
        object.__setattr__(self, "handoff_tools", HANDOFF_TOOLS if self.agents == AGENTS else tools)


DEFAULT_DESK = Desk()


def _customer_note(state: SupportState, request: HumanMessage) -> list[AIMessage]:
    """Who the customer is, once per thread, when the caller knows and the message does not say."""
    customer = state.get("customer_id")
    if not customer or state.get("requests") or customer in str(request.content):
        return []
    return [AIMessage(content=f"{CUSTOMER_NOTE} {customer}.", name=DESK)]


def intake(state: SupportState, desk: Desk = DEFAULT_DESK) -> Command[Agent]:
    """Start a customer message: the agent already holding the conversation takes it, else the entry agent."""
    held = state.get("active_agent")
    target = held if held in desk.agents else desk.entry
    request = state["messages"][-1]
    update = {
        "messages": _customer_note(state, request), "requests": int(state.get("requests") or 0) + 1,
        "turn_start": len(state.get("actions") or []), "route": [target], "handoff_count": 0, "steps": 0,
        "agent_rounds": 0, "escalation": None, "stop_reason": None, "active_agent": target, "visited": [target],
    }
    return Command(goto=target, update=update)


def make_agent(name: str, desk: Desk = DEFAULT_DESK):
    """Node for one desk agent: a model round, then tools, approval, or the answer to the customer."""
    spec = desk.agents[name]
    handoffs = [desk.handoff_tools[handoff_tool_name(target)] for target in spec.handoffs]

    def agent(state: SupportState, runtime: Runtime[OpsContext]) -> Command[Literal["tools", "approval", "finish"]]:
        ctx = resolve_context(runtime.context)
        stop = guard_step(state, ctx)
        if stop:
            return Command(goto=FINISH, update={"stop_reason": stop})
        update = agent_turn(spec, ctx, state, {"max_handoffs": ctx.policy.get(desk.max_handoffs)},
                            extra_tools=handoffs)
        update["steps"] = int(state.get("steps") or 0) + 1
        return Command(goto=after_turn(update["messages"][0], ctx, FINISH), update=update)

    agent.__name__ = name
    return agent


def tools(state: SupportState, runtime: Runtime[OpsContext], desk: Desk = DEFAULT_DESK) -> Command[Literal[
        "triage", "billing", "technical_support", "account_management", "escalate"]]:
    """Execute the active agent's calls: ordinary ones first, then at most one handoff (see module doc)."""
    ctx = resolve_context(runtime.context)
    message, agent = last_ai(state["messages"]), state["active_agent"]
    calls = message.tool_calls if message else []
    handoff_tools = desk.handoff_tools
    ordinary = [c for c in calls if c["name"] not in handoff_tools]
    earlier = (state.get("actions") or [])[int(state.get("turn_start") or 0):]
    done = execute_tool_calls(state, ctx, calls=ordinary, verify_customer=True,
                              guard=lambda call, batch: _closing_refusal(call, [*earlier, *batch]))
    outcome = perform_handoffs([c for c in calls if c["name"] in handoff_tools], agent, ctx, handoff_tools,
                               state.get("route") or [agent], int(state.get("handoff_count") or 0),
                               int(ctx.policy.get(desk.max_handoffs)), desk.max_bounces)
    answers = {m.tool_call_id: (m, a) for m, a in zip(done["messages"], done["actions"])} | outcome.answers
    # Tool messages in the order of the calls, one per call, whatever happened to each.
    update = {"messages": [answers[c["id"]][0] for c in calls], "actions": [answers[c["id"]][1] for c in calls],
              "citations": done["citations"]}
    if outcome.escalation:
        return Command(goto=ESCALATE, update={**update, "escalation": {"reason": outcome.escalation, "agent": agent}})
    if outcome.target:
        return Command(goto=outcome.target, update=update | handoff_update(state, outcome))
    return Command(goto=agent, update=update)


def approval(state: SupportState, runtime: Runtime[OpsContext]) -> Command[Literal["tools"]]:
    """Hold refunds above the running limit for a human; identity and scope are checked before anyone is asked."""
    ctx = resolve_context(runtime.context)
    return Command(goto=TOOLS, update={"approvals": approval_gate(state, ctx, verify_customer=True)})


def _closing_refusal(call: dict, turn: list[dict]) -> str | None:
    """Why a ticket may not be closed as resolved: a write this request asked for was refused or failed."""
    if call["name"] != "update_ticket" or call["args"].get("status") not in ("resolved", "closed"):
        return None
    # A failed attempt counts until a later call of the same tool went through.
    failed = [a for i, a in enumerate(turn) if a["writes"] and not a["ok"]
              and not any(b["ok"] and b["tool"] == a["tool"] for b in turn[i + 1:])]
    if not failed:
        return None
    what = ", ".join(sorted({f"{a['tool']} ({a['status']})" for a in failed}))
    return (f"the ticket cannot be marked {call['args']['status']}: {what} did not go through on this request; "
            "set it to pending with a note saying what the customer must do")


def escalate(state: SupportState, runtime: Runtime[OpsContext], desk: Desk = DEFAULT_DESK
             ) -> Command[Literal["finish"]]:
    """A human takes over: say so to the customer, record why, and start afresh on the next message."""
    ctx = resolve_context(runtime.context)
    escalation = {**state["escalation"], "route": list(state.get("route") or []),
                  "request": int(state.get("requests") or 1)}
    ctx.audit.record(thread_id(), f"escalation:{escalation['request']}", "escalation", agent=escalation["agent"],
                     name="human_handover", args={"route": escalation["route"]}, result=escalation, ok=False)
    notice = AIMessage(name=DESK, content="I am passing your request to a member of our support team, who will "
                                          f"reply on this conversation. (Reason: {escalation['reason']}.)")
    return Command(goto=FINISH, update={"messages": [notice], "escalation": escalation, "active_agent": desk.entry})


def finish(state: SupportState) -> dict:
    """The report of this customer message, built from what the tools actually did."""
    return {"report": build_support_report(state)}



def build_support_report(state: SupportState) -> SupportReport:
    """The structured report of the latest customer message on a support thread."""
    actions = (state.get("actions") or [])[int(state.get("turn_start") or 0):]
    request = int(state.get("requests") or 1)
    reply = _reply(state["messages"])
    if any(IDENTITY_HELP in str(a["result"]) for a in actions if a["status"] == "refused"):
        reply = (reply + "\n\n" if reply else "") + f"Nothing was changed: {IDENTITY_HELP}."
    outcome = _outcome(state, actions)
    refunds = [a["result"] for a in done_actions(actions, "issue_refund")]
    tickets = [{"ticket_id": a["result"].get("ticket_id"), "status": a["result"].get("status")}
               for a in done_actions(actions, "update_ticket")]
    plans = [a["result"] for a in done_actions(actions, "change_plan")]
    handoffs = [h for h in state.get("handoffs") or [] if h["request"] == request]
    ids = {a["tool_call_id"] for a in actions}
    approvals = [{k: a[k] for k in ("kind", "decision", "reason", "by")}
                 for a in state.get("approvals") or [] if a["tool_call_id"] in ids]
    cited = list(dict.fromkeys(c for a in actions if a["ok"] for c in collect_citations(a["result"])))
    report = SupportReport(
        title=f"support request {request}: {_first_line(state, request)}", outcome=outcome,
        stop_reason=state.get("stop_reason"), reply=reply, route=list(state.get("route") or []),
        handoffs=handoffs, escalation=state.get("escalation"),
        actions_taken=[f"{a['agent']}: {a['tool']}" for a in actions if a["writes"] and a["ok"]],
        refunds=refunds, tickets_updated=tickets, plan_changes=plans,
        approvals=approvals, policies_cited=cited, cost=cost_summary(state.get("calls") or []), summary=[])
    report["summary"] = _summary_lines(report)
    return report


def _outcome(state: SupportState, actions: list[dict]) -> str:
    """escalated/stopped first; then a write that was refused or failed is never reported as answered."""
    if state.get("escalation"):
        return "escalated"
    if state.get("stop_reason"):
        return "stopped"
    attempted = [a for a in actions if a["writes"]]
    if any(a["status"] in ("refused", "rejected") for a in attempted):
        return "refused"
    if any(a["status"] == "error" for a in attempted):
        return "failed"
    return "answered"


def _reply(messages: list) -> str:
    """The last answer to the latest customer message ("" when none was given, e.g. after a stop)."""
    start = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
    answers = [str(m.content) for m in messages[start + 1:] if isinstance(m, AIMessage) and not m.tool_calls
               and m.content and not str(m.content).startswith(CUSTOMER_NOTE)]
    return answers[-1] if answers else ""


def _first_line(state: SupportState, request: int) -> str:
    asked = [m for m in state["messages"] if isinstance(m, HumanMessage)]
    text = str(asked[request - 1].content if len(asked) >= request else asked[-1].content) if asked else ""
    return (text.splitlines() or [""])[0][:70]


def _summary_lines(report: SupportReport) -> list[str]:
    lines = [f"Route: {' -> '.join(report['route'])}"]
    if report["escalation"]:
        lines.append(f"Escalated to a human: {report['escalation']['reason']}")
    if report["stop_reason"]:
        lines.append(f"Stopped: {report['stop_reason']}")
    lines += [f"Refund {r['refund_id']}: ${r['amount_usd']:,.2f} on {r['invoice_id']} ({r['invoice_status']})"
              for r in report["refunds"]]
    lines += [f"Ticket {t['ticket_id']} -> {t['status']}" for t in report["tickets_updated"]]
    lines += [f"Plan of {p['customer_id']}: {p['old_plan']} -> {p['new_plan']}" for p in report["plan_changes"]]
    lines += [f"Approval: {a['kind']} {a['decision']} by {a['by']}" for a in report["approvals"]]
    if report["policies_cited"]:
        lines.append("Policies: " + "; ".join(report["policies_cited"]))
    lines.append("Reply: " + (report["reply"].splitlines() or [""])[0][:200])
    return lines



def build_support_desk_graph(desk: Desk = DEFAULT_DESK) -> StateGraph:
    """The uncompiled ``support_desk`` graph; the caller picks the checkpointer.

    ``desk`` replaces the agents, their handoff targets and the guards (a workflow spec declares its own).
    """
    graph = StateGraph(SupportState, context_schema=OpsContext, input_schema=SupportInput,
                       output_schema=SupportOutput)
    # A declared desk names its own agents: its routes are given, not read from the Literal hints.
    routes = None if desk is DEFAULT_DESK else {INTAKE: tuple(desk.agents), TOOLS: (*desk.agents, ESCALATE)}
    graph.add_node(INTAKE, bind_last(intake, desk, DEFAULT_DESK), destinations=routes and routes[INTAKE])
    for name in desk.agents:
        graph.add_node(name, make_agent(name, desk))
    graph.add_node(APPROVAL, approval)  # refunds above the automatic limit
    graph.add_node(TOOLS, bind_last(tools, desk, DEFAULT_DESK), destinations=routes and routes[TOOLS])
    graph.add_node(ESCALATE, bind_last(escalate, desk, DEFAULT_DESK))
    graph.add_node(FINISH, finish)
    graph.add_edge(START, INTAKE)
    graph.set_finish_point(FINISH)
    return graph
