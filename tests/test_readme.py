"""The README stays a front page: the same two set-up commands, honest words, links that resolve."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SETUP = [
    'python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" --config-settings editable_mode=strict '
    "&& .venv/bin/opsgraph run supply_chain_exception --shipment SH-0002 --delay-days 4",
    ".venv/bin/python -m pytest -q",
]


def _section(title: str) -> str:
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert found, f"README has no '## {title}' section"
    return found.group(1)


def test_setup_is_exactly_the_two_commands():
    assert README.index("## Set up") < README.index("\n## ", README.index("## Set up") + 1)
    block = re.search(r"```bash\n(.*?)```", _section("Set up"), re.S)
    assert block and block.group(1).strip().splitlines() == SETUP


def test_first_hour_facts_are_in_the_readme():
    for needle in ('-m "not slow"', "world reset", "--xray", "not a language model", "first run"):
        assert needle in README, needle
    assert "deterministic procedure" in _section("What the offline engine is")
    assert "BENCHMARKS.md" in _section("Real-model results")


def test_sections_other_features_hand_lines_to_exist():
    for title in ("Python API", "Governance & approvals", "Models", "Knowledge", "Evals", "Running on several machines"):
        _section(title)


def test_readme_is_a_front_page_not_the_reference():
    assert len(README.encode()) < 19_500
    # Two diagrams only: the blackboard and the market; every other graph is drawn in docs/graphs.md.
    assert README.count("```mermaid") == 2


def test_readme_diagrams_are_what_graph_show_draws(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from opsgraph.cli import graphviz  # noqa: F401 - registers `graph show`
    from opsgraph.cli.app import app

    monkeypatch.setenv("OPSGRAPH_HOME", str(tmp_path / "home"))
    drawn = [block.strip() for block in re.findall(r"```mermaid\n(.*?)```", README, re.S)]
    for graph_id in ("demand_sensing", "production_planning"):
        out = tmp_path / f"{graph_id}.mmd"
        result = CliRunner().invoke(app, ["graph", "show", graph_id, "--mermaid", str(out)])
        assert result.exit_code == 0, result.output
        assert out.read_text(encoding="utf-8").strip() in drawn, f"README diagram of {graph_id} is out of date"


def test_no_doc_states_a_policy_path_in_the_current_directory_as_the_default():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        assert "| `./policy.yaml` |" not in doc.read_text(encoding="utf-8"), doc


def test_relative_links_resolve():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"
