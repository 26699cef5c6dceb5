"""Outside corpora: tolerant folder ingest, the Python document API, document-level results, the
persisted lexical index, batched embedding and resuming after a failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opsgraph.governance.policy import load_policy
from opsgraph.knowledge import ingest as ingest_module
from opsgraph.knowledge.cli import kb_app
from opsgraph.knowledge.documents import add_documents, delete_documents
from opsgraph.knowledge.embeddings import MiniLMOnnxEmbedding, build_embedding_function
from opsgraph.knowledge.errors import CorpusError
from opsgraph.knowledge.ingest import ingest
from opsgraph.knowledge.retrieval import Retriever
from opsgraph.knowledge.store import KnowledgeStore, collection_state
from opsgraph.settings import SettingsError, load_settings

LATEX = r"The field strength is $\frac{{q}}{4\pi\varepsilon_0 r^2}$ near a {{point}} charge in vacuum."
ABSTRACTS = {
    "graphene": "Graphene sheets conduct heat and electricity far better than copper at room temperature.",
    "enzymes": "Enzyme kinetics of lactase follow the Michaelis-Menten model in dairy fermentation.",
    "glaciers": "Alpine glaciers retreated forty metres a year during the last decade of warming.",
    "vaccines": "mRNA vaccines instruct cells to build a spike protein that trains the immune response.",
}


def cli_env(home: Path) -> dict[str, str]:
    """This data home, and no store URL or embedding from the caller's shell."""
    return {"OPSGRAPH_HOME": str(home), "OPSGRAPH_CHROMA_URL": "", "OPSGRAPH_EMBEDDING": "", "OPSGRAPH_CONFIG": ""}


@pytest.fixture(scope="module")
def ef() -> MiniLMOnnxEmbedding:
    return MiniLMOnnxEmbedding()


@pytest.fixture()
def settings(tmp_path: Path) -> Any:
    return load_settings(env={"OPSGRAPH_HOME": str(tmp_path / "home")}, cwd=tmp_path)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """Good documents in three formats, plus one broken front matter and one bad JSONL line."""
    root = tmp_path / "abstracts"
    (root / "physics").mkdir(parents=True)
    (root / "physics" / "coulomb.md").write_text(f"# Coulomb's law\n\n{LATEX}\n")
    (root / "physics" / "broken.md").write_text("---\ntitle: [never closed\naccess: public\n---\n# Broken\n\nText.\n")
    (root / "glaciers.txt").write_text(ABSTRACTS["glaciers"])
    (root / "bio.jsonl").write_text("\n".join([
        json.dumps({"id": "enzymes", "text": ABSTRACTS["enzymes"], "title": "Lactase kinetics"}),
        "{not json",
        json.dumps({"id": "vaccines", "text": ABSTRACTS["vaccines"], "access": "public"}),
    ]) + "\n")
    (root / "typo.md").write_text("# Typo\n\nLimit: {{policy approvals.refund}}\n")
    return root


def _stored(settings: Any) -> dict[str, dict[str, Any]]:
    got = KnowledgeStore(settings).peek().get(include=["metadatas", "documents"])
    return {m["source"]: {"meta": m, "text": d} for m, d in zip(got["metadatas"], got["documents"])}


def test_bad_documents_are_reported_and_the_good_ones_ingested(folder, settings, ef):
    report = ingest(folder, settings, embedding_function=ef, defaults=None)
    stored = _stored(settings)
    assert set(stored) == {"physics/coulomb.md", "glaciers.txt", "bio.jsonl#enzymes", "bio.jsonl#vaccines"}
    assert LATEX in stored["physics/coulomb.md"]["text"]  # braces kept exactly as written
    assert stored["bio.jsonl#enzymes"]["meta"]["title"] == "Lactase kinetics"
    assert stored["bio.jsonl#vaccines"]["meta"]["access"] == "public"
    assert stored["glaciers.txt"]["meta"]["department"] == "general"
    reasons = {f["source"]: f["reason"] for f in report.failures}
    assert set(reasons) == {"physics/broken.md", "bio.jsonl:2", "typo.md"} and report.files_failed == 3
    assert "front matter is not valid YAML" in reasons["physics/broken.md"]
    assert "not valid JSON" in reasons["bio.jsonl:2"] and "malformed placeholder" in reasons["typo.md"]


def test_cli_reports_failures_with_path_and_reason_and_strict_stops(folder, settings):
    env = cli_env(settings.data_home)
    result = CliRunner().invoke(kb_app, ["ingest", str(folder), "--department", "research"], env=env)
    assert result.exit_code == 0, result.output
    assert "skipped: physics/broken.md: front matter is not valid YAML" in result.output
    assert "3 document(s) skipped" in result.output
    assert _stored(settings)["glaciers.txt"]["meta"]["department"] == "research"
    strict = CliRunner().invoke(kb_app, ["ingest", str(folder), "--strict"], env=env)
    assert strict.exit_code == 1 and "error: bio.jsonl:2: not valid JSON" in strict.output
    assert "Traceback" not in strict.output


def test_python_api_adds_finds_and_deletes_with_permissions(settings, ef):
    docs = [{"id": name, "text": text} for name, text in ABSTRACTS.items()]
    docs[0]["access"] = "restricted"  # graphene: above what any support agent may read
    report = add_documents(docs, settings, department="customer_support", access="public", embedding_function=ef)
    assert (report.files_added, report.files_failed) == (4, 0)
    policy = load_policy(settings.policy_path)
    retriever = Retriever(settings, policy, embedding_function=ef, auto_ingest=False)
    assert retriever.search("heat conduction in carbon sheets", k=1)[0].source == "graphene"
    for mode in ("hybrid", "vector", "lexical"):
        as_agent = retriever.search("graphene heat or the immune response", agent="customer_comms", k=10, mode=mode)
        assert as_agent and "graphene" not in {h.source for h in as_agent}, mode
    assert retriever.search("glacier retreat", agent="customer_comms", k=1)[0].source == "glaciers"

    again = add_documents(docs, settings, department="customer_support", access="public", embedding_function=ef)
    assert (again.files_unchanged, again.chunks_embedded) == (4, 0)
    removed = delete_documents(["glaciers", "no-such-id"], settings, embedding_function=ef)
    assert (removed.files_deleted, removed.chunks_deleted) == (1, 1)
    for mode in ("hybrid", "vector", "lexical"):
        assert "glaciers" not in {h.source for h in retriever.search("glacier retreat", k=10, mode=mode)}, mode


def test_python_api_reports_a_bad_document_and_strict_raises(settings, ef):
    docs = [{"id": "ok", "text": ABSTRACTS["enzymes"]}, {"id": "bad", "text": "x", "access": "top-secret"},
            {"title": "no text"}]
    report = add_documents(docs, settings, embedding_function=ef)
    assert report.files_added == 1
    assert [f["source"] for f in report.failures] == ["bad", "document 3"]
    assert "access 'top-secret' is not one of" in report.failures[0]["reason"]
    with pytest.raises(CorpusError, match="access 'top-secret'"):
        add_documents(docs, settings, embedding_function=ef, strict=True)


def _long_documents(n: int) -> list[dict[str, str]]:
    topics = list(ABSTRACTS.values())
    return [{"id": f"paper-{i:02d}", "text": "\n\n".join(f"## Part {p}\n\n{topics[(i + p) % 4]} Section {p} of {i}."
                                                        for p in range(3))} for i in range(n)]


def test_group_by_document_returns_distinct_documents_in_score_order(settings, ef):
    add_documents(_long_documents(12), settings, embedding_function=ef)
    retriever = Retriever(settings, load_policy(settings.policy_path), embedding_function=ef, auto_ingest=False)
    for mode in ("hybrid", "vector", "lexical"):
        chunks = retriever.search("section on glaciers retreat warming", k=10, mode=mode)
        assert len({h.source for h in chunks}) < 10  # several chunks of the same papers
        docs = retriever.search("section on glaciers retreat warming", k=10, mode=mode, group_by="document")
        sources = [h.source for h in docs]
        assert len(sources) == len(set(sources)) == 10, (mode, sources)
        scores = [h.score for h in docs]
        assert scores == sorted(scores, reverse=True), (mode, scores)
    # k is bounded by the store, not by a fixed maximum.
    assert len(retriever.search("section", k=36, mode="vector")) == 36
    assert len(retriever.search("section", k=500, mode="vector", group_by="document")) == 12


def test_embeds_many_documents_in_one_call(settings, ef):
    calls: list[int] = []

    class Counting(MiniLMOnnxEmbedding):
        def __call__(self, input):  # noqa: A002 - Chroma's parameter name
            calls.append(len(input))
            return super().__call__(input)

    counting = Counting()
    counting._runtime = ef.load()
    report = add_documents(_long_documents(8), settings, embedding_function=counting)
    assert report.chunks_embedded == 24 and calls == [24]


def test_a_failed_ingest_resumes_without_redoing_finished_batches(settings, ef, monkeypatch):
    monkeypatch.setattr(ingest_module, "BATCH_CHUNKS", 6)  # two documents per batch
    calls: list[int] = []

    class Failing(MiniLMOnnxEmbedding):
        def __call__(self, input):  # noqa: A002 - Chroma's parameter name
            calls.append(len(input))
            if len(calls) == 3:
                raise RuntimeError("killed")
            return super().__call__(input)

    failing = Failing()
    failing._runtime = ef.load()
    with pytest.raises(RuntimeError):
        add_documents(_long_documents(8), settings, embedding_function=failing)
    store = KnowledgeStore(settings, ef)
    assert store.lexical.state() != collection_state(store.peek())  # marked: the ingest did not finish
    after_crash = Retriever(settings, load_policy(settings.policy_path), store=store, auto_ingest=False)
    found = {h.source for h in after_crash.search("Section of", k=50, mode="lexical", group_by="document")}
    assert found == {"paper-00", "paper-01", "paper-02", "paper-03"}  # rebuilt from what Chroma holds
    report = add_documents(_long_documents(8), settings, embedding_function=ef)
    assert (report.files_unchanged, report.files_added, report.chunks_total) == (4, 4, 24)
    hits = Retriever(settings, load_policy(settings.policy_path), embedding_function=ef,
                     auto_ingest=False).search("Section 2 of 7", k=3, mode="lexical")
    assert hits and hits[0].source == "paper-07"


def test_lexical_index_is_persisted_and_not_rebuilt_after_a_restart(settings, ef, monkeypatch):
    add_documents(_long_documents(4), settings, embedding_function=ef)
    store = KnowledgeStore(settings, ef)
    assert store.lexical.state() == collection_state(store.peek())
    from opsgraph.knowledge import store as store_module

    def no_full_read(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the first search after a restart re-read the whole collection")

    monkeypatch.setattr(store_module, "iter_records", no_full_read)
    fresh = Retriever(settings, load_policy(settings.policy_path), store=KnowledgeStore(settings, ef),
                      auto_ingest=False)
    assert fresh.search("Section 1 of 3", k=1, mode="lexical")[0].source == "paper-03"


def test_a_missing_lexical_index_is_rebuilt_from_the_collection(settings, ef):
    add_documents(_long_documents(4), settings, embedding_function=ef)
    (settings.data_home / "knowledge_lexical.db").unlink()
    fresh = Retriever(settings, load_policy(settings.policy_path), embedding_function=ef, auto_ingest=False)
    assert fresh.search("Section 1 of 3", k=1, mode="lexical")[0].source == "paper-03"


def test_embedding_threads_come_from_settings(tmp_path):
    settings = load_settings(env={"OPSGRAPH_HOME": str(tmp_path), "OPSGRAPH_EMBEDDING_THREADS": "2"}, cwd=tmp_path)
    assert settings.embedding_threads == 2 and build_embedding_function(settings).threads == 2
    assert load_settings(env={"OPSGRAPH_HOME": str(tmp_path)}, cwd=tmp_path).embedding_threads == 1
    with pytest.raises(SettingsError, match="embedding_threads must be at least 1"):
        load_settings(env={"OPSGRAPH_HOME": str(tmp_path), "OPSGRAPH_EMBEDDING_THREADS": "0"}, cwd=tmp_path)
