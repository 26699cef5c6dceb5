"""The first hour of a new user: narrow terminals, audited stops, clear errors, honest pictures.

Tables are read at 80 columns, the width of a default terminal: ids that every follow-up
command needs must appear whole, and no line may run past the edge.
"""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from opsgraph.governance.audit import AuditStore
from tests.conftest import make_settings

LONG_THREAD = "incident-2026-03-02-sh0002-first-attempt"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def cli(monkeypatch, home: Path):
    """Invoke the CLI in-process on an isolated data home, 80 columns wide."""
    from opsgraph.cli import app as app_module, commands, costs, evals, graphviz  # noqa: F401 - register the commands

    monkeypatch.setenv("OPSGRAPH_HOME", str(home))
    for name in ("OPSGRAPH_CONFIG", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPSGRAPH_SMALL_MODEL", "OPSGRAPH_LARGE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    # The consoles read COLUMNS once, when the CLI module is imported: pin their width for this test only.
    for console in (app_module.console, app_module.err):
        monkeypatch.setattr(console, "_width", 80)
    return lambda *args: CliRunner().invoke(app_module.app, list(args))


@pytest.fixture
def finished_run(home: Path) -> str:
    """A completed supply-chain run with a long user-chosen thread id, on the offline engine."""
    from opsgraph.runner import open_runner

    with open_runner(make_settings(home), with_knowledge=False) as runner:
        graph_input = runner.make_input("supply_chain_exception", {"shipment": "SH-0002", "delay_days": 4})
        result = runner.start("supply_chain_exception", graph_input, thread_id=LONG_THREAD)
    assert result.status == "completed"
    return LONG_THREAD


def _assert_fits(output: str, width: int = 80, free_text_shortened: bool = False) -> None:
    too_wide = [line for line in output.splitlines() if len(line) > width]
    assert not too_wide, "lines wider than the terminal:\n" + "\n".join(too_wide)
    if free_text_shortened:  # long prose may be shortened, an id never
        assert not re.search(r"\b[A-Z]{2,4}-\d{0,3}…", output), "an id was cut:\n" + output
    else:
        assert "…" not in output, "a cell was cut:\n" + output


# --- tables at 80 columns -------------------------------------------------------------------


def test_runs_list_at_80_columns_shows_the_whole_thread_id(cli, finished_run):
    result = cli("runs", "list")
    assert result.exit_code == 0, result.output
    assert any(finished_run in line for line in result.output.splitlines()), result.output
    assert "supply_chain_exception" in result.output and "completed" in result.output
    _assert_fits(result.output)


def test_audit_at_80_columns_keeps_names_whole_and_fits(cli, finished_run):
    result = cli("audit", finished_run)
    assert result.exit_code == 0, result.output
    _assert_fits(result.output, free_text_shortened=True)
    for needle in ("report_shipment_delay", "create_purchase_order", "customer_comms", "SH-0002"):
        assert needle in result.output, needle


def test_routing_explain_at_80_columns_shows_the_rule_unbroken(cli, finished_run):
    result = cli("routing", "explain", finished_run)
    assert result.exit_code == 0, result.output
    _assert_fits(result.output)
    assert finished_run in result.output
    # The rule is the reason for the tier: it must read as one sentence, not a column of fragments.
    assert re.search(r"score \d\.\d\d < threshold \d\.\d\d -> small", result.output), result.output
    assert "offline:small" in result.output


def _eval_data() -> dict:
    names = ("supply_chain_exception", "procurement_review", "operations_director", "support_desk")
    evaluators = ("outcome", "state", "trajectory", "tool_calls", "forbidden", "citations", "cost_latency", "replies")
    suites = [{
        "name": name, "passed": 31, "runs": 32, "pass_rate": 31 / 32, "threshold": 0.9, "gate_passed": True,
        "cost_usd": {"total": 0.1234}, "tokens": {"p50": 12345}, "latency_s": {"p50": 0.52, "p95": 1.31},
        "evaluators": {e: {"pass_rate": 1.0, "gating": True} for e in evaluators},
        "results": [{"passed": False, "case_id": f"{name}-paraphrase-17", "repetition": 1, "failed": ["state"],
                     "scores": {"state": {"explanation": "purchase_orders: expected 1 new row, found 0"}}}],
    } for name in names]
    return {"suites": suites, "gate": {"passed": True, "failures": []}, "wall_time_s": 42.0, "setup_s": 3.1}


def test_eval_summary_at_80_columns_names_every_suite_and_evaluator_whole():
    from opsgraph.evals.report import print_summary

    buffer = io.StringIO()
    print_summary(_eval_data(), Console(file=buffer, width=80, force_terminal=False, color_system=None))
    output = buffer.getvalue()
    _assert_fits(output)
    for needle in ("supply_chain_exception", "operations_director", "cost_latency", "tool_calls", "31/32", "97%",
                   "supply_chain_exception-paraphrase-17"):
        assert needle in output, needle


# --- runs stop is audited -------------------------------------------------------------------


def test_runs_stop_is_audited_with_who_and_when(cli, home):
    store = AuditStore(make_settings(home).audit_path)
    store.register_run("stop-me-1", "supply_chain_exception", "shipment SH-0001 +5d")
    result = cli("runs", "stop", "stop-me-1", "--by", "dana", "--reason", "wrong shipment")
    assert result.exit_code == 0, result.output
    events = store.events("stop-me-1", kind="stop_requested")
    store.close()
    assert len(events) == 1, events
    event = events[0]
    assert event.agent == "dana" and event.args == {"reason": "wrong shipment"}
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", event.ts)


def test_runs_stop_default_actor_is_recorded(cli, home):
    store = AuditStore(make_settings(home).audit_path)
    store.register_run("stop-me-2", "support_desk", None)
    assert cli("runs", "stop", "stop-me-2").exit_code == 0
    (event,) = store.events("stop-me-2", kind="stop_requested")
    store.close()
    assert event.agent == "operator"


# --- costs of an unknown graph --------------------------------------------------------------


def test_costs_of_an_unknown_graph_is_one_clear_error(cli):
    result = cli("costs", "--graph", "no_such_graph")
    assert result.exit_code == 1, result.output
    assert "Model spend" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "no_such_graph" in lines[0] and "opsgraph graphs" in lines[0], result.output


def test_costs_of_a_known_graph_without_runs_still_prints_the_table(cli):
    result = cli("costs", "--graph", "support_desk")
    assert result.exit_code == 0, result.output
    assert "Model spend over 0 runs" in result.output


# --- the routing benchmark leaves tracked files alone ----------------------------------------


def _default_outputs() -> list[Path]:
    tree = ast.parse((ROOT / "bench" / "bench_routing.py").read_text())
    outputs = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            default = next((k.value for k in node.keywords if k.arg == "default"), None)
            if default is not None:
                constants = [n for n in ast.walk(default) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
                outputs.append(Path(*(n.value for n in sorted(constants, key=lambda n: n.col_offset))))
    return outputs


def test_routing_bench_writes_its_results_under_reports_not_docs():
    outputs = _default_outputs()
    assert len(outputs) >= 2, outputs
    for path in outputs:
        assert path.parts[0] == "reports", f"bench_routing.py writes {path} by default; tracked files must not change"
    assert "reports/" in (ROOT / ".gitignore").read_text().split()


def test_langgraph_api_folder_is_ignored():
    assert ".langgraph_api/" in (ROOT / ".gitignore").read_text().split()


# --- the supplier_risk picture shows its fan-out ---------------------------------------------


def test_supplier_risk_structure_draws_one_box_per_parallel_branch():
    from opsgraph.cli.graph_png import drawn_edges
    from opsgraph.cli.graphviz import graph_structure

    nodes, edges = drawn_edges(graph_structure("supplier_risk"))
    branches = [n for n in nodes if n.startswith("assess")]
    assert len(branches) == 3, nodes
    for branch in branches:
        assert ("intake", branch) in {(s, t) for s, t, _ in edges}
        assert (branch, "reconcile") in {(s, t) for s, t, _ in edges}
    assert any("finance" in b for b in branches) and any("esg" in b for b in branches)


def test_graphs_without_fan_out_are_drawn_as_reported():
    from opsgraph.cli.graph_png import drawn_edges
    from opsgraph.cli.graphviz import graph_structure

    structure = graph_structure("contract_review")
    nodes, edges = drawn_edges(structure)
    assert tuple(nodes) == structure.nodes and tuple(edges) == structure.edges


def test_supplier_risk_png_and_text_view_show_the_fan_out(cli, tmp_path):
    out = tmp_path / "sr.png"
    result = cli("graph", "show", "supplier_risk", "--png", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Send" in result.output and "finance_assessor" in result.output, result.output


# --- a run in a world that earlier runs changed says so ---------------------------------------


@pytest.fixture
def world(tmp_path: Path):
    from opsgraph.tools.world import World

    with World.open(tmp_path / "world.db", seed=7) as w:
        yield w


def test_a_freshly_seeded_world_gets_no_notice(world):
    from opsgraph.cli.world_notice import earlier_effects

    assert world.earlier_writes() == []
    assert earlier_effects(world.earlier_writes(), "SH-0002") is None


def test_an_earlier_delay_of_the_same_shipment_is_named_with_the_reset_hint(world):
    from opsgraph.cli.world_notice import earlier_effects

    world.tms.report_shipment_delay("SH-0002", 4, "port congestion", "run-1:delay")
    world.tms.report_shipment_delay("SH-0002", 4, "port congestion", "run-2:delay")
    world.billing.issue_refund("INV-0001", 189.0, "duplicate charge", "run-3:refund")
    notice = earlier_effects(world.earlier_writes(), "SH-0002")
    assert notice is not None
    assert "SH-0002 2 times" in notice and "8 days" in notice and "opsgraph world reset" in notice
    assert "2 delays" in notice and "1 refund" in notice
    assert world.show("shipment", "SH-0002")["eta"] in notice


def test_earlier_writes_on_other_records_still_get_a_notice(world):
    from opsgraph.cli.world_notice import earlier_effects

    world.tms.report_shipment_delay("SH-0001", 5, "customs", "run-1:delay")
    notice = earlier_effects(world.earlier_writes(), "SH-0003")
    assert notice is not None and "SH-0003" not in notice
    assert "1 delay" in notice and "opsgraph world reset" in notice


def test_the_shipment_is_read_from_supply_chain_and_plain_inputs():
    from opsgraph.cli.world_notice import shipment_of

    assert shipment_of({"event": {"shipment_id": "SH-0002", "delay_days": 4}}) == "SH-0002"
    assert shipment_of({"shipment_id": "SH-0001"}) == "SH-0001"
    assert shipment_of({"messages": []}) is None


def test_runs_list_on_a_wide_terminal_is_a_table_with_ids_whole(cli, finished_run, monkeypatch):
    from opsgraph.cli import app as app_module

    monkeypatch.setattr(app_module.console, "_width", 130)
    result = cli("runs", "list")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if finished_run in line]
    assert len(rows) == 1 and "supply_chain_exception" in rows[0] and rows[0].startswith("│"), result.output
    _assert_fits(result.output, width=130)


def test_audit_on_a_wide_terminal_keeps_names_whole(cli, finished_run, monkeypatch):
    from opsgraph.cli import app as app_module

    monkeypatch.setattr(app_module.console, "_width", 130)
    result = cli("audit", finished_run)
    assert result.exit_code == 0, result.output
    _assert_fits(result.output, width=130, free_text_shortened=True)
    assert "report_shipment_delay" in result.output and "create_purchase_order" in result.output
