"""``supply_chain_exception``: a supervisor routes a late shipment through four specialists.

    START -> supervisor -> {logistics, inventory, procurement, customer_comms} -> supervisor ...
    specialist -> tools -> specialist   (tool rounds)
    specialist -> approval -> tools     (purchase orders above the policy threshold)
    supervisor -> report -> END

The supervisor chooses with a typed structured output; every route is a ``Command`` with
a ``Literal`` destination. A step limit and the kill switch end the run with a report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, get_args

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel, Field, create_model

from opsgraph.agents.base import AgentSpec
from opsgraph.agents.customer_comms import CUSTOMER_COMMS
from opsgraph.agents.inventory import INVENTORY
from opsgraph.agents.logistics import LOGISTICS
from opsgraph.agents.procurement import PROCUREMENT
from opsgraph.graphs.binding import bind_last
from opsgraph.graphs.components import (APPROVAL, TOOLS, after_turn, agent_turn, approval_node, audit_model_call,
                               execute_tool_calls, guard_step)
from opsgraph.graphs.incident import build_incident_report
from opsgraph.graphs.state import SupplyChainInput, SupplyChainOutput, SupplyChainState
from opsgraph.context import OpsContext, resolve_context
from opsgraph.prompts import load_prompt

GRAPH_ID = "supply_chain_exception"
SUPERVISOR, REPORT = "supervisor", "report"
Worker = Literal["logistics", "inventory", "procurement", "customer_comms"]
WORKERS = {spec.name: spec for spec in (LOGISTICS, INVENTORY, PROCUREMENT, CUSTOMER_COMMS)}
assert set(WORKERS) == set(get_args(Worker)), "worker specs and the Worker literal must agree"


class Route(BaseModel):
    """The supervisor's decision."""

    next: Literal["logistics", "inventory", "procurement", "customer_comms", "FINISH"] = Field(
        description="The worker that acts next, or FINISH when nothing useful is left."
    )
    reason: str = Field(description="One sentence on why.")


# The supervisor routes and calls no tools; its tier and knowledge scope are in policy.yaml (agents.supervisor).
SUPERVISOR_AGENT = AgentSpec(name=SUPERVISOR, description="picks the next worker, or finishes", prompt="supervisor",
                             tools=())


@lru_cache(maxsize=32)  # one model class per team, not one per routing decision
def route_model(workers: tuple[str, ...]) -> type[BaseModel]:
    """The supervisor's decision over ``workers``: the default ``Route``, or the same model over other workers."""
    if workers == tuple(WORKERS):
        return Route
    fields = Route.model_fields
    return create_model("Route", __doc__=Route.__doc__,
                        next=(Literal[(*workers, "FINISH")], Field(description=fields["next"].description)),
                        reason=(str, Field(description=fields["reason"].description)))


@dataclass(frozen=True)
class Team:
    """The supervisor and its workers: the default team, or one a workflow spec declares."""

    supervisor: AgentSpec = SUPERVISOR_AGENT
    workers: dict[str, AgentSpec] = field(default_factory=lambda: dict(WORKERS))

    @property
    def route(self) -> type[BaseModel]:
        """The structured output the supervisor chooses with."""
        return route_model(tuple(self.workers))


DEFAULT_TEAM = Team()


def event_message(event: dict) -> HumanMessage:
    """The human turn that opens a run: the structured facts, then the report as written."""
    facts = f"Inbound shipment {event['shipment_id']} is delayed by {event['delay_days']} days."
    text = (event.get("description") or "").strip()
    return HumanMessage(content=facts if not text or text == facts else f"{facts}\nReported: {text}", name="event")


def intake(state: SupplyChainState) -> dict:
    """Open the thread with the event unless the caller supplied messages."""
    if state.get("messages"):
        return {}
    return {"messages": [event_message(state["event"])], "steps": 0}


def supervisor(
    state: SupplyChainState, runtime: Runtime[OpsContext], team: Team = DEFAULT_TEAM
) -> Command[Literal["logistics", "inventory", "procurement", "customer_comms", "report"]]:
    """Pick the next worker, or finish."""
    ctx = resolve_context(runtime.context)
    stop = guard_step(state, ctx)
    if stop:
        return Command(goto=REPORT, update={"stop_reason": stop})
    name = team.supervisor.name
    system = SystemMessage(load_prompt(team.supervisor.prompt))
    route, record = ctx.gateway.structured(name, [system, *state["messages"]], team.route, state=state)
    goto = REPORT if route.next == "FINISH" or route.next in (state.get("visited") or []) else route.next
    note = AIMessage(content=f"-> {goto}: {route.reason}", name=name)
    audit_model_call(ctx, name, len(state["messages"]), record, note)
    update = {"messages": [note], "calls": [record], "steps": int(state.get("steps") or 0) + 1}
    if goto != REPORT:
        update |= {"visited": [goto], "active_agent": goto, "agent_rounds": 0}
    return Command(goto=goto, update=update)


def make_worker(name: str, team: Team = DEFAULT_TEAM):
    """Node for one specialist: a model round, then tools, approval, or back to the supervisor."""
    spec = team.workers[name]

    def worker(state: SupplyChainState, runtime: Runtime[OpsContext]) -> Command[Literal["tools", "approval", "supervisor"]]:
        ctx = resolve_context(runtime.context)
        update = agent_turn(spec, ctx, state, {"event": state["event"]})
        return Command(goto=after_turn(update["messages"][0], ctx, team.supervisor.name), update=update)

    worker.__name__ = name
    return worker


def tools(
    state: SupplyChainState, runtime: Runtime[OpsContext]
) -> Command[Literal["logistics", "inventory", "procurement", "customer_comms"]]:
    """Execute the active worker's tool calls and hand control back to it."""
    update = execute_tool_calls(state, resolve_context(runtime.context))
    return Command(goto=state["active_agent"], update=update)


def report(state: SupplyChainState, runtime: Runtime[OpsContext]) -> dict:
    """Assemble the structured incident report from what the run actually did."""
    return {"report": build_incident_report(state)}



def build_supply_chain_graph(team: Team = DEFAULT_TEAM) -> StateGraph:
    """The uncompiled ``supply_chain_exception`` graph; the caller picks the checkpointer.

    ``team`` replaces the supervisor and its workers (a workflow spec declares its own).
    """
    graph = StateGraph(SupplyChainState, context_schema=OpsContext, input_schema=SupplyChainInput,
                       output_schema=SupplyChainOutput)
    head, workers = team.supervisor.name, tuple(team.workers)
    # A declared team names its own agents: its routes are given, not read from the Literal hints.
    declared = team is not DEFAULT_TEAM
    graph.add_node("intake", intake)
    graph.add_node(head, bind_last(supervisor, team, DEFAULT_TEAM), destinations=(*workers, REPORT) if declared else None)
    for name in workers:
        graph.add_node(name, make_worker(name, team), destinations=(TOOLS, APPROVAL, head) if declared else None)
    graph.add_node(APPROVAL, approval_node)  # purchase orders above the threshold
    graph.add_node(TOOLS, tools, destinations=workers if declared else None)
    graph.add_node(REPORT, report)
    graph.add_edge(START, "intake")
    graph.add_edge("intake", head)
    graph.set_finish_point(REPORT)
    return graph
