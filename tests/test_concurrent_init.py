"""Twelve processes open a fresh data home (or a fresh Postgres database) at the same moment.

Every process makes committed writes; afterwards every one of them must still be there:
the world was seeded once (no process replaced a world another had written to), and no
process failed or was told to reset anything.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from opsgraph.persistence import open_checkpointer
from tests.support.cli import isolated_env

pytestmark = pytest.mark.slow

PROCESSES = 12
ROOT = Path(__file__).resolve().parents[1]


def _run_workers(tmp_path: Path, home: Path, kind: str, **env: str) -> list[dict[str, Any]]:
    """Start the workers, release them together, return what each says it committed."""
    go = tmp_path / "go"
    worker_env = isolated_env(home, **env)
    procs = [subprocess.Popen([sys.executable, "-m", "tests.support.init_worker", str(i), str(go), kind],
                              cwd=ROOT, env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(PROCESSES)]
    go.touch()
    results = []
    for proc in procs:
        out, errors = proc.communicate(timeout=600)
        assert proc.returncode == 0, errors
        assert "world reset" not in out + errors
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_twelve_processes_on_a_fresh_data_home_lose_no_committed_write(tmp_path):
    home = tmp_path / "home"
    results = _run_workers(tmp_path, home, "sqlite")
    threads = sorted(r["thread"] for r in results)
    assert len(set(r["outbox_id"] for r in results)) == PROCESSES

    subjects = sorted(row[0] for row in _rows(home / "world.db", "SELECT subject FROM outbox"))
    assert subjects == sorted(f"worker {i}" for i in range(PROCESSES))
    assert _rows(home / "world.db", "SELECT value FROM meta WHERE key = 'schema_version'") == [("2",)]
    assert sorted(r[0] for r in _rows(home / "audit.db", "SELECT thread_id FROM runs")) == threads
    audited = _rows(home / "audit.db", "SELECT thread_id FROM audit_events WHERE kind = 'tool_call'")
    assert sorted(r[0] for r in audited) == threads
    with open_checkpointer(f"sqlite:///{home / 'checkpoints.db'}") as saver:
        for r in results:
            saved = saver.get_tuple({"configurable": {"thread_id": r["thread"], "checkpoint_ns": ""}})
            assert saved is not None and saved.checkpoint["id"] == r["checkpoint_id"]
    collections = _rows(home / "chroma" / "chroma.sqlite3", "SELECT name FROM collections")
    assert collections == [("opsgraph_knowledge",)]
    assert not list(home.glob(".world.db.*.tmp"))  # no half-built world left behind


def test_twelve_processes_set_up_postgres_checkpoints_at_once(tmp_path, postgres_url):
    """A database created for this test only, so the checkpoint tables do not exist yet; dropped after."""
    import psycopg

    name = f"opsgraph_init_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(postgres_url)._replace(path="/" + name))
    try:
        results = _run_workers(tmp_path, tmp_path / "home", "postgres", OPSGRAPH_CHECKPOINT_URL=url)
        with open_checkpointer(url) as saver:
            for r in results:
                saved = saver.get_tuple({"configurable": {"thread_id": r["thread"], "checkpoint_ns": ""}})
                assert saved is not None and saved.checkpoint["id"] == r["checkpoint_id"]
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
