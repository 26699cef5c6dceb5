"""The procurement_review eval cases that seed memory: a remembered lesson is recalled, acted on and cited.

Runs the cases through the eval harness itself (isolated workspace, knowledge layer, the
case's seeded lessons) and scores them with the gating evaluators.
"""

from __future__ import annotations

import pytest

from opsgraph.evals.dataset import DATASETS_DIR, load_suite
from opsgraph.evals.evaluators import evaluate_all
from opsgraph.evals.harness import execute
from opsgraph.evals.workspace import Workspace
from tests.conftest import make_settings

pytestmark = pytest.mark.slow
MEMORY_CASES = ("remembered-lesson-trims-and-cites", "unrelated-lesson-changes-nothing")


def failed(scores: list) -> list:
    """Gating scores that failed; latency is left out (this machine's load is not the case's outcome)."""
    return [s for s in scores if s.passed is False and s.name != "cost_latency"]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, list]]:
    suite = load_suite(DATASETS_DIR / "procurement_review.yaml")
    cases = {c.id: c for c in suite.cases if c.id in MEMORY_CASES}
    settings = make_settings(tmp_path_factory.mktemp("evals") / "home")
    with Workspace(settings) as workspace:
        done = {}
        for case_id, case in cases.items():
            outputs = execute(workspace, case.example_inputs(suite.graph_id))
            done[case_id] = (outputs, evaluate_all(outputs, case.expect))
    return done


def test_a_seeded_lesson_is_recalled_acted_on_and_cited(outcomes):
    outputs, scores = outcomes["remembered-lesson-trims-and-cites"]
    assert not failed(scores), failed(scores)
    assert any(c.startswith("memory:le_") for c in outputs["recalled"])
    assert any(c.startswith("memory:le_") for c in outputs["report"]["policies_cited"])


def test_a_lesson_about_another_sku_changes_nothing(outcomes):
    outputs, scores = outcomes["unrelated-lesson-changes-nothing"]
    assert not failed(scores), failed(scores)
    assert not any(c.startswith("memory:") for c in outputs["report"]["policies_cited"])
