"""Ingestion: idempotent by content hash, incremental re-embedding, deletions, embedding checks."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function
from typer.testing import CliRunner

from opsgraph.governance.policy import load_policy
from opsgraph.knowledge.chunking import chunk_document
from opsgraph.knowledge.cli import kb_app
from opsgraph.knowledge.corpus import read_document
from opsgraph.knowledge.embeddings import MiniLMOnnxEmbedding
from opsgraph.knowledge.errors import EmbeddingMismatchError
from opsgraph.knowledge.ingest import ensure_ingested, ingest
from opsgraph.knowledge.retrieval import Retriever
from opsgraph.knowledge.store import COLLECTION_NAME, KnowledgeStore
from opsgraph.settings import load_settings
from tests.support.chroma_server import chroma_server as start_chroma_server
from tests.support.paths import PROJECT_ROOT

KNOWLEDGE = PROJECT_ROOT / "knowledge"
SMALL = ["procurement/po-approval.md", "finance/refund-policy.md", "hr/salary-bands.md",
         "technical_support/login-problems.md"]


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for CLI runs: this data home, and no store URL or embedding from the caller's shell."""
    return {"OPSGRAPH_HOME": str(home), "OPSGRAPH_CHROMA_URL": "", "OPSGRAPH_EMBEDDING": "",
            "OPSGRAPH_CONFIG": "", **extra}


@register_embedding_function
class HashEmbedding(EmbeddingFunction[Documents]):
    """A tiny deterministic stand-in embedding, to build a store with a different function."""

    spec = "test:hash"
    dimension = 16

    def __init__(self) -> None:
        self.texts_embedded = 0

    def __call__(self, input: Documents) -> Embeddings:
        self.texts_embedded += len(input)
        out = []
        for text in input:
            raw = np.frombuffer(hashlib.sha256(text.encode()).digest()[:16], dtype=np.uint8).astype(np.float32)
            out.append(raw / np.linalg.norm(raw))
        return out

    @staticmethod
    def name() -> str:
        return "opsgraph_test_hash"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> HashEmbedding:
        return HashEmbedding()


@pytest.fixture(scope="module")
def ef() -> MiniLMOnnxEmbedding:
    return MiniLMOnnxEmbedding()


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    for source in SMALL:
        (root / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(KNOWLEDGE / source, root / source)
    return root


@pytest.fixture()
def settings(tmp_path: Path) -> Any:
    return load_settings(env={"OPSGRAPH_HOME": str(tmp_path / "home")}, cwd=tmp_path)


def _chunk_count(root: Path, source: str, policy_path: Path = PROJECT_ROOT / "policy.yaml") -> int:
    return len(chunk_document(read_document(root / source, root, load_policy(policy_path))))


def _sources(settings: Any) -> dict[str, int]:
    collection = KnowledgeStore(settings, HashEmbedding()).peek()
    counts: dict[str, int] = {}
    for meta in collection.get(include=["metadatas"])["metadatas"]:
        counts[meta["source"]] = counts.get(meta["source"], 0) + 1
    return counts


def test_reingest_embeds_nothing_and_edits_reembed_only_that_file(corpus, settings, ef):
    first = ingest(corpus, settings, embedding_function=ef)
    total = sum(_chunk_count(corpus, s) for s in SMALL)
    assert (first.files_added, first.chunks_embedded, first.chunks_total) == (4, total, total)

    before = ef.texts_embedded
    again = ingest(corpus, settings, embedding_function=ef)
    assert (again.files_unchanged, again.chunks_embedded, again.chunks_deleted) == (4, 0, 0)
    assert ef.texts_embedded == before  # not a single embedding call

    refund = corpus / "finance" / "refund-policy.md"
    old_chunks = _chunk_count(corpus, "finance/refund-policy.md")
    refund.write_text(refund.read_text() + "\n## Gift cards\n\nGift card purchases are refunded as store credit.\n")
    edited = ingest(corpus, settings, embedding_function=ef)
    new_chunks = _chunk_count(corpus, "finance/refund-policy.md")
    assert (edited.files_changed, edited.files_unchanged) == (1, 3)
    assert edited.chunks_embedded == new_chunks and edited.chunks_deleted == old_chunks
    assert ef.texts_embedded == before + new_chunks
    assert edited.changed_sources == ["finance/refund-policy.md"]
    assert _sources(settings)["finance/refund-policy.md"] == new_chunks


def test_pruning_removes_the_chunks_of_a_deleted_file(corpus, settings, ef):
    ingest(corpus, settings, embedding_function=ef)
    login_chunks = _sources(settings)["technical_support/login-problems.md"]
    (corpus / "technical_support" / "login-problems.md").unlink()
    kept = ingest(corpus, settings, embedding_function=ef)  # adding never removes
    assert (kept.files_deleted, kept.files_unchanged) == (0, 3)
    assert "technical_support/login-problems.md" in _sources(settings)
    report = ingest(corpus, settings, embedding_function=ef, prune=True)
    assert (report.files_deleted, report.chunks_deleted, report.chunks_embedded) == (1, login_chunks, 0)
    assert "technical_support/login-problems.md" not in _sources(settings)


def test_policy_change_rerenders_only_documents_that_use_it(corpus, settings, ef, tmp_path):
    ingest(corpus, settings, embedding_function=ef)
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text((PROJECT_ROOT / "policy.yaml").read_text().replace("threshold_usd: 25000",
                                                                              "threshold_usd: 30000"))
    changed = settings.with_overrides(policy_path=policy_file)
    report = ingest(corpus, changed, embedding_function=ef)
    assert report.changed_sources == ["procurement/po-approval.md"]
    retriever = Retriever(changed, load_policy(policy_file), embedding_function=ef, auto_ingest=False)
    hits = retriever.search("who approves purchase orders above the limit", k=3)
    assert any("$30,000" in h.text for h in hits)


def test_retriever_sees_a_reingest_without_restart(corpus, settings, ef):
    ingest(corpus, settings, embedding_function=ef)
    retriever = Retriever(settings, load_policy(settings.policy_path), embedding_function=ef, auto_ingest=False)
    assert retriever.search("gift cards store credit", k=1, mode="lexical")[0].heading != "Gift cards"
    refund = corpus / "finance" / "refund-policy.md"
    refund.write_text(refund.read_text() + "\n## Gift cards\n\nGift card purchases are refunded as store credit.\n")
    ingest(corpus, settings, embedding_function=ef)
    assert retriever.search("gift cards store credit", k=1, mode="lexical")[0].heading == "Gift cards"


def test_opening_with_another_embedding_is_a_clear_error(corpus, settings, ef):
    ingest(corpus, settings, embedding_function=HashEmbedding())
    with pytest.raises(EmbeddingMismatchError, match=r"built with embedding 'test:hash' \(16 dimensions\) .* "
                                                     r"'onnx:all-MiniLM-L6-v2'.*--rebuild"):
        ingest(corpus, settings, embedding_function=ef)
    retriever = Retriever(settings, load_policy(settings.policy_path), embedding_function=ef, auto_ingest=False)
    with pytest.raises(EmbeddingMismatchError):
        retriever.search("refund window")
    # The CLI reports it in one line with exit code 1.
    result = CliRunner().invoke(kb_app, ["search", "refund window"], env=cli_env(settings.data_home))
    assert result.exit_code == 1 and "built with embedding 'test:hash'" in result.output
    assert "Traceback" not in result.output
    # --rebuild switches the store to the selected embedding.
    rebuilt = ingest(corpus, settings, embedding_function=ef, rebuild=True)
    assert rebuilt.files_added == 4 and KnowledgeStore(settings).describe()["embedding"] == "onnx:all-MiniLM-L6-v2"


def test_a_collection_opsgraph_did_not_create_is_refused(settings, ef):
    store = KnowledgeStore(settings, HashEmbedding())
    store.client.create_collection(COLLECTION_NAME, embedding_function=HashEmbedding())
    with pytest.raises(EmbeddingMismatchError, match="was not created by opsgraph"):
        KnowledgeStore(settings, ef).open()


def test_ensure_ingested_only_when_empty(settings, ef):
    report = ensure_ingested(settings, embedding_function=ef)
    assert report is not None and report.files_added >= 28
    assert ensure_ingested(settings, embedding_function=ef) is None


def test_ingest_cli_prints_report_and_rejects_bad_path(corpus, settings):
    env = cli_env(settings.data_home)
    result = CliRunner().invoke(kb_app, ["ingest", str(corpus), "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert '"files_added": 4' in result.output
    bad = CliRunner().invoke(kb_app, ["ingest", str(corpus / "nope")], env=env)
    assert bad.exit_code == 1 and "is not a directory" in bad.output


@pytest.fixture()
def chroma_server(tmp_path: Path) -> Iterator[str]:
    with start_chroma_server(tmp_path / "server") as url:
        yield url


def test_chroma_server_over_http(corpus, settings, ef, chroma_server):
    remote = settings.with_overrides(chroma_url=chroma_server)
    report = ingest(corpus, remote, embedding_function=ef)
    assert report.files_added == 4 and report.store == chroma_server
    assert not settings.chroma_path.exists()  # nothing was written locally
    retriever = Retriever(remote, load_policy(remote.policy_path), embedding_function=ef, auto_ingest=False)
    assert retriever.search("how long do customers have to ask for a refund", k=1)[0].source == \
        "finance/refund-policy.md"
