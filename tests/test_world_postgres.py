"""The mock enterprise in Postgres: same results and rows as SQLite, serialised writers, one seeding.

The tests need the real Postgres of OPSGRAPH_TEST_POSTGRES_URL and skip with that reason
without it. The module works in a database created for it (dropped at teardown), each test
in a schema of its own; tests that need an empty database get one of their own.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from opsgraph.tools.connectors.base import ConnectorError, WorldError, money
from opsgraph.tools.connectors.postgres import PostgresDatabase, Row, masked, to_pyformat
from opsgraph.tools.world import World, world_tables
from tests.support.cli import isolated_env, one_error_line, opsgraph
from tests.support.pgdb import fresh_database, unique_schema, world_database  # noqa: F401 - fixture
from tests.support.pg_world_worker import race_worker

ROOT = Path(__file__).resolve().parents[1]
# Columns holding wall-clock time (bookkeeping, never business data) and Postgres' insertion order.
CLOCK_COLUMNS = {"created_at", "seq"}


@pytest.fixture
def pg_world(world_database: str):
    with World.open(world_database, schema=unique_schema()) as world:
        yield world


def table_rows(world: World) -> dict[str, list[tuple]]:
    """Every row of every world table, clock columns left out, in primary-key order."""
    out = {}
    with world._db.read() as conn:
        for table, all_columns in world_tables().items():
            columns = [c for c in all_columns if c not in CLOCK_COLUMNS]
            rows = conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1, 2").fetchall()
            out[table] = [tuple(row) for row in rows]
    return out


def _without_clock(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_clock(v) for k, v in value.items() if k not in CLOCK_COLUMNS}
    if isinstance(value, list):
        return [_without_clock(v) for v in value]
    return value


def scripted_calls(world: World) -> list[Any]:
    """One sequence of connector calls touching every write path; each outcome is a result or an error."""
    out: list[Any] = []

    def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
        except ConnectorError as exc:
            out.append({"error": type(exc).__name__, "message": str(exc)})
            return None
        out.append(_without_clock(result))
        return result

    call(world.tms.report_shipment_delay, "SH-0001", 5, "port strike in Hamburg", "s-delay")
    plan = call(world.wms.plan_replenishment, "SH-0001")
    call(world.wms.transfer_stock, plan["transfers"], "s-transfer")
    po = plan["purchase_orders"][0]
    request = {k: po[k] for k in ("supplier_id", "dc_id", "lines", "justification", "expedite")}
    call(world.erp.create_purchase_order, request, "s-po", threshold_usd=25000)  # over the limit: refused
    call(world.erp.create_purchase_order, request, "s-po", approved_by="dana", threshold_usd=25000)
    call(world.erp.create_purchase_order, request, "s-po", approved_by="dana", threshold_usd=25000)  # replay
    call(world.erp.create_purchase_order, {**request, "lines": [{"sku_id": "SKU-001", "quantity": 1}]}, "s-po")
    call(world.billing.issue_refund, "INV-0002", 300.0, "damaged goods", "s-refund-1", auto_limit_usd=500)
    call(world.billing.issue_refund, "INV-0002", 300.0, "damaged goods", "s-refund-2", auto_limit_usd=500)
    call(world.billing.issue_refund, "INV-0001", 189.0, "duplicate charge", "s-refund-3", auto_limit_usd=500)
    impact = call(world.wms.find_affected_orders, "SH-0001")
    call(world.notifications.notify_customers, impact["order_ids"], impact["new_eta"], "port strike", "s-notice")
    call(world.notifications.notify_customers, impact["order_ids"], impact["new_eta"], "port strike", "s-notice")
    call(world.crm.change_plan, "CUST-007", "enterprise", "s-plan")
    call(world.crm.create_ticket, "CUST-008", "Invoice copy", "Please resend INV-0002.", "billing", "s-ticket")
    call(world.crm.update_ticket, "TCK-0003", "resolved", "Upgraded.", "s-update")
    option = call(world.tms.get_reroute_options, "SH-0001")["options"][0]
    call(world.tms.book_reroute, "SH-0001", option["carrier_id"], option["mode"], "s-reroute")
    for read in (lambda: world.crm.list_orders("CUST-001"), lambda: world.erp.get_budget("CC-OPS"),
                 lambda: world.billing.get_invoice("INV-0002"), lambda: world.notifications.outbox(),
                 lambda: world.erp.list_suppliers("SKU-001"), world.earlier_writes, world.counts):
        call(read)
    return out


def test_the_same_calls_give_the_same_results_and_rows_on_sqlite_and_postgres(pg_world: World, tmp_path: Path):
    with World.open(tmp_path / "world.db") as local:
        expected, expected_rows = scripted_calls(local), table_rows(local)
    got = scripted_calls(pg_world)
    for index, (want, have) in enumerate(zip(expected, got)):
        assert have == want, f"call #{index} differs"
    assert len(got) == len(expected)
    errors = [o["error"] for o in got if isinstance(o, dict) and "error" in o]
    assert errors == ["ApprovalRequired", "Conflict", "ApprovalRequired"]  # the refusals happened on both
    rows = table_rows(pg_world)
    assert rows.keys() == expected_rows.keys()
    for table in rows:
        assert rows[table] == expected_rows[table], f"table {table} differs"
    assert len(rows["shipment_events"]) == 2 and len(rows["plan_changes"]) == 1


def test_seeded_postgres_world_equals_the_seeded_sqlite_world(pg_world: World, tmp_path: Path):
    with World.open(tmp_path / "world.db") as local:
        assert table_rows(pg_world) == table_rows(local)
        assert pg_world.counts() == local.counts()


def test_clone_of_a_postgres_world_is_an_isolated_sqlite_copy(pg_world: World, tmp_path: Path):
    pg_world.tms.report_shipment_delay("SH-0004", 3, "weather", "delay-1")
    pg_world.crm.change_plan("CUST-007", "enterprise", "plan-1")
    with pg_world.clone_to(tmp_path / "copy.db") as copy:
        assert copy.path == tmp_path / "copy.db" and copy.url is None
        assert table_rows(copy) == table_rows(pg_world)
        assert [w["operation"] for w in copy.earlier_writes()] == ["tms.report_shipment_delay", "crm.change_plan"]
        copy.crm.change_plan("CUST-007", "basic", "plan-2")
    assert pg_world.crm.get_customer("CUST-007")["plan"] == "enterprise"


def test_reset_reseeds_the_schema_and_open_keeps_state(world_database: str):
    schema = unique_schema()
    with World.open(world_database, schema=schema) as world:
        world.crm.change_plan("CUST-007", "enterprise", "plan-1")
    with World.open(world_database, schema=schema) as world:
        assert world.crm.get_customer("CUST-007")["plan"] == "enterprise"
        assert world.counts()["idempotency"] == 1
    with World.reset(world_database, schema=schema) as world:
        assert world.crm.get_customer("CUST-007")["plan"] == "pro"
        assert world.counts()["idempotency"] == 0
        assert world.location == f"{masked(world_database)} (schema {schema})"


def test_missing_world_is_not_reseeded_under_existing_runs(world_database: str):
    schema = unique_schema()
    with pytest.raises(WorldError, match=rf"schema {schema}\) is missing but 2 runs that used it exist"):
        World.open(world_database, schema=schema, runs_recorded=lambda: 2)
    with pytest.raises(WorldError, match="no world at .*create one with World.open"):
        World(world_database, schema=schema)
    with World.open(world_database, schema=schema, runs_recorded=lambda: 0) as world:
        assert world.counts()["customers"] == 100


def test_unreachable_database_is_one_clear_error():
    with pytest.raises(WorldError, match=r"^cannot reach the world database postgresql://nobody:\*\*\*@127.0.0.1:1/x"):
        World.open("postgresql://nobody:secret@127.0.0.1:1/x")


def test_placeholders_and_rows_behave_like_sqlite(world_database: str):
    assert to_pyformat("SELECT '?', x LIKE ? FROM t WHERE a = ? AND b = 'it''s ?' AND c LIKE '5%'") == \
        "SELECT '?', x LIKE %s FROM t WHERE a = %s AND b = 'it''s ?' AND c LIKE '5%%'"
    row = Row((1, "a", 2.5), {"id": 0, "name": 1, "price": 2})
    assert (row[0], row["name"], dict(row), tuple(row)) == (1, "a", {"id": 1, "name": "a", "price": 2.5}, (1, "a", 2.5))
    first, *rest = row
    assert first == 1 and rest == ["a", 2.5]
    db = PostgresDatabase(world_database, unique_schema())
    try:
        with db.read() as conn:
            found = conn.execute("SELECT 'seed-1' LIKE 'seed-%' AS hit, '?' AS mark, ? AS value", (7,)).fetchone()
        assert (found["hit"], found["mark"], found[2]) == (True, "?", 7)
    finally:
        db.close()


def _race_trials(world: World, count: int) -> list[dict[str, Any]]:
    with world._db.read() as conn:
        paid = [r[0] for r in conn.execute("SELECT invoice_id FROM invoices WHERE status = 'paid' ORDER BY 1")]
    assert len(paid) >= count
    trials = []
    for n, invoice_id in enumerate(paid[:count]):
        refundable = world.billing.get_invoice(invoice_id)["refundable_usd"]
        # Either process alone stays under the limit; both together would pass it.
        trials.append({"n": n, "invoice_id": invoice_id, "amount_usd": money(refundable * 0.4),
                       "limit_usd": money(refundable * 0.6), "tickets": 3})
    return trials


def _run_race(url: str, schema: str, trials: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2, timeout=120), ctx.Queue()
    procs = [ctx.Process(target=race_worker, args=(url, schema, who, trials, barrier, out)) for who in ("a", "b")]
    for proc in procs:
        proc.start()
    results = dict(out.get(timeout=600) for _ in procs)
    for proc in procs:
        proc.join(timeout=60)
    for who, outcome in results.items():
        assert isinstance(outcome, list), f"process {who} failed: {outcome}"
    return results


def _count_violations(world: World, trials: list[dict[str, Any]], results: dict[str, list]) -> dict[str, int]:
    """What went wrong across the trials, counted from the database as well as from what the racers saw."""
    found = {"refund over the limit": 0, "refund outcome not one win and one refusal": 0,
             "shared key written twice": 0, "shared key outcome not one write and one replay": 0,
             "ticket write failed": 0}
    for trial, a, b in zip(trials, results["a"], results["b"]):
        refunds = world.billing.list_refunds(trial["invoice_id"])["refunds"]
        found["refund over the limit"] += money(sum(r["amount_usd"] for r in refunds)) > trial["limit_usd"]
        errors = sorted(str(o["refund"].get("error")) for o in (a, b))
        found["refund outcome not one win and one refusal"] += errors != ["ApprovalRequired", "None"]
        outbox = world.notifications.outbox("CUST-001")["messages"]
        messages = [m for m in outbox if m["subject"] == f"trial {trial['n']}"]
        found["shared key written twice"] += len(messages) != 1
        sent = [o["shared"].get("result") or {} for o in (a, b)]
        replays = sorted(str(s.get("replayed")) for s in sent)
        same_id = sent[0].get("outbox_id") == sent[1].get("outbox_id")
        found["shared key outcome not one write and one replay"] += replays != ["False", "True"] or not same_id
        found["ticket write failed"] += sum(not t["ok"] for o in (a, b) for t in o["tickets"])
    return found


def test_two_processes_writing_at_once_keep_limits_keys_and_ids(world_database: str):
    """Many trials, each releasing two OS processes together on the same refund, key and id sequence."""
    trials_count = 40
    with World.open(world_database, schema=unique_schema()) as world:
        trials = _race_trials(world, trials_count)
        tickets_before = world.counts()["tickets"]
        results = _run_race(world_database, world.schema, trials)
        violations = _count_violations(world, trials, results)
        assert violations == dict.fromkeys(violations, 0)
        ticket_ids = [t["result"]["ticket_id"] for who in "ab" for trial in results[who] for t in trial["tickets"]]
        assert len(ticket_ids) == 2 * 3 * trials_count and len(set(ticket_ids)) == len(ticket_ids)
        assert world.counts()["tickets"] == tickets_before + len(ticket_ids)


def test_six_processes_opening_a_fresh_database_seed_it_once(tmp_path: Path):
    with fresh_database("opsgraph_open") as url:
        go = tmp_path / "go"
        env = isolated_env(tmp_path / "home", OPSGRAPH_DATABASE_URL=url)
        procs = [subprocess.Popen([sys.executable, "-m", "tests.support.pg_world_worker", str(i), str(go)], cwd=ROOT,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(6)]
        go.touch()
        results = []
        for proc in procs:
            out, errors = proc.communicate(timeout=600)
            assert proc.returncode == 0, errors
            results.append(json.loads(out.strip().splitlines()[-1]))
        with World(url) as world:
            subjects = sorted(m["subject"] for m in world.notifications.outbox()["messages"])
            assert subjects == sorted(f"worker {i}" for i in range(6))  # no write lost to a second seeding
            assert world.counts()["customers"] == 100
            with world._db.read() as conn:
                # Every seeded row was written by one and the same transaction.
                assert conn.execute("SELECT COUNT(DISTINCT xmin::text) FROM customers").fetchone()[0] == 1
                assert conn.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 3
        assert len({r["outbox_id"] for r in results}) == 6
        assert not (tmp_path / "home" / "world.db").exists()


@pytest.mark.slow  # a whole graph in a subprocess, knowledge layer included
def test_supply_chain_run_writes_its_rows_into_postgres_not_world_db(tmp_path: Path):
    with fresh_database("opsgraph_run") as url:
        home = tmp_path / "home"
        done = opsgraph(home, "run", "supply_chain_exception", "--shipment", "SH-0002", "--delay-days", "4",
                        "--json", OPSGRAPH_DATABASE_URL=url)
        assert done.returncode == 0, done.stdout + done.stderr
        with World(url) as world:
            with world._db.read() as conn:
                pos = conn.execute("SELECT po_id, supplier_id, total_usd FROM purchase_orders "
                                   "WHERE idempotency_key NOT LIKE 'seed-%'").fetchall()
            assert [tuple(p)[1:] for p in pos] == [("SUP-006", 8515.0)]
            assert world.show("purchase_order", pos[0][0])["status"] == "issued"
            outbox = world.notifications.outbox()["messages"]
            assert {m["customer_id"] for m in outbox} == {"CUST-009", "CUST-010"}
            assert world.tms.get_shipment("SH-0002")["status"] == "delayed"
        assert not (home / "world.db").exists()
        assert not list(home.glob(".world.db.*"))


def test_world_commands_work_on_postgres(tmp_path: Path):
    with fresh_database("opsgraph_cli") as url:
        home = tmp_path / "home"
        reset = opsgraph(home, "world", "reset", OPSGRAPH_DATABASE_URL=url)
        assert reset.returncode == 0, reset.stderr
        assert "(schema opsgraph_world)" in reset.stdout and "customers=100" in reset.stdout
        shown = opsgraph(home, "world", "show", "shipment", "SH-0001", OPSGRAPH_DATABASE_URL=url)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["dc_id"] == "DC-EAST"
        assert not (home / "world.db").exists()
    down = opsgraph(home, "world", "show", "shipment", "SH-0001", OPSGRAPH_DATABASE_URL="postgresql://ops:pw@127.0.0.1:1/x")
    assert "cannot reach the world database postgresql://ops:***@127.0.0.1:1/x" in one_error_line(down)


def test_a_lost_world_connection_fails_the_run_and_resume_reconnects(world_database: str, tmp_path: Path):
    import psycopg

    from opsgraph.errors import RunFailed
    from opsgraph.runner import open_runner
    from tests.conftest import make_settings
    from tests.support.races import GRAPH, OTHER_INCIDENT

    with World.open(world_database, schema=unique_schema()) as world, \
            open_runner(make_settings(tmp_path / "home"), world=world, with_knowledge=False) as runner:
        runner.mask_input("warm-up", {"text": "Lakeside"})  # the PII masker reads customer names once, now
        with psycopg.connect(world_database, autocommit=True) as admin:  # the server drops the world's session
            admin.execute("SELECT pg_terminate_backend(%s)", (world._db._conn.raw.info.backend_pid,))
        with pytest.raises(RunFailed) as failed:
            runner.start(GRAPH, {"event": OTHER_INCIDENT}, thread_id="lost-pg")
        assert failed.value.reason.startswith("Postgres error")
        assert runner.context.audit.run("lost-pg").status == "failed"
        assert runner.resume("lost-pg").status == "completed"  # the next call opened a new connection
        assert world.tms.get_shipment("SH-0002")["total_delay_days"] == 4


def test_retail_store_lives_in_postgres_and_is_loaded_once(tmp_path: Path):
    from opsgraph.tools.retail.world import LazyRetail
    from tests.conftest import make_settings
    from tests.support.retail_db import retail_db

    data = tmp_path / "tau2"
    data.mkdir()
    (data / "db.json").write_text(json.dumps(retail_db()))
    address = {"address1": "9 Elm St", "address2": "", "city": "Austin", "state": "TX", "country": "USA",
               "zip": "73301"}
    with fresh_database("opsgraph_retail") as url:
        settings = make_settings(tmp_path / "home", OPSGRAPH_DATABASE_URL=url, OPSGRAPH_TAU2_DATA=str(data))
        first, second = LazyRetail(settings), LazyRetail(settings)
        try:
            moved = first.call("modify_user_address", {"user_id": "ann_lee_1", **address}, "move-1")
            assert moved["address"]["city"] == "Austin"
            # Another process finds the store loaded (not reloaded from db.json) and sees the write.
            assert second.call("get_user_details", {"user_id": "ann_lee_1"}, "read-1")["address"]["city"] == "Austin"
            assert first.store()._db.schema == "opsgraph_retail"
        finally:
            first.close()
            second.close()
    assert not (tmp_path / "home" / "retail.db").exists()


def test_eval_cases_stay_local_when_a_shared_database_is_set(tmp_path: Path):
    """Each eval case works on its own SQLite copies, never on the shared world or retail store."""
    from opsgraph.evals.workspace import Workspace
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "home", OPSGRAPH_DATABASE_URL="postgresql://ops@127.0.0.1:1/shared")
    with Workspace(settings, root=tmp_path / "eval", with_knowledge=False) as workspace:
        case, world = workspace.new_case()
        with world:
            assert case.database_url is None and world.path == case.world_path
            assert case.effective_checkpoint_url == f"sqlite:///{case.data_home / 'checkpoints.db'}"
