"""One shared Postgres database (``OPSGRAPH_DATABASE_URL``) is the truth of several machines.

Each "machine" is an OS process with its own data home and the same database URL. Everything
is checked in the database itself as well as in what the processes print. The module works
in a database of its own, created for it and dropped afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from opsgraph.governance.audit import AuditStore, open_audit_store
from opsgraph.settings import Settings
from tests.conftest import make_settings
from tests.support.cli import isolated_env, one_error_line, opsgraph
from tests.support.pg import fresh_database, rows

ROOT = Path(__file__).resolve().parents[1]
SETUP_PROCESSES = 6


@pytest.fixture(scope="module")
def db_url(postgres_url_module: str):
    """A fresh database for this module."""
    with fresh_database(postgres_url_module, "opsgraph_shared") as url:
        yield url


@pytest.fixture(scope="module")
def postgres_url_module() -> str:
    """The test server's URL (module scope), or skip with the reason."""
    url = os.environ.get("OPSGRAPH_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("OPSGRAPH_TEST_POSTGRES_URL is unset; set it to a Postgres URL to run the shared-database tests")
    return url


def _settings(home: Path, url: str) -> Settings:
    return make_settings(home, OPSGRAPH_DATABASE_URL=url)


def _worker(home: Path, url: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = isolated_env(home, OPSGRAPH_DATABASE_URL=url)
    return subprocess.run([sys.executable, "-m", "tests.support.shared_worker", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _cli(home: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    proc = opsgraph(home, *args, OPSGRAPH_DATABASE_URL=url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _json(home: Path, url: str, *args: str):
    return json.loads(_cli(home, url, *args, "--json").stdout)


# -- two machines, one truth ---------------------------------------------------------------------

@pytest.mark.slow
def test_a_run_started_on_one_machine_is_listed_shown_audited_and_stopped_from_another(tmp_path, db_url):
    home_a, home_b, signals = tmp_path / "home-a", tmp_path / "home-b", tmp_path / "signals"
    signals.mkdir()
    for home in (home_a, home_b):
        _own_world(home, db_url)
    thread = "shared-stop-1"
    machine_a = subprocess.Popen([sys.executable, "-m", "tests.support.shared_worker", "pause", thread, str(signals)],
                                 cwd=ROOT, env=isolated_env(home_a, OPSGRAPH_DATABASE_URL=db_url),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_file(signals / "started", machine_a)
        listed = {r["thread_id"]: r for r in _json(home_b, db_url, "runs", "list")}
        assert listed[thread]["status"] == "running" and listed[thread]["graph_id"] == "supply_chain_exception"
        stopped = _cli(home_b, db_url, "runs", "stop", thread, "--by", "dana", "--reason", "wrong shipment")
        assert "stop requested" in stopped.stdout
    finally:
        (signals / "go-on").touch()
        out, err = machine_a.communicate(timeout=300)
    assert machine_a.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["status"] == "stopped"  # A saw B's kill switch

    shown = _json(home_b, db_url, "runs", "show", thread)  # B reads A's checkpoints
    assert shown["status"] == "stopped" and shown["report"]["outcome"] == "stopped"
    audited = _json(home_b, db_url, "audit", thread)
    stops = [e for e in audited if e["kind"] == "stop_requested"]
    assert [(e["agent"], e["args"]) for e in stops] == [("dana", {"reason": "wrong shipment"})]
    with open_audit_store(_settings(home_a, db_url)) as store_a:  # the same trail, seen from machine A
        assert [e.__dict__ for e in store_a.events(thread)] == audited
    assert rows(db_url, "SELECT graph_id FROM opsgraph.thread_claims WHERE thread_id = %s", (thread,)) == \
        [("supply_chain_exception",)]
    assert not (home_a / "audit.db").exists() and not (home_b / "audit.db").exists()

    resumed = _json(home_b, db_url, "runs", "resume", thread)  # B carries on where A was stopped
    assert resumed["status"] == "awaiting_approval"
    approved = _json(home_a, db_url, "runs", "resume", thread, "--approve", "--by", "erin")
    assert approved["status"] == "completed"
    decisions = rows(db_url, "SELECT decided_by FROM opsgraph.decisions WHERE thread_id = %s", (thread,))
    assert decisions == [("erin",)]
    _assert_audit_matches_actions(home_b, db_url, thread)


@pytest.mark.slow
def test_a_run_that_died_mid_step_is_resumed_on_another_machine_without_duplicate_audit_events(tmp_path, db_url):
    home_a, home_b, thread = tmp_path / "home-a", tmp_path / "home-b", "shared-crash-1"
    for home in (home_a, home_b):
        _own_world(home, db_url)
    crashed = _worker(home_a, db_url, "crash", thread)
    assert crashed.returncode == 9, crashed.stderr
    written = rows(db_url, "SELECT event_key FROM opsgraph.audit_events WHERE thread_id = %s AND kind = 'tool_call'",
                   (thread,))
    assert len(written) == 1  # the write of the step that never reached its checkpoint

    resumed = _json(home_b, db_url, "runs", "resume", thread)  # the step runs again, on machine B
    assert resumed["status"] == "awaiting_approval"
    keys = [r[0] for r in rows(db_url, "SELECT event_key FROM opsgraph.audit_events WHERE thread_id = %s", (thread,))]
    assert written[0][0] in keys and Counter(keys).most_common(1)[0][1] == 1
    _assert_audit_matches_actions(home_b, db_url, thread)


def _own_world(home: Path, url: str) -> None:
    """A freshly seeded mock enterprise (in the shared database; the shared runs would refuse a silent seed)."""
    from opsgraph.context import reset_world

    reset_world(_settings(home, url)).close()


def _assert_audit_matches_actions(home: Path, url: str, thread: str) -> None:
    """Every tool call of the run's final state is in the audit trail exactly once, and nothing else is."""
    from opsgraph.runner import open_runner

    with open_runner(_settings(home, url), with_knowledge=False) as runner:
        actions = runner.status(thread).values["actions"]
        audited = [e for e in runner.context.audit.events(thread) if e.kind in ("tool_call", "tool_refused")]
    assert len(actions) >= 3
    assert sorted((a["agent"], a["tool"], json.dumps(a["args"], sort_keys=True)) for a in actions) == \
        sorted((e.agent, e.name, json.dumps(e.args, sort_keys=True)) for e in audited)


def _wait_for_file(path: Path, proc: subprocess.Popen) -> None:
    """Wait until ``path`` exists; fail with the worker's stderr if it ends first."""
    import time

    deadline = time.monotonic() + 300
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"the worker ended before {path.name}: {proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            pytest.fail(f"{path.name} never appeared")
        time.sleep(0.05)


# -- first use by many processes at once ----------------------------------------------------------

@pytest.mark.slow
def test_six_processes_create_the_shared_schema_at_once(tmp_path, postgres_url_module):
    with fresh_database(postgres_url_module, "opsgraph_setup") as url:
        go = tmp_path / "go"
        procs = [subprocess.Popen([sys.executable, "-m", "tests.support.shared_worker", "setup", str(i), str(go)],
                                  cwd=ROOT, env=isolated_env(tmp_path / f"home-{i}", OPSGRAPH_DATABASE_URL=url),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(SETUP_PROCESSES)]
        go.touch()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
            assert "Traceback" not in err
            results.append(json.loads(out.strip().splitlines()[-1]))
        threads = sorted(f"setup-{i}" for i in range(SETUP_PROCESSES))
        assert all(r["claimed"] for r in results)
        assert rows(url, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'opsgraph%'") == [("opsgraph",)]
        tables = {r[0] for r in rows(url, "SELECT table_name FROM information_schema.tables"
                                          " WHERE table_schema = 'opsgraph'")}
        assert {"audit_events", "runs", "thread_claims", "decisions", "schema_versions", "store",
                "store_migrations"} <= tables
        assert sorted(rows(url, "SELECT component, version FROM opsgraph.schema_versions")) == \
            [("audit", 1), ("claims", 1)]
        migrations = [r[0] for r in rows(url, "SELECT v FROM opsgraph.store_migrations")]
        assert len(migrations) == len(set(migrations)) > 0
        assert sorted(r[0] for r in rows(url, "SELECT thread_id FROM opsgraph.runs")) == threads
        assert sorted(r[0] for r in rows(url, "SELECT thread_id FROM opsgraph.audit_events")) == threads
        assert sorted(r[0] for r in rows(url, "SELECT key FROM opsgraph.store")) == threads
        assert sorted(r[0] for r in rows(url, "SELECT DISTINCT thread_id FROM checkpoints")) == threads
        assert not rows(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                             " AND table_name LIKE 'opsgraph%'")


# -- concurrent writers -----------------------------------------------------------------------------

def _record_from_many_threads(stores: list[AuditStore], thread: str, per_store: int) -> list[bool]:
    """Every thread records the same event key at the same moment; what each was told."""
    barrier = threading.Barrier(len(stores) * per_store)
    told: list[bool] = []

    def write(store: AuditStore, n: int) -> None:
        barrier.wait()
        told.append(store.record(thread, "tool:procurement:call-1", "tool_call", agent="procurement",
                                 name="create_purchase_order", args={"writer": n}))

    workers = [threading.Thread(target=write, args=(store, n)) for n, store in
               enumerate(s for s in stores for _ in range(per_store))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return told


def test_the_same_event_key_recorded_from_many_threads_is_stored_once_postgres(tmp_path, db_url):
    stores = [open_audit_store(_settings(tmp_path / f"home-{i}", db_url)) for i in range(4)]
    try:
        told = _record_from_many_threads(stores, "same-key-1", per_store=6)
        events = stores[0].events("same-key-1")
    finally:
        for store in stores:
            store.close()
    assert sorted(told) == [False] * 23 + [True]
    assert len(events) == 1 and events[0].name == "create_purchase_order"
    assert rows(db_url, "SELECT COUNT(*) FROM opsgraph.audit_events WHERE thread_id = 'same-key-1'") == [(1,)]


def test_the_same_event_key_recorded_from_many_threads_is_stored_once_sqlite(tmp_path):
    stores = [open_audit_store(make_settings(tmp_path / "home")) for _ in range(4)]
    try:
        told = _record_from_many_threads(stores, "same-key-1", per_store=6)
        assert len(stores[0].events("same-key-1")) == 1
    finally:
        for store in stores:
            store.close()
    assert sorted(told) == [False] * 23 + [True]


def test_postgres_audit_events_are_append_only(tmp_path, db_url):
    import psycopg

    with open_audit_store(_settings(tmp_path / "home", db_url)) as store:
        store.register_run("append-only-1", "supply_chain_exception", "t")
        assert store.record("append-only-1", "k1", "tool_call", args={"a": 1})
        for sql in ("UPDATE opsgraph.audit_events SET kind = 'x'", "DELETE FROM opsgraph.audit_events",
                    "TRUNCATE opsgraph.audit_events"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                store._conn.execute(sql)
        assert [e.args for e in store.events("append-only-1")] == [{"a": 1}]


def test_run_registry_round_trip_on_postgres(tmp_path, db_url):
    with open_audit_store(_settings(tmp_path / "home", db_url)) as store:
        store.register_run("registry-1", "contract_review", "CTR-1002", shadow=True)
        store.record_start_input("registry-1", ("msgpack", b"\x00\x01binary"))
        store.set_status("registry-1", "failed", "model unreachable")
        store.request_stop("registry-1")
        store.record("registry-1", "budget_raised:1", "budget_raised", args={"max_usd": 1.5})
        info = store.run("registry-1")
        assert (info.graph_id, info.status, info.reason, info.shadow) == \
            ("contract_review", "failed", "model unreachable", True)
        assert store.start_input("registry-1") == ("msgpack", b"\x00\x01binary")
        assert store.stop_requested("registry-1") and store.budget_raises("registry-1") == {"max_usd": 1.5}
        store.request_stop("registry-1", False)
        assert not store.stop_requested("registry-1")
        assert "registry-1" in [r.thread_id for r in store.runs(1000)]


# -- what the shared store means for the rest ---------------------------------------------------------

def test_a_fresh_world_is_not_seeded_under_runs_recorded_in_the_shared_database(tmp_path, postgres_url_module):
    from opsgraph.context import open_world
    from opsgraph.tools.world import WorldError

    # A database of its own: the module's database already holds a world from other tests.
    with fresh_database(postgres_url_module, "opsgraph_guard") as url:
        with open_audit_store(_settings(tmp_path / "a", url)) as store:
            store.register_run("world-guard-1", "supply_chain_exception", "t")
        with pytest.raises(WorldError, match="missing but"):
            open_world(_settings(tmp_path / "b" / "home", url))


def test_database_url_alone_puts_claims_and_checkpoints_in_the_shared_database(tmp_path, db_url):
    from opsgraph.governance.claims import PostgresClaimStore
    from opsgraph.runner import open_runner
    from opsgraph.context import reset_world

    settings = _settings(tmp_path / "home", db_url)
    reset_world(settings).close()  # a fresh mock enterprise (other tests recorded runs)
    with open_runner(settings, with_knowledge=False) as runner:
        assert isinstance(runner.claims, PostgresClaimStore)
        graph = "supply_chain_exception"
        result = runner.start(graph, runner.make_input(graph, {"shipment": "SH-0003", "delay_days": 2}),
                              thread_id="claims-1")
    assert rows(db_url, "SELECT graph_id FROM opsgraph.thread_claims WHERE thread_id = 'claims-1'") == [(graph,)]
    assert rows(db_url, "SELECT COUNT(*) > 0 FROM checkpoints WHERE thread_id = 'claims-1'") == [(True,)]
    assert rows(db_url, "SELECT status FROM opsgraph.runs WHERE thread_id = 'claims-1'") == [(result.status,)]
    assert not (settings.data_home / "checkpoints.db").exists() and not (settings.data_home / "audit.db").exists()


def test_an_unreachable_shared_database_is_one_line(tmp_path):
    url = "postgresql://ops:secret@127.0.0.1:1/nowhere"
    for args in (("runs", "list"), ("audit", "some-thread"), ("runs", "stop", "some-thread")):
        line = one_error_line(opsgraph(tmp_path / "home", *args, OPSGRAPH_DATABASE_URL=url),
                              "cannot connect to Postgres")
        assert "secret" not in line and "ops:***@127.0.0.1:1" in line


def test_config_shows_the_database_url_masked(tmp_path):
    proc = opsgraph(tmp_path / "home", "config", "--json", OPSGRAPH_DATABASE_URL="postgresql://ops:secret@db:5432/ops")
    described = json.loads(proc.stdout)
    assert described["database_url"] == "postgresql://ops:***@db:5432/ops"
    assert described["checkpoint_url"] == "postgresql://ops:***@db:5432/ops"
    assert "secret" not in proc.stdout
    text = opsgraph(tmp_path / "home", "config", OPSGRAPH_DATABASE_URL="postgresql://ops:secret@db:5432/ops").stdout
    assert "database_url" in text and "ops:***@db:5432/ops" in text and "secret" not in text
