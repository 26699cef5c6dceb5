"""Runs on Celery workers: ``--submit`` enqueues a run or a resume, ``opsgraph worker`` drives it.

A task carries a thread id and what to do with it (start, or answer what the thread waits
for); the worker builds its own settings and run context and drives the thread through the
same :class:`~opsgraph.runner.Runner` as the CLI, so claims, decisions, leases, audit and
idempotency keys behave exactly as in-process.

Delivery: tasks are acknowledged only after they returned (``acks_late``), one at a time per
worker process (prefetch 1), and given back to the broker when a worker process dies. A
worker killed whole leaves its task unacknowledged; the broker hands it to another worker
once its visibility timeout has passed. A task delivered again continues the thread from its
last checkpoint: connector writes carry idempotency keys derived from the thread and audit
events keys unique per thread, so replayed steps write nothing twice. While another live
worker holds the thread's drive lease, the task is retried later instead of failing the run.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from opsgraph.errors import UserError
from opsgraph.failures import FailedRun
from opsgraph.governance.approvals import DecisionError, parse_decision
from opsgraph.governance.claims import ThreadBusyError
from opsgraph.settings import Settings, load_settings

DRIVE_TASK = "opsgraph.drive"
# A thread another worker is driving is tried again after BUSY_RETRY_S * 2**n seconds (at most
# BUSY_RETRY_MAX_S), BUSY_RETRIES times: about an hour, far longer than any run holds its lease.
BUSY_RETRY_S, BUSY_RETRY_MAX_S, BUSY_RETRIES = 1.0, 10.0, 400
# Registry statuses a resume may be queued over: the run is at rest, nobody drives it.
AT_REST = ("awaiting_approval", "budget_exhausted", "failed", "interrupted", "stopped")
# How long a submit waits for the broker before it says it cannot reach it.
BROKER_WAIT_S = 5.0


@dataclass(frozen=True)
class Job:
    """What a task does with a thread: start it (no decision, no budget) or answer what it waits for.

    ``expect`` names the interrupts pending when the resume was submitted: a decision answers
    those approvals only, never a later one the submitter has not seen.
    """

    thread_id: str
    decision: dict[str, Any] | None = None
    budget: dict[str, Any] | None = None
    expect: tuple[str, ...] = ()
    routing: str = "routed"
    max_steps: int | None = None
    submitted_by: str = field(default="operator")
    # "start" runs a registered thread from its input; "resume" is ``opsgraph runs resume``.
    kind: str = "start"

    def message(self) -> dict[str, Any]:
        """The task's JSON arguments."""
        return {**asdict(self), "expect": list(self.expect)}


def require_broker(settings: Settings) -> str:
    """The broker URL, or a UserError saying how to configure one."""
    if not settings.broker_url:
        raise UserError("no broker configured: set OPSGRAPH_BROKER_URL (e.g. redis://127.0.0.1:6379/0) "
                        "to submit runs or start a worker")
    return settings.broker_url


def celery_app(settings: Settings) -> Any:
    """A Celery app for ``settings``' broker and queue, with the opsgraph task registered on it."""
    broker = require_broker(settings)
    try:
        from celery import Celery
    except ImportError:
        raise UserError("Celery is not installed: pip install 'opsgraph[workers]'") from None
    app = Celery("opsgraph", broker=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=_transport_options(settings.broker_visibility_timeout_s),
        task_default_queue=settings.queue,
        task_ignore_result=True,  # outcomes live in the run registry and the audit trail
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        enable_utc=True,
    )
    services = WorkerServices()

    def drive_task(task: Any, **message: Any) -> str:
        return _drive_task(task, services, message)

    app.task(name=DRIVE_TASK, bind=True, max_retries=BUSY_RETRIES)(drive_task)
    return app


def _transport_options(visibility_timeout_s: int) -> dict[str, Any]:
    """Redis broker options: unacknowledged tasks come back after ``visibility_timeout_s``.

    Kombu looks for such tasks every ``interval * throttle`` seconds (100 s by default); a
    sweep every few seconds (one Redis query) makes a dead worker's runs resume soon after
    their timeout instead of up to 100 s later. RabbitMQ ignores these: it redelivers as soon
    as the dead worker's connection closes.
    """
    interval = max(1, min(10, visibility_timeout_s // 4))
    return {"visibility_timeout": visibility_timeout_s, "unacked_restore_interval": interval,
            "unacked_restore_throttle": 1}


class WorkerServices:
    """What a worker process keeps between tasks: the knowledge retriever, whose embedding model
    takes seconds to load. Everything else (settings, stores, connectors) is opened per task."""

    def __init__(self) -> None:
        self._retriever: Any = None
        self._key: tuple | None = None

    def context_options(self, settings: Settings) -> dict[str, Any]:
        """Run-context options for a task of this process."""
        # Pool processes are forked from the worker: each opens its own, keyed by process and settings.
        key = (os.getpid(), settings.chroma_url, str(settings.data_home), str(settings.knowledge_path),
               settings.embedding, str(settings.policy_path))
        if key != self._key:
            from opsgraph.governance.policy import load_policy
            from opsgraph.knowledge.retrieval import Retriever

            self._retriever, self._key = Retriever(settings, load_policy(settings.policy_path)), key
        return {"retriever": self._retriever}


def _drive_task(task: Any, services: WorkerServices, message: dict[str, Any]) -> str:
    """Celery task body: drive one thread with settings read inside this worker."""
    job = Job(**{**message, "expect": tuple(message.get("expect") or ())})
    delivery = task.request
    again = bool(delivery.retries) or bool((delivery.delivery_info or {}).get("redelivered"))
    settings = load_settings()
    try:
        return drive(settings, job, again=again, task_id=str(delivery.id), **services.context_options(settings))
    except ThreadBusyError as exc:
        if delivery.retries >= BUSY_RETRIES:
            _record_refusal(load_settings(), job, f"gave up waiting for the thread: {exc}")
            return "refused"
        raise task.retry(countdown=min(BUSY_RETRY_S * 2 ** delivery.retries, BUSY_RETRY_MAX_S)) from None
    except Exception as exc:  # noqa: BLE001 - e.g. the database is down: say so on the run, not only in a log
        _record_refusal(settings, job, f"the worker could not run it: {_first_line(exc)}", fail_queued=True)
        raise


def drive(settings: Settings, job: Job, *, again: bool = False, task_id: str = "", **context_options: Any) -> str:
    """Carry ``job`` out in this process; returns the thread's status (``refused`` when the job was refused).

    ``again`` says the job may have run before (delivered again, or retried): a decision
    identical to the recorded one is then this job's own, applied rather than refused.
    ``context_options`` go to the run context (a worker passes its process's retriever).
    Raises ThreadBusyError when another live process drives the thread.
    """
    from opsgraph.runner import open_runner

    with open_runner(settings, routing=job.routing, max_steps=job.max_steps, **context_options) as runner:
        runner.context.audit.record(job.thread_id, f"task_started:{uuid.uuid4().hex[:12]}", "task_started",
                                    agent="worker", name=DRIVE_TASK, args={"task_id": task_id, "again": again},
                                    result={"host": socket.gethostname(), "pid": os.getpid()})
        try:
            return _advance(runner, job, again)
        except ThreadBusyError:
            raise
        except FailedRun:
            return "failed"  # the runner recorded the reason with the run
        except UserError as exc:
            _refuse(runner, job, str(exc))
            return "refused"


def _advance(runner: Any, job: Job, again: bool) -> str:
    info = runner.context.audit.run(job.thread_id)
    if info is None:
        raise UserError(f"no run with thread id {job.thread_id!r}")
    snapshot = runner.graph(info.graph_id).get_state(runner.config(job.thread_id))
    if job.decision is None and job.budget is None:
        if job.kind == "resume" and not again:  # carry on after a crash or a stop, as the CLI does
            return runner.resume(job.thread_id).status
        return _carry_on(runner, info, snapshot)
    return _answer(runner, info, snapshot, job, again)


def _carry_on(runner: Any, info: Any, snapshot: Any) -> str:
    """A start, or a job delivered again: run from the last checkpoint if the run was in flight."""
    thread_id = info.thread_id
    if snapshot.created_at is None:
        if runner.context.audit.stop_requested(thread_id):
            runner.context.audit.set_status(thread_id, "stopped", "stopped before a worker started it")
            return "stopped"
        return runner.resume(thread_id).status
    # ``tasks``, not ``next``: a worker killed after a step's writes were saved but before the
    # step's checkpoint leaves tasks whose writes are in, which ``next`` no longer lists.
    in_flight = snapshot.tasks and not snapshot.interrupts and info.status in ("queued", "running")
    if in_flight and not runner.context.audit.stop_requested(thread_id):
        return runner.resume(thread_id).status
    # Paused for a human, finished, or stopped: nothing to run. The registry may lag the
    # checkpoint if a worker died in between, so it is brought up to date under the lease.
    with runner.driving(thread_id):
        return runner.status(thread_id).status


def _answer(runner: Any, info: Any, snapshot: Any, job: Job, again: bool) -> str:
    """Apply the job's decision (or raised budget) to the interrupts it was submitted for."""
    thread_id = info.thread_id
    pending = {i.id for i in snapshot.interrupts}
    recorded = [runner.claims.decision(thread_id, i) for i in job.expect]
    mine = again and (job.decision is None or all(r and r.decision == _parsed(job.decision) for r in recorded))
    if job.expect and not set(job.expect) <= pending:
        if mine:  # this job's decision was applied before its worker was lost: carry on from there
            return _carry_on(runner, info, snapshot)
        winner = next((r for r in recorded if r is not None), None)
        if winner is not None and job.decision is not None:
            raise runner.refuse_decision(thread_id, job.decision, winner, f"thread {thread_id}: ")
        raise UserError(f"thread {thread_id}: what this resume answered is no longer pending")
    if mine:  # recorded by this job, not yet applied: resuming with no decision applies the recorded one
        return runner.resume(thread_id, None, budget=job.budget).status
    return runner.resume(thread_id, job.decision, budget=job.budget).status


def _parsed(decision: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return parse_decision(decision)
    except DecisionError:
        return None


def _refuse(runner: Any, job: Job, line: str) -> None:
    """Record why a job was refused; a registry row left ``queued`` by its submit is set back from the checkpoint."""
    audit = runner.context.audit
    audit.record(job.thread_id, f"task_refused:{uuid.uuid4().hex[:12]}", "task_refused", agent=job.submitted_by,
                 name=DRIVE_TASK, args={"decision": job.decision, "budget": job.budget}, ok=False,
                 result={"reason": line})
    info = audit.run(job.thread_id)
    if info is None or info.status != "queued":
        return
    try:
        with runner.driving(job.thread_id):
            runner.status(job.thread_id)
    except UserError:  # someone else is driving it now and will set its status
        pass


def _record_refusal(settings: Settings, job: Job, line: str, *, fail_queued: bool = False) -> None:
    """Record ``line`` on the run without a runner; a run still ``queued`` is marked failed with it when asked.

    Best effort: when even the audit store cannot be opened, the worker's log has the error.
    """
    from opsgraph.governance.audit import open_audit_store

    try:
        audit = open_audit_store(settings)
    except Exception:  # noqa: BLE001
        return
    try:
        audit.record(job.thread_id, f"task_refused:{uuid.uuid4().hex[:12]}", "task_refused", agent=job.submitted_by,
                     name=DRIVE_TASK, ok=False, result={"reason": line})
        info = audit.run(job.thread_id)
        if fail_queued and info is not None and info.status == "queued":
            audit.set_status(job.thread_id, "failed", f"{line}; resume it with 'opsgraph runs resume {job.thread_id}'")
    except Exception:  # noqa: BLE001
        pass
    finally:
        audit.close()


def submit_run(runner: Any, app: Any, graph_id: str, graph_input: dict[str, Any], *, thread_id: str | None = None,
               budget: dict[str, Any] | None = None, routing: str = "routed", max_steps: int | None = None) -> str:
    """Register a new run as ``queued`` and enqueue it; returns its thread id."""
    check_broker(app)
    thread_id, _ = runner.register(graph_id, graph_input, thread_id, budget=budget, status="queued")
    if runner.context.audit.start_input(thread_id) is None:
        runner.context.audit.set_status(thread_id, "failed", "its input cannot be stored for a worker")
        raise UserError(f"run {thread_id}: its input cannot be stored for a worker; run it without --submit")
    _send(runner, app, Job(thread_id, routing=routing, max_steps=max_steps))
    return thread_id


def submit_resume(runner: Any, app: Any, thread_id: str, decision: dict[str, Any] | None = None,
                  budget: dict[str, Any] | None = None) -> str:
    """Enqueue ``opsgraph runs resume`` of ``thread_id`` (decide an approval, raise a budget, carry on).

    What can be checked without running is checked here; the decision itself is a
    compare-and-set made by the worker, so of two submitted decisions exactly one is applied.
    """
    check_broker(app)
    info = runner.context.audit.run(thread_id)
    if info is None:
        raise UserError(f"no run with thread id {thread_id!r}; see 'opsgraph runs list'")
    interrupts = runner.graph(info.graph_id).get_state(runner.config(thread_id)).interrupts
    if decision is not None:
        _check_decision(thread_id, decision, interrupts)
    expect = tuple(i.id for i in interrupts) if decision is not None or budget else ()
    if info.status in AT_REST:
        runner.context.audit.set_status(thread_id, "queued")
    by = str(decision.get("by") or "operator") if decision else "operator"
    _send(runner, app, Job(thread_id, decision=decision, budget=budget, expect=expect, submitted_by=by, kind="resume"))
    return thread_id


def _check_decision(thread_id: str, decision: dict[str, Any], interrupts: Any) -> None:
    try:
        parse_decision(decision)
    except DecisionError as exc:
        raise UserError(str(exc)) from None
    if not any(not _is_budget(i.value) for i in interrupts):
        raise UserError(f"thread {thread_id} has no pending approval to decide")


def _is_budget(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("type") == "budget"


def check_broker(app: Any) -> None:
    """A UserError when the broker cannot be reached (so nothing is registered for a queue nobody reads)."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=BROKER_WAIT_S)
    except Exception as exc:  # noqa: BLE001 - any transport error means the same thing to the user
        raise UserError(f"cannot reach the broker at {_masked(app)}: {_first_line(exc)}") from None


def _send(runner: Any, app: Any, job: Job) -> None:
    try:
        app.send_task(DRIVE_TASK, kwargs=job.message(), retry=True,
                      retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5})
    except Exception as exc:  # noqa: BLE001 - the run must not stay "queued" on a queue that never got it
        runner.context.audit.set_status(job.thread_id, "failed", f"could not be queued: {_first_line(exc)}")
        raise UserError(f"run {job.thread_id} could not be queued at {_masked(app)}: {_first_line(exc)}") from None


def _masked(app: Any) -> str:
    from opsgraph.settings import mask_url

    return mask_url(str(app.conf.broker_url))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
