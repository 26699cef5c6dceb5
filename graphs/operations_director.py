"""``operations_director``: a top supervisor delegates to team supervisors running as subgraphs.

    START -> intake -> director -> supply_chain_team -> director -> procurement_team -> director -> report -> END

The teams are the compiled ``supply_chain_exception`` graph (a supervisor over logistics,
inventory, procurement and customer comms) and the compiled ``procurement_review`` graph (a
moderator over a buyer and two reviewers). Each team node invokes its subgraph with the
team's own input and turns the subgraph's report into one message for the director; the
team's thread lives in the subgraph's checkpoint (its own namespace under the same thread).

Compiled without a checkpointer, the subgraphs use the parent's. An ``interrupt`` inside a
team (a purchase order above the approval threshold, an escalated review) therefore stops
the whole run and shows in the parent's ``get_state(...).interrupts``; resuming the parent
with ``Command(resume=...)`` re-enters the team node, whose subgraph continues from its own
checkpoint at the interrupted step: work done before the interrupt is not repeated, so the
purchase order is created exactly once. Team nodes do nothing else before invoking the
subgraph, so re-entering them is safe.
"""

from __future__ import annotations

from typing import Any, Callable, Literal

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel, Field

from opsgraph.graphs.components import audit_model_call, guard_step
from opsgraph.graphs.history import context_policy, history_view
from opsgraph.graphs.incident import cost_summary
from opsgraph.graphs.procurement_review import build_procurement_review_graph
from opsgraph.graphs.state import DirectorInput, DirectorOutput, DirectorReport, DirectorState
from opsgraph.graphs.supply_chain import build_supply_chain_graph, event_message
from opsgraph.context import OpsContext, resolve_context
from opsgraph.governance.budgets import CARRIED, carried_spend
from opsgraph.prompts import load_prompt

GRAPH_ID = "operations_director"
DIRECTOR, INTAKE, REPORT = "director", "intake", "report"
SUPPLY_CHAIN_TEAM, PROCUREMENT_TEAM = "supply_chain_team", "procurement_team"
Team = Literal["supply_chain_team", "procurement_team"]


class Delegation(BaseModel):
    """The director's decision."""

    next: Literal["supply_chain_team", "procurement_team", "FINISH"] = Field(
        description="The team that acts next, or FINISH when nothing useful is left.")
    reason: str = Field(description="One sentence on why.")


def request_text(request: dict[str, Any]) -> str:
    """A purchase request in words, as the director reads it."""
    supplier = f", preferred supplier {request['preferred_supplier_id']}" if request.get("preferred_supplier_id") else ""
    return f"Purchase request for review: {request['quantity']} x {request['sku_id']} for {request['dc_id']}{supplier}."


def intake(state: DirectorState) -> dict:
    """Open the thread with what the teams are asked to handle, unless the caller wrote it."""
    if state.get("messages"):
        return {"steps": 0}
    parts = []
    if state.get("event"):
        parts.append(str(event_message(state["event"]).content))
    if state.get("request"):
        parts.append(request_text(state["request"]))
    return {"messages": [HumanMessage(content="\n".join(parts) or "No task given.", name="operations")], "steps": 0}


def director(state: DirectorState, runtime: Runtime[OpsContext]) -> Command[Literal[
        "supply_chain_team", "procurement_team", "report"]]:
    """Pick the next team, or finish; each team acts at most once."""
    ctx = resolve_context(runtime.context)
    stop = guard_step(state, ctx)
    if stop:
        return Command(goto=REPORT, update={"stop_reason": stop})
    view = history_view(state["messages"], DIRECTOR, context_policy(DIRECTOR, ctx.policy, "full"))
    route, record = ctx.gateway.structured(DIRECTOR, [SystemMessage(load_prompt(DIRECTOR)), *view], Delegation,
                                           state=state)
    goto = REPORT if route.next == "FINISH" or route.next in (state.get("visited") or []) else route.next
    note = AIMessage(content=f"-> {goto}: {route.reason}", name=DIRECTOR)
    audit_model_call(ctx, DIRECTOR, len(state["messages"]), record, note)
    update = {"messages": [note], "calls": [record], "steps": int(state.get("steps") or 0) + 1}
    if goto != REPORT:
        update |= {"visited": [goto], "active_agent": goto}
    return Command(goto=goto, update=update)


def make_team(name: str, team: CompiledStateGraph, team_input: Callable[[DirectorState], dict | None],
              summarize: Callable[[dict], str]):
    """Node that runs one team's subgraph to its end (or to an interrupt) and reports to the director."""

    def run_team(state: DirectorState, runtime: Runtime[OpsContext]) -> Command[Literal["director"]]:
        given = team_input(state)
        if given is None:
            note = AIMessage(name=name, content=f"{name} finished: nothing in the request for this team.")
            return Command(goto=DIRECTOR, update={"messages": [note]})
        # Nothing with effects happens before this call: on resume the node runs again and the
        # subgraph picks up at its own checkpoint (see module doc), ignoring this input.
        result = team.invoke(with_run_budget(given, state), context=runtime.context, output_keys=["report", "calls"])
        report = result.get("report") or {}
        note = AIMessage(name=name, content=summarize(report))
        # The team's model calls join the director's: its caps, the kill switch and the report count them.
        return Command(goto=DIRECTOR, update={"messages": [note], "team_reports": {name: report},
                                              "calls": list(result.get("calls") or [])})

    run_team.__name__ = name
    return run_team


def with_run_budget(team_input: dict, state: DirectorState) -> dict:
    """A team's input with the run's caps and what the run has spent so far, so the team's budget
    checks (before every agent call and at every step) count the whole run, not only the team."""
    overrides = dict(state.get("budget") or {})
    overrides[CARRIED] = carried_spend(state.get("calls") or [], overrides)
    return {**team_input, "budget": overrides}


def _supply_chain_input(state: DirectorState) -> dict | None:
    return {"event": state["event"]} if state.get("event") else None


def _procurement_input(state: DirectorState) -> dict | None:
    return {"request": state["request"]} if state.get("request") else None


def _po_words(orders: list[dict]) -> str:
    made = [f"{po.get('po_id') or '(none)'} to {po.get('supplier_id')} [{po.get('status')}]" for po in orders if po]
    return "; ".join(made) or "none raised"


def summarize_supply_chain(report: dict) -> str:
    """The supply chain team's report in one message (worded so it names no other team's trigger)."""
    return (f"{SUPPLY_CHAIN_TEAM} finished ({report.get('outcome', 'unknown')}). {report.get('what_happened', '')} "
            f"Orders affected: {', '.join(report.get('orders_affected') or []) or 'none'}. "
            f"Customers notified: {', '.join(report.get('customers_notified') or []) or 'none'}. "
            f"Orders placed with suppliers: {_po_words(report.get('purchase_orders') or [])}.")


def summarize_procurement(report: dict) -> str:
    """The procurement team's report in one message."""
    order = report.get("purchase_order")
    return (f"{PROCUREMENT_TEAM} finished ({report.get('outcome', 'unknown')}) after {report.get('rounds', 0)} "
            f"round(s). Orders placed with suppliers: {_po_words([order] if order else [])}.")


def report(state: DirectorState) -> dict:
    """The director's report: each team's outcome, purchase orders, approvals and cost."""
    return {"report": build_director_report(state)}


def build_director_report(state: DirectorState) -> DirectorReport:
    """Combine the teams' reports with the director's own accounting."""
    teams = dict(state.get("team_reports") or {})
    orders = list((teams.get(SUPPLY_CHAIN_TEAM) or {}).get("purchase_orders") or [])
    order = (teams.get(PROCUREMENT_TEAM) or {}).get("purchase_order")
    orders += [order] if order else []
    approvals = [a for t in teams.values() for a in t.get("approvals") or []]
    calls = state.get("calls") or []  # the director's own calls and every finished team's
    director_usd = sum(c["cost_usd"] for c in calls if c.get("agent") == DIRECTOR)
    cost = {**cost_summary(calls), "director_usd": round(director_usd, 8),
            "teams": {name: t.get("cost") for name, t in teams.items()}}
    stop = state.get("stop_reason")
    lines = [f"Teams: {' -> '.join(state.get('visited') or []) or 'none'}"]
    lines += [f"{name}: {t.get('outcome')}" + (f" ({t['stop_reason']})" if t.get("stop_reason") else "")
              for name, t in teams.items()]
    lines += [f"Purchase order: {po.get('po_id') or '(none)'} {po.get('supplier_id')} [{po.get('status')}]"
              for po in orders]
    lines += [f"Approval: {a['kind']} {a['decision']} by {a['by']}" for a in approvals]
    lines += [f"Stopped: {stop}"] if stop else []
    return DirectorReport(title="Operations director run", outcome="stopped" if stop else "completed",
                          stop_reason=stop, teams=teams, purchase_orders=orders, approvals=approvals, cost=cost,
                          agents=list(dict.fromkeys(state.get("visited") or [])), summary=lines)


def build_operations_director_graph() -> StateGraph:
    """The uncompiled ``operations_director`` graph; the caller picks the checkpointer (the teams share it)."""
    supply = build_supply_chain_graph().compile(name=SUPPLY_CHAIN_TEAM)
    procurement = build_procurement_review_graph().compile(name=PROCUREMENT_TEAM)
    graph = StateGraph(DirectorState, context_schema=OpsContext, input_schema=DirectorInput,
                       output_schema=DirectorOutput)
    graph.add_node(INTAKE, intake)
    graph.add_node(DIRECTOR, director)
    graph.add_node(SUPPLY_CHAIN_TEAM, make_team(SUPPLY_CHAIN_TEAM, supply, _supply_chain_input, summarize_supply_chain))
    graph.add_node(PROCUREMENT_TEAM, make_team(PROCUREMENT_TEAM, procurement, _procurement_input,
                                               summarize_procurement))
    graph.add_node(REPORT, report)
    graph.add_edge(START, INTAKE)
    graph.add_edge(INTAKE, DIRECTOR)
    graph.set_finish_point(REPORT)
    return graph
