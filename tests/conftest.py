"""Shared fixtures: isolated data homes, runners on the offline engine, service URLs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from opsgraph.settings import Settings, load_settings


def make_settings(home: Path, **env: str) -> Settings:
    """Settings for an isolated data home, ignoring the developer's environment."""
    return load_settings(env={"OPSGRAPH_HOME": str(home), **env}, cwd=home.parent)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Offline settings with a fresh data home."""
    return make_settings(tmp_path / "home")


@pytest.fixture
def runner(settings: Settings):
    """A Runner on the offline engine, SQLite checkpoints, no knowledge layer (fast)."""
    from opsgraph.runner import open_runner

    with open_runner(settings, with_knowledge=False) as r:
        yield r


@pytest.fixture
def postgres_url() -> str:
    """URL of the real local Postgres, or skip with the reason."""
    url = os.environ.get("OPSGRAPH_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("OPSGRAPH_TEST_POSTGRES_URL is unset; set it to a Postgres URL to run this test")
    return url


@pytest.fixture(scope="session")
def shared_retriever(tmp_path_factory: pytest.TempPathFactory):
    """A Retriever over the shipped corpus, ingested once per test session."""
    from opsgraph.governance.policy import load_policy
    from opsgraph.knowledge.ingest import ingest
    from opsgraph.knowledge.retrieval import Retriever

    settings = make_settings(tmp_path_factory.mktemp("kb") / "home")
    policy = load_policy(settings.policy_path)
    ingest(None, settings, policy=policy)
    return Retriever(settings, policy, auto_ingest=False)


@pytest.fixture
def kb_runner(settings: Settings, shared_retriever):
    """A Runner on the offline engine with the knowledge layer (shared ingested store)."""
    from opsgraph.runner import open_runner

    with open_runner(settings, retriever=shared_retriever) as r:
        yield r
