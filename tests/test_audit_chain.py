"""Tamper-evident audit trail: an event changed, deleted or inserted behind the store's back is named.

The tampering is done as an intruder would: on a raw connection, past the append-only
triggers (dropped in SQLite, bypassed by a superuser session in Postgres).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from opsgraph.governance.audit import AuditStore
from opsgraph.governance.audit_chain import HASHED_FIELDS, event_hash
from tests.conftest import make_settings
from tests.support.cli import opsgraph
from tests.support.pg import fresh_database

THREAD, OTHER = "chain-1", "chain-2"


@pytest.fixture(scope="module")
def chain_db():
    """A fresh Postgres database for this module, or None when no test server is configured."""
    import os

    url = os.environ.get("OPSGRAPH_TEST_POSTGRES_URL")
    if not url:
        yield None
        return
    with fresh_database(url, "opsgraph_chain") as fresh:
        yield fresh


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path, chain_db):
    """An audit store holding five events on THREAD and two on OTHER, with a tamper(sql, params) helper."""
    if request.param == "sqlite":
        opened: AuditStore = AuditStore(tmp_path / "audit.db")
        opened.tamper = lambda sql, params=(): _tamper_sqlite(tmp_path / "audit.db", sql, params)
    else:
        if chain_db is None:
            pytest.skip("OPSGRAPH_TEST_POSTGRES_URL is unset; set it to a Postgres URL to run this test")
        from opsgraph.governance.audit_postgres import PostgresAuditStore

        with PostgresAuditStore(chain_db) as wipe:
            wipe._conn.execute("SET session_replication_role = replica")  # a fresh trail per test
            wipe._conn.execute("DELETE FROM opsgraph.audit_events")
            wipe._conn.execute("DELETE FROM opsgraph.audit_heads")
        opened = PostgresAuditStore(chain_db)
        opened.tamper = lambda sql, params=(): _tamper_postgres(chain_db, sql, params)
    for n in range(5):
        opened.record(THREAD, f"tool:agent:{n}", "tool_call", agent="procurement", name="create_purchase_order",
                      args={"quantity": 10 * (n + 1)}, result={"po": f"PO-{n}"})
        if n < 2:
            opened.record(OTHER, f"tool:agent:{n}", "tool_call", agent="billing", name="refund", args={"n": n})
    yield opened
    opened.close()


def _tamper_sqlite(path: Path, sql: str, params: tuple) -> None:
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    conn.execute(sql.replace("%s", "?").replace("opsgraph.", ""), params)
    conn.commit()
    conn.close()


def _tamper_postgres(url: str, sql: str, params: tuple) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # user triggers do not fire
        conn.execute(sql, params or None)


def _seqs(store: AuditStore, thread: str) -> list[int]:
    return [e.seq for e in store.events(thread)]


def test_an_untouched_trail_verifies(store):
    assert store.verify() == (7, [])
    assert store.verify(THREAD) == (5, [])


def test_an_edited_event_is_named(store):
    third = _seqs(store, THREAD)[2]
    store.tamper("UPDATE opsgraph.audit_events SET args = %s WHERE seq = %s", (json.dumps({"quantity": 9000}), third))
    checked, breaks = store.verify()
    assert checked == 7 and [(b.thread_id, b.seq, b.change) for b in breaks] == [(THREAD, third, "changed")]
    assert breaks[0].message == f"event #{third} was changed"
    assert store.verify(OTHER) == (2, [])


def test_a_deleted_event_is_named(store):
    seqs = _seqs(store, THREAD)
    store.tamper("DELETE FROM opsgraph.audit_events WHERE seq = %s", (seqs[2],))
    _, breaks = store.verify(THREAD)
    assert [(b.seq, b.change) for b in breaks] == [(seqs[3], "deleted")]
    assert breaks[0].message == f"an event between #{seqs[1]} and #{seqs[3]} was deleted"


def test_a_deleted_last_event_is_named(store):
    seqs = _seqs(store, THREAD)
    store.tamper("DELETE FROM opsgraph.audit_events WHERE seq = %s", (seqs[-1],))
    _, breaks = store.verify(THREAD)
    assert [(b.change, b.message) for b in breaks] == [("deleted", f"the last event after #{seqs[-2]} was deleted")]


def test_an_inserted_event_is_named_even_with_a_well_formed_hash(store):
    last = store.events(THREAD)[-1]
    prev = store._one("SELECT hash FROM {events} WHERE seq = ?", (last.seq,))[0]
    forged = {"thread_id": THREAD, "event_key": "tool:agent:forged", "ts": last.ts, "agent": "procurement",
              "kind": "approval", "name": "create_purchase_order", "args": json.dumps({"quantity": 1}),
              "result": None, "ok": 1}
    store.tamper("INSERT INTO opsgraph.audit_events (" + ", ".join(HASHED_FIELDS) + ", prev_hash, hash)"
                 " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                 (*(forged[k] for k in HASHED_FIELDS), prev, event_hash(prev, forged)))
    inserted = _seqs(store, THREAD)[-1]
    _, breaks = store.verify(THREAD)
    assert [(b.seq, b.change, b.message) for b in breaks] == [(inserted, "inserted", f"event #{inserted} was inserted")]


def test_audit_verify_from_the_cli(tmp_path):
    home = tmp_path / "home"
    with AuditStore(make_settings(home).audit_path) as audit:
        audit.register_run(THREAD, "supply_chain_exception", "t")
        for n in range(3):
            audit.record(THREAD, f"k{n}", "tool_call", args={"n": n})
        second = [e.seq for e in audit.events(THREAD)][1]
    intact = opsgraph(home, "audit", "verify")
    assert intact.returncode == 0 and "audit trail intact: 3 events checked" in intact.stdout
    _tamper_sqlite(home / "audit.db", "UPDATE audit_events SET result = 'null' WHERE seq = ?", (second,))
    broken = opsgraph(home, "audit", "verify", "--thread", THREAD)
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert broken.stderr.strip() == f"thread {THREAD}: event #{second} was changed"
    as_json = json.loads(opsgraph(home, "audit", "verify", "--json").stdout)
    assert as_json["intact"] is False and as_json["breaks"][0]["seq"] == second


def test_writers_racing_on_one_thread_keep_its_chain_whole(store):
    import threading

    from opsgraph.governance.audit_postgres import PostgresAuditStore

    # Three more connections besides the fixture's, four threads on each, all on one thread's chain.
    if isinstance(store, PostgresAuditStore):
        others: list[AuditStore] = [PostgresAuditStore(store.url) for _ in range(3)]
    else:
        others = [AuditStore(store.path) for _ in range(3)]
    writers = [s for s in [store, *others] for _ in range(4)]
    barrier = threading.Barrier(len(writers))

    def write(writer: AuditStore, n: int) -> None:
        barrier.wait()
        for i in range(5):
            writer.record(THREAD, f"race:{n}:{i}", "tool_call", args={"writer": n, "i": i})

    threads = [threading.Thread(target=write, args=(w, n)) for n, w in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for other in others:
        other.close()
    assert store.verify(THREAD) == (5 + len(writers) * 5, [])
