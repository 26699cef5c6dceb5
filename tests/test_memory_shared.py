"""Memory on the shared Postgres database: what one process learns, another process recalls.

Two data homes share nothing on disk; only ``OPSGRAPH_DATABASE_URL`` joins them. The database
has no pgvector, so searches by meaning are ranked in the process from vectors kept with each
memory; no vector ever reaches a tool result or the CLI.
"""

from __future__ import annotations

import json

from opsgraph.memory import open_memory_store
from opsgraph.memory.ranked import VECTOR_FIELD, RankedSearchStore
from opsgraph.memory.store import close_store
from opsgraph.runner import open_runner
from tests.conftest import make_settings
from tests.support.cli import opsgraph
from tests.support.pg import fresh_database, rows
from tests.test_memory import TRIM, TRIM_REQUEST, _draft_quantities, _recalls, _run


def _letters(texts):
    """A tiny embedding (letter counts): enough to rank by shared words, no model to load."""
    return [[float(str(t).lower().count(c)) for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts]


def test_a_lesson_learned_in_one_process_is_recalled_by_another_on_postgres(tmp_path, postgres_url):
    with fresh_database(postgres_url, "opsgraph_memory") as url:
        first = make_settings(tmp_path / "home-a", OPSGRAPH_DATABASE_URL=url)
        with open_runner(first, with_knowledge=False) as runner:
            done = _run(runner, "pr-shared-1", TRIM_REQUEST, TRIM)
            assert done.status == "completed"
            [lesson] = runner.context.memory.items(subject="SKU-003", kind="lesson")
        assert not (tmp_path / "home-a" / "store.db").exists()  # nothing of it in a local file
        stored = rows(url, "SELECT prefix, key FROM opsgraph.store WHERE key = %s ORDER BY prefix", (lesson["id"],))
        assert [p for p, _ in stored] == ["memory.sku.SKU-003", "memory.supplier.SUP-006"]

        # Another process on another data home lists and searches it; no vector is printed.
        listed = opsgraph(tmp_path / "home-b", "memory", "list", "--subject", "SKU-003", "--kind", "lesson", "--json",
                          OPSGRAPH_DATABASE_URL=url)
        assert listed.returncode == 0, listed.stderr
        assert [m["id"] for m in json.loads(listed.stdout)] == [lesson["id"]]
        assert VECTOR_FIELD not in listed.stdout
        found = opsgraph(tmp_path / "home-b", "memory", "search", "over-ordering: 60 days of cover is enough", "--json",
                         OPSGRAPH_DATABASE_URL=url)
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout)[0]["id"] == lesson["id"]

        # A run in that other home drafts what the approver accepted, citing the lesson.
        second = make_settings(tmp_path / "home-b", OPSGRAPH_DATABASE_URL=url)
        with open_runner(second, with_knowledge=False) as runner:
            again = _run(runner, "pr-shared-2", {**TRIM_REQUEST, "quantity": 320}, None)
            assert again.status == "awaiting_approval"
            assert set(_draft_quantities(again.values)) == {250}
            assert _recalls(again.values)[0]["items"][0]["memory_id"] == lesson["id"]
            assert VECTOR_FIELD not in json.dumps(_recalls(again.values))

        # Forgotten from the first home, gone for the second.
        forgot = opsgraph(tmp_path / "home-a", "memory", "forget", lesson["id"], OPSGRAPH_DATABASE_URL=url)
        assert forgot.returncode == 0, forgot.stderr
        with open_runner(second, with_knowledge=False) as runner:
            assert runner.context.memory.items(kind="lesson") == []


def test_search_by_meaning_ranks_in_process_and_keeps_vectors_out_of_values(tmp_path, postgres_url):
    with fresh_database(postgres_url, "opsgraph_memory") as url:
        store = open_memory_store(make_settings(tmp_path / "home", OPSGRAPH_DATABASE_URL=url), embed=_letters)
        try:
            assert isinstance(store, RankedSearchStore)
            for key, text in (("a", "xxxx"), ("b", "yyyy yyyy x"), ("c", "yy qqqq")):
                store.put(("memory", "sku", "SKU-001"), key, {"id": key, "text": text})
            ranked = store.search(("memory",), query="yyyy", limit=2)
            assert [i.key for i in ranked] == ["b", "c"] and ranked[0].score >= ranked[1].score > 0
            assert all(VECTOR_FIELD not in i.value for i in ranked)
            assert VECTOR_FIELD not in store.get(("memory", "sku", "SKU-001"), "a").value
            # The vector is kept in the database, so a search embeds the query only.
            [[value]] = rows(url, "SELECT value FROM opsgraph.store WHERE key = 'b'")
            assert len(value[VECTOR_FIELD]) == 26
            assert [i.key for i in store.search(("memory",), query="xx", limit=1)] == ["a"]
            assert [i.key for i in store.search(("memory",), query="yyyy", limit=1, offset=1)] == ["c"]
        finally:
            close_store(store)
