"""``opsgraph eval --shadow``: each case also runs in shadow mode, on the same untouched world.

The shadow run must leave the case's live world untouched (a gating check), and its proposed
writes are compared with what the live run did, per action category.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from opsgraph.evals import evaluators as ev
from opsgraph.evals.html_report import render_html
from opsgraph.evals.runner import EvalOptions, run_evals

SUITE = """
graph: supply_chain_exception
description: two approvals of the same purchase order, one approved and one rejected
threshold: 1.0
cases:
  - id: approved
    input: {options: {shipment: SH-0001, delay_days: 5}}
    decisions: [approve]
    expect:
      approvals: {count: 1, decisions: [approve]}
      state:
        - {table: purchase_orders, new: 1, where: {supplier_id: SUP-001}}
  - id: rejected
    input: {options: {shipment: SH-0001, delay_days: 5}}
    decisions: [{decision: reject, reason: buy on the spot market}]
    expect:
      approvals: {count: 1, decisions: [reject]}
      state:
        - {table: purchase_orders, untouched: true}
"""


def _shadow_outputs(**run):
    return {"status": "completed", "shadow": {"thread_id": "eval-shadow-1", "error": None, "live_changes": {},
                                              "agreed": [], "shadow_only": [], "live_only": [], **run}}


def test_the_shadow_check_fails_when_the_live_world_changed_or_the_shadow_run_failed():
    assert ev.shadow(_shadow_outputs(), {}).passed
    touched = ev.shadow(_shadow_outputs(live_changes={"purchase_orders": {"added": 1}}), {})
    assert not touched.passed and "wrote to the live world" in touched.explanation
    failed = ev.shadow(_shadow_outputs(error="RunFailed: budget"), {})
    assert not failed.passed and "shadow run failed" in failed.explanation


def test_the_shadow_check_does_not_apply_outside_a_shadow_eval_or_to_a_graph_without_shadow_mode():
    assert ev.shadow({"status": "completed"}, {}).score is None
    unsupported = _shadow_outputs(error="retail_support cannot run in shadow mode", applicable=False)
    assert ev.shadow(unsupported, {}).score is None


@pytest.mark.slow
def test_eval_shadow_compares_proposals_with_live_writes_and_keeps_the_live_gate(tmp_path: Path, settings):
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    (datasets / "shadow_pair.yaml").write_text(SUITE)
    options = EvalOptions(suites=("shadow_pair",), datasets_dir=datasets, shadow=True)
    data = run_evals(settings, options)
    [suite] = data["suites"]
    assert suite["gate_passed"] and suite["passed"] == 2  # the live expectations still decide the gate
    assert all(r["scores"]["shadow"]["score"] == 1.0 for r in suite["results"])
    assert all(r["shadow"]["thread_id"].startswith("eval-shadow-") for r in suite["results"])
    shadow = suite["shadow"]
    assert shadow["runs"] == 2 and shadow["live_world_untouched"] == 2
    # Unsupervised, the shadow run raises the order both times; the human rejected it once.
    assert shadow["categories"]["purchase_order"] == {"agreed": 1, "shadow_only": 1, "live_only": 0, "rate": 0.5}
    assert shadow["categories"]["customer_notice"]["rate"] == 1.0
    [rejected] = [r for r in suite["results"] if r["case_id"] == "rejected"]
    assert [w["category"] for w in rejected["shadow"]["shadow_only"]] == ["purchase_order"]

    page = render_html(data)
    assert "Shadow runs against live runs" in page and "purchase_order" in page

    plain = run_evals(settings, EvalOptions(suites=("shadow_pair",), datasets_dir=datasets))["suites"][0]
    assert plain["shadow"] is None and "shadow" not in plain["evaluators"]
