"""YAML workflow specs of the routed topologies (handoff, supervisor): validation by line, guards, runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsgraph.runner import open_runner
from opsgraph.workflows.registration import SPECS_DIR
from tests.support.scripted import ScriptedChatModel, tool_call
from tests.test_workflows_yaml import _line_of, _problems, _variant

DESK_SPEC = SPECS_DIR / "support_desk_yaml.yaml"
DISPUTE = "Please refund $738.00 on invoice INV-0002: 12 of the 40 boxes arrived damaged. Ticket TCK-0004."
REFUND = "I was charged twice for invoice INV-0001 and would like the duplicate charge refunded. Ticket TCK-0001."


def _one_problem_at(path: Path, needle: str, words: str) -> None:
    problems = _problems(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:{_line_of(path, needle)}: "), problems[0]
    assert words in problems[0], problems[0]


# --- handoff: validation ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("old, new, needle, words", [
    ("    billing: [technical_support, account_management]", "    billing: [technical_support, account_managment]",
     "account_managment]", "unknown handoff target 'account_managment' for agent 'billing': not a declared agent"),
    ("  entry: triage", "  entry: concierge", "entry: concierge", "entry agent 'concierge' is not one of the agents"),
    ("    billing: [technical_support, account_management]", "    billing: [billing, account_management]",
     "billing: [billing", "agent 'billing' cannot hand off to itself"),
    ("    billing: [technical_support, account_management]", "    billing: [technical_support, triage]",
     "billing: [technical_support, triage]", "policy.yaml does not permit agent 'billing' to hand off to 'triage'"),
    ("max_handoffs: support.max_handoffs", "max_handoffs: support.max_hand_offs", "max_hand_offs",
     "guards.max_handoffs names no positive whole number in policy.yaml: 'support.max_hand_offs'"),
    ("max_bounces: 1", "max_bounces: 3", "max_bounces: 3", "may tighten the ping-pong guard, not loosen it"),
    ("max_bounces: 1", "max_bounces: -1", "max_bounces: -1", "topology.guards.max_bounces: Input should be greater"),
    ("  entry: triage\n", "", "topology:", "missing required field 'topology.entry'"),
    ("  entry: triage\n", "  entry: triage\n  rounds: 2\n", "rounds: 2", "unknown field 'topology.rounds'"),
])
def test_handoff_problems_name_their_line(tmp_path, old, new, needle, words):
    _one_problem_at(_variant(tmp_path, DESK_SPEC, old, new), needle, words)


def test_handoff_target_declared_but_not_on_the_desk(tmp_path):
    path = _variant(tmp_path, DESK_SPEC, "    account_management: [billing, technical_support]\n", "")
    problems = _problems(path)
    # Two agents still hand to account_management, which is declared but no longer on the desk.
    needles = ("triage: [billing", "billing: [technical", "technical_support: [billing")
    assert [p.split(": ", 1)[0] for p in problems] == [f"{path}:{_line_of(path, needle)}" for needle in needles]
    assert all("not an agent of this desk" in p for p in problems), problems


def test_handoff_desk_without_agents(tmp_path):
    text = DESK_SPEC.read_text()
    start, end = text.index("  handoffs:\n"), text.index("  guards:\n")
    path = tmp_path / DESK_SPEC.name
    path.write_text(text[:start] + "  handoffs: {}\n" + text[end:])
    problems = _problems(path)
    assert f"{path}:{_line_of(path, 'handoffs: {}')}: topology.handoffs: needs at least 1 item(s) (got 0)" in problems


# --- handoff: the declared guards reach the desk ---------------------------------------------------------------

def _transfer(target: str, call_id: str):
    from langchain_core.messages import AIMessage

    return AIMessage("", tool_calls=[tool_call(f"transfer_to_{target}", {"reason": "not mine"}, call_id)])


def test_declared_ping_pong_guard_holds(settings, tmp_path, monkeypatch):
    folder = tmp_path / "specs"
    folder.mkdir()
    strict = DESK_SPEC.read_text().replace("id: support_desk_yaml", "id: strict_desk").replace(
        "max_bounces: 1", "max_bounces: 0")
    (folder / "strict_desk.yaml").write_text(strict)
    monkeypatch.setenv("OPSGRAPH_WORKFLOWS", str(folder))
    script = {"billing": [_transfer("technical_support", "sp-1")], "technical_support": [_transfer("billing", "sp-2")]}
    model = ScriptedChatModel(script=script)
    with open_runner(settings, with_knowledge=False, model_factory=lambda tier, spec: model) as runner:
        for graph, thread in (("strict_desk", "strict"), ("support_desk_yaml", "default")):
            graph_input = runner.make_input(graph, {"message": REFUND, "customer": "CUST-005"})
            model.script = {k: list(v) for k, v in script.items()}
            done = runner.start(graph, graph_input, thread_id=thread)
            if graph == "strict_desk":
                # No bounce allowed: technical_support -> billing is the first bounce, so a human takes over.
                assert done.report["outcome"] == "escalated"
                assert done.report["route"] == ["triage", "billing", "technical_support"]
                assert done.report["escalation"]["reason"].startswith("ping-pong")
                assert len(runner.context.audit.events(thread, "escalation")) == 1
            else:
                # The default guard lets one bounce through: billing has the request again.
                assert done.report["route"] == ["triage", "billing", "technical_support", "billing"]
                assert done.report["escalation"] is None


# --- handoff: runs like the Python desk ------------------------------------------------------------------------

def test_support_desk_yaml_holds_a_refund_above_the_limit_like_the_python_desk(runner):
    results = {}
    for graph in ("support_desk", "support_desk_yaml"):
        thread = f"dispute-{graph}"
        first = runner.start(graph, runner.make_input(graph, {"message": DISPUTE, "customer": "CUST-008"}),
                             thread_id=thread)
        assert first.status == "awaiting_approval"
        [pending] = first.pending
        assert (pending["kind"], pending["amount_usd"], pending["threshold_usd"]) == ("refund", 738.0, 500.0)
        done = runner.resume(thread, {"decision": "reject", "by": "billing.manager"})
        handoffs = [(e.agent, e.result["to_agent"]) for e in runner.context.audit.events(thread, "handoff")]
        results[graph] = (done.report["route"], done.report["outcome"], done.report["approvals"], handoffs,
                          [(a["agent"], a["tool"], a["status"]) for a in done.values["actions"]])
    assert results["support_desk"] == results["support_desk_yaml"]
    assert results["support_desk_yaml"][3] == [("triage", "billing")]
    assert runner.context.world.billing.get_invoice("INV-0002")["refunds"] == []  # rejected twice, never paid


# --- supervisor --------------------------------------------------------------------------------------------------

TEAM_SPEC = SPECS_DIR / "supply_chain_exception_yaml.yaml"
WORKERS_LINE = "  workers: [logistics, inventory, procurement, customer_comms]\n"


@pytest.mark.parametrize("old, new, needle, words", [
    (WORKERS_LINE, "  workers: []\n", "workers: []", "topology.workers: needs at least 1 item(s) (got 0)"),
    (WORKERS_LINE, "", "topology:", "missing required field 'topology.workers'"),
    (WORKERS_LINE, "  workers: [logistics, shipping, procurement, customer_comms]\n", "shipping",
     "unknown agent 'shipping'; declared agents: supervisor, logistics"),
    (WORKERS_LINE, "  workers: [logistics, inventory, logistics, customer_comms]\n",
     "workers: [logistics, inventory, logistics", "agent 'logistics' appears more than once in the topology"),
    ("  supervisor: supervisor\n", "  supervisor: dispatcher\n", "supervisor: dispatcher",
     "unknown agent 'dispatcher'"),
    ("  supervisor: supervisor\n", "", "topology:", "missing required field 'topology.supervisor'"),
])
def test_supervisor_problems_name_their_line(tmp_path, old, new, needle, words):
    _one_problem_at(_variant(tmp_path, TEAM_SPEC, old, new), needle, words)


def test_supervisor_that_calls_tools_is_refused(tmp_path):
    path = _variant(tmp_path, TEAM_SPEC, "    prompt: supervisor\n    tools: []",
                    "    prompt: supervisor\n    tools: [get_shipment]")
    problems = _problems(path)
    line = _line_of(path, "tools: [get_shipment]")
    assert f"{path}:{line}: the supervisor 'supervisor' routes and calls no tools; give it tools: [] and give " \
           "the tools to a worker" in problems
    assert any(p.startswith(f"{path}:{line}: policy.yaml does not permit agent 'supervisor'") for p in problems)


def test_declared_team_compiles_to_its_own_workers():
    from opsgraph.graphs.supply_chain import Route, route_model
    from opsgraph.workflows.compiler import compile_spec
    from opsgraph.workflows.loader import load_spec

    spec = load_spec(TEAM_SPEC).spec
    small = spec.model_copy(update={"topology": spec.topology.model_copy(update={"workers": ["logistics",
                                                                                           "customer_comms"]})})
    drawn = compile_spec(small).compile().get_graph()
    assert {"inventory", "procurement"}.isdisjoint(drawn.nodes)
    assert {(e.source, e.target) for e in drawn.edges if e.source == "supervisor"} == \
           {("supervisor", "logistics"), ("supervisor", "customer_comms"), ("supervisor", "report")}
    # The supervisor can only name a declared worker: the structured output's choices follow the team.
    choices = route_model(("logistics", "customer_comms")).model_json_schema()["properties"]["next"]["enum"]
    assert choices == ["logistics", "customer_comms", "FINISH"]
    assert route_model(("logistics", "inventory", "procurement", "customer_comms")) is Route


def test_supply_chain_yaml_holds_a_large_po_for_approval(runner):
    event = {"shipment": "SH-0001", "delay_days": 5}
    first = runner.start("supply_chain_exception_yaml", runner.make_input("supply_chain_exception_yaml", event),
                         thread_id="sc-yaml")
    assert first.status == "awaiting_approval"
    [pending] = first.pending
    assert pending["kind"] == "purchase_order" and pending["amount_usd"] > pending["threshold_usd"]
    before = runner.context.world.erp.list_purchase_orders()["count"]
    done = runner.resume("sc-yaml", {"decision": "approve", "by": "alice"})
    assert done.status == "completed"
    assert runner.context.world.erp.list_purchase_orders()["count"] == before + 1
    assert done.values["visited"] == ["logistics", "inventory", "procurement", "customer_comms"]
    [po] = [p for p in done.report["purchase_orders"] if p["status"] != "rejected"]
    assert po["approved_by"] == "alice"
    events = runner.context.audit.events("sc-yaml")
    assert [e.agent for e in events if e.kind == "approval"] == ["alice"]
    assert {e.agent for e in events if e.kind == "model_call"} >= {"supervisor", "logistics", "procurement"}


# --- group chat (maker-checker) ------------------------------------------------------------------------------------

PANEL_SPEC = SPECS_DIR / "procurement_review_yaml.yaml"
CHECKERS_LINE = "  checkers: [compliance, finance]"
UNAPPROVED = {"sku_id": "SKU-001", "quantity": 20, "dc_id": "DC-EAST", "preferred_supplier_id": "SUP-013"}
OVER_BUDGET = {"sku_id": "SKU-003", "quantity": 1200, "dc_id": "DC-WEST", "preferred_supplier_id": "SUP-006"}


@pytest.mark.parametrize("old, new, needle, words", [
    (CHECKERS_LINE, "  checkers: []", "checkers: []", "topology.checkers: needs at least 1 item(s) (got 0)"),
    (CHECKERS_LINE, "  checkers: [compliance, treasury]", "treasury", "unknown agent 'treasury'"),
    ("  maker: buyer\n", "", "topology:", "missing required field 'topology.maker'"),
    ("max_rounds: procurement.review_max_rounds", "max_rounds: procurement.max_review_rounds", "max_review_rounds",
     "max_rounds names no positive whole number in policy.yaml: 'procurement.max_review_rounds'"),
    ("get_supplier, draft_purchase_order]", "get_supplier]", "tools: [search_knowledge, recall_memory, list_suppliers",
     "the maker 'buyer' needs the 'draft_purchase_order' tool"),
])
def test_group_chat_problems_name_their_line(tmp_path, old, new, needle, words):
    _one_problem_at(_variant(tmp_path, PANEL_SPEC, old, new), needle, words)


def test_maker_cannot_be_its_own_checker(tmp_path):
    path = _variant(tmp_path, PANEL_SPEC, CHECKERS_LINE, "  checkers: [compliance, buyer]")
    problems = _problems(path)
    assert f"{path}:{_line_of(path, 'maker: buyer')}: agent 'buyer' cannot check its own drafts (it is the maker " \
           "and a checker)" in problems


def test_procurement_review_yaml_revises_then_approves(runner):
    done = runner.start("procurement_review_yaml", {"request": UNAPPROVED}, thread_id="pr-yaml")
    assert done.report["outcome"] == "approved" and done.report["rounds"] == 2
    assert [(v["round"], v["reviewer"], v["verdict"]) for v in done.values["verdicts"]] == [
        (1, "compliance", "revise"), (1, "finance", "approve"), (2, "compliance", "approve"), (2, "finance", "approve")]
    assert done.report["purchase_order"]["supplier_id"] == "SUP-001"
    assert runner.context.world.erp.list_purchase_orders("SUP-013")["purchase_orders"] == []
    kinds = [(e.kind, e.agent) for e in runner.context.audit.events("pr-yaml")
             if e.kind in ("verdict", "review_decision")]
    assert kinds.count(("review_decision", "moderator")) == 2


def test_declared_checkers_are_the_ones_the_moderator_asks(settings, tmp_path, monkeypatch):
    folder = tmp_path / "specs"
    folder.mkdir()
    text = PANEL_SPEC.read_text().replace("id: procurement_review_yaml", "id: finance_only_review")
    (folder / "finance_only.yaml").write_text(text.replace(CHECKERS_LINE, "  checkers: [finance]"))
    monkeypatch.setenv("OPSGRAPH_WORKFLOWS", str(folder))
    with open_runner(settings, with_knowledge=False) as runner:
        first = runner.start("finance_only_review", {"request": OVER_BUDGET}, thread_id="pr-finance")
        assert first.status == "awaiting_approval"
        [pending] = first.pending
        assert pending["type"] == "escalation" and pending["policy"] == "procurement.review_max_rounds = 3"
        assert [(v["round"], v["reviewer"]) for v in pending["verdicts"]] == [(1, "finance"), (2, "finance"),
                                                                             (3, "finance")]
        assert "compliance" not in first.values["visited"]
