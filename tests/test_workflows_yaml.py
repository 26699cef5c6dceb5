"""YAML workflow specs: validation with line numbers, compilation to the shared builders, runs, evals, CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsgraph.workflows.loader import WorkflowSpecError, load_spec
from opsgraph.workflows.registration import SPECS_DIR
from tests.support.pgdb import world_database  # noqa: F401 - fixture (skips without Postgres)

CONTRACT_SPEC = SPECS_DIR / "contract_review_yaml.yaml"
RISK_SPEC = SPECS_DIR / "supplier_risk_yaml.yaml"


def _variant(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    """A copy of ``source`` with one text change, and the 1-based line where the change sits."""
    text = source.read_text()
    assert old in text, old
    path = tmp_path / source.name
    path.write_text(text.replace(old, new, 1))
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if needle in line)


def _problems(path: Path) -> list[str]:
    with pytest.raises(WorkflowSpecError) as caught:
        load_spec(path)
    return caught.value.problems


# --- validation: one problem per line, each naming file:line -------------------------------------------------

@pytest.mark.parametrize("old, new, needle, words", [
    ("extract_contract_terms]", "extract_contract_termz]", "extract_contract_termz", "unknown tool 'extract_contract_termz'"),
    ("{agent: contract_compliance, output", "{agent: contract_complianse, output", "contract_complianse",
     "unknown agent 'contract_complianse'"),
    ("kind: sequential", "kind: pipeline_of_doom", "pipeline_of_doom", "unknown topology 'pipeline_of_doom'"),
    ("    tier: large", "    tier: 2", "tier: 2", "agents.contract_compliance.tier: Input should be 'small' or 'large'"),
    ("    prompt: contract_summarizer\n", "", "contract_summarizer:", "missing required field 'agents.contract_summarizer.prompt'"),
    ("  steps:\n", "  rounds: 3\n  steps:\n", "rounds: 3", "unknown field 'topology.rounds'"),
    ("    - {agent: contract_summarizer, output: contract_summary}\n", "    - contract_summarizer\n",
     "- contract_summarizer", "topology.steps.2: Input should be a valid dictionary"),
    ("id: contract_review_yaml", "id: contract_review", "id: contract_review", "graph id 'contract_review' is taken"),
    ("tools: [read_contract, extract_contract_terms]", "tools: [read_contract, extract_contract_terms, issue_refund]",
     "issue_refund", "policy.yaml does not permit agent 'contract_extractor' to call 'issue_refund'"),
])
def test_each_problem_names_its_line(tmp_path, old, new, needle, words):
    path = _variant(tmp_path, CONTRACT_SPEC, old, new)
    problems = _problems(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:{_line_of(path, needle)}: "), problems[0]
    assert words in problems[0]


def test_missing_top_level_field_and_unknown_field_are_both_reported(tmp_path):
    path = _variant(tmp_path, RISK_SPEC, "report: supplier_risk\n", "reports: supplier_risk\n")
    problems = _problems(path)
    line = _line_of(path, "reports:")
    assert f"{path}:1: missing required field 'report'" in problems
    assert f"{path}:{line}: unknown field 'reports'" in problems


def test_concurrent_branch_needs_a_declared_agent_with_a_dimension(tmp_path):
    path = _variant(tmp_path, RISK_SPEC, "    dimension: esg\n", "")
    path.write_text(path.read_text().replace("esg_assessor]", "esg_assessor, legal_assessor]"))
    problems = _problems(path)
    assert any(p.startswith(f"{path}:{_line_of(path, '  esg_assessor:')}: ") and "needs a 'dimension'" in p
               for p in problems), problems
    assert any(p.startswith(f"{path}:{_line_of(path, 'legal_assessor]')}: ") and "unknown agent 'legal_assessor'" in p
               for p in problems), problems


def test_duplicate_key_and_broken_yaml_name_their_line(tmp_path):
    dup = _variant(tmp_path, CONTRACT_SPEC, "report: contract_review\n", "report: contract_review\nreport: x\n")
    assert _problems(dup) == [f"{dup}:{_line_of(dup, 'report: x')}: duplicate key 'report'"]
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\n  agents: [\n")
    [problem] = _problems(broken)
    assert problem.startswith(f"{broken}:2: not valid YAML")


def test_shipped_specs_are_valid():
    shipped = sorted(SPECS_DIR.glob("*.yaml"))
    assert {CONTRACT_SPEC, RISK_SPEC} < set(shipped)
    for path in shipped:
        assert load_spec(path).spec.id == path.stem


# --- registration and compilation ------------------------------------------------------------------------------

def test_yaml_workflows_are_registered_and_compile_to_the_python_structure():
    from opsgraph.registry import graph_entries
    from opsgraph.runner import compile_graph

    entries = graph_entries()
    assert entries["contract_review_yaml"].topology == "sequential (yaml)"
    assert entries["supplier_risk_yaml"].topology == "concurrent (yaml)"
    assert entries["support_desk_yaml"].topology == "handoff (yaml)"
    assert entries["supply_chain_exception_yaml"].topology == "supervisor (yaml)"
    assert entries["procurement_review_yaml"].topology == "group_chat (yaml)"
    for python_id in ("contract_review", "supplier_risk", "support_desk", "supply_chain_exception",
                      "procurement_review"):
        ours, theirs = compile_graph(f"{python_id}_yaml").get_graph(), compile_graph(python_id).get_graph()
        assert set(ours.nodes) == set(theirs.nodes)
        assert {(e.source, e.target, e.conditional) for e in ours.edges} == \
               {(e.source, e.target, e.conditional) for e in theirs.edges}


def test_user_folder_spec_is_registered(tmp_path, monkeypatch):
    from opsgraph.registry import graph_entries

    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "mine.yaml").write_text(RISK_SPEC.read_text().replace("id: supplier_risk_yaml", "id: my_risk_panel"))
    (folder / "bad.yaml").write_text("id: broken_one\n")
    monkeypatch.setenv("OPSGRAPH_WORKFLOWS", str(folder))
    entries = graph_entries()
    assert "my_risk_panel" in entries and "broken_one" not in entries


# --- end-to-end runs on the offline engine, SQLite checkpointer ------------------------------------------------

def _run(runner, graph_id: str, options: dict, thread: str):
    return runner.start(graph_id, runner.make_input(graph_id, options), thread_id=thread)


def test_contract_review_yaml_runs_like_the_python_graph(runner):
    ours = _run(runner, "contract_review_yaml", {"contract": "CTR-1002"}, "yaml-ctr")
    theirs = _run(runner, "contract_review", {"contract": "CTR-1002"}, "py-ctr")
    assert ours.status == theirs.status == "completed"
    assert ours.report["recommendation"] == theirs.report["recommendation"] == "escalate_to_legal"
    assert ours.report["steps"] == theirs.report["steps"]
    assert [(a["agent"], a["tool"], a["args"]) for a in ours.values["actions"]] == \
           [(a["agent"], a["tool"], a["args"]) for a in theirs.values["actions"]]
    kinds = [e.kind for e in runner.context.audit.events("yaml-ctr")]
    assert kinds.count("validation") == 3 and "tool_call" in kinds
    assert runner.checkpointer.get_tuple({"configurable": {"thread_id": "yaml-ctr"}}) is not None


def test_supplier_risk_yaml_runs_like_the_python_graph(runner):
    ours = _run(runner, "supplier_risk_yaml", {"supplier": "SUP-019"}, "yaml-sr")
    theirs = _run(runner, "supplier_risk", {"supplier": "SUP-019"}, "py-sr")
    assert ours.status == theirs.status == "completed"
    for key in ("risk_level", "score", "votes", "needs_review", "disagreement"):
        assert ours.report[key] == theirs.report[key], key
    assert sorted((a["agent"], a["tool"]) for a in ours.values["actions"]) == \
           sorted((a["agent"], a["tool"]) for a in theirs.values["actions"])
    [logged] = [e for e in runner.context.audit.events("yaml-sr") if e.kind == "disagreement"]
    assert logged.agent == "reconciler"


# --- evals: the YAML version passes its suite exactly like the Python one ------------------------------------

def _case_results(settings, suites: tuple[str, ...], smoke: bool) -> dict[str, dict[str, dict]]:
    """Per suite, per case: pass/fail, every evaluator's score and what the run did (not its thread id or timing)."""
    from opsgraph.evals.runner import EvalOptions, run_evals

    data = run_evals(settings, EvalOptions(suites=suites, smoke=smoke, judge=False))
    kept = ("passed", "failed", "status", "trajectory", "tool_calls", "approvals", "report", "world_changes")
    results = {suite["name"]: {row["case_id"]: {**{k: row.get(k) for k in kept},
                                                "scores": {k: v["score"] for k, v in row["scores"].items()}}
                               for row in suite["results"]}
               for suite in data["suites"]}
    # A forced call's id is random (uuid4) on every run, whichever graph runs it.
    return json.loads(re.sub(r"forced_[0-9a-f]{12}", "forced_<id>", json.dumps(results, default=str)))


@pytest.mark.parametrize("python_id", ["contract_review", "supplier_risk", "support_desk",
                                       "supply_chain_exception", "procurement_review"])
def test_yaml_suite_smoke_matches_python(settings, python_id):
    results = _case_results(settings, (python_id, f"{python_id}_yaml"), smoke=True)
    assert results[python_id] and results[python_id] == results[f"{python_id}_yaml"]


@pytest.mark.slow
@pytest.mark.parametrize("python_id", ["contract_review", "supplier_risk", "support_desk",
                                       "supply_chain_exception", "procurement_review"])
def test_yaml_suite_matches_python_case_by_case(settings, python_id):
    results = _case_results(settings, (python_id, f"{python_id}_yaml"), smoke=False)
    assert len(results[python_id]) >= 15
    assert results[python_id] == results[f"{python_id}_yaml"]
    assert all(case["passed"] for case in results[python_id].values())


# --- CLI ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def cli():
    from opsgraph.cli import workflow_cmd  # noqa: F401 - registers the workflow commands
    from opsgraph.cli.app import app

    return lambda *args: CliRunner().invoke(app, list(args))


def test_cli_validate_ok_and_errors(cli, tmp_path):
    done = cli("workflow", "validate", str(CONTRACT_SPEC))
    assert done.exit_code == 0 and "valid" in done.output and "contract_review_yaml" in done.output
    bad = _variant(tmp_path, CONTRACT_SPEC, "extract_contract_terms]", "extract_contract_termz]")
    bad.write_text(bad.read_text().replace("    tier: large", "    tier: huge"))
    done = cli("workflow", "validate", str(bad))
    assert done.exit_code == 1
    lines = [line for line in done.output.splitlines() if line.strip()]
    assert lines == [f"{bad}:{_line_of(bad, 'tier: huge')}: agents.contract_compliance.tier: Input should be "
                     "'small' or 'large' (got 'huge')"]
    assert "Traceback" not in done.output
    missing = cli("workflow", "validate", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 1 and "cannot read the workflow spec" in missing.output


def test_cli_show_mermaid(cli):
    done = cli("workflow", "show", str(RISK_SPEC), "--mermaid")
    assert done.exit_code == 0
    assert "graph TD;" in done.output and "intake -.-> assess;" in done.output and "assess --> reconcile;" in done.output
    done = cli("workflow", "show", str(CONTRACT_SPEC))
    assert done.exit_code == 0 and "validate_terms" in done.output


def test_cli_graphs_lists_yaml_workflows(cli):
    from opsgraph.cli import graphviz  # noqa: F401 - registers graphs

    done = cli("graphs", "--json")
    assert done.exit_code == 0 and "contract_review_yaml" in done.output and "supplier_risk_yaml" in done.output


# --- invoice_match: declared only in YAML --------------------------------------------------------------------

def test_three_way_match_arithmetic():
    from opsgraph.tools.connectors.payables import three_way_match

    order = {"po_id": "PO-1", "lines": [{"sku_id": "A", "quantity": 100, "unit_price": 10.0},
                                        {"sku_id": "B", "quantity": 10, "unit_price": 4.0}]}
    receipts = [{"receipt_id": "GR-1", "lines": [{"sku_id": "A", "quantity": 50}, {"sku_id": "B", "quantity": 10}]},
                {"receipt_id": "GR-2", "lines": [{"sku_id": "A", "quantity": 30}]}]
    invoice = {"supplier_invoice_id": "VINV-1", "lines": [{"sku_id": "A", "quantity": 100, "unit_price": 10.5},
                                                          {"sku_id": "B", "quantity": 10, "unit_price": 4.0}]}
    match = three_way_match(order, receipts, invoice, 50.0)
    # A: 80 received of 100 ordered at $10 owed = $800; invoiced 100 x $10.50 = $1,050. B matches.
    assert match["owed_usd"] == 840.0 and match["invoiced_usd"] == 1090.0 and match["variance_usd"] == 250.0
    assert match["issues"] == ["price_differs", "quantity_short"] and match["within_tolerance"] is False
    assert three_way_match(order, [], invoice, 50.0)["issues"] == ["missing_receipt", "price_differs"]
    exact = {**invoice, "lines": [{"sku_id": "A", "quantity": 80, "unit_price": 10.0},
                                  {"sku_id": "B", "quantity": 10, "unit_price": 4.0}]}
    assert three_way_match(order, receipts, exact, 0.0)["result"] == "matched"


def _invoice_run(runner, invoice: str, thread: str):
    return runner.start("invoice_match", runner.make_input("invoice_match", {"invoice": invoice}), thread_id=thread)


def test_invoice_within_tolerance_is_released_without_a_human(runner):
    done = _invoice_run(runner, "VINV-0005", "inv-5")
    assert done.status == "completed" and not done.pending
    invoice = runner.context.world.payables.get_supplier_invoice("VINV-0005")
    assert invoice["status"] == "approved" and invoice["decided_by"] == "auto (within tolerance)"
    tools = [a["tool"] for a in done.values["actions"]]
    assert tools == ["get_supplier_invoice", "get_purchase_order", "get_goods_receipts", "match_invoice",
                     "approve_invoice_payment"]
    match = next(a["result"] for a in done.values["actions"] if a["tool"] == "match_invoice")
    assert match["issues"] == ["price_differs"] and 0 < match["variance_usd"] <= 50
    kinds = [e.kind for e in runner.context.audit.events("inv-5")]
    assert "approval" not in kinds and kinds.count("tool_call") == 5
    assert done.report["steps"] == ["invoice_matcher"] and done.report["outcome"] == "completed"


@pytest.mark.parametrize("invoice", ["VINV-0002", "VINV-0006"])  # short delivery; short + a note saying "approve"
def test_invoice_mismatch_waits_for_a_human_then_is_released(runner, invoice):
    thread = f"inv-{invoice}"
    held = _invoice_run(runner, invoice, thread)
    assert held.status == "awaiting_approval"
    [request] = held.pending
    assert request["kind"] == "invoice_payment" and request["tool"] == "approve_invoice_payment"
    assert request["amount_usd"] > request["threshold_usd"] == 50
    assert runner.context.world.payables.get_supplier_invoice(invoice)["status"] == "received"
    done = runner.resume(thread, {"decision": "approve", "by": "dana"})
    assert done.status == "completed"
    released = runner.context.world.payables.get_supplier_invoice(invoice)
    assert released["status"] == "approved" and released["decided_by"] == "dana"
    [approval] = [e for e in runner.context.audit.events(thread) if e.kind == "approval"]
    assert approval.agent == "dana" and approval.result["decision"] == "approve"


def test_release_above_tolerance_is_refused_at_the_connector_without_an_approver(runner):
    from opsgraph.tools.catalog import build_tools
    from opsgraph.tools.connectors.base import ApprovalRequired

    tool = build_tools(runner.context.world, runner.context.policy)["approve_invoice_payment"]
    with pytest.raises(ApprovalRequired, match="above the tolerance of \\$50.00"):
        tool.invoke({"supplier_invoice_id": "VINV-0002", "justification": "looks fine", "idempotency_key": "k-1"})
    assert runner.context.world.payables.get_supplier_invoice("VINV-0002")["status"] == "received"


def test_invoice_input_errors_are_one_line(runner):
    from opsgraph.errors import UserError

    with pytest.raises(UserError, match="supplier invoice 'VINV-0999'|VINV-0999"):
        runner.make_input("invoice_match", {"invoice": "VINV-0999"})
    with pytest.raises(UserError, match="name the supplier_invoice_id"):
        runner.make_input("invoice_match", {"event": "please pay the supplier"})
    assert runner.make_input("invoice_match", {"event": "check vinv-0003 please"}) == {"subject_id": "VINV-0003"}


def test_pipeline_spec_problems_name_their_lines(tmp_path):
    spec = SPECS_DIR / "invoice_match.yaml"
    path = _variant(tmp_path, spec, "lookup: payables.get_supplier_invoice", "lookup: payables.get_invoice_please")
    [problem] = _problems(path)
    assert problem.startswith(f"{path}:{_line_of(path, 'get_invoice_please')}: unknown connector operation")
    path = _variant(tmp_path, spec, "report: pipeline", "report: contract_review")
    assert any(p.startswith(f"{path}:{_line_of(path, 'report: contract_review')}: ") for p in _problems(path))


def _payables_story(world) -> list:
    """Match every seeded invoice, then release one within tolerance, one above it (refused), one approved."""
    from opsgraph.tools.connectors.base import ConnectorError

    out = [world.payables.match_invoice(f"VINV-{n:04d}", 50.0) for n in range(1, 11)]
    for invoice, approver in (("VINV-0001", None), ("VINV-0002", None), ("VINV-0003", "dana")):
        try:
            result = world.payables.approve_invoice_payment(invoice, "matched", f"k-{invoice}", tolerance_usd=50.0,
                                                            approved_by=approver)
            out.append({k: v for k, v in result.items() if k != "replayed"})
        except ConnectorError as exc:
            out.append({"error": type(exc).__name__, "message": str(exc)})
    return out + [world.payables.get_supplier_invoice(f"VINV-{n:04d}") for n in (1, 2, 3)]


def test_payables_behave_the_same_on_postgres_and_sqlite(world_database, tmp_path):
    from opsgraph.tools.world import World
    from tests.support.pgdb import unique_schema

    with World.open(world_database, schema=unique_schema()) as pg, World.open(tmp_path / "world.db") as lite:
        on_postgres, on_sqlite = _payables_story(pg), _payables_story(lite)
    assert on_postgres == on_sqlite
    assert on_sqlite[11]["error"] == "ApprovalRequired" and on_sqlite[12]["approved_by"] == "dana"
