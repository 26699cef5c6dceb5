"""YAML workflow specs, market topology: validation at the line, the Python structure, identical eval results."""

from __future__ import annotations

import pytest

from opsgraph.workflows.registration import SPECS_DIR
from tests.test_workflows_yaml import _case_results, _line_of, _problems, _variant
from tests.test_workflows_yaml_board import _structure

MARKET_SPEC = SPECS_DIR / "production_planning_yaml.yaml"


def test_market_spec_is_registered_and_compiles_to_the_python_structure():
    from opsgraph.registry import graph_entries

    assert graph_entries()["production_planning_yaml"].topology == "market (yaml)"
    assert _structure("production_planning_yaml") == _structure("production_planning")


def test_declared_market_becomes_the_builders_market():
    from opsgraph.graphs.production_planning import DEFAULT_MARKET
    from opsgraph.workflows.compiler import agent_specs
    from opsgraph.workflows.loader import load_spec

    spec = load_spec(MARKET_SPEC).spec
    agents = agent_specs(spec)
    assert agents[spec.topology.bidder] == DEFAULT_MARKET.bidder
    assert agents[spec.topology.shortfalls] == DEFAULT_MARKET.shortfalls
    assert (spec.topology.award, spec.topology.max_awards_per_round) == \
           (DEFAULT_MARKET.award, DEFAULT_MARKET.max_awards_per_round)


def test_award_rules_follow_the_named_policy_keys(runner, monkeypatch):
    """A market naming other policy keys is awarded by the rules there (the default keys are untouched)."""
    from opsgraph.graphs.production_award import AwardRules
    from opsgraph.graphs.production_planning import Market

    policy = runner.context.policy
    monkeypatch.setitem(policy.raw, "night_shift", {"award": {"order": ["finish_date"], "max_rounds": 1},
                                                    "per_round": 2})
    rules = Market(award="night_shift.award", max_awards_per_round="night_shift.per_round").rules(runner.context)
    assert rules == AwardRules(("finish_date", "work_centre_id"), True, 1, 2)
    assert Market().rules(runner.context) == AwardRules.from_policy(policy)


@pytest.mark.parametrize(("old", "new", "needle", "message"), [
    ("  bidder: work_centre ", "  bidder: work_centres ", "bidder: work_centres", "unknown agent 'work_centres'"),
    ("    tools: [quote_bids, submit_bids, get_work_centre, get_job]",
     "    tools: [quote_bids, get_work_centre, get_job]",
     "tools: [quote_bids, get_work_centre", "the bidder 'work_centre' needs the tool(s) submit_bids"),
    ("list_suppliers, get_supplier, get_budget, create_purchase_order]", "list_suppliers, get_supplier, get_budget]",
     "get_supplier, get_budget]", "the shortfalls agent 'procurement' needs the tool(s) create_purchase_order"),
    ("  shortfalls: procurement ", "  shortfalls: work_centre ", "shortfalls: work_centre",
     "agent 'work_centre' appears more than once in the topology"),
    ("  award: production.award ", "  award: production.awards ", "award: production.awards",
     "award names no award rules in policy.yaml: 'production.awards'"),
    ("  max_awards_per_round: production.max_awards_per_work_centre_per_round",
     "  max_awards_per_round: production.award", "max_awards_per_round: production.award",
     "max_awards_per_round names no positive whole number in policy.yaml"),
    ("  shortfalls: procurement ", "  shortfals: procurement ", "topology:",
     "missing required field 'topology.shortfalls'"),
    ("report: production_planning", "report: demand_sensing", "report: demand_sensing",
     "report 'demand_sensing' does not fit a market topology"),
])
def test_market_problems_name_their_line(tmp_path, old, new, needle, message):
    path = _variant(tmp_path, MARKET_SPEC, old, new)
    problems = _problems(path)
    assert any(p.startswith(f"{path}:{_line_of(path, needle)}: ") and message in p for p in problems), problems


def test_award_rules_with_unknown_rank_keys_are_an_error(tmp_path, monkeypatch):
    from opsgraph.governance.policy import load_policy
    from opsgraph.settings import load_settings
    from opsgraph.workflows.loader import WorkflowSpecError, load_spec

    policy = load_policy(load_settings().policy_path)
    monkeypatch.setitem(policy.raw["production"], "award", {"order": ["cheapest"], "max_rounds": 3})
    with pytest.raises(WorkflowSpecError) as caught:
        load_spec(MARKET_SPEC, policy)
    [problem] = caught.value.problems
    assert problem.startswith(f"{MARKET_SPEC}:{_line_of(MARKET_SPEC, '  award: ')}: ") and "unknown keys cheapest" \
        in problem


def test_production_planning_yaml_smoke_matches_python(settings):
    results = _case_results(settings, ("production_planning", "production_planning_yaml"), smoke=True)
    assert results["production_planning"] and results["production_planning"] == results["production_planning_yaml"]


@pytest.mark.slow
def test_production_planning_yaml_matches_python_case_by_case(settings):
    results = _case_results(settings, ("production_planning", "production_planning_yaml"), smoke=False)
    assert len(results["production_planning"]) >= 10
    assert results["production_planning"] == results["production_planning_yaml"]
    assert all(case["passed"] for case in results["production_planning"].values())


def test_no_topology_is_reserved_but_a_reserved_kind_is_still_named(tmp_path, monkeypatch):
    from opsgraph.workflows import loader
    from opsgraph.workflows.spec import RESERVED_TOPOLOGIES

    assert RESERVED_TOPOLOGIES == ()
    monkeypatch.setattr(loader, "RESERVED_TOPOLOGIES", ("swarm",))
    path = _variant(tmp_path, MARKET_SPEC, "kind: market", "kind: swarm")
    [problem] = _problems(path)
    assert problem == f"{path}:{_line_of(path, 'kind: swarm')}: topology 'swarm' cannot be compiled from a spec yet; " \
                      "use one of: sequential, concurrent, handoff, supervisor, group_chat, blackboard, market"
