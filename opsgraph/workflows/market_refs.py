"""References of the market topology: the bidder, the shortfalls agent and the award rules' policy keys.

The award rules are named as policy.yaml keys, never written in the spec: a spec cannot change
how bids are ranked, only say where the policy keeps the rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsgraph.workflows.spec import MarketTopology, WorkflowSpec

if TYPE_CHECKING:
    from opsgraph.workflows.loader import Problems

# Node names of the graph (and of a bidder's branch) a market compiles to; an agent may not take one.
# ``procurement`` is the shortfalls node itself: the Python graph's agent keeps its name.
MARKET_NODES = ("intake", "announce", "bid", "award", "commitment_approval", "apply", "materials", "approval",
                "tools", "report", "agent", "bids")
# The bidder prices jobs on its calendar and submits what it bids for: the award reads submit_bids' result.
BIDDER_TOOLS = ("quote_bids", "submit_bids")
SHORTFALL_TOOL = "create_purchase_order"


def market_members(spec: WorkflowSpec, problems: Problems, policy: Any) -> list[tuple[tuple, str]]:
    """Check a market topology; the agents it places, each with where it is placed."""
    topology = spec.topology
    assert isinstance(topology, MarketTopology)
    _needs_tools(spec, topology.bidder, BIDDER_TOOLS, "the bidder", problems)
    _needs_tools(spec, topology.shortfalls, (SHORTFALL_TOOL,), "the shortfalls agent", problems)
    _check_award(topology, problems, policy)
    members = [(("topology", "bidder"), topology.bidder), (("topology", "shortfalls"), topology.shortfalls)]
    for where, name in members:
        if name in MARKET_NODES:
            problems.add(where, f"agent name {name!r} is a node of the market graph ({', '.join(MARKET_NODES)}); "
                         "choose another name")
    return members


def _needs_tools(spec: WorkflowSpec, name: str, needed: tuple[str, ...], role: str, problems: Problems) -> None:
    decl = spec.agents.get(name)
    missing = [tool for tool in needed if decl is not None and tool not in decl.tools]
    if missing:
        problems.add(("agents", name, "tools"), f"{role} {name!r} needs the tool(s) {', '.join(missing)}")


def _check_award(topology: MarketTopology, problems: Problems, policy: Any) -> None:
    from opsgraph.graphs.production_award import RANK_KEYS, policy_value
    from opsgraph.workflows.topology_refs import _check_policy_limit

    rules = policy_value(policy, topology.award)
    if not isinstance(rules, dict):
        problems.add(("topology", "award"), f"award names no award rules in policy.yaml: {topology.award!r} "
                     "(e.g. production.award, a mapping with order, split_partial_bids, max_rounds)")
    else:
        unknown = [key for key in rules.get("order") or [] if key not in RANK_KEYS]
        if unknown:
            problems.add(("topology", "award"), f"the award rules at {topology.award!r} rank by unknown keys "
                         f"{', '.join(map(str, unknown))}; known: {', '.join(RANK_KEYS)}")
        _check_policy_limit(f"{topology.award}.max_rounds", ("topology", "award"), problems, policy,
                            "production.award with max_rounds: 3")
    _check_policy_limit(topology.max_awards_per_round, ("topology", "max_awards_per_round"), problems, policy,
                        "production.max_awards_per_work_centre_per_round")
