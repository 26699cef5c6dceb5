"""Compile a validated workflow spec to an uncompiled LangGraph ``StateGraph``.

A spec compiles to the same builders the Python workflows use, given the agents the spec
declares: nodes, validation gates, tool execution, approvals, audit and reports are the
shared machinery, not a copy of it. One compiler per topology kind.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable

from opsgraph.agents.base import AgentSpec
from opsgraph.workflows.spec import (BlackboardTopology, ConcurrentTopology, GroupChatTopology, HandoffTopology,
                                     MarketTopology, SequentialTopology, SupervisorTopology, WorkflowSpec)

if TYPE_CHECKING:
    from langgraph.graph import StateGraph


def agent_specs(spec: WorkflowSpec) -> dict[str, AgentSpec]:
    """The spec's agents as the AgentSpecs the graph components run."""
    return {name: AgentSpec(name=name, description=decl.description, prompt=decl.prompt, tools=tuple(decl.tools),
                            history=decl.history)
            for name, decl in spec.agents.items()}


def compile_spec(spec: WorkflowSpec) -> StateGraph:
    """The uncompiled graph of ``spec``; the caller picks the checkpointer, as for every builder."""
    compilers: dict[type, Callable[[WorkflowSpec], StateGraph]] = {
        SequentialTopology: _sequential, ConcurrentTopology: _concurrent, HandoffTopology: _handoff,
        SupervisorTopology: _supervisor, GroupChatTopology: _group_chat, BlackboardTopology: _blackboard,
        MarketTopology: _market,
    }
    return compilers[type(spec.topology)](spec)


def _sequential(spec: WorkflowSpec) -> StateGraph:
    """Steps in order: a review chain when the steps declare typed outputs, a pipeline when they do not."""
    assert isinstance(spec.topology, SequentialTopology)
    if spec.report == "pipeline":
        return _pipeline(spec)
    return _review_chain(spec)


def _pipeline(spec: WorkflowSpec) -> StateGraph:
    """Agents one after the other, each with its tools behind the approval gate."""
    from opsgraph.graphs.pipeline import build_pipeline_graph

    assert isinstance(spec.topology, SequentialTopology)
    agents = agent_specs(spec)
    return build_pipeline_graph([agents[step.agent] for step in spec.topology.steps], subject_key=str(spec.input.field),
                                request=spec.input.request, title=spec.input.title)


def _review_chain(spec: WorkflowSpec) -> StateGraph:
    """Steps gated by validation of their typed outputs (the contract review chain)."""
    from opsgraph.graphs.contract_review import ReviewChain, build_contract_review_graph

    assert isinstance(spec.topology, SequentialTopology)
    agents = agent_specs(spec)
    by_output = {step.output: agents[step.agent] for step in spec.topology.steps}
    chain = ReviewChain(extractor=by_output["contract_terms"], compliance=by_output["compliance_findings"],
                        summarizer=by_output["contract_summary"])
    return build_contract_review_graph(chain)


def _concurrent(spec: WorkflowSpec) -> StateGraph:
    """Branches fanned out with Send, merged by the reconciler (the supplier risk panel)."""
    from opsgraph.graphs.supplier_risk import build_supplier_risk_graph

    assert isinstance(spec.topology, ConcurrentTopology)
    agents = agent_specs(spec)
    panel = {name: (agents[name], str(spec.agents[name].dimension)) for name in spec.topology.branches}
    return build_supplier_risk_graph(panel)


def _handoff(spec: WorkflowSpec) -> StateGraph:
    """Agents handing the conversation on with transfer tools, under the handoff guards (the support desk)."""
    from opsgraph.graphs.support_desk import Desk, build_support_desk_graph

    topology = spec.topology
    assert isinstance(topology, HandoffTopology)
    agents = agent_specs(spec)
    desk = {name: dataclasses.replace(agents[name], handoffs=tuple(targets))
            for name, targets in topology.handoffs.items()}
    return build_support_desk_graph(Desk(desk, topology.entry, topology.guards.max_handoffs,
                                         topology.guards.max_bounces))


def _supervisor(spec: WorkflowSpec) -> StateGraph:
    """A supervisor routing between workers, purchases above the threshold held for approval (the incident team)."""
    from opsgraph.graphs.supply_chain import Team, build_supply_chain_graph

    topology = spec.topology
    assert isinstance(topology, SupervisorTopology)
    agents = agent_specs(spec)
    team = Team(agents[topology.supervisor], {name: agents[name] for name in topology.workers})
    return build_supply_chain_graph(team)


def _group_chat(spec: WorkflowSpec) -> StateGraph:
    """A maker drafting and checkers giving typed verdicts, run by the moderator (the procurement review)."""
    from opsgraph.graphs.procurement_review import Panel, build_procurement_review_graph

    topology = spec.topology
    assert isinstance(topology, GroupChatTopology)
    agents = agent_specs(spec)
    panel = Panel(agents[topology.maker], tuple(agents[name] for name in topology.checkers), topology.max_rounds)
    return build_procurement_review_graph(panel)


def _blackboard(spec: WorkflowSpec) -> StateGraph:
    """Agents reading and writing sections of a versioned board, run by the controller (the demand board)."""
    from opsgraph.graphs.demand_sensing import BoardRole, BoardTeam, build_demand_sensing_graph

    topology = spec.topology
    assert isinstance(topology, BlackboardTopology)
    agents = agent_specs(spec)
    roles = {name: BoardRole(agents[name], tuple(decl.reads),
                             {section: (write.tool, write.key) for section, write in decl.writes.items()})
             for name, decl in topology.board.items()}
    return build_demand_sensing_graph(BoardTeam(roles, tuple(topology.sections), topology.max_cycles))


def _market(spec: WorkflowSpec) -> StateGraph:
    """Bidders pricing announced jobs from their own calendars, awards by the policy's rules (production planning)."""
    from opsgraph.graphs.production_planning import Market, build_production_planning_graph

    topology = spec.topology
    assert isinstance(topology, MarketTopology)
    agents = agent_specs(spec)
    market = Market(agents[topology.bidder], agents[topology.shortfalls], topology.award, topology.max_awards_per_round)
    return build_production_planning_graph(market)
