"""The lexical index in Postgres full-text search (``OPSGRAPH_DATABASE_URL``) beside the SQLite default.

Both backends index the same chunks of the shipped corpus; the Postgres one is built from
Chroma on the first search (no embedding), ranks the same documents at the top, applies the
permission filter in its SQL, follows add and delete, and stays one consistent index when
two processes ingest into the same stores at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from opsgraph.knowledge.documents import add_documents, delete_documents
from opsgraph.knowledge.embeddings import MiniLMOnnxEmbedding
from opsgraph.knowledge.lexical import LexicalFilter, SqliteLexicalIndex
from opsgraph.knowledge.lexical_pg import PgLexicalIndex, tsvector_literal
from opsgraph.knowledge.retrieval import Retriever
from opsgraph.knowledge.store import KnowledgeStore, collection_state, iter_records
from tests.conftest import make_settings
from tests.support.chroma_server import chroma_server
from tests.support.pg import fresh_database

# Questions from evals/retrieval and the document that answers each.
QUERIES = {
    "who has to sign off on a big purchase order before it goes to the vendor?": "procurement/po-approval.md",
    "when do I need to collect three quotations before buying?": "procurement/competitive-bidding.md",
    "inventory sync fails with error 401 unauthorized": "technical_support/sync-error-401.md",
    "salary bands and compensation review": "hr/salary-bands.md",
    "how much extra may a buyer pay a supplier to rush production of an order?": "procurement/expediting.md",
}


@pytest.fixture(scope="module")
def pg_db() -> Any:
    url = os.environ.get("OPSGRAPH_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("OPSGRAPH_TEST_POSTGRES_URL is unset; set it to a Postgres URL to run this test")
    with fresh_database(url, "opsgraph_lexical") as db:
        yield db


@pytest.fixture(scope="module")
def backends(shared_retriever, pg_db) -> dict[str, Retriever]:
    """Retrievers over the same Chroma collection: one with the SQLite index, one with the Postgres one."""
    pg_settings = shared_retriever.settings.with_overrides(database_url=pg_db)
    store = KnowledgeStore(pg_settings, shared_retriever.store.embedding_function)
    pg = Retriever(pg_settings, shared_retriever.policy, store=store, auto_ingest=False)
    return {"sqlite": shared_retriever, "postgres": pg}


def test_settings_with_a_database_select_the_postgres_index(tmp_path, pg_db):
    assert isinstance(KnowledgeStore(make_settings(tmp_path / "a")).lexical, SqliteLexicalIndex)
    shared = KnowledgeStore(make_settings(tmp_path / "b", OPSGRAPH_DATABASE_URL=pg_db)).lexical
    assert isinstance(shared, PgLexicalIndex) and shared.url == pg_db


def test_postgres_index_is_built_from_chroma_on_first_search_without_embedding(backends, monkeypatch):
    pg = backends["postgres"]
    embedded: list[int] = []
    original = MiniLMOnnxEmbedding.__call__

    def counting(self: Any, input: Any) -> Any:  # Chroma checks the parameter's name
        embedded.append(len(input))
        return original(self, input)

    monkeypatch.setattr(MiniLMOnnxEmbedding, "__call__", counting)  # a rebuild that embedded would show here
    assert pg.search("purchase order approval", k=3, mode="lexical")
    assert embedded == []
    raw = pg.store.peek()
    ids = {r["id"] for r in iter_records(raw, include=[])}
    assert pg.store.lexical.chunk_ids() == ids
    assert pg.store.lexical.state() == collection_state(raw)


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_both_backends_put_the_answering_document_in_the_top_three(backends, mode):
    for query, expected in QUERIES.items():
        for name, retriever in backends.items():
            top = [h.source for h in retriever.search(query, k=3, mode=mode, group_by="document")]
            assert expected in top, (name, mode, query, top)


def test_lexical_scores_agree_between_backends(backends):
    for query in QUERIES:
        sqlite = [h.chunk_id for h in backends["sqlite"].search(query, k=5, mode="lexical")]
        pg = [h.chunk_id for h in backends["postgres"].search(query, k=5, mode="lexical")]
        assert sqlite[0] == pg[0], query  # both are BM25 over the same terms
        assert len(set(sqlite) & set(pg)) >= 4, query


def test_postgres_index_applies_the_permission_filter_in_its_query(backends):
    pg = backends["postgres"]
    operator = {h.source for h in pg.search("salary bands compensation review", k=10, mode="lexical")}
    assert "hr/salary-bands.md" in operator
    for mode in ("lexical", "hybrid"):
        # "carrier" matches logistics documents, so the agent gets answers, never the hr ones.
        hits = pg.search("salary bands compensation review of a carrier", agent="logistics", k=50, mode=mode)
        assert hits and not any(h.department == "hr" for h in hits), mode
    scope = pg.scope("logistics")
    raw = pg.store.lexical.top("salary bands compensation carrier", LexicalFilter(scope.departments, scope.max_rank), 50)
    assert raw and {m.meta["department"] for m in raw} <= set(scope.departments)
    assert all(int(m.meta["access_rank"]) <= scope.max_rank for m in raw)


def test_codes_and_identifiers_stay_whole_terms():
    literal, length = tsvector_literal("CC-OPS escalates; don't retry error 401 twice, error 401!")
    assert "'cc-op':1" in literal and "'don''t':3" in literal and "'401':6,9" in literal
    assert length == 9


@pytest.fixture(scope="module")
def ef() -> MiniLMOnnxEmbedding:
    return MiniLMOnnxEmbedding()


def test_add_and_delete_keep_the_postgres_index_and_its_statistics_in_step(tmp_path, pg_db, ef):
    settings = make_settings(tmp_path / "home", OPSGRAPH_DATABASE_URL=pg_db)
    docs = [{"id": "fjords", "text": "Norwegian fjords were carved by glaciers during repeated ice ages."},
            {"id": "tides", "text": "Spring tides follow the new and the full moon twice a month."}]
    add_documents(docs, settings, department="logistics", access="public", embedding_function=ef)
    lexical = KnowledgeStore(settings).lexical
    assert {m.meta["source"] for m in lexical.top("glaciers carved fjords", LexicalFilter(), 5)} == {"fjords"}
    assert _stats(lexical) == (2, sum(tsvector_literal(_row_text(d))[1] for d in docs))

    delete_documents(["fjords"], settings, embedding_function=ef)
    assert lexical.top("glaciers carved fjords", LexicalFilter(), 5) == []
    assert lexical.count() == 1 and _stats(lexical)[0] == 1
    assert lexical.state() == collection_state(KnowledgeStore(settings).peek())


def _row_text(doc: dict) -> str:
    # What the index tokenises: title, heading and chunk text, as embedded.
    from opsgraph.knowledge.store import lexical_row

    return lexical_row("x", doc["text"], {"source": doc["id"], "title": doc["id"]}).text


def _stats(lexical: PgLexicalIndex) -> tuple[int, int]:
    with lexical._lock:
        row = lexical._db().execute("SELECT chunks, total_length FROM opsgraph_lexical_state WHERE store = %s",
                                    (lexical.store_key,)).fetchone()
        lexical._db().commit()
    return int(row[0]), int(row[1])


def _corpus(root: Path, names: list[str]) -> Path:
    root.mkdir(parents=True)
    for name in names:
        (root / f"{name}.md").write_text(f"---\ntitle: {name}\ndepartment: logistics\naccess: public\n---\n"
                                         f"# {name}\n\nThe {name} procedure covers carrier {name} handling "
                                         f"and the escalation code {name.upper()}-7.\n")
    return root


def _ingest(folder: Path, home: Path, env: dict[str, str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "opsgraph", "kb", "ingest", str(folder), "--json"]
    return subprocess.Popen(cmd, env={**os.environ, **env, "OPSGRAPH_HOME": str(home)}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_two_processes_ingesting_at_once_leave_one_consistent_index(tmp_path, pg_db):
    with chroma_server(tmp_path / "chroma-server") as chroma_url:
        env = {"OPSGRAPH_CHROMA_URL": chroma_url, "OPSGRAPH_DATABASE_URL": pg_db, "OPSGRAPH_CONFIG": "",
               "OPSGRAPH_EMBEDDING": ""}
        # Both folders hold "shared"; each holds documents of its own.
        first = _corpus(tmp_path / "first", ["alpha", "bravo", "shared"])
        second = _corpus(tmp_path / "second", ["charlie", "delta", "shared"])
        procs = [_ingest(first, tmp_path / "home-1", env), _ingest(second, tmp_path / "home-2", env)]
        reports = []
        for proc in procs:
            out, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, err
            reports.append(json.loads(out))
        # One ingest waited for the other, so the shared document was embedded once.
        assert sum(r["files_added"] for r in reports) == 5
        assert sum(r["files_unchanged"] for r in reports) == 1

        settings = make_settings(tmp_path / "home-3", OPSGRAPH_CHROMA_URL=chroma_url, OPSGRAPH_DATABASE_URL=pg_db)
        store = KnowledgeStore(settings)
        raw = store.peek()
        ids = {r["id"] for r in iter_records(raw, include=[])}
        assert store.lexical.chunk_ids() == ids and len(ids) == 5
        assert store.lexical.state() == collection_state(raw)
        assert _stats(store.lexical)[0] == 5
        for name in ("alpha", "charlie", "shared"):
            top = store.lexical.top(f"{name.upper()}-7 escalation", LexicalFilter(), 1)
            assert top and top[0].meta["source"] == f"{name}.md"
