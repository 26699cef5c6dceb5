"""Compile, start, resume and inspect runs of any graph id with the configured checkpointer.

Python users can use LangGraph directly::

    from opsgraph.runner import open_runner
    with open_runner() as runner:
        graph = runner.graph("supply_chain_exception")      # compiled, checkpointed
        config = {"configurable": {"thread_id": "t-1"}}
        graph.invoke({"event": {...}}, config, context=runner.context)

or the higher-level ``runner.start(...)`` / ``runner.resume(...)`` used by the CLI.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore
from langgraph.types import Command

from opsgraph.context import OpsContext, build_context
from opsgraph.errors import UserError
from opsgraph.failures import FailedRun, failure_reason
from opsgraph.governance.approvals import DecisionError, parse_decision
from opsgraph.governance.autonomy import AUTONOMY_THREAD
from opsgraph.governance.budgets import check_overrides
from opsgraph.governance.shadow import UNSUPPORTED_GRAPHS, open_scratch, scratch_path, shadow_context
from opsgraph.governance.claims import ClaimStore, Decided, SqliteClaimStore, open_claims
from opsgraph.persistence import open_checkpointer
from opsgraph.registry import get_entry
from opsgraph.settings import Settings, load_settings
from opsgraph.store import open_store

StepCallback = Callable[[str, dict[str, Any]], None]
RECURSION_LIMIT = 200
NEVER_STARTED = "never started: no checkpoint was saved; 'opsgraph runs resume' starts it again from its input"


@dataclass
class RunResult:
    """Where a run stands after it returned control."""

    thread_id: str
    graph_id: str
    status: str
    values: dict[str, Any] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None

    @property
    def report(self) -> dict[str, Any] | None:
        """The graph's final report, when it has one."""
        return self.values.get("report")


def compile_graph(graph_id: str, checkpointer: BaseCheckpointSaver | None = None,
                  store: BaseStore | None = None) -> CompiledStateGraph:
    """Compile the graph registered as ``graph_id`` with ``checkpointer`` and the cross-thread ``store``
    (nodes read it as ``runtime.store``)."""
    return get_entry(graph_id).builder().compile(checkpointer=checkpointer, store=store, name=graph_id)


def new_thread_id(graph_id: str) -> str:
    """A fresh thread id named after the graph, e.g. ``supply-1a2b3c4d``."""
    return f"{graph_id.split('_')[0]}-{uuid.uuid4().hex[:8]}"


class Runner:
    """Runs graphs under thread ids with one checkpointer and one run context.

    ``claims`` (thread claims, decisions, drive leases) must live in the checkpoints' database;
    ``open_runner`` arranges that, and opens the LangGraph ``store`` every graph is compiled
    with. Without them, in-memory ones serve in-memory checkpointers.
    """

    def __init__(self, checkpointer: BaseCheckpointSaver, context: OpsContext, claims: ClaimStore | None = None,
                 store: BaseStore | None = None):
        self.checkpointer, self.context = checkpointer, context
        self.claims = claims if claims is not None else SqliteClaimStore(":memory:")
        self.store = store if store is not None else InMemoryStore()
        self._graphs: dict[str, CompiledStateGraph] = {}
        self._shadow: dict[str, OpsContext] = {}

    def graph(self, graph_id: str) -> CompiledStateGraph:
        """Compiled, checkpointed graph for ``graph_id`` (cached)."""
        if graph_id not in self._graphs:
            self._graphs[graph_id] = compile_graph(graph_id, self.checkpointer, self.store)
        return self._graphs[graph_id]

    def make_input(self, graph_id: str, options: dict[str, Any]) -> dict[str, Any]:
        """Validated graph input from CLI-style options (raises UserError)."""
        return get_entry(graph_id).make_input(options, self.context.world)

    def start(self, graph_id: str, graph_input: dict[str, Any], thread_id: str | None = None,
              on_step: StepCallback | None = None, *, budget: dict[str, Any] | None = None,
              shadow: bool = False) -> RunResult:
        """Start a new run; ``thread_id`` must not exist yet. ``budget`` overrides policy caps for this run
        (``opsgraph.governance.budgets.budget_overrides`` builds it). ``shadow`` runs it on a scratch copy
        of the world with every write recorded as a proposal (``opsgraph.governance.shadow``)."""
        thread_id = thread_id or new_thread_id(graph_id)
        # Masked before anything stores it: the registry, the checkpoints and the first model call.
        graph_input = self.mask_input(thread_id, graph_input)
        thread_id, budget = self.register(graph_id, graph_input, thread_id, budget=budget, shadow=shadow)
        with self.claims.lease(thread_id):
            return self._begin(graph_id, thread_id, graph_input, on_step, budget)

    def register(self, graph_id: str, graph_input: dict[str, Any], thread_id: str | None = None, *,
                 budget: dict[str, Any] | None = None, status: str = "running",
                 shadow: bool = False) -> tuple[str, dict[str, Any] | None]:
        """Claim a thread for a new run and record its input without running a step; returns the
        thread id and the checked budget. ``resume(thread_id)`` later starts it from that input."""
        thread_id = thread_id or new_thread_id(graph_id)
        if budget:
            self._require_budget_field(graph_id)
            budget = check_overrides(budget, self.context.policy)
        graph_input = self.mask_input(thread_id, graph_input)
        if shadow and graph_id in UNSUPPORTED_GRAPHS:
            raise UserError(f"{graph_id} cannot run in shadow mode: its tools write to the retail database, "
                            "which has no scratch copy")
        self.claim_thread(thread_id, graph_id, get_entry(graph_id).title(graph_input), status=status, shadow=shadow)
        self._record_input(thread_id, graph_input, budget)
        return thread_id, budget

    def claim_thread(self, thread_id: str, graph_id: str, title: str | None, *, status: str = "running",
                     shadow: bool = False) -> None:
        """Take ``thread_id`` for a new run of ``graph_id`` (atomic in the database) and register it.

        Of two processes starting the same thread id, exactly one gets it; the other gets a UserError.
        """
        if thread_id == AUTONOMY_THREAD:
            raise UserError(f"thread id {thread_id!r} is reserved for autonomy changes; pick another id")
        if self.context.audit.run(thread_id) is not None or not self.claims.claim_thread(thread_id, graph_id):
            raise UserError(f"thread {thread_id!r} already exists; resume it or pick another id")
        self.context.audit.register_run(thread_id, graph_id, self.mask_input(thread_id, title), status, shadow=shadow)

    def context_for(self, thread_id: str) -> OpsContext:
        """The run context of ``thread_id``: a shadow run always gets its scratch world, whoever resumes it."""
        if thread_id in self._shadow:
            return self._shadow[thread_id]
        info = self.context.audit.run(thread_id)
        if info is None or not info.shadow:
            return self.context
        path = scratch_path(self.context.settings.data_home, thread_id)
        self._shadow[thread_id] = shadow_context(self.context, open_scratch(self.context.world, path))
        return self._shadow[thread_id]

    def close(self) -> None:
        """Close the scratch worlds of shadow runs this runner opened."""
        for context in self._shadow.values():
            context.world.close()
        self._shadow.clear()

    def mask_input(self, thread_id: str, value: Any) -> Any:
        """``value`` (a graph input, a title) with personal data masked, as checkpoints and the registry keep it.

        Masked before the run starts: LangGraph checkpoints a run's input as it came in.
        """
        privacy = getattr(self.context, "privacy", None)
        return value if privacy is None or value is None else privacy.mask(thread_id, value)

    def _begin(self, graph_id: str, thread_id: str, graph_input: dict[str, Any], on_step: StepCallback | None,
               budget: dict[str, Any] | None) -> RunResult:
        payload: Any = graph_input
        if budget:
            # Input schemas carry only the graph's inputs, so the caps are written to state
            # after the input is in and before the first node runs.
            for _ in self.graph(graph_id).stream(graph_input, self.config(thread_id),
                                                 context=self.context_for(thread_id), interrupt_before="*"):
                pass
            payload = Command(update={"budget": budget})
        return self._drive(graph_id, thread_id, payload, on_step)

    def resume(self, thread_id: str, decision: Any = None, on_step: StepCallback | None = None, *,
               budget: dict[str, Any] | None = None) -> RunResult:
        """Continue a thread: answer its pending approval, raise a spent budget (``budget``),
        or carry on after a crash or a stop (kill switch).

        A decision is a compare-and-set on the pending approval in the database: of two
        concurrent decisions exactly one is applied, the other gets "already decided by ...".
        """
        info = self._require(thread_id)
        snapshot = self.graph(info.graph_id).get_state(self.config(thread_id))
        if snapshot.created_at is None:
            return self._start_again(info, decision, budget, on_step)
        decision = self._check_resume(thread_id, snapshot, decision, budget)
        if budget:
            self._require_budget_field(info.graph_id)
            budget = check_overrides(budget, self.context.policy)
        answers = self.claim_decision(thread_id, snapshot, decision)
        with self.driving(thread_id, expect=list(answers)):
            snapshot = self.graph(info.graph_id).get_state(self.config(thread_id))
            return self._resume_held(info.graph_id, thread_id, snapshot, answers, budget, on_step)

    def _resume_held(self, graph_id: str, thread_id: str, snapshot: Any, answers: dict[str, Any],
                     budget: dict[str, Any] | None, on_step: StepCallback | None) -> RunResult:
        """The part of ``resume`` that runs while this process holds the thread's drive lease."""
        self.context.audit.request_stop(thread_id, False)
        self.context.audit.set_status(thread_id, "running")
        if budget:
            self.context.audit.record(thread_id, f"budget_raised:{uuid.uuid4().hex[:12]}", "budget_raised",
                                      name="budget", args=budget)
        update = {"budget": budget} if budget else None
        if snapshot.interrupts:
            command = _answer(snapshot.interrupts, answers, budget, update)
            return self._drive(graph_id, thread_id, command, on_step)
        config = _before_stop(self.graph(graph_id), snapshot, self.config(thread_id))
        command = Command(update=update) if update else None
        return self._drive(graph_id, thread_id, command, on_step, config=config)

    def claim_decision(self, thread_id: str, snapshot: Any, decision: dict[str, Any] | None) -> dict[str, Any]:
        """Record ``decision`` for the thread's pending approvals; returns it per interrupt id.

        The database insert decides the winner. A loser gets a UserError naming the winner and
        nothing of its decision is applied; the attempt is audited as ``decision_refused``, never
        as a decision. With ``decision=None`` a decision already recorded for the pending
        approvals (its process stopped before applying it) is returned, so it can be applied.
        """
        ids = [i.id for i in snapshot.interrupts if not _is_budget(i.value)]
        if not ids:
            return {}
        if decision is None:
            recorded = [self.claims.decision(thread_id, interrupt_id) for interrupt_id in ids]
            if all(recorded):
                return {r.interrupt_id: r.decision for r in recorded if r is not None}
            raise UserError(f"thread {thread_id} is waiting for approval; resume with --approve, --reject or --edit")
        outcome = self.claims.decide(thread_id, ids, decision)
        if not outcome.won:
            raise self.refuse_decision(thread_id, decision, outcome, f"thread {thread_id}: ")
        return {interrupt_id: decision for interrupt_id in ids}

    def refuse_decision(self, thread_id: str, decision: Any, winner: Decided, lead: str) -> UserError:
        """Audit a decision that lost to ``winner`` (never as a decision); returns the one line its author gets."""
        by = decision.get("by") if isinstance(decision, dict) else None
        self.context.audit.record(thread_id, f"decision_refused:{uuid.uuid4().hex[:12]}", "decision_refused",
                                  agent=str(by or "operator"), args=decision, ok=False,
                                  result={"decided_by": winner.by, "decided_at": winner.at})
        return UserError(f"{lead}{winner.refusal()}")

    @contextmanager
    def driving(self, thread_id: str, expect: list[str] | None = None) -> Iterator[None]:
        """Hold the thread's drive lease: no other process runs its steps meanwhile (ThreadBusyError).

        ``expect`` lists interrupt ids that must still be pending once the lease is held; a
        decision whose approval was answered meanwhile is refused instead of applied twice.
        """
        with self.claims.lease(thread_id):
            if expect:
                info = self._require(thread_id)
                pending = {i.id for i in self.graph(info.graph_id).get_state(self.config(thread_id)).interrupts}
                if not set(expect) <= pending:
                    last = self.claims.last_decision(thread_id)
                    raise UserError(f"thread {thread_id}: " + (last.refusal() if last else "approval already answered"))
            yield

    def _check_resume(self, thread_id: str, snapshot: Any, decision: Any, budget: dict[str, Any] | None) -> Any:
        pending = [i.value for i in snapshot.interrupts]
        approvals = [p for p in pending if not _is_budget(p)]
        for paused in filter(_is_budget, pending):
            _check_raise(thread_id, paused, budget or {})
        if not approvals and decision is not None:
            last = self.claims.last_decision(thread_id)
            if last is not None:
                raise self.refuse_decision(thread_id, decision, last, f"thread {thread_id} has no pending approval: ")
            raise UserError(f"thread {thread_id} has no pending approval to decide")
        if budget and not snapshot.next and not snapshot.values.get("stop_reason"):
            raise UserError(f"thread {thread_id} has finished; there is no run left to give a budget")
        if decision is None:
            return None
        try:
            return parse_decision(decision)
        except DecisionError as exc:
            raise UserError(str(exc)) from None

    def _require_budget_field(self, graph_id: str) -> None:
        if "budget" not in self.graph(graph_id).channels:
            raise UserError(f"graph {graph_id} keeps no per-run budget in its state; set caps in policy.yaml")

    def status(self, thread_id: str) -> RunResult:
        """Current status of a thread without running anything."""
        info = self._require(thread_id)
        return self._result(info.graph_id, thread_id)

    def pending(self, thread_id: str) -> list[dict[str, Any]]:
        """Interrupt payloads the thread is waiting on."""
        info = self._require(thread_id)
        snapshot = self.graph(info.graph_id).get_state(self.config(thread_id))
        return [i.value for i in snapshot.interrupts]

    def config(self, thread_id: str) -> dict[str, Any]:
        """LangGraph config for a thread."""
        return {"configurable": {"thread_id": thread_id}, "recursion_limit": RECURSION_LIMIT}

    def _require(self, thread_id: str):
        info = self.context.audit.run(thread_id)
        if info is None:
            raise UserError(f"no run with thread id {thread_id!r}; see 'opsgraph runs list'")
        return info

    def _drive(self, graph_id: str, thread_id: str, payload: Any, on_step: StepCallback | None,
               config: dict[str, Any] | None = None) -> RunResult:
        graph = self.graph(graph_id)
        config = config or self.config(thread_id)
        try:
            with tracing(self.context.settings, graph_id, thread_id, getattr(self.context, "privacy", None)):
                for update in graph.stream(payload, config, context=self.context_for(thread_id),
                                           stream_mode="updates"):
                    for node, data in update.items():
                        if on_step:
                            on_step(node, data if isinstance(data, dict) else {"value": data})
        except KeyboardInterrupt:
            self.stopped_by_operator(thread_id, "interrupted by the operator")
            raise
        except UserError as exc:
            self._mark(thread_id, "failed", str(exc))
            raise
        except Exception as exc:  # noqa: BLE001 - every other failure ends the run failed, with its reason
            failed = self._fail(thread_id, exc)
            # A run that can be resumed has not ended: its episode is written when it does (else the
            # resumed run would recall its own first half).
            self._remember(graph_id, thread_id, "failed" if not failed.resumable else "paused")
            raise failed from exc
        except BaseException:  # SystemExit and the like: the process goes away mid-run
            reason = "the process was stopped mid-run"
            self._mark(thread_id, "failed", reason, event={"reason": reason, "resumable": True, "agent": None})
            raise
        result = self._result(graph_id, thread_id)
        self._remember(graph_id, thread_id, result.status, result.values)
        return result

    def _remember(self, graph_id: str, thread_id: str, status: str, values: dict[str, Any] | None = None) -> None:
        """Lessons of decided approvals, and the episode of an ended run (see opsgraph.memory.hooks).

        A shadow run changed nothing real: it teaches nothing and is not an episode.
        """
        if self.context.memory is None or getattr(self.context_for(thread_id), "shadow", False):
            return
        from opsgraph.memory.hooks import remember_run

        try:
            if values is None:
                values = dict(self.graph(graph_id).get_state(self.config(thread_id)).values)
            remember_run(self.context.memory, graph_id, thread_id, status, values)
        except Exception as exc:  # noqa: BLE001 - memory is advice: a failed write must not change the run's outcome
            self.context.audit.record(thread_id, f"memory_error:{uuid.uuid4().hex[:12]}", "memory_error",
                                      agent="memory", result={"error": f"{type(exc).__name__}: {exc}"}, ok=False)

    def _fail(self, thread_id: str, exc: Exception) -> FailedRun:
        """Record why the run failed (registry and audit) and return the error to raise."""
        reason = failure_reason(exc)
        resumable = getattr(exc, "resumable", True)
        agent = getattr(exc, "agent", None)
        self._mark(thread_id, "failed", reason, event={"reason": reason, "resumable": resumable, "agent": agent})
        return FailedRun(thread_id, reason, agent=agent, resumable=resumable)

    def stopped_by_operator(self, thread_id: str, reason: str) -> None:
        """Record that the operator stopped the run mid-way (Ctrl-C): status ``interrupted`` with
        ``reason`` and a ``run_interrupted`` audit event; ``runs resume`` carries on from the last step."""
        self._mark(thread_id, "interrupted", reason, event={"reason": reason, "resumable": True, "agent": None})

    def _mark(self, thread_id: str, status: str, reason: str, event: dict[str, Any] | None = None) -> None:
        # The failure may be the audit store itself; the original error matters more than this record.
        try:
            self.context.audit.set_status(thread_id, status, reason)
            if event is not None:
                kind = "run_interrupted" if status == "interrupted" else "run_failed"
                self.context.audit.record(thread_id, f"{kind}:{uuid.uuid4().hex[:12]}", kind,
                                          agent=event.get("agent"), result=event, ok=False)
        except Exception:  # noqa: BLE001
            pass

    def _record_input(self, thread_id: str, graph_input: dict[str, Any], budget: dict[str, Any] | None) -> None:
        """Keep the run's input with its registry row, so a run that dies before its first checkpoint
        can start again."""
        try:
            recorded: tuple[str, bytes] | None = JsonPlusSerializer().dumps_typed(
                {"input": graph_input, "budget": budget})
        except (TypeError, ValueError):  # an input the checkpoint serializer cannot store either
            return
        self.context.audit.record_start_input(thread_id, recorded)

    def _start_again(self, info: Any, decision: Any, budget: dict[str, Any] | None,
                     on_step: StepCallback | None) -> RunResult:
        """Resume of a run with no checkpoint: start it again from the input recorded at registration."""
        thread_id = info.thread_id
        if decision is not None:
            raise UserError(f"thread {thread_id} has no pending approval to decide")
        recorded = self.context.audit.start_input(thread_id)
        if recorded is None:
            reason = "never started and no input was recorded for it; start a new run"
            self._mark(thread_id, "failed", reason)
            raise FailedRun(thread_id, reason, resumable=False)
        saved = JsonPlusSerializer().loads_typed(recorded)
        if budget:
            self._require_budget_field(info.graph_id)
        self.context.audit.request_stop(thread_id, False)
        self.context.audit.set_status(thread_id, "running")
        with self.claims.lease(thread_id):
            return self._begin(info.graph_id, thread_id, saved["input"], on_step, budget or saved["budget"])

    def _result(self, graph_id: str, thread_id: str) -> RunResult:
        snapshot = self.graph(graph_id).get_state(self.config(thread_id))
        if snapshot.created_at is None:
            # Killed before its first checkpoint, or its checkpoints were lost: nothing was done.
            self.context.audit.set_status(thread_id, "failed", NEVER_STARTED)
            return RunResult(thread_id, graph_id, "failed", reason=NEVER_STARTED)
        pending = [i.value for i in snapshot.interrupts]
        values = dict(snapshot.values)
        # A process killed after a step's writes but before its checkpoint leaves ``next`` empty while
        # the step's task is still due: only a snapshot without tasks has really finished.
        due = tuple(snapshot.next) or tuple(task.name for task in snapshot.tasks)
        status, reason = _status(due, pending, values), None
        info = self.context.audit.run(thread_id)
        if status == "interrupted" and info is not None and info.status == "failed":
            # A run that failed mid-way stays failed, with its reason, until it is resumed.
            status, reason = "failed", info.reason
        self.context.audit.set_status(thread_id, status, reason)
        return RunResult(thread_id, graph_id, status, values, pending, reason)


def tracing(settings: Settings, graph_id: str, thread_id: str, privacy: Any = None):
    """LangSmith tracing on only when a key is configured; otherwise off, whatever the environment says.

    With ``privacy`` (the run's PII masker) every traced input and output is masked before it
    leaves the process: tool runs see real values, their traces do not.
    """
    from langsmith import Client, tracing_context

    if not settings.langsmith_enabled:
        return tracing_context(enabled=False)
    client = None
    if privacy is not None:
        def redact(data: dict) -> dict:
            return privacy.mask(thread_id, data)

        client = Client(hide_inputs=redact, hide_outputs=redact)
    return tracing_context(enabled=True, project_name=settings.langsmith_project, client=client,
                           metadata={"graph_id": graph_id, "thread_id": thread_id})


def _is_budget(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("type") == "budget"


def _check_raise(thread_id: str, paused: dict[str, Any], budget: dict[str, Any]) -> None:
    """Every spent cap must be raised above what was spent, or the run would pause again at once."""
    for cap in paused.get("exhausted", []):
        source = budget if cap["scope"] == "run" else (budget.get("agents") or {}).get(cap["agent"], {})
        new = source.get("max_usd" if cap["metric"] == "usd" else "max_tokens")
        if new is None or new <= cap["spent"]:
            option = next(o for o in paused["options"] if o.startswith(_FLAGS[cap["scope"], cap["metric"]]))
            spent = f"${cap['spent']:.4f}" if cap["metric"] == "usd" else f"{int(cap['spent']):,} tokens"
            raise UserError(f"thread {thread_id} is paused: {paused['message']}; "
                            f"resume with {option} above {spent}")


_FLAGS = {("run", "usd"): "--budget-usd", ("run", "tokens"): "--max-tokens",
          ("agent", "usd"): "--agent-budget-usd", ("agent", "tokens"): "--agent-max-tokens"}


def _answer(interrupts: tuple, answers: dict[str, Any], budget: dict[str, Any] | None,
            update: dict | None) -> Command:
    """Resume command for the pending interrupts: budget pauses get the new caps, approvals their decision."""
    values = {i.id: (budget if _is_budget(i.value) else answers.get(i.id)) for i in interrupts}
    resume = next(iter(values.values())) if len(values) == 1 else values
    return Command(resume=resume, update=update) if update else Command(resume=resume)


def _before_stop(graph: CompiledStateGraph, snapshot: Any, config: dict[str, Any]) -> dict[str, Any]:
    """Where to carry on: for a run the kill switch (or a limit) ended, the checkpoint just before
    the step that stopped it, so resuming re-runs that step with messages and actions intact."""
    if snapshot.next or not snapshot.values.get("stop_reason"):
        return config
    for earlier in graph.get_state_history(config):
        if earlier.next and not earlier.values.get("stop_reason"):
            return {**earlier.config, "recursion_limit": RECURSION_LIMIT}
    return config


def _status(next_nodes: tuple, pending: list, values: dict) -> str:
    if any(_is_budget(p) for p in pending):
        return "budget_exhausted"
    if pending:
        return "awaiting_approval"
    if next_nodes:
        return "interrupted"
    report = values.get("report") or {}
    return "stopped" if report.get("outcome") == "stopped" else "completed"


@contextmanager
def open_runner(settings: Settings | None = None, **context_options: Any) -> Iterator[Runner]:
    """A Runner with the configured checkpointer, claim store and LangGraph store and a fresh run
    context; closes them all after."""
    settings = settings or load_settings()
    context = build_context(settings, **context_options)
    claims: ClaimStore | None = None
    runner: Runner | None = None
    try:
        with open_checkpointer(settings.effective_checkpoint_url) as saver, open_store(settings) as store:
            claims = open_claims(settings.effective_checkpoint_url)
            runner = Runner(saver, context, claims, store)
            yield runner
    finally:
        if runner is not None:
            runner.close()
        if claims is not None:
            claims.close()
        if context.memory is not None:
            from opsgraph.memory import close_memory

            close_memory(context.memory)
        context.audit.close()
        if context.privacy is not None:
            context.privacy.vault.close()
        if hasattr(context.world, "close"):
            context.world.close()
