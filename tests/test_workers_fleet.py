"""Sixty runs on three Celery worker processes, one killed mid-run, match the same runs done in-process.

Real services: Postgres (a fresh database for checkpoints, claims and leases), Redis (the
broker, on a queue of its own), a Chroma server (knowledge). The workers share one data home.
Approvals are answered from here with submitted resumes, one approval is raced (approve
against reject), and one worker is SIGKILLed, whole process group, while it drives a run.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from opsgraph.errors import UserError
from opsgraph.governance.policy import load_policy
from opsgraph.runner import open_runner
from opsgraph.settings import Settings, load_settings
from opsgraph.workers import celery_app, submit_resume, submit_run
from tests.support import fleet
from tests.support.chroma_server import chroma_server
from tests.support.cli import isolated_env

pytestmark = pytest.mark.slow

WORKERS = 3
KILL_AFTER_SETTLED = 10  # runs finished before the kill, so the kill lands among runs in flight
VISIBILITY_TIMEOUT_S = 12
DEADLINE_S = 240
SETTLED = ("completed", "stopped", "awaiting_approval", "failed", "budget_exhausted")
RACERS = ({"decision": "approve", "reason": "needed now", "by": "alice"},
          {"decision": "reject", "reason": "wrong supplier", "by": "bob"})


@pytest.fixture
def redis_url() -> str:
    """URL of the real local Redis, or skip with the reason."""
    url = os.environ.get("OPSGRAPH_TEST_REDIS_URL")
    if not url:
        pytest.skip("OPSGRAPH_TEST_REDIS_URL is unset; set it to a Redis URL to run this test")
    return url


@pytest.fixture
def fresh_database(postgres_url: str):
    """A new Postgres database for this test only, dropped afterwards."""
    name = f"opsgraph_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield postgres_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _settings(env: dict[str, str], home: Path) -> Settings:
    return load_settings(env={k: v for k, v in env.items() if k.startswith("OPSGRAPH_")}, cwd=home.parent)


def _ingest(settings: Settings) -> None:
    """The corpus into the Chroma server once, before any worker searches it."""
    from opsgraph.knowledge.ingest import ingest

    ingest(None, settings, policy=load_policy(settings.policy_path))


class Fleet:
    """The submitting side: submits runs and answers approvals as they come up; kills one worker."""

    def __init__(self, runner: Any, app: Any, procs: list) -> None:
        self.runner, self.app, self.procs = runner, app, procs
        self.answered: set[str] = set()
        self.race_refused_at_submit: str | None = None
        self.killed: tuple[int, int, str] | None = None  # (worker pid, pool process pid, thread it was driving)

    def statuses(self) -> dict[str, str]:
        audit = self.runner.context.audit
        return {thread: audit.run(thread).status for thread, _, _ in fleet.plan()}

    def answer(self, statuses: dict[str, str]) -> None:
        for thread, status in statuses.items():
            if status != "awaiting_approval" or thread in self.answered:
                continue
            if thread.startswith(fleet.RACE):
                self._race(thread)
            elif fleet.decision_for(thread) is not None:
                submit_resume(self.runner, self.app, thread, fleet.decision_for(thread))
            self.answered.add(thread)

    def _race(self, thread: str) -> None:
        submit_resume(self.runner, self.app, thread, dict(RACERS[0]))
        try:
            submit_resume(self.runner, self.app, thread, dict(RACERS[1]))
        except UserError as exc:  # the first was applied before the second was even queued
            self.race_refused_at_submit = str(exc)

    def maybe_kill(self, statuses: dict[str, str]) -> None:
        """SIGKILL the worker driving some run right now, once enough runs have finished."""
        if self.killed or sum(s in SETTLED for s in statuses.values()) < KILL_AFTER_SETTLED:
            return
        groups = {proc.pid: proc for proc in self.procs}
        for thread in (t for t, s in statuses.items() if s == "running"):
            started = self.runner.context.audit.events(thread, "task_started")
            pid = started[-1].result["pid"] if started else None
            try:
                group = os.getpgid(pid) if pid else None
            except ProcessLookupError:
                continue
            if group in groups:
                fleet.kill_group(groups[group])
                self.killed = (group, pid, thread)
                return

    def settled(self, statuses: dict[str, str]) -> bool:
        waiting = [t for t, s in statuses.items() if s not in SETTLED]
        unanswered = [t for t, s in statuses.items() if s == "awaiting_approval" and not t.startswith(fleet.PENDING)]
        race = next(t for t in statuses if t.startswith(fleet.RACE))
        race_done = self.race_refused_at_submit or self.runner.context.audit.events(race, "task_refused")
        return self.killed is not None and not waiting and not unanswered and bool(race_done)


def _run_fleet(settings: Settings, env: dict[str, str], logs: Path) -> Fleet:
    app = celery_app(settings)
    with open_runner(settings, with_knowledge=False) as runner, fleet.workers(WORKERS, env, logs) as procs:
        for thread, graph, options in fleet.plan():
            submit_run(runner, app, graph, runner.make_input(graph, options), thread_id=thread)
        crew = Fleet(runner, app, procs)
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            statuses = crew.statuses()
            crew.answer(statuses)
            crew.maybe_kill(statuses)
            if crew.settled(statuses):
                return crew
            time.sleep(0.5)
        pytest.fail(f"runs not settled in {DEADLINE_S} s: {crew.statuses()}; killed {crew.killed}")


def _reference(settings: Settings, race_decision: dict[str, Any]) -> None:
    """The same sixty runs, one after another in this process, the same answers given."""
    with open_runner(settings) as runner:
        fleet.top_up_budgets(settings)
        for thread, graph, options in fleet.plan():
            result = runner.start(graph, runner.make_input(graph, options), thread_id=thread)
            decision = race_decision if thread.startswith(fleet.RACE) else fleet.decision_for(thread)
            if result.status == "awaiting_approval" and decision is not None:
                runner.resume(thread, decision)


def test_sixty_runs_on_three_workers_with_one_killed_match_the_same_runs_in_process(tmp_path, fresh_database,
                                                                                      redis_url):
    queue = f"opsgraph-fleet-{uuid.uuid4().hex[:8]}"
    try:
        _fleet_and_reference(tmp_path, fresh_database, redis_url, queue)
    finally:
        fleet.forget_queue(redis_url, queue)


def _fleet_and_reference(tmp_path: Path, database: str, redis_url: str, queue: str) -> None:
    with chroma_server(tmp_path / "chroma") as chroma_url:
        home = tmp_path / "fleet" / "home"
        env = isolated_env(home, OPSGRAPH_DATABASE_URL=database, OPSGRAPH_CHROMA_URL=chroma_url,
                           OPSGRAPH_BROKER_URL=redis_url, OPSGRAPH_QUEUE=queue,
                           OPSGRAPH_BROKER_VISIBILITY_TIMEOUT_S=str(VISIBILITY_TIMEOUT_S), OPSGRAPH_MEMORY="off")
        settings = _settings(env, home)
        _ingest(settings)
        with open_runner(settings, with_knowledge=False):
            fleet.top_up_budgets(settings)  # the world is seeded by opening it
        crew = _run_fleet(settings, env, tmp_path / "logs")
        # Memory off on both sides: recalled episodes depend on the order runs finish in, which the
        # queue does not keep; this test compares the queue's runs with in-process ones.
        reference = _settings(isolated_env(tmp_path / "reference" / "home", OPSGRAPH_CHROMA_URL=chroma_url,
                                           OPSGRAPH_MEMORY="off"),
                              tmp_path / "reference" / "home")
        race_decision = _race_outcome(settings, crew)
        _reference(reference, race_decision)
    _check_redelivered(settings, crew)
    _check_same(settings, reference)
    _check_worker_logs(tmp_path / "logs")


def _race_outcome(settings: Settings, crew: Fleet) -> dict[str, Any]:
    """Exactly one of the raced decisions was applied; the other was refused with the winner's name."""
    race = next(t for t, _, _ in fleet.plan() if t.startswith(fleet.RACE))
    with open_runner(settings, with_knowledge=False) as runner:
        audit = runner.context.audit
        applied = [(e.agent, e.result["decision"]) for e in audit.events(race, "approval")]
        assert len(applied) == 1, applied
        winner = applied[0][0]
        refusals = [e.result["reason"] for e in audit.events(race, "task_refused")]
        if crew.race_refused_at_submit is None:
            loser = next(r["by"] for r in RACERS if r["by"] != winner)
            assert len(refusals) == 1 and f"already decided by {winner} at " in refusals[0], refusals
            assert [e.agent for e in audit.events(race, "task_refused")] == [loser]
            assert len(audit.events(race, "decision_refused")) == 1
        else:
            assert "no pending approval" in crew.race_refused_at_submit and refusals == []
    return next(dict(r) for r in RACERS if r["by"] == winner)


def _check_redelivered(settings: Settings, crew: Fleet) -> None:
    """The killed worker's run was taken up by another worker, which carried it to its end."""
    assert crew.killed is not None
    _, dead, thread = crew.killed
    with open_runner(settings, with_knowledge=False) as runner:
        started = runner.context.audit.events(thread, "task_started")
        after = started[[e.result["pid"] for e in started].index(dead) + 1:]
        assert any(e.args["again"] and e.result["pid"] != dead for e in after), [(e.args, e.result) for e in started]
        assert runner.context.audit.run(thread).status in ("completed", "awaiting_approval", "stopped")


def _check_same(settings: Settings, reference: Settings) -> None:
    """Every run ended as its in-process twin; the world and the audit trail hold nothing twice and lack nothing."""
    with open_runner(settings, with_knowledge=False) as ran, open_runner(reference, with_knowledge=False) as ref:
        for thread, graph, _ in fleet.plan():
            got, want = ran.context.audit.run(thread), ref.context.audit.run(thread)
            assert (thread, got.status) == (thread, want.status)
            # The raced thread's losing decision is audited as refused (checked in _race_outcome); nothing else differs.
            skip = ("decision_refused",) if thread.startswith(fleet.RACE) else ()
            assert fleet.audit_summary(ran.context.audit, thread, skip) == fleet.audit_summary(ref.context.audit, thread), thread
        pending = [t for t, _, _ in fleet.plan() if ran.context.audit.run(t).status == "awaiting_approval"]
        assert [t[:3] for t in pending] == [fleet.PENDING]
    assert fleet.world_summary(settings) == fleet.world_summary(reference)


def _check_worker_logs(logs: Path) -> None:
    text = "\n".join(p.read_text(errors="replace") for p in sorted(logs.glob("worker-*.log")))
    assert "Traceback" not in text and "ERROR/" not in text, text[-3000:]
    assert text.count("succeeded in") >= 60
