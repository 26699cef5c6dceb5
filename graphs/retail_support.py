"""``retail_support``: the tau2-bench retail domain on the support desk's handoff machinery.

    START -> intake -> {retail_triage | the specialist already talking to the customer}
    agent -> tools -> agent            (tool rounds)
    tools -> other agent                (a handoff: ``transfer_to_<agent>`` returned a Command)
    tools -> escalate -> finish         (transfer_to_human_agents, ping-pong or handoff limit)
    agent -> finish -> END              (the agent answered the customer)

Triage authenticates the customer and hands the request to orders (pending orders),
returns (delivered orders) or account (profile). Handoffs are the tools of
:mod:`graphs.handoff`; tool calls run through :func:`graphs.components.execute_tool_calls`
(permissions from policy.yaml, idempotency keys, audit). Two retail guarantees are enforced
here, not by the prompt: the customer is the user a lookup tool found in the database (or
the one the channel named), and a write may only touch that customer's orders and profile.
``transfer_to_human_agents`` pauses the thread with an ``escalation`` interrupt that a human
answers; the answer is posted to the customer.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from langchain_core.messages import AIMessage
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from opsgraph.agents.retail_account import RETAIL_ACCOUNT
from opsgraph.agents.retail_orders import RETAIL_ORDERS
from opsgraph.agents.retail_returns import RETAIL_RETURNS
from opsgraph.agents.retail_triage import RETAIL_TRIAGE
from opsgraph.context import OpsContext, resolve_context
from opsgraph.graphs.components import TOOLS, after_turn, agent_turn, execute_tool_calls, guard_step, last_ai, \
    refuse_call, thread_id
from opsgraph.graphs.handoff import create_handoff_tool, handoff_tool_name, handoff_update, perform_handoffs
from opsgraph.graphs.incident import cost_summary
from opsgraph.graphs.state import SupportInput, SupportOutput, SupportReport, SupportState
from opsgraph.tools.retail.tools import HUMAN_TRANSFER

GRAPH_ID = "retail_support"
INTAKE, ESCALATE, FINISH = "intake", "escalate", "finish"
DESK = "retail_desk"  # author of the desk's own messages
HUMAN = "human_agent"  # author of a human's reply after an escalation
LOOKUPS = ("find_user_id_by_email", "find_user_id_by_name_zip")
Agent = Literal["retail_triage", "retail_orders", "retail_returns", "retail_account"]
AGENTS = {spec.name: spec for spec in (RETAIL_TRIAGE, RETAIL_ORDERS, RETAIL_RETURNS, RETAIL_ACCOUNT)}
assert set(AGENTS) == set(get_args(Agent)), "agent specs and the Agent literal must agree"
HANDOFF_TOOLS = {handoff_tool_name(name): create_handoff_tool(name, spec.description)
                 for name, spec in AGENTS.items() if name != RETAIL_TRIAGE.name}


def policy_text(ctx: OpsContext) -> str:
    """The retail policy as the knowledge layer holds it (the ``retail`` department's document)."""
    from opsgraph.knowledge.corpus import read_document

    root = ctx.settings.knowledge_path
    return read_document(root / "retail" / "retail-agent-policy.md", root, ctx.policy).body


def intake(state: SupportState) -> Command[Agent]:
    """Start a customer message: the agent already holding the conversation takes it, else triage."""
    held = state.get("active_agent")
    target = held if held in AGENTS else RETAIL_TRIAGE.name
    update = {
        "requests": int(state.get("requests") or 0) + 1, "turn_start": len(state.get("actions") or []),
        "route": [target], "handoff_count": 0, "steps": 0, "agent_rounds": 0, "escalation": None,
        "stop_reason": None, "active_agent": target, "visited": [target],
    }
    return Command(goto=target, update=update)


def make_agent(name: str):
    """Node for one retail agent: a model round, then its tools or the answer to the customer."""
    spec = AGENTS[name]
    handoffs = [HANDOFF_TOOLS[handoff_tool_name(target)] for target in spec.handoffs]
    teams = {agent.split("_", 1)[1]: AGENTS[agent].description for agent in AGENTS if agent != RETAIL_TRIAGE.name}

    def agent(state: SupportState, runtime: Runtime[OpsContext]) -> Command[Literal["tools", "finish"]]:
        ctx = resolve_context(runtime.context)
        stop = guard_step(state, ctx)
        if stop:
            return Command(goto=FINISH, update={"stop_reason": stop})
        values = {"policy": policy_text(ctx), **teams}
        update = agent_turn(spec, ctx, state, values, extra_tools=handoffs)
        update["steps"] = int(state.get("steps") or 0) + 1
        # No approval step here: a supervised retail write is refused by the executor.
        return Command(goto=after_turn(update["messages"][0], ctx, FINISH, gated=False), update=update)

    agent.__name__ = name
    return agent


def record_owner(args: dict[str, Any], ctx: OpsContext, agent: str) -> str | None:
    """The user a write's arguments point at: the order's user or the ``user_id`` given (None if unknown)."""
    if args.get("user_id"):
        return str(args["user_id"])
    if not args.get("order_id"):
        return None
    reader = ctx.tool("get_order_details", agent)
    try:
        return str(reader.invoke({"order_id": args["order_id"]})["user_id"]) if reader else None
    except Exception:  # noqa: BLE001 - an unknown order is left to the tool to reject clearly
        return None


def scope_refusal(call: dict, ctx: OpsContext, agent: str, customer: str | None) -> str | None:
    """Why a write must not run in this conversation, or None (reads and generic tools always may)."""
    tool = ctx.tool(call["name"], agent)
    if tool is None or not (tool.metadata or {}).get("writes"):
        return None
    if not customer:
        return (f"'{call['name']}' not executed: authenticate the customer first "
                "(find_user_id_by_email or find_user_id_by_name_zip)")
    owner = record_owner(call["args"], ctx, agent)
    if owner is not None and owner != customer:
        return f"'{call['name']}' not executed: this conversation is about {customer}; the record belongs to {owner}"
    return None


def authenticated(state: SupportState, actions: list[dict]) -> str | None:
    """The conversation's customer: fixed once known; else the first user id a lookup tool returned."""
    if state.get("customer_id"):
        return state["customer_id"]
    found = [a["result"] for a in actions if a["tool"] in LOOKUPS and a["ok"] and isinstance(a["result"], str)]
    return found[0] if found else None


def _run_calls(state: SupportState, ctx: OpsContext, agent: str, calls: list[dict]) -> tuple[dict, dict]:
    """Answers by call id (refused writes, executed calls) and the executor's citations."""
    answers, allowed = {}, []
    for call in calls:
        why = scope_refusal(call, ctx, agent, state.get("customer_id"))
        if why:
            answers[call["id"]] = refuse_call(call, agent, ctx, why)
        else:
            allowed.append(call)
    done = execute_tool_calls(state, ctx, calls=allowed)
    answers |= {m.tool_call_id: (m, a) for m, a in zip(done["messages"], done["actions"])}
    return answers, done


def tools(state: SupportState, runtime: Runtime[OpsContext]) -> Command[Literal[
        "retail_triage", "retail_orders", "retail_returns", "retail_account", "escalate"]]:
    """Execute the active agent's calls: ordinary ones first (scope-checked), then at most one handoff."""
    ctx = resolve_context(runtime.context)
    message, agent = last_ai(state["messages"]), state["active_agent"]
    calls = message.tool_calls if message else []
    answers, done = _run_calls(state, ctx, agent, [c for c in calls if c["name"] not in HANDOFF_TOOLS])
    outcome = perform_handoffs([c for c in calls if c["name"] in HANDOFF_TOOLS], agent, ctx, HANDOFF_TOOLS,
                               state.get("route") or [agent], int(state.get("handoff_count") or 0),
                               int(ctx.policy.get("support.max_handoffs")))
    answers |= outcome.answers
    actions = [answers[c["id"]][1] for c in calls]
    update: dict[str, Any] = {"messages": [answers[c["id"]][0] for c in calls], "actions": actions,
                              "citations": done["citations"]}
    customer = authenticated(state, actions)
    update |= {"customer_id": customer} if customer else {}
    transfer = next((a for a in actions if a["tool"] == HUMAN_TRANSFER and a["ok"]), None)
    if transfer or outcome.escalation:
        reason = (f"transfer to a human requested: {transfer['args'].get('summary', '')}" if transfer
                  else outcome.escalation)
        return Command(goto=ESCALATE, update={**update, "escalation": {"reason": reason, "agent": agent}})
    if outcome.target:
        return Command(goto=outcome.target, update=update | handoff_update(state, outcome))
    return Command(goto=agent, update=update)


def escalate(state: SupportState, runtime: Runtime[OpsContext]) -> Command[Literal["finish"]]:
    """A human takes over: pause for them (``escalation`` interrupt), then post their reply to the customer."""
    ctx = resolve_context(runtime.context)
    escalation = {**state["escalation"], "route": list(state.get("route") or []),
                  "request": int(state.get("requests") or 1), "customer_id": state.get("customer_id")}
    ctx.audit.record(thread_id(), f"escalation:{escalation['request']}", "escalation", agent=escalation["agent"],
                     name="human_handover", args={"route": escalation["route"]}, result=escalation, ok=False)
    answer = interrupt({"type": "escalation", **escalation, "options": ["approve", "reject"],
                        "message": "a human agent takes over this customer; answer with the reply to send"})
    reply = str(answer.get("reason") or "") if isinstance(answer, dict) else str(answer or "")
    messages = [AIMessage(name=HUMAN, content=reply)] if reply.strip() else []
    return Command(goto=FINISH, update={"messages": messages, "escalation": escalation,
                                        "active_agent": RETAIL_TRIAGE.name})


def finish(state: SupportState) -> dict:
    """The report of this customer message, built from what the tools actually did."""
    return {"report": build_retail_report(state)}


def _reply(messages: list) -> str:
    answers = [str(m.content) for m in messages if isinstance(m, AIMessage) and not m.tool_calls and m.content]
    return answers[-1] if answers else ""


def build_retail_report(state: SupportState) -> SupportReport:
    """The structured report of the latest customer message on a retail thread."""
    request = int(state.get("requests") or 1)
    actions = list(state.get("actions") or [])[int(state.get("turn_start") or 0):]
    outcome = "escalated" if state.get("escalation") else "stopped" if state.get("stop_reason") else "answered"
    done = [f"{a['agent']}: {a['tool']}" for a in actions if a["writes"] and a["ok"]]
    report = SupportReport(
        title=f"retail request {request} for {state.get('customer_id') or 'an unauthenticated customer'}",
        outcome=outcome, stop_reason=state.get("stop_reason"), reply=_reply(state["messages"]),
        route=list(state.get("route") or []),
        handoffs=[h for h in state.get("handoffs") or [] if h["request"] == request],
        escalation=state.get("escalation"), actions_taken=done, refunds=[], tickets_updated=[], plan_changes=[],
        approvals=[], policies_cited=list(state.get("citations") or []),
        cost=cost_summary(state.get("calls") or []), summary=[])
    report["summary"] = [f"Route: {' -> '.join(report['route'])}", *[f"Done: {d}" for d in done],
                         "Reply: " + (report["reply"].splitlines() or [""])[0][:200]]
    return report


def build_retail_support_graph() -> StateGraph:
    """The uncompiled ``retail_support`` graph; the caller picks the checkpointer.

    The run context must carry the retail tools (see :func:`graphs.retail_support.retail_context`).
    """
    graph = StateGraph(SupportState, context_schema=OpsContext, input_schema=SupportInput,
                       output_schema=SupportOutput)
    graph.add_node(INTAKE, intake)
    for name in AGENTS:
        graph.add_node(name, make_agent(name))
    graph.add_node(TOOLS, tools)
    graph.add_node(ESCALATE, escalate)
    graph.add_node(FINISH, finish)
    graph.add_edge(START, INTAKE)
    graph.set_finish_point(FINISH)
    return graph


def retail_context(ctx: OpsContext, retail: Any) -> OpsContext:
    """``ctx`` with the retail tools over connector ``retail`` (a :class:`Retail`) added."""
    import dataclasses

    from opsgraph.tools.retail.tools import build_retail_tools

    return dataclasses.replace(ctx, tools={**ctx.tools, **build_retail_tools(retail)})
