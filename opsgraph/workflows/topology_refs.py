"""References of the routed topologies (handoff, supervisor): who routes to whom, and under which guards.

A handoff is a tool (``transfer_to_<agent>``), so policy.yaml must already let the agent call
it: a spec cannot open a route the policy does not grant. The handoff limit is named as a
policy.yaml key, never written as a number in the spec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsgraph.workflows.spec import GroupChatTopology, HandoffTopology, SupervisorTopology, WorkflowSpec

if TYPE_CHECKING:
    from opsgraph.workflows.loader import Problems

# Node names of the graphs these topologies compile to; an agent may not take one of them.
HANDOFF_NODES = ("intake", "tools", "approval", "escalate", "finish")
SUPERVISOR_NODES = ("intake", "tools", "approval", "report")
GROUP_CHAT_NODES = ("intake", "moderator", "tools", "approval", "purchase", "escalate", "report", "purchasing")
# The moderator reviews what the maker drafted with this tool.
MAKER_TOOL = "draft_purchase_order"

Refs = list[tuple[tuple, str]]


def routed_members(spec: WorkflowSpec, problems: Problems, policy: Any) -> Refs:
    """Check a handoff or supervisor topology; the agents it places, each with where it is placed."""
    topology = spec.topology
    if isinstance(topology, HandoffTopology):
        _check_handoff(spec, topology, problems, policy)
        members = [(("topology", "handoffs", name), name) for name in topology.handoffs]
        reserved = HANDOFF_NODES
    elif isinstance(topology, SupervisorTopology):
        _check_supervisor(spec, topology, problems, policy)
        members = [(("topology", "supervisor"), topology.supervisor)]
        members += [(("topology", "workers", i), name) for i, name in enumerate(topology.workers)]
        reserved = SUPERVISOR_NODES
    else:
        assert isinstance(topology, GroupChatTopology)
        _check_group_chat(spec, topology, problems, policy)
        members = [(("topology", "maker"), topology.maker)]
        members += [(("topology", "checkers", i), name) for i, name in enumerate(topology.checkers)]
        reserved = GROUP_CHAT_NODES
    for where, name in members:
        if name in reserved:
            problems.add(where, f"agent name {name!r} is a node of the {topology.kind} graph "
                         f"({', '.join(reserved)}); choose another name")
    return members


def _check_handoff(spec: WorkflowSpec, topology: HandoffTopology, problems: Problems, policy: Any) -> None:
    from opsgraph.graphs.handoff import handoff_tool_name

    if topology.entry not in topology.handoffs:
        problems.add(("topology", "entry"), f"entry agent {topology.entry!r} is not one of the agents in "
                     f"topology.handoffs ({', '.join(topology.handoffs)})")
    for name, targets in topology.handoffs.items():
        for index, target in enumerate(targets):
            where = ("topology", "handoffs", name, index)
            if target == name:
                problems.add(where, f"agent {name!r} cannot hand off to itself")
            elif target not in topology.handoffs:
                known = "an agent of this desk" if target in spec.agents else "a declared agent"
                problems.add(where, f"unknown handoff target {target!r} for agent {name!r}: not {known} "
                             f"(desk agents: {', '.join(topology.handoffs)})")
            elif name in policy.agent_names and not policy.agent(name).may_call(handoff_tool_name(target)):
                problems.add(where, f"policy.yaml does not permit agent {name!r} to hand off to {target!r} "
                             f"(tool {handoff_tool_name(target)!r})")
    _check_guards(topology, problems, policy)


def _check_policy_limit(key: str, where: tuple, problems: Problems, policy: Any, example: str) -> None:
    """``key`` must name a positive whole number in policy.yaml."""
    from opsgraph.governance.policy import PolicyError

    try:
        limit = policy.get(key)
    except PolicyError:
        limit = None
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        problems.add(where, f"{'.'.join(where[1:])} names no positive whole number in policy.yaml: {key!r} "
                     f"(e.g. {example})")


def _check_guards(topology: HandoffTopology, problems: Problems, policy: Any) -> None:
    from opsgraph.graphs.handoff import MAX_BOUNCES

    _check_policy_limit(topology.guards.max_handoffs, ("topology", "guards", "max_handoffs"), problems, policy,
                        "support.max_handoffs")
    if topology.guards.max_bounces > MAX_BOUNCES:
        problems.add(("topology", "guards", "max_bounces"), f"guards.max_bounces may tighten the ping-pong "
                     f"guard, not loosen it: at most {MAX_BOUNCES} (got {topology.guards.max_bounces})")


def _check_supervisor(spec: WorkflowSpec, topology: SupervisorTopology, problems: Problems, policy: Any) -> None:
    decl = spec.agents.get(topology.supervisor)
    if decl is not None and decl.tools:
        problems.add(("agents", topology.supervisor, "tools"), f"the supervisor {topology.supervisor!r} routes "
                     "and calls no tools; give it tools: [] and give the tools to a worker")


def _check_group_chat(spec: WorkflowSpec, topology: GroupChatTopology, problems: Problems, policy: Any) -> None:
    decl = spec.agents.get(topology.maker)
    if decl is not None and MAKER_TOOL not in decl.tools:
        problems.add(("agents", topology.maker, "tools"), f"the maker {topology.maker!r} needs the {MAKER_TOOL!r} "
                     "tool: the moderator puts its latest draft to the checkers")
    if topology.maker in topology.checkers:
        problems.add(("topology", "maker"), f"agent {topology.maker!r} cannot check its own drafts "
                     "(it is the maker and a checker)")
    _check_policy_limit(topology.max_rounds, ("topology", "max_rounds"), problems, policy,
                        "procurement.review_max_rounds")
