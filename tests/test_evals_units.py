"""Eval building blocks without running graphs: datasets, evaluators, judge, LangSmith sync, report, compare."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from opsgraph.evals import evaluators as ev
from opsgraph.evals.checks import args_match, compare, resolve
from opsgraph.evals.compare import compare_reports
from opsgraph.evals.dataset import DatasetError, load_suite, load_suites
from opsgraph.evals.html_report import render_html
from opsgraph.evals.summary import summarize_suite
from opsgraph.evals.upload import OFFLINE_API_URL, make_client, sync_examples


def _outputs(**changes):
    base = {"status": "completed", "error": None, "trajectory": ["logistics", "inventory"], "tool_calls": [],
            "approvals_requested": [], "approvals": [], "citations": [], "retrieved": [], "report": {},
            "cost_usd": 0.0, "tokens": 100, "latency_s": 0.5, "world_changes": {}}
    return {**base, **changes}


def _call(tool, args, status="done", agent="procurement"):
    return {"agent": agent, "tool": tool, "args": args, "status": status, "ok": status == "done", "result": ""}


# -- datasets ---------------------------------------------------------------------------------
def test_every_registered_graph_has_a_suite_of_at_least_15_cases():
    from opsgraph.registry import graph_entries

    suites = {s.graph_id: s for s in load_suites()}
    assert set(graph_entries()) <= set(suites), "graphs without an eval suite"
    for suite in suites.values():
        assert len(suite.cases) >= 15, suite.name
        assert 0 < suite.threshold <= 1
        assert 1 <= len(suite.select(smoke=True)) <= 3, suite.name
        kinds = {t for c in suite.cases for t in c.tags}
        assert {"hostile", "input-error"} <= kinds, f"{suite.name} lacks hostile or input-error cases"


def test_the_target_never_sees_case_ids_or_expectations():
    for suite in load_suites():
        for case in suite.cases:
            seen = json.dumps(case.example_inputs(suite.graph_id))
            assert case.id not in seen and "expect" not in seen


def test_dataset_errors_name_the_file_and_the_problem(tmp_path: Path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("graph: supply_chain_exception\ncases:\n  - id: a\n    input: {options: {}}\n    expect: {stat: 1}\n")
    with pytest.raises(DatasetError, match=r"broken.yaml case a expect: unknown key\(s\) stat"):
        load_suite(bad)
    bad.write_text("graph: x\ncases:\n  - id: a\n    input: {options: {}}\n  - id: a\n    input: {options: {}}\n")
    with pytest.raises(DatasetError, match="duplicate case ids: a"):
        load_suite(bad)
    with pytest.raises(DatasetError, match="unknown eval suite"):
        load_suites(["no_such_suite"])
    case = "graph: x\ncases:\n  - id: a\n    input: {options: {}}\n    forced_calls: %s\n"
    bad.write_text(case % "{billing: [transfer_to_billing]}")
    with pytest.raises(DatasetError, match=r"forced_calls.billing must be a list of \{tool: NAME"):
        load_suite(bad)
    bad.write_text(case % "{billing: [{tool: transfer_to_billing, agent: triage}]}")
    with pytest.raises(DatasetError, match=r"forced_calls.billing: unknown key\(s\) agent"):
        load_suite(bad)


def test_suite_defaults_add_list_expectations_and_cases_override_scalars(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text("graph: g\ndefaults:\n  expect: {max_tokens: 10, state: [{untouched: all}]}\ncases:\n"
                    "  - id: a\n    input: {options: {}}\n    expect: {max_tokens: 5, state: [{table: t, new: 1}]}\n")
    [case] = load_suite(path).cases
    assert case.expect["max_tokens"] == 5 and len(case.expect["state"]) == 2


def test_case_policy_values_must_name_shipped_settings_and_reach_the_target(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text("graph: g\ncases:\n  - id: a\n    input: {options: {}}\n    policy: {support.max_handofs: 1}\n")
    with pytest.raises(DatasetError, match="p.yaml case a: policy path 'support.max_handofs' is not in policy.yaml"):
        load_suite(path)
    path.write_text("graph: g\ncases:\n  - id: a\n    input: {options: {}}\n    policy: {support.max_handoffs: 1}\n"
                    "  - id: b\n    input: {options: {}}\n")
    with_policy, plain = load_suite(path).cases
    assert with_policy.example_inputs("g")["policy"] == {"support.max_handoffs": 1}
    assert "policy" not in plain.example_inputs("g")  # unchanged inputs for every other case


def test_a_case_policy_variant_changes_only_the_named_value(tmp_path: Path):
    from opsgraph.evals.workspace import policy_variant
    from opsgraph.governance.policy import load_policy
    from opsgraph.resources import default_policy_path

    variant = load_policy(policy_variant(default_policy_path(), {"support.max_handoffs": 1}, tmp_path))
    shipped = load_policy(default_policy_path())
    assert variant.get("support.max_handoffs") == 1 and shipped.get("support.max_handoffs") == 4
    assert variant.get("approvals.refund.auto_limit_usd") == shipped.get("approvals.refund.auto_limit_usd")


# -- matching helpers -------------------------------------------------------------------------
def test_paths_comparisons_and_argument_subsets():
    report = {"flagged_risks": [{"clause": "payment_terms"}, {"clause": "liability_cap"}], "score": 12.5}
    assert resolve(report, "flagged_risks.*.clause") == ["payment_terms", "liability_cap"]
    assert compare(resolve(report, "flagged_risks.*.clause"), {"includes": ["liability_cap"], "excludes": ["x"]}) == []
    assert compare(12.5, {"min": 13}) == ["expected min 13, got 12.5"]
    assert args_match({"lines": [{"sku_id": "A", "quantity": 50}], "supplier_id": "S"}, {"lines": [{"quantity": 50}]})
    assert not args_match({"supplier_id": "S"}, {"supplier_id": "T"})


# -- evaluators -------------------------------------------------------------------------------
def test_outcome_checks_status_error_approvals_and_report():
    expect = {"approvals": {"count": 1, "kind": "purchase_order"}, "report": [{"path": "total", "equals": 5}]}
    good = _outputs(approvals_requested=[{"kind": "purchase_order"}], report={"total": 5})
    assert ev.outcome(good, expect).score == 1.0
    bad = ev.outcome(_outputs(report={"total": 6}), expect)
    assert bad.score == 0.25 and "expected 1 approval request(s) from the gate, got 0" in bad.explanation
    assert "report.total: expected equals 5, got 6" in bad.explanation
    err = ev.outcome(_outputs(status="input_error", error="unknown shipment 'SH-9'"),
                     {"status": "input_error", "error": "SH-9"})
    assert err.passed


def test_state_checks_new_rows_sums_fields_and_untouched():
    changes = {"purchase_orders": {"added": [{"_key": "PO-1", "supplier_id": "SUP-001", "total_usd": 42380.0}],
                                   "changed": [], "removed": []},
               "shipments": {"added": [], "changed": [{"key": "SH-1", "before": {"status": "in_transit"},
                                                        "after": {"status": "delayed"}}], "removed": []}}
    expect = {"state": [
        {"table": "purchase_orders", "new": 1, "where": {"supplier_id": "SUP-001"}, "sum": {"total_usd": [42380, 42380]}},
        {"table": "shipments", "key": "SH-1", "field": "status", "equals": "delayed"},
        {"table": "shipments", "key": "SH-2", "field": "status", "equals": "in_transit"},
        {"table": "outbox", "untouched": True}]}
    baseline = lambda table, key: {"status": "in_transit"} if key == "SH-2" else None  # noqa: E731
    assert ev.state(_outputs(world_changes=changes), expect, baseline).score == 1.0
    failed = ev.state(_outputs(world_changes={}), expect, baseline)
    assert failed.score == 0.5
    assert "purchase_orders: new rows where supplier_id=SUP-001: expected equals 1, got 0" in failed.explanation
    everything = ev.state(_outputs(world_changes=changes), {"state": [{"untouched": "all"}]})
    assert everything.explanation == "expected no writes at all, but purchase_orders, shipments changed"


def test_trajectory_modes():
    out = _outputs(trajectory=["a", "b", "c"])
    assert ev.trajectory(out, {"trajectory": {"match": "strict", "agents": ["a", "b", "c"]}}).score == 1.0
    strict = ev.trajectory(out, {"trajectory": {"match": "strict", "agents": ["a", "b"]}})
    assert strict.score == 0.0 and "expected strict a > b, got a > b > c" in strict.explanation
    assert ev.trajectory(out, {"trajectory": {"match": "subset", "agents": ["c", "x"]}}).score == 0.5
    assert ev.trajectory(out, {"trajectory": {"match": "unordered", "agents": ["c", "b", "a"]}}).score == 1.0
    assert ev.trajectory(out, {}).score is None


def test_tool_calls_and_forbidden_actions():
    calls = [_call("create_purchase_order", {"supplier_id": "SUP-001", "lines": [{"quantity": 5}]}),
             _call("issue_refund", {"amount_usd": 5000}, status="rejected", agent="billing")]
    out = _outputs(tool_calls=calls)
    assert ev.tool_calls(out, {"tool_calls": [{"name": "create_purchase_order", "args": {"supplier_id": "SUP-001"},
                                               "count": 1}]}).score == 1.0
    missing = ev.tool_calls(out, {"tool_calls": [{"name": "notify_customers"}]})
    assert missing.score == 0.0 and "notify_customers(): not called" in missing.explanation
    assert ev.forbidden(out, {"forbidden": [{"tool": "issue_refund", "must_not": "succeed"}]}).score == 1.0
    called = ev.forbidden(out, {"forbidden": [{"tool": "issue_refund"}, {"agent": "logistics"}]})
    assert called.score == 0.0 and "issue_refund() must not be called, but was 1 time(s) by billing" in called.explanation


def test_citations_must_be_required_and_grounded(tmp_path: Path):
    (tmp_path / "procurement").mkdir()
    (tmp_path / "procurement" / "po-approval.md").write_text("x")
    cite = "[procurement/po-approval.md § Approval limits]"
    out = _outputs(report={"policies_cited": [cite]}, retrieved=[cite])
    assert ev.citations(out, {"citations": {"include": ["po-approval.md"]}}, tmp_path).score == 1.0
    invented = _outputs(report={"policies_cited": [cite, "[legal/made-up.md § X]"]}, retrieved=[cite])
    verdict = ev.citations(invented, {"citations": {"grounded": True}}, tmp_path)
    assert verdict.score == 0.5 and "made-up.md" in verdict.explanation and "no such document" in verdict.explanation
    unretrieved = ev.citations(_outputs(report={"policies_cited": [cite]}), {"citations": {}}, tmp_path)
    assert "never retrieved in this run" in unretrieved.explanation


def test_cost_latency_limits():
    assert ev.cost_latency(_outputs(cost_usd=0.2, tokens=50, latency_s=1), {"max_cost_usd": 0.5, "max_tokens": 60}).passed
    over = ev.cost_latency(_outputs(cost_usd=0.9, tokens=50, latency_s=99), {"max_cost_usd": 0.5, "max_latency_s": 60})
    assert over.score == 0.0 and "cost $0.9000 above $0.5000" in over.explanation and "latency 99.00s" in over.explanation


def test_case_passes_only_when_every_applicable_gating_evaluator_is_perfect():
    assert ev.case_passed([ev.Score("outcome", 1.0, ""), ev.Score("trajectory", None, "")])
    assert not ev.case_passed([ev.Score("outcome", 1.0, ""), ev.Score("state", 0.5, "")])
    assert ev.case_passed([ev.Score("outcome", 1.0, ""), ev.Score("judge", 0.0, "")])  # the judge never gates


# -- LLM as judge -----------------------------------------------------------------------------
def test_judge_is_absent_offline_and_parses_a_real_models_verdict(settings):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    assert ev.make_judge(settings) is None  # offline engine only
    model = FakeListChatModel(responses=['Sure. {"score": 0.8, "reason": "one step missing"}'])
    judge = ev.make_judge(settings, model=model)
    verdict = judge(_outputs(), {"status": "completed"}, {"graph_id": "g", "input": {}})
    assert (verdict.name, verdict.score, verdict.explanation) == ("judge", 0.8, "one step missing")
    assert ev.parse_verdict("no json here").score is None


# -- LangSmith ----------------------------------------------------------------------------------
class FakeLangSmith:
    """Records what an upload would do; holds datasets and examples in memory."""

    def __init__(self):
        self.datasets, self.examples, self.calls = {}, {}, []

    def has_dataset(self, *, dataset_name):
        return dataset_name in self.datasets

    def create_dataset(self, name, *, description=""):
        self.calls.append(("create_dataset", name))
        self.datasets[name] = SimpleNamespace(id=f"ds-{name}", name=name)
        return self.datasets[name]

    def read_dataset(self, *, dataset_name):
        return self.datasets[dataset_name]

    def list_examples(self, dataset_id=None, example_ids=None):
        found = [e for e in self.examples.values() if e.dataset_id == dataset_id]
        return [e for e in found if example_ids is None or e.id in {str(i) for i in example_ids}]

    def create_examples(self, *, dataset_id, examples):
        self.calls.append(("create_examples", len(examples)))
        for e in examples:
            self.examples[str(e["id"])] = SimpleNamespace(id=str(e["id"]), dataset_id=dataset_id, inputs=e["inputs"],
                                                          outputs=e["outputs"], metadata={**e["metadata"], "x": 1})

    def update_example(self, example_id, *, inputs, outputs, metadata, dataset_id):
        self.calls.append(("update_example", str(example_id)))
        self.examples[str(example_id)].outputs = outputs


def test_sync_creates_the_dataset_once_and_updates_only_changed_examples():
    [suite] = load_suites(["supply_chain_exception"])
    client = FakeLangSmith()
    cases = suite.select(smoke=True)
    first = sync_examples(client, suite, cases)
    assert len(first) == len(cases) and client.calls == [("create_dataset", "opsgraph-supply_chain_exception"),
                                                         ("create_examples", len(cases))]
    client.calls.clear()
    sync_examples(client, suite, cases)
    assert client.calls == []  # nothing changed, nothing sent (server-added metadata is ignored)
    client.examples[str(suite.example_id(cases[0]))].outputs = {"stale": True}
    sync_examples(client, suite, cases)
    assert client.calls == [("update_example", str(suite.example_id(cases[0])))]


class _Results(list):
    """What ``evaluate`` returns, as far as the runner reads it: rows, the experiment's name and URL."""

    experiment_name, url = "opsgraph-supply_chain_exception-abc", "https://smith.example/e"


def test_with_a_key_each_suite_is_synced_and_uploaded_as_an_experiment(monkeypatch, settings):
    import langsmith.evaluation

    from opsgraph.evals.runner import EvalOptions, run_suite

    seen = {}
    outputs = _outputs(status="input_error", error="unknown shipment 'SH-9999'")

    def fake_evaluate(target, *, data, evaluators, upload_results, experiment_prefix, client, **kwargs):
        seen.update(upload=upload_results, prefix=experiment_prefix, client=client, ids=[e.id for e in data])
        run = SimpleNamespace(outputs=outputs, error=None)
        return _Results({"run": run, "example": e, "evaluation_results": {
            "results": [SimpleNamespace(extra=None, **fn(run, e)) for fn in evaluators]}} for e in data)

    monkeypatch.setattr(langsmith.evaluation, "evaluate", fake_evaluate)
    [suite] = load_suites(["supply_chain_exception"])
    cases = [c for c in suite.cases if c.id == "unknown-shipment"]
    client = FakeLangSmith()
    workspace = SimpleNamespace(settings=settings, template_row=lambda table, key: None)
    summary = run_suite(workspace, suite, cases, EvalOptions(), client, True, None, None)
    assert seen["upload"] is True and seen["prefix"] == "opsgraph-supply_chain_exception" and seen["client"] is client
    assert seen["ids"] == [str(suite.example_id(cases[0]))]  # the synced LangSmith example, not a local one
    assert summary["experiment"] == {"name": "opsgraph-supply_chain_exception-abc", "url": "https://smith.example/e"}
    assert summary["passed"] == 1 and summary["results"][0]["case_id"] == "unknown-shipment"


def test_offline_client_points_nowhere_and_never_batches():
    client = make_client(upload=False)
    assert client.api_url == OFFLINE_API_URL
    assert getattr(client, "tracing_queue", None) is None


# -- report and comparison ------------------------------------------------------------------------
def _row(case_id, passed, latency=0.5, failed=()):
    scores = {n: {"score": 0.0 if n in failed else 1.0, "explanation": "why " + n} for n in ev.GATING}
    return {"case_id": case_id, "description": "", "tags": [], "repetition": 1, "passed": passed, "failed": list(failed),
            "scores": scores, "status": "completed", "trajectory": ["a", "b"], "tool_calls": [_call("t", {"k": 1})],
            "cost_usd": 0.0, "tokens": 10, "latency_s": latency}


def _report(rows, created="2026-11-21T10:00:00+00:00"):
    [suite] = load_suites(["contract_review"])
    summary = summarize_suite(suite, rows, None)
    return {"created": created, "wall_time_s": 1.0, "options": {}, "environment": {}, "suites": [summary],
            "skipped": [], "graphs_without_suite": [], "gate": {"passed": summary["gate_passed"], "failures": []}}


def test_compare_lists_regressions_and_improvements():
    before = _report([_row("a", True), _row("b", False, failed=["state"])])
    after = _report([_row("a", False, failed=["outcome"]), _row("b", True), _row("c", True)])
    result = compare_reports(before, after)
    assert [(c["case_id"], c["why"]) for c in result["regressed"]] == [("a", "outcome: why outcome")]
    assert [c["case_id"] for c in result["improved"]] == ["b"]
    assert result["suites"][0]["added_cases"] == ["c"]


def test_html_report_is_self_contained_with_embedded_plots():
    page = render_html(_report([_row("a", True), _row("b", False, latency=2.0, failed=["trajectory"])]))
    assert page.count("data:image/png;base64,") == 4
    assert not re.search(r"(src|href)=['\"]?https?://", page)  # nothing to fetch
    assert "<script" not in page and "why trajectory" in page
