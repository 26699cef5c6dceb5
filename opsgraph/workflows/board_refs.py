"""References of the blackboard topology: which sections exist, who reads and who writes them.

A board section is one of the demand board's sections (``graphs/board.py``) that the spec
declares; every section an agent reads must be written by another agent (or it would never
run), and every section an agent writes must be declared. The cycle limit is named as a
policy.yaml key, never written as a number in the spec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsgraph.workflows.spec import BlackboardTopology, WorkflowSpec

if TYPE_CHECKING:
    from opsgraph.workflows.loader import Problems

# Node names of the graph (and of an agent's branch) a blackboard compiles to; an agent may not take one.
BOARD_NODES = ("intake", "controller", "board_agent", "report", "turn", "tools", "approval", "post")
Refs = list[tuple[tuple, str]]


def board_members(spec: WorkflowSpec, problems: Problems, policy: Any) -> Refs:
    """Check a blackboard topology; the agents it places, each with where it is placed."""
    from opsgraph.workflows.topology_refs import _check_policy_limit

    topology = spec.topology
    assert isinstance(topology, BlackboardTopology)
    _check_sections(topology, problems)
    for name in topology.board:
        _check_role(spec, topology, name, problems)
    _check_readers_have_writers(topology, problems)
    _check_policy_limit(topology.max_cycles, ("topology", "max_cycles"), problems, policy, "demand_sensing.max_cycles")
    members = [(("topology", "board", name), name) for name in topology.board]
    for where, name in members:
        if name in BOARD_NODES:
            problems.add(where, f"agent name {name!r} is a node of the blackboard graph "
                         f"({', '.join(BOARD_NODES)}); choose another name")
    return members


def _check_sections(topology: BlackboardTopology, problems: Problems) -> None:
    from opsgraph.graphs.board import SECTIONS

    for index, section in enumerate(topology.sections):
        where = ("topology", "sections", index)
        if section not in SECTIONS:
            problems.add(where, f"unknown section {section!r}; the demand board's sections are: {', '.join(SECTIONS)}")
        elif topology.sections.count(section) > 1:
            problems.add(where, f"section {section!r} is declared more than once")
    written = {section for role in topology.board.values() for section in role.writes}
    for index, section in enumerate(topology.sections):
        if section in SECTIONS and section not in written:
            problems.add(("topology", "sections", index), f"no agent writes section {section!r}; "
                         "remove it or give it a writer")


def _check_role(spec: WorkflowSpec, topology: BlackboardTopology, name: str, problems: Problems) -> None:
    from opsgraph.graphs.demand_sensing import FEEDS

    role, where = topology.board[name], ("topology", "board", name)
    for index, section in enumerate(role.reads):
        if section != FEEDS and section not in topology.sections:
            problems.add((*where, "reads", index), f"agent {name!r} reads unknown section {section!r}: not in "
                         f"topology.sections ({', '.join(topology.sections)}) and not {FEEDS!r}")
    tools = spec.agents[name].tools if name in spec.agents else None
    for section, write in role.writes.items():
        if section not in topology.sections:
            problems.add((*where, "writes", section), f"agent {name!r} writes section {section!r} that "
                         f"topology.sections does not declare ({', '.join(topology.sections)})")
        if tools is not None and write.tool not in tools:
            problems.add((*where, "writes", section, "tool"), f"agent {name!r} writes section {section!r} from "
                         f"tool {write.tool!r}, which is not one of its tools ({', '.join(tools) or 'none'})")


def _check_readers_have_writers(topology: BlackboardTopology, problems: Problems) -> None:
    from opsgraph.graphs.demand_sensing import FEEDS

    for name, role in topology.board.items():
        # An agent runs when someone else changes what it reads: its own writes never wake it.
        others = {section for other, decl in topology.board.items() if other != name for section in decl.writes}
        for index, section in enumerate(role.reads):
            if section in topology.sections and section not in others:
                problems.add(("topology", "board", name, "reads", index), f"agent {name!r} reads section "
                             f"{section!r} that no other agent writes: it would never run")
    if not any(FEEDS in role.reads for role in topology.board.values()):
        problems.add(("topology", "board"), f"no agent reads {FEEDS!r}: nothing would start the board")
