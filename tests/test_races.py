"""One decision wins, one run per thread id, one driver per thread: settled by the database.

Racers are separate runners (own checkpointer, claim-store, audit and world connections)
released together on one thread, on SQLite and on Postgres. Every trial is checked against
the audit trail and the mock enterprise, not only against what the racers reported.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid

import pytest

from opsgraph.errors import UserError
from opsgraph.governance.claims import SqliteClaimStore, ThreadBusyError
from opsgraph.runner import open_runner
from tests.conftest import make_settings
from tests.support.cli import isolated_env, opsgraph
from tests.support.cli_app import cli_app
from tests.support.races import ABOVE_THRESHOLD, GRAPH, approve_vs_reject, race, run_trials, runners

QUICK, FULL = 5, 50


@pytest.fixture
def pg_settings(tmp_path, postgres_url):
    """Settings whose checkpoints (and so decisions, claims and leases) are in the test Postgres."""
    return make_settings(tmp_path / "pg-home", OPSGRAPH_CHECKPOINT_URL=postgres_url)


def _assert_clean(tally, trials: int) -> None:
    assert tally.trials == trials
    assert tally.double_wins == 0 and tally.no_winner == 0, tally
    assert tally.problems == []


def _prefix(name: str) -> str:
    return f"race-{name}-{uuid.uuid4().hex[:8]}"  # unique: Postgres is shared by parallel test runs


def test_approve_vs_reject_one_winner_sqlite(settings):
    _assert_clean(run_trials(settings, "approve_vs_reject", QUICK, _prefix("ar")), QUICK)


def test_two_starts_on_one_thread_one_winner_sqlite(settings):
    _assert_clean(run_trials(settings, "two_starts", QUICK, _prefix("ts")), QUICK)


def test_approve_vs_reject_one_winner_postgres(pg_settings):
    _assert_clean(run_trials(pg_settings, "approve_vs_reject", QUICK, _prefix("ar")), QUICK)


def test_two_starts_on_one_thread_one_winner_postgres(pg_settings):
    _assert_clean(run_trials(pg_settings, "two_starts", QUICK, _prefix("ts")), QUICK)


@pytest.mark.slow
@pytest.mark.parametrize("trial", ["approve_vs_reject", "two_starts"])
def test_races_50_times_sqlite(settings, trial):
    _assert_clean(run_trials(settings, trial, FULL, _prefix(trial)), FULL)


@pytest.mark.slow
@pytest.mark.parametrize("trial", ["approve_vs_reject", "two_starts"])
def test_races_50_times_postgres(pg_settings, trial):
    _assert_clean(run_trials(pg_settings, trial, FULL, _prefix(trial)), FULL)


def test_late_decision_after_the_run_moved_on_names_the_winner(settings):
    with runners(settings, 2) as (alice, bob):
        alice.start(GRAPH, {"event": ABOVE_THRESHOLD}, thread_id="late")
        assert alice.resume("late", {"decision": "approve", "by": "alice"}).status == "completed"
        with pytest.raises(UserError, match=r"already decided by alice at \d{4}-"):
            bob.resume("late", {"decision": "reject", "by": "bob"})
        refused = bob.context.audit.events("late", "decision_refused")
        assert [(e.agent, e.ok) for e in refused] == [("bob", False)]
        assert [e.agent for e in bob.context.audit.events("late", "approval")] == ["alice"]


def test_a_recorded_decision_whose_process_died_is_applied_on_resume(settings):
    with open_runner(settings, with_knowledge=False) as runner:
        started = runner.start(GRAPH, {"event": ABOVE_THRESHOLD}, thread_id="crashed")
        snapshot = runner.graph(GRAPH).get_state(runner.config("crashed"))
        # The winner's row is in, then its process died before driving the run on.
        runner.claims.decide("crashed", [i.id for i in snapshot.interrupts], {
            "decision": "approve", "reason": "", "edits": {}, "by": "alice"})
        with pytest.raises(UserError, match="already decided by alice"):
            runner.resume("crashed", {"decision": "reject", "by": "bob"})
        done = runner.resume("crashed")
        assert started.status == "awaiting_approval" and done.status == "completed"
        [po] = [p for p in done.report["purchase_orders"] if p.get("po_id")]
        assert runner.context.world.erp.get_purchase_order(po["po_id"])["approved_by"] == "alice"


def test_resume_while_another_process_drives_the_thread_is_refused(settings):
    with runners(settings, 2) as (first, second):
        driving, tried = threading.Event(), threading.Event()
        outcome: dict = {}

        def slow_step(node: str, data: dict) -> None:
            driving.set()
            tried.wait(timeout=60)

        def start() -> None:
            outcome["first"] = first.start(GRAPH, {"event": ABOVE_THRESHOLD}, thread_id="busy", on_step=slow_step)

        worker = threading.Thread(target=start)
        worker.start()
        assert driving.wait(timeout=60)
        try:
            with pytest.raises(ThreadBusyError, match="being run by another process"):
                second.resume("busy")
        finally:
            tried.set()
            worker.join()
        assert outcome["first"].status == "awaiting_approval"
        done = second.resume("busy", {"decision": "reject", "by": "bob"})  # the lease was released
        assert done.status == "completed"


def test_lease_of_a_dead_process_is_taken_over(tmp_path):
    store = SqliteClaimStore(str(tmp_path / "claims.db"))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    store._execute("INSERT INTO opsgraph_leases (thread_id, owner, host, pid, acquired_at) VALUES (?, ?, ?, ?, ?)",
                   ("t", "ghost", __import__("socket").gethostname(), dead_pid, "2026-01-01T00:00:00"))
    with store.lease("t"):
        other = SqliteClaimStore(str(tmp_path / "claims.db"))
        with pytest.raises(ThreadBusyError):
            with other.lease("t"):
                pass
    with other.lease("t"):  # released at the end of the first holder's block
        pass


def test_decision_store_compare_and_set_all_or_nothing(tmp_path):
    store = SqliteClaimStore(str(tmp_path / "claims.db"))
    first = store.decide("t", ["i1", "i2"], {"decision": "approve", "by": "alice"})
    second = store.decide("t", ["i2", "i3"], {"decision": "reject", "by": "bob"})
    assert first.won and not second.won and second.by == "alice"
    assert store.decision("t", "i3") is None  # the loser wrote nothing


@pytest.mark.slow  # each CLI run builds the knowledge layer
def test_loser_gets_one_line_from_the_cli(tmp_path):
    """The CLI path: a second `runs resume` on a decided approval exits 1 naming the winner; a second
    `run` on a taken thread id exits 1 too."""
    from typer.testing import CliRunner

    app, cli, env = cli_app(), CliRunner(), isolated_env(tmp_path / "home")
    started = cli.invoke(app, ["run", GRAPH, "--shipment", "SH-0001", "--delay-days", "5", "--thread", "cli-race"],
                         env=env)
    assert started.exit_code == 0, started.output
    assert cli.invoke(app, ["runs", "resume", "cli-race", "--approve", "--by", "alice"], env=env).exit_code == 0
    lost = cli.invoke(app, ["runs", "resume", "cli-race", "--reject", "--by", "bob"], env=env)
    assert lost.exit_code == 1 and "already decided by alice at" in lost.output
    assert "Traceback" not in lost.output
    again = cli.invoke(app, ["run", GRAPH, "--shipment", "SH-0002", "--delay-days", "4", "--thread", "cli-race"],
                       env=env)
    assert again.exit_code == 1 and "already exists" in again.output


@pytest.mark.slow
def test_two_cli_processes_decide_at_once_one_wins(tmp_path):
    """Real processes: `runs resume --approve` and `runs resume --reject` launched together."""
    home = tmp_path / "home"
    assert opsgraph(home, "run", GRAPH, "--shipment", "SH-0001", "--delay-days", "5", "--thread", "p-race").returncode == 0
    env = isolated_env(home, COLUMNS="200")
    procs = [subprocess.Popen([sys.executable, "-m", "opsgraph", "runs", "resume", "p-race", flag, "--by", who],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
             for flag, who in (("--approve", "alice"), ("--reject", "bob"))]
    results = [(p.wait(timeout=300), p.stdout.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    winner = ("alice", "bob")[[code for code, _ in results].index(0)]
    [loser_output] = [out for code, out in results if code == 1]
    assert f"already decided by {winner} at" in loser_output and "Traceback" not in loser_output
    with open_runner(make_settings(home), with_knowledge=False) as runner:
        assert [e.agent for e in runner.context.audit.events("p-race", "approval")] == [winner]
        made = [e.result["po_id"] for e in runner.context.audit.events("p-race", "tool_call")
                if e.name == "create_purchase_order" and e.ok]
        approvers = [runner.context.world.erp.get_purchase_order(po)["approved_by"] for po in made]
        assert approvers == (["alice"] if winner == "alice" else [])


def test_approve_vs_reject_single_trial_reports_winner(settings):
    with runners(settings, 3) as (setup, alice, bob):
        winner, problems, successes = approve_vs_reject(setup, alice, bob, "single")
    assert successes == 1 and winner in ("alice", "bob") and problems == []


def test_chat_approve_after_another_operator_decided_is_refused(settings):
    """The chat path: /approve goes through the same compare-and-set as `runs resume`."""
    import io

    from rich.console import Console

    from opsgraph.cli.chat_session import ChatSession

    with open_runner(settings, with_knowledge=False) as runner:
        runner.start(GRAPH, {"event": ABOVE_THRESHOLD}, thread_id="chat-race")
        chats = [ChatSession(settings, Console(file=io.StringIO(), width=160), GRAPH, "chat-race", who,
                             with_knowledge=False) for who in ("dana", "erin")]
        try:
            snapshots = [chat.snapshot() for chat in chats]  # both operators see the approval pending
            assert all(s.interrupts for s in snapshots)
            chats[1].decide({"decision": "reject", "reason": "not now"})
            with pytest.raises(UserError, match="already decided by erin at"):
                chats[0].decide({"decision": "approve", "reason": ""})
        finally:
            for chat in chats:
                chat.close()
        assert [e.agent for e in runner.context.audit.events("chat-race", "approval")] == ["erin"]
        assert [e.agent for e in runner.context.audit.events("chat-race", "decision_refused")] == ["dana"]


def test_chat_operators_deciding_at_once_one_wins(settings):
    import io

    from rich.console import Console

    from opsgraph.cli.chat_session import ChatSession

    with open_runner(settings, with_knowledge=False) as runner:
        runner.start(GRAPH, {"event": ABOVE_THRESHOLD}, thread_id="chat-both")
        chats = [ChatSession(settings, Console(file=io.StringIO(), width=160), GRAPH, "chat-both", who,
                             with_knowledge=False) for who in ("dana", "erin")]
        try:
            for chat in chats:
                chat.runner.graph(GRAPH)  # open and compile before the race
            outcomes = race([lambda: chats[0].decide({"decision": "approve", "reason": ""}),
                             lambda: chats[1].decide({"decision": "reject", "reason": "no"})])
        finally:
            for chat in chats:
                chat.close()
        errors = [o for o in outcomes if isinstance(o, Exception)]
        assert len(errors) == 1 and isinstance(errors[0], UserError)
        [decided] = runner.context.audit.events("chat-both", "approval")
        assert f"already decided by {decided.agent} at" in str(errors[0])
        made = [e.result["po_id"] for e in runner.context.audit.events("chat-both", "tool_call")
                if e.name == "create_purchase_order" and e.ok]
        approvers = [runner.context.world.erp.get_purchase_order(po)["approved_by"] for po in made]
        assert approvers == (["dana"] if decided.agent == "dana" else [])


def test_chat_start_on_a_thread_another_process_took_is_refused(settings):
    """Two chats that both see thread 't' as new: the second first line is refused, nothing runs."""
    import io

    from rich.console import Console

    from opsgraph.cli.chat_session import ChatSession

    chats = [ChatSession(settings, Console(file=io.StringIO(), width=160), GRAPH, "chat-new", "dana",
                         with_knowledge=False) for _ in range(2)]
    try:
        assert all(chat.snapshot() is None for chat in chats)
        chats[0].runner.claim_thread("chat-new", GRAPH, "taken")  # the other process got there first
        with pytest.raises(UserError, match="already exists"):
            chats[1]._start("SH-0002 is 4 days late")
        assert chats[1].runner.graph(GRAPH).get_state(chats[1].config()).values == {}
    finally:
        for chat in chats:
            chat.close()


def test_start_is_refused_even_when_its_registry_check_ran_before_the_other_start(settings):
    """The worst interleaving, forced: the second start checked the registry before the first one wrote it.

    A check-then-insert lets both runs go; the unique claim in the database refuses the second.
    """
    from tests.support.races import OTHER_INCIDENT

    with runners(settings, 2) as (first, second):
        assert first.start(GRAPH, {"event": OTHER_INCIDENT}, thread_id="stale").status == "completed"
        second.context.audit.run = lambda thread_id: None  # its look-up happened before the first start wrote
        with pytest.raises(UserError, match="already exists"):
            second.start(GRAPH, {"event": ABOVE_THRESHOLD}, thread_id="stale")
        delays = [e.args["shipment_id"] for e in first.context.audit.events("stale", "tool_call")
                  if e.name == "report_shipment_delay"]
        assert delays == ["SH-0002"]
        assert first.graph(GRAPH).get_state(first.config("stale")).values["event"]["shipment_id"] == "SH-0002"
