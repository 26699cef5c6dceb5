"""Second validation pass of a workflow spec: what its names refer to must exist and be allowed.

Permissions are never granted by a spec: an agent's tools must be ones policy.yaml already
lets that agent call, and its tier must be the tier policy.yaml gives it (the router reads
policy.yaml), so a spec cannot widen what a model may do.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from opsgraph.workflows.spec import (REPORTS, SEQUENTIAL_OUTPUTS, BlackboardTopology, ConcurrentTopology,
                                     MarketTopology, SequentialTopology, WorkflowSpec)

if TYPE_CHECKING:
    from opsgraph.workflows.loader import Problems

BUILT_IN_TOOLS = ("search_knowledge", "recall_memory")


def check_references(spec: WorkflowSpec, problems: Problems, policy: Any = None) -> None:
    """Record a problem for every reference in ``spec`` that does not resolve or is not permitted."""
    policy = policy if policy is not None else _default_policy()
    _check_agents(spec, problems, policy)
    _check_topology(spec, problems, policy)
    _check_input_and_report(spec, problems)


def known_tools() -> frozenset[str]:
    """Names of every tool in the catalog (connector tools, review and purchasing tools, retrieval)."""
    return _catalog_names()


@lru_cache(maxsize=1)
def _catalog_names() -> frozenset[str]:
    from opsgraph.tools.catalog import build_tools

    # Tools are built against a stand-in world: only their names are read, nothing is called.
    return frozenset(build_tools(_NoWorld(), _default_policy())) | frozenset(BUILT_IN_TOOLS)


class _NoWorld:
    """Stands in for the mock enterprise while the catalog is built to list tool names."""

    def __getattr__(self, name: str) -> "_NoWorld":
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> "_NoWorld":
        return self


def _default_policy() -> Any:
    from opsgraph.governance.policy import load_policy
    from opsgraph.settings import load_settings

    return load_policy(load_settings().policy_path)


def _check_agents(spec: WorkflowSpec, problems: Problems, policy: Any) -> None:
    from opsgraph.resources import prompts_dir

    tools, prompts = known_tools(), prompts_dir()
    for name, agent in spec.agents.items():
        where = ("agents", name)
        if name not in policy.agent_names:
            problems.add(where, f"agent {name!r} has no permissions in policy.yaml (agents.{name}); "
                         "add it there first: a spec cannot grant permissions")
            continue
        granted = policy.agent(name)
        if not (prompts / f"{agent.prompt}.md").is_file():
            problems.add((*where, "prompt"), f"prompt {agent.prompt!r} not found (no prompts/{agent.prompt}.md)")
        for index, tool in enumerate(agent.tools):
            if tool not in tools:
                problems.add((*where, "tools", index), f"unknown tool {tool!r} for agent {name!r}")
            elif tool not in granted.tools:
                problems.add((*where, "tools", index), f"policy.yaml does not permit agent {name!r} to call {tool!r}")
        if agent.tier and agent.tier != granted.tier:
            problems.add((*where, "tier"), f"agent {name!r} has tier {granted.tier!r} in policy.yaml, "
                         f"not {agent.tier!r} (the router reads policy.yaml)")


def _check_topology(spec: WorkflowSpec, problems: Problems, policy: Any) -> None:
    from opsgraph.workflows.topology_refs import routed_members

    topology = spec.topology
    if isinstance(topology, BlackboardTopology):
        from opsgraph.workflows.board_refs import board_members

        _check_members(spec, problems, board_members(spec, problems, policy))
        return
    if isinstance(topology, MarketTopology):
        from opsgraph.workflows.market_refs import market_members

        _check_members(spec, problems, market_members(spec, problems, policy))
        return
    if not isinstance(topology, (SequentialTopology, ConcurrentTopology)):
        _check_members(spec, problems, routed_members(spec, problems, policy))
        return
    if isinstance(topology, SequentialTopology):
        refs = [(("topology", "steps", i, "agent"), step.agent) for i, step in enumerate(topology.steps)]
        outputs = tuple(step.output for step in topology.steps if step.output)
        if outputs and outputs != SEQUENTIAL_OUTPUTS:
            problems.add(("topology", "steps"), f"a review chain's step outputs must be, in order: "
                         f"{', '.join(SEQUENTIAL_OUTPUTS)} (got {', '.join(outputs)}); or give no outputs (a pipeline)")
        expected = "contract_review" if outputs else "pipeline"
        if spec.report != expected:
            problems.add(("report",), f"a sequential topology {'with' if outputs else 'without'} step outputs "
                         f"ends with the {expected!r} report, not {spec.report!r}")
    else:
        refs = [(("topology", "branches", i), name) for i, name in enumerate(topology.branches)]
        for where, name in refs:
            if name in spec.agents and not spec.agents[name].dimension:
                problems.add(("agents", name), f"agent {name!r} is a concurrent branch and needs a 'dimension'")
    _check_members(spec, problems, refs)


def _check_members(spec: WorkflowSpec, problems: Problems, refs: list[tuple[tuple, str]]) -> None:
    """Every agent the topology places must be declared, and placed once."""
    for where, name in refs:
        if name not in spec.agents:
            problems.add(where, f"unknown agent {name!r}; declared agents: {', '.join(spec.agents)}")
    names = [name for _, name in refs]
    for where, name in refs:
        if names.count(name) > 1:
            problems.add(where, f"agent {name!r} appears more than once in the topology")


def _check_input_and_report(spec: WorkflowSpec, problems: Problems) -> None:
    from opsgraph.workflows.registration import python_entries

    if spec.id in python_entries():
        problems.add(("id",), f"graph id {spec.id!r} is taken by a built-in workflow; choose another id")
    kind = spec.topology.kind
    if spec.report not in REPORTS[kind]:
        problems.add(("report",), f"report {spec.report!r} does not fit a {kind} topology; "
                     f"use one of: {', '.join(REPORTS[kind])}")
    if spec.report == "pipeline":
        _check_id_input(spec, problems)
    else:
        _check_like_input(spec, problems)
    if spec.evals is not None:
        from opsgraph.evals.dataset import available_suites

        if spec.evals.dataset not in available_suites():
            problems.add(("evals", "dataset"), f"no eval dataset {spec.evals.dataset!r} (evals/datasets/)")


def _check_like_input(spec: WorkflowSpec, problems: Problems) -> None:
    from opsgraph.workflows.registration import python_entries

    like = spec.input.like
    if like is None:
        problems.add(("input",), f"the {spec.report!r} report reads the input of graph {spec.report!r}: "
                     f"write input: {{like: {spec.report}}}")
    elif like not in python_entries():
        problems.add(("input", "like"), f"input.like names no registered graph: {like!r}")
    elif like != spec.report:
        problems.add(("input", "like"), f"input.like {like!r} does not give the input the "
                     f"{spec.report!r} report reads; use {spec.report!r}")


def _check_id_input(spec: WorkflowSpec, problems: Problems) -> None:
    import re

    from opsgraph.tools.world import operation_names

    decl = spec.input
    if decl.like is not None:
        problems.add(("input", "like"), "a pipeline takes one record id: give input.field, input.pattern and "
                     "input.lookup instead of input.like")
        return
    for name in ("field", "pattern", "lookup"):
        if getattr(decl, name) is None:
            problems.add(("input",), f"missing required field 'input.{name}' (a pipeline takes one record id)")
    if decl.pattern is not None:
        try:
            re.compile(decl.pattern)
        except re.error as exc:
            problems.add(("input", "pattern"), f"input.pattern is not a valid regular expression: {exc}")
    if decl.lookup is not None and decl.lookup not in operation_names():
        problems.add(("input", "lookup"), f"unknown connector operation {decl.lookup!r} (write system.operation, "
                     "e.g. payables.get_supplier_invoice)")
