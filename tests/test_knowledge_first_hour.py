"""What a new user meets first: adding a corpus keeps the shipped one, ranked scores, first-run progress."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opsgraph.knowledge.cli import kb_app
from opsgraph.knowledge.embeddings import MiniLMOnnxEmbedding
from opsgraph.knowledge.ingest import ingest
from opsgraph.knowledge.store import KnowledgeStore, iter_records
from opsgraph.settings import load_settings
from tests.support.paths import PROJECT_ROOT

KNOWLEDGE = PROJECT_ROOT / "knowledge"
SHIPPED = ["procurement/po-approval.md", "finance/refund-policy.md", "technical_support/login-problems.md"]
QUERIES = ["who must approve a large purchase order", "refund window for customers", "password reset after 401",
           "approval limits and exceptions", "gift card"]


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """This data home, and no store URL or embedding from the caller's shell."""
    return {"OPSGRAPH_HOME": str(home), "OPSGRAPH_CHROMA_URL": "", "OPSGRAPH_EMBEDDING": "",
            "OPSGRAPH_CONFIG": "", **extra}


@pytest.fixture(scope="module")
def ef() -> MiniLMOnnxEmbedding:
    return MiniLMOnnxEmbedding()


@pytest.fixture()
def shipped(tmp_path: Path) -> Path:
    root = tmp_path / "shipped"
    for source in SHIPPED:
        (root / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(KNOWLEDGE / source, root / source)
    return root


@pytest.fixture()
def settings(tmp_path: Path, shipped: Path) -> Any:
    home = tmp_path / "home"
    return load_settings(env={"OPSGRAPH_HOME": str(home)}, cwd=tmp_path).with_overrides(knowledge_path=shipped)


def _stored_sources(settings: Any) -> set[str]:
    collection = KnowledgeStore(settings).peek()
    return {r["metadatas"]["source"] for r in iter_records(collection, include=["metadatas"])}


def test_ingesting_another_folder_adds_to_the_store(settings, ef, tmp_path):
    ingest(None, settings, embedding_function=ef)
    mine = tmp_path / "my-corpus"
    mine.mkdir()
    (mine / "returns.md").write_text("---\ntitle: Returns\ndepartment: logistics\naccess: internal\nowner: ops\n"
                                     "effective_date: 2026-01-01\n---\n# Returns\n\n"
                                     "Damaged parcels are returned to the depot within 5 days.\n")
    result = CliRunner().invoke(kb_app, ["ingest", str(mine)], env=cli_env(settings.data_home))
    assert result.exit_code == 0, result.output
    sources = _stored_sources(settings)
    assert set(SHIPPED) <= sources, "ingesting a folder removed documents it did not contain"
    assert any(s.endswith("returns.md") for s in sources)


def test_kb_search_scores_are_in_rank_order(settings, ef):
    ingest(None, settings, embedding_function=ef)
    env = cli_env(settings.data_home)
    for mode in ("hybrid", "vector", "lexical"):
        for query in QUERIES:
            result = CliRunner().invoke(kb_app, ["search", query, "--json", "-k", "10", "--mode", mode], env=env)
            assert result.exit_code == 0, result.output
            scores = [hit["score"] for hit in json.loads(result.output)]
            assert scores and scores == sorted(scores, reverse=True), (mode, query, scores)


def test_first_run_shows_progress_while_the_knowledge_base_is_embedded(settings, capsys):
    from opsgraph.context import build_context

    context = build_context(settings)
    assert context.retriever.search("refund window", k=1)
    err = capsys.readouterr().err
    assert "knowledge base" in err and f"{len(SHIPPED)}/{len(SHIPPED)} documents" in err, err
