"""The LangGraph store (cross-thread data): SQLite in the data home, Postgres when shared.

Values cross process boundaries (each test writes in one process and reads in another), every
graph the runner compiles carries the store, and a node reaches it as ``runtime.store``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from opsgraph.registry import graph_entries
from opsgraph.runner import open_runner
from opsgraph.store import open_store
from tests.conftest import make_settings
from tests.support.cli import isolated_env, one_error_line, opsgraph
from tests.support.pg import fresh_database, rows

ROOT = Path(__file__).resolve().parents[1]


def _worker(home: Path, *args: str, **env: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "tests.support.shared_worker", *args], cwd=ROOT,
                          env=isolated_env(home, **env), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_sqlite_store_value_survives_a_restart(tmp_path):
    home = tmp_path / "home"
    _worker(home, "put", "memories/dana", "prefers-email", json.dumps({"channel": "email", "since": 2024}))
    assert (home / "store.db").is_file()
    assert _worker(home, "get", "memories/dana", "prefers-email") == {"value": {"channel": "email", "since": 2024}}
    assert _worker(tmp_path / "other-home", "get", "memories/dana", "prefers-email") == {"value": None}


def test_a_postgres_store_value_put_by_one_process_is_read_by_another(tmp_path, postgres_url):
    with fresh_database(postgres_url, "opsgraph_store") as url:
        _worker(tmp_path / "home-a", "put", "memories/dana", "prefers-email", json.dumps({"channel": "email"}),
                OPSGRAPH_DATABASE_URL=url)
        got = _worker(tmp_path / "home-b", "get", "memories/dana", "prefers-email", OPSGRAPH_DATABASE_URL=url)
        assert got == {"value": {"channel": "email"}}
        assert rows(url, "SELECT prefix, key FROM opsgraph.store") == [("memories.dana", "prefers-email")]
        assert not rows(url, "SELECT 1 FROM information_schema.tables WHERE table_schema = 'public'"
                             " AND table_name = 'store'")
    assert not (tmp_path / "home-a" / "store.db").exists()


def test_every_graph_the_runner_compiles_carries_the_store(settings):
    with open_runner(settings, with_knowledge=False) as runner:
        for graph_id in graph_entries():
            assert runner.graph(graph_id).store is runner.store, graph_id
        runner.store.put(("facts",), "k", {"v": 1})
    with open_store(settings) as reopened:
        assert reopened.get(("facts",), "k").value == {"v": 1}


class _Note(TypedDict):
    user: str
    remembered: str


def _remember(state: _Note, runtime: Runtime) -> dict:
    """A node that keeps a fact across threads and reads back what an earlier thread kept."""
    earlier = runtime.store.get(("notes", state["user"]), "last")
    runtime.store.put(("notes", state["user"]), "last", {"text": f"seen by {state['user']}"})
    return {"remembered": earlier.value["text"] if earlier else ""}


def test_a_node_reads_the_store_as_runtime_store_across_threads(settings):
    graph = StateGraph(_Note)
    graph.add_node("remember", _remember)
    graph.add_edge(START, "remember")
    graph.add_edge("remember", END)
    with open_runner(settings, with_knowledge=False) as runner:
        compiled = graph.compile(checkpointer=runner.checkpointer, store=runner.store)
        first = compiled.invoke({"user": "dana", "remembered": ""}, runner.config("note-1"))
        second = compiled.invoke({"user": "dana", "remembered": ""}, runner.config("note-2"))
    assert first["remembered"] == "" and second["remembered"] == "seen by dana"


def test_a_damaged_store_file_is_one_line(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "store.db").write_bytes(b"not a database\n" * 300)
    one_error_line(opsgraph(home, "runs", "show", "any-thread"), "store database")
