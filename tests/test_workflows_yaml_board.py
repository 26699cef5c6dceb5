"""YAML workflow specs, blackboard topology: validation at the line, the Python structure, identical eval results."""

from __future__ import annotations

import pytest

from opsgraph.workflows.registration import SPECS_DIR
from tests.test_workflows_yaml import _case_results, _line_of, _problems, _variant

BOARD_SPEC = SPECS_DIR / "demand_sensing_yaml.yaml"


def _structure(graph_id: str) -> tuple[set, set]:
    from opsgraph.runner import compile_graph

    graph = compile_graph(graph_id).get_graph(xray=True)
    return set(graph.nodes), {(e.source, e.target, e.conditional) for e in graph.edges}


def test_board_spec_is_registered_and_compiles_to_the_python_structure():
    from opsgraph.registry import graph_entries

    assert graph_entries()["demand_sensing_yaml"].topology == "blackboard (yaml)"
    assert _structure("demand_sensing_yaml") == _structure("demand_sensing")


def test_declared_board_becomes_the_builders_team():
    from opsgraph.graphs.demand_sensing import DEFAULT_TEAM
    from opsgraph.workflows.compiler import agent_specs
    from opsgraph.workflows.loader import load_spec

    spec = load_spec(BOARD_SPEC).spec
    agents = agent_specs(spec)
    assert spec.topology.max_cycles == DEFAULT_TEAM.max_cycles
    assert tuple(spec.topology.sections) == DEFAULT_TEAM.sections
    for name, role in DEFAULT_TEAM.roles.items():
        decl = spec.topology.board[name]
        assert agents[name] == role.spec
        assert tuple(decl.reads) == role.reads
        assert {s: (w.tool, w.key) for s, w in decl.writes.items()} == role.writes


@pytest.mark.parametrize(("old", "new", "needle", "message"), [
    ("sections: [signals, forecast,", "sections: [signals, forecasts,", "sections: [signals",
     "unknown section 'forecasts'"),
    ("      reads: [forecast]\n", "      reads: [forcast]\n", "reads: [forcast]",
     "agent 'inventory_optimizer' reads unknown section 'forcast'"),
    ("        replenishment: {tool: plan_purchase_orders}", "        orders: {tool: plan_purchase_orders}",
     "orders: {tool", "writes section 'orders' that topology.sections does not declare"),
    ("        safety_stock: {tool: compute_safety_stock}", "        safety_stock: {tool: forecast_demand}",
     "safety_stock: {tool: forecast_demand}", "from tool 'forecast_demand', which is not one of its tools"),
    ("  max_cycles: demand_sensing.max_cycles", "  max_cycles: demand_sensing.cycles",
     "max_cycles: demand_sensing.cycles", "max_cycles names no positive whole number in policy.yaml"),
    ("      reads: [feeds]               #", "      reads: [signals]             #", "reads: [signals]",
     "reads section 'signals' that no other agent writes"),
    ("  board:  ", "  board: {}\n  unused:  ", "  board: {}", "topology.board: needs at least 1 item(s)"),
    ("    demand_sensor:\n      reads", "    demand_sensr:\n      reads", "demand_sensr:",
     "unknown agent 'demand_sensr'"),
    ("        promotions: {tool: plan_promotion_uplift}\n", "        promotions: {tool: plan_promotion_uplift, "
     "rows: x}\n", "rows: x", "unknown field 'topology.board.promotion_planner.writes.promotions.rows'"),
])
def test_board_problems_name_their_line(tmp_path, old, new, needle, message):
    path = _variant(tmp_path, BOARD_SPEC, old, new)
    problems = _problems(path)
    assert any(p.startswith(f"{path}:{_line_of(path, needle)}: ") and message in p for p in problems), problems


def test_board_nobody_starts_is_an_error(tmp_path):
    (tmp_path / "step").mkdir()
    first = _variant(tmp_path / "step", BOARD_SPEC, "      reads: [feeds, forecast]", "      reads: [signals]")
    path = _variant(tmp_path, first, "      reads: [feeds]               #", "      reads: [promotions]          #")
    [problem] = _problems(path)
    assert problem.startswith(f"{path}:{_line_of(path, '  board:  ')}: ") and "no agent reads 'feeds'" in problem


def test_section_nobody_writes_is_an_error(tmp_path):
    path = _variant(tmp_path, BOARD_SPEC, "replenishment, promotions]", "replenishment, promotions, signals]")
    assert any("declared more than once" in p for p in _problems(path))
    path = _variant(tmp_path, BOARD_SPEC, "        signals: {tool: detect_demand_signals}\n", "")
    [problem] = _problems(path)
    assert problem.startswith(f"{path}:{_line_of(path, 'sections: [')}: ") and "no agent writes section 'signals'" \
        in problem


def test_smaller_declared_board_runs_on_its_own_sections(runner):
    """A board of two agents: only its sections exist, and the run ends quiescent with a forecast and safety stock."""
    from opsgraph.graphs.demand_sensing import DEFAULT_TEAM, BoardTeam, build_demand_sensing_graph

    roles = {n: r for n, r in DEFAULT_TEAM.roles.items() if n in ("demand_sensor", "inventory_optimizer")}
    team = BoardTeam(roles, ("signals", "forecast", "safety_stock"))
    graph = build_demand_sensing_graph(team).compile(checkpointer=runner.checkpointer)
    config = {"configurable": {"thread_id": "small-board"}}
    out = graph.invoke(runner.make_input("demand_sensing", {"sku": "SKU-001"}), config, context=runner.context)
    report = out["report"]
    assert set(report["sections"]) == {"signals", "forecast", "safety_stock"}
    assert report["quiescent"] and report["sections"]["safety_stock"]["version"] >= 1
    writes = [e for e in runner.context.audit.events("small-board") if e.kind == "board_write"]
    assert {e.agent for e in writes} == set(roles)


def test_demand_sensing_yaml_smoke_matches_python(settings):
    results = _case_results(settings, ("demand_sensing", "demand_sensing_yaml"), smoke=True)
    assert results["demand_sensing"] and results["demand_sensing"] == results["demand_sensing_yaml"]


@pytest.mark.slow
def test_demand_sensing_yaml_matches_python_case_by_case(settings):
    results = _case_results(settings, ("demand_sensing", "demand_sensing_yaml"), smoke=False)
    assert len(results["demand_sensing"]) >= 10
    assert results["demand_sensing"] == results["demand_sensing_yaml"]
    assert all(case["passed"] for case in results["demand_sensing"].values())
