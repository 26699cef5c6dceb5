"""Runs on Celery workers: settings, the --submit and worker CLI wiring, and what a task does with a thread.

The task logic (``opsgraph.workers.drive``) is exercised in-process on SQLite: starts, a task
delivered again after its worker died mid-run, a thread another worker drives, and the
compare-and-set between submitted decisions. The broker side uses the real local Redis.
"""

from __future__ import annotations

import base64
import json
import os
import uuid

import pytest

from opsgraph.governance.claims import ThreadBusyError
from opsgraph.runner import open_runner
from opsgraph.settings import SettingsError
from opsgraph.workers import Job, drive
from tests.conftest import make_settings
from tests.support.cli import one_error_line, opsgraph
from tests.support.fleet import forget_queue

GRAPH = "supply_chain_exception"
LIGHT = {"with_knowledge": False}  # the task logic does not depend on the knowledge layer; keep these fast
NEEDS_APPROVAL = {"event": {"shipment_id": "SH-0001", "delay_days": 5,
                            "description": "Inbound shipment SH-0001 is delayed by 5 days."}}
NO_APPROVAL = {"event": {"shipment_id": "SH-0004", "delay_days": 2,
                         "description": "Inbound shipment SH-0004 is delayed by 2 days."}}


@pytest.fixture
def redis_url() -> str:
    """URL of the real local Redis, or skip with the reason."""
    url = os.environ.get("OPSGRAPH_TEST_REDIS_URL")
    if not url:
        pytest.skip("OPSGRAPH_TEST_REDIS_URL is unset; set it to a Redis URL to run this test")
    return url


def _keys(runner, thread: str, skip: tuple[str, ...] = ("task_started",)) -> list[str]:
    return [e.kind + "|" + (e.name or "") for e in runner.context.audit.events(thread) if e.kind not in skip]


def _writes(runner) -> list[str]:
    return [w["operation"] for w in runner.context.world.earlier_writes()]


# -- settings ------------------------------------------------------------------------------------

def test_broker_settings_are_read_and_masked(tmp_path):
    s = make_settings(tmp_path / "h", OPSGRAPH_BROKER_URL="redis://:sekret@10.0.0.5:6379/2",
                      OPSGRAPH_BROKER_VISIBILITY_TIMEOUT_S="30", OPSGRAPH_QUEUE="ops-eu")
    assert (s.broker_url, s.broker_visibility_timeout_s, s.queue) == ("redis://:sekret@10.0.0.5:6379/2", 30, "ops-eu")
    described = s.describe()
    assert described["broker_url"] == "redis://:***@10.0.0.5:6379/2" and "sekret" not in json.dumps(described)
    assert make_settings(tmp_path / "h").describe()["broker_url"] is None


@pytest.mark.parametrize("env, needle", [({"OPSGRAPH_BROKER_URL": "http://broker"}, "redis:// or amqp://"),
                                         ({"OPSGRAPH_BROKER_VISIBILITY_TIMEOUT_S": "0"}, "at least 1"),
                                         ({"OPSGRAPH_QUEUE": "two words"}, "without spaces")])
def test_bad_broker_settings_are_clear_errors(tmp_path, env, needle):
    with pytest.raises(SettingsError, match=needle):
        make_settings(tmp_path / "h", **env)


def test_the_celery_app_redelivers_what_a_dead_worker_held(tmp_path):
    from opsgraph.workers import DRIVE_TASK, celery_app

    settings = make_settings(tmp_path / "h", OPSGRAPH_BROKER_URL="redis://127.0.0.1:6379/9",
                             OPSGRAPH_BROKER_VISIBILITY_TIMEOUT_S="12", OPSGRAPH_QUEUE="ops-test")
    app = celery_app(settings)
    conf = app.conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost, conf.worker_prefetch_multiplier) == (True, True, 1)
    assert conf.broker_transport_options["visibility_timeout"] == 12 and conf.task_default_queue == "ops-test"
    assert DRIVE_TASK in app.tasks and celery_app(settings) is not app  # built per call, never shared


# -- CLI wiring ------------------------------------------------------------------------------------

def test_worker_and_submit_without_a_broker_fail_with_one_line(tmp_path):
    home = tmp_path / "home"
    one_error_line(opsgraph(home, "worker"), "no broker configured: set OPSGRAPH_BROKER_URL")
    one_error_line(opsgraph(home, "run", GRAPH, "--shipment", "SH-0001", "--delay-days", "5", "--submit"),
                   "no broker configured")
    one_error_line(opsgraph(home, "runs", "resume", "supply-x", "--approve", "--submit"), "no broker configured")
    assert json.loads(opsgraph(home, "runs", "list", "--json").stdout) == []


def test_submit_to_an_unreachable_broker_registers_nothing(tmp_path):
    home = tmp_path / "home"
    proc = opsgraph(home, "run", GRAPH, "--shipment", "SH-0001", "--delay-days", "5", "--submit",
                    OPSGRAPH_BROKER_URL="redis://127.0.0.1:1/0")
    one_error_line(proc, "cannot reach the broker at redis://127.0.0.1:1/0")
    assert json.loads(opsgraph(home, "runs", "list", "--json").stdout) == []


def test_submit_prints_the_thread_registers_it_queued_and_enqueues_it(tmp_path, redis_url):
    import redis

    home, queue = tmp_path / "home", f"opsgraph-test-{uuid.uuid4().hex[:8]}"
    env = {"OPSGRAPH_BROKER_URL": redis_url, "OPSGRAPH_QUEUE": queue}
    client = redis.Redis.from_url(redis_url)
    try:
        proc = opsgraph(home, "run", GRAPH, "--shipment", "SH-0001", "--delay-days", "5", "--submit", "--json", **env)
        assert proc.returncode == 0, proc.stderr
        thread = json.loads(proc.stdout)["thread_id"]
        listed = json.loads(opsgraph(home, "runs", "list", "--json").stdout)
        assert [(r["thread_id"], r["status"]) for r in listed] == [(thread, "queued")]
        messages = [json.loads(m) for m in client.lrange(queue, 0, -1)]
        assert [m["headers"]["task"] for m in messages] == ["opsgraph.drive"]
        args, kwargs, _ = json.loads(base64.b64decode(messages[0]["body"]))
        assert args == [] and kwargs["thread_id"] == thread and kwargs["kind"] == "start"
        plain = opsgraph(home, "run", "contract_review", "--contract", "CTR-1002", "--submit", **env)
        assert plain.returncode == 0 and "status: queued" in plain.stdout, plain.stderr
        assert client.llen(queue) == 2
        # A decision for a run that has not reached its approval yet is refused at once, nothing queued.
        one_error_line(opsgraph(home, "runs", "resume", thread, "--approve", "--submit", **env),
                       f"thread {thread} has no pending approval to decide")
        resumed = opsgraph(home, "runs", "resume", thread, "--submit", "--json", **env)
        assert resumed.returncode == 0 and json.loads(resumed.stdout)["thread_id"] == thread, resumed.stderr
        _, kwargs, _ = json.loads(base64.b64decode(json.loads(client.lindex(queue, 0))["body"]))
        assert client.llen(queue) == 3 and (kwargs["thread_id"], kwargs["kind"]) == (thread, "resume")
    finally:
        client.close()
        forget_queue(redis_url, queue)


# -- what a task does with a thread (in-process, SQLite) --------------------------------------------

@pytest.fixture
def home_settings(tmp_path):
    return make_settings(tmp_path / "home")


def _register(settings, graph_input, status="queued") -> str:
    with open_runner(settings, with_knowledge=False) as runner:
        return runner.register(GRAPH, graph_input, status=status)[0]


def test_a_start_task_runs_the_registered_input_and_a_second_delivery_writes_nothing(home_settings):
    thread = _register(home_settings, NO_APPROVAL)
    assert drive(home_settings, Job(thread), **LIGHT) == "completed"
    with open_runner(home_settings, with_knowledge=False) as runner:
        events, writes = _keys(runner, thread), _writes(runner)
        assert writes and any(k.startswith("tool_call|") for k in events)
    assert drive(home_settings, Job(thread), again=True, **LIGHT) == "completed"
    with open_runner(home_settings, with_knowledge=False) as runner:
        assert _keys(runner, thread) == events and _writes(runner) == writes
        assert [e.result["pid"] for e in runner.context.audit.events(thread, "task_started")] == [os.getpid()] * 2


def test_a_task_delivered_again_continues_from_the_last_checkpoint(home_settings, tmp_path):
    # The same run done in one go, in another data home, is what the interrupted one must end as.
    reference = make_settings(tmp_path / "reference")
    ref_thread = "supply-redeliver"
    with open_runner(reference, with_knowledge=False) as runner:
        runner.register(GRAPH, NO_APPROVAL, ref_thread, status="queued")
    assert drive(reference, Job(ref_thread), **LIGHT) == "completed"
    with open_runner(home_settings, with_knowledge=False) as runner:
        runner.register(GRAPH, NO_APPROVAL, ref_thread, status="running")
        graph = runner.graph(GRAPH)
        # A worker that died after some steps: checkpoints up to the third step, status still "running".
        for step, _ in enumerate(graph.stream(NO_APPROVAL, runner.config(ref_thread), context=runner.context)):
            if step == 2:
                break
        assert graph.get_state(runner.config(ref_thread)).next
    assert drive(home_settings, Job(ref_thread), again=True, **LIGHT) == "completed"
    with open_runner(reference, with_knowledge=False) as done, open_runner(home_settings, with_knowledge=False) as again:
        assert sorted(_keys(again, ref_thread)) == sorted(_keys(done, ref_thread))
        assert sorted(_writes(again)) == sorted(_writes(done))
        assert again.status(ref_thread).report == done.status(ref_thread).report


def test_a_thread_another_worker_drives_makes_the_task_wait(home_settings):
    thread = _register(home_settings, NO_APPROVAL)
    with open_runner(home_settings, with_knowledge=False) as other, other.claims.lease(thread):
        with pytest.raises(ThreadBusyError):
            drive(home_settings, Job(thread), **LIGHT)
        assert other.context.audit.run(thread).status != "failed"  # the holder runs it; this task is retried
    assert drive(home_settings, Job(thread), **LIGHT) == "completed"


def test_submitted_approve_and_reject_one_wins_the_other_is_refused(home_settings):
    thread = _register(home_settings, NEEDS_APPROVAL)
    assert drive(home_settings, Job(thread), **LIGHT) == "awaiting_approval"
    with open_runner(home_settings, with_knowledge=False) as runner:
        expect = tuple(runner.graph(GRAPH).get_state(runner.config(thread)).interrupts[i].id for i in range(1))
    approve = Job(thread, {"decision": "approve", "by": "alice"}, expect=expect, kind="resume", submitted_by="alice")
    reject = Job(thread, {"decision": "reject", "by": "bob"}, expect=expect, kind="resume", submitted_by="bob")
    assert drive(home_settings, approve, **LIGHT) == "completed"
    assert drive(home_settings, reject, **LIGHT) == "refused"
    with open_runner(home_settings, with_knowledge=False) as runner:
        audit = runner.context.audit
        assert [(e.agent, e.result["decision"]) for e in audit.events(thread, "approval")] == [("alice", "approve")]
        refused = audit.events(thread, "task_refused")
        assert len(refused) == 1 and refused[0].agent == "bob"
        assert "already decided by alice at" in refused[0].result["reason"]
        assert len(audit.events(thread, "decision_refused")) == 1
        assert audit.run(thread).status == "completed"


def test_a_decision_recorded_before_the_worker_died_is_applied_not_refused(home_settings):
    thread = _register(home_settings, NEEDS_APPROVAL)
    assert drive(home_settings, Job(thread), **LIGHT) == "awaiting_approval"
    decision = {"decision": "reject", "reason": "over budget", "by": "carol"}
    with open_runner(home_settings, with_knowledge=False) as runner:
        interrupts = runner.graph(GRAPH).get_state(runner.config(thread)).interrupts
        from opsgraph.governance.approvals import parse_decision

        # The worker won the compare-and-set, then died before applying it.
        assert runner.claims.decide(thread, [i.id for i in interrupts], parse_decision(decision)).won
    job = Job(thread, decision, expect=tuple(i.id for i in interrupts), kind="resume", submitted_by="carol")
    assert drive(home_settings, job, again=True, **LIGHT) == "completed"
    with open_runner(home_settings, with_knowledge=False) as runner:
        audit = runner.context.audit
        assert [(e.agent, e.result["decision"]) for e in audit.events(thread, "approval")] == [("carol", "reject")]
        assert audit.events(thread, "task_refused") == [] and audit.events(thread, "decision_refused") == []
    # The same job delivered once more, now that the run finished, changes nothing.
    assert drive(home_settings, job, again=True, **LIGHT) == "completed"


def test_a_run_stopped_while_queued_is_not_started(home_settings):
    thread = _register(home_settings, NO_APPROVAL)
    with open_runner(home_settings, with_knowledge=False) as runner:
        runner.context.audit.request_stop(thread)
    assert drive(home_settings, Job(thread), **LIGHT) == "stopped"
    with open_runner(home_settings, with_knowledge=False) as runner:
        assert _writes(runner) == [] and runner.context.audit.run(thread).status == "stopped"
