"""One operator's chat: the current graph and thread, how a typed line becomes a turn, and runs.

Turn logic works for any registered graph:

- a new thread starts with ``entry.chat_input(text, world)`` (or ``{"messages": [text]}``);
- on an existing thread, graphs whose input is just ``messages`` get the line as a new
  ``HumanMessage`` turn; other graphs (e.g. ``supply_chain_exception``) start a new thread;
- a thread waiting on an approval takes /approve, /reject or /edit; a thread waiting on a
  question takes the typed line as the answer; a stopped run continues with /resume.

The runner (LangGraph, checkpointer, connectors, Chroma) loads in a background thread so
the prompt appears at once; the first command that needs it waits for it.
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, Callable

from rich.console import Console
from rich.markup import escape

from opsgraph.cli.chat_signals import sigint_stops_run
from opsgraph.cli.chat_stream import TurnPrinter, message_text
from opsgraph.cli.chat_view import print_any_report, print_approval, print_citations
from opsgraph.errors import UserError
from opsgraph.registry import connector_errors_as_user_errors, get_entry
from opsgraph.settings import Settings

if TYPE_CHECKING:
    from opsgraph.runner import Runner


def new_thread_id(graph_id: str) -> str:
    """A fresh thread id in the same style as ``opsgraph run``."""
    return f"{graph_id.split('_')[0]}-{uuid.uuid4().hex[:8]}"


def accepts_messages(graph: Any) -> bool:
    """True when the graph's input needs nothing but ``messages`` (a conversation can go on)."""
    schema = getattr(getattr(graph, "builder", None), "input_schema", None)
    annotations = dict(getattr(schema, "__annotations__", {}) or {})
    # On Python 3.11 a TypedDict written under `from __future__ import annotations` lists
    # NotRequired keys as required, so the annotation itself is checked as well.
    optional = {key for key, hint in annotations.items() if "NotRequired[" in repr(hint)}
    required = set(getattr(schema, "__required_keys__", annotations)) - optional
    return "messages" in annotations and required <= {"messages"}


def wants_tokens(settings: Settings) -> bool:
    """Token streaming only helps with a real model; the offline engine answers in one piece."""
    return any(settings.tier(t).model.startswith("openai:") for t in ("small", "large"))


class ChatSession:
    """The state of one chat: graph, thread, runner; every turn goes through here."""

    def __init__(self, settings: Settings, console: Console, graph_id: str, thread_id: str | None, by: str,
                 **context_options: Any) -> None:
        self.settings, self.console, self.by = settings, console, by
        self.context_options = context_options  # passed to open_runner (tests turn knowledge off)
        self.graph_id, self.thread_id = graph_id, thread_id
        self.customer: str | None = None  # the customer the channel verified (support desk), never from text
        self._executor: ThreadPoolExecutor | None = None
        self._future: Future | None = None
        self._stack = ExitStack()

    # -- runner -----------------------------------------------------------------------------
    def start_loading(self) -> None:
        """Open the runner in the background (idempotent)."""
        if self._future is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsgraph-load")
            self._future = self._executor.submit(self._open)

    def _open(self) -> "Runner":
        from opsgraph.runner import open_runner

        runner = self._stack.enter_context(open_runner(self.settings, **self.context_options))
        runner.graph(self.graph_id)  # compile while the operator types
        return runner

    def on_ready(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (in the loader thread) once the runner is open or failed to open."""
        self.start_loading()
        assert self._future is not None
        self._future.add_done_callback(lambda _future: callback())

    @property
    def ready(self) -> bool:
        """True once the runner is open (or failed to open)."""
        return self._future is not None and self._future.done()

    @property
    def runner(self) -> "Runner":
        """The runner, waiting for the background load when needed."""
        self.start_loading()
        assert self._future is not None
        return self._future.result()

    def close(self) -> None:
        """Close the runner and its stores."""
        if self._future is not None:
            self._future.exception()  # wait for a load still in flight before closing it
            self._stack.close()
            assert self._executor is not None
            self._executor.shutdown()

    # -- thread state --------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """LangGraph config of the current thread."""
        assert self.thread_id is not None
        return self.runner.config(self.thread_id)

    def snapshot(self) -> Any:
        """The current thread's state, or None before its first turn."""
        if self.thread_id is None or self.runner.context.audit.run(self.thread_id) is None:
            return None
        return self.runner.graph(self.graph_id).get_state(self.config())

    def active_agent(self) -> str | None:
        """The agent that has control of the current thread, from its checkpoint."""
        if not self.ready or self._future is None or self._future.exception() is not None:
            return None
        snapshot = self.snapshot()
        agent = (snapshot.values or {}).get("active_agent") if snapshot else None
        return agent if isinstance(agent, str) and agent else None

    def use(self, graph_id: str, thread_id: str | None = None) -> None:
        """Switch to ``graph_id`` (validated) and a thread of it (None = new conversation)."""
        get_entry(graph_id)
        self.graph_id, self.thread_id = graph_id, thread_id

    def switch_thread(self, thread_id: str) -> None:
        """Make an existing thread current; its graph comes from the run registry."""
        info = self.runner.context.audit.run(thread_id)
        if info is None:
            raise UserError(f"no thread {thread_id!r}; /threads lists them")
        self.use(info.graph_id, thread_id)

    # -- turns -----------------------------------------------------------------------------------
    def send(self, text: str) -> None:
        """One typed line: a new run, the next conversational turn, or an answer to a question."""
        snapshot = self.snapshot()
        if snapshot is None:
            return self._start(text)
        if snapshot.interrupts:
            kinds = {_kind(i.value) for i in snapshot.interrupts}
            if "budget" in kinds:
                options = sorted({o for i in snapshot.interrupts if _kind(i.value) == "budget"
                                  for o in i.value.get("options") or []}) or ["<USD>"]
                raise UserError(f"this run is paused because a budget ran out: /budget {' '.join(options)}")
            if "approval" in kinds:
                raise UserError("this thread is waiting for approval: /approve, /reject <reason> or /edit <json>")
            return self._drive(_resume(text), len(snapshot.values.get("messages") or []))
        if snapshot.next:
            raise UserError("the last run on this thread was stopped mid-way: /resume continues it, /new starts afresh")
        if self._conversational():
            from langchain_core.messages import HumanMessage

            count = len(snapshot.values.get("messages") or [])
            self.runner.context.audit.set_status(self.thread_id, "running")
            return self._drive({"messages": [HumanMessage(text)]}, count + 1)
        return self._start(text, new_thread=True)

    def _start(self, text: str, new_thread: bool = False) -> None:
        entry = get_entry(self.graph_id)
        runner = self.runner
        if entry.chat_input is not None:
            payload = entry.chat_input(text, runner.context.world)  # may raise UserError: nothing changes then
            if self.customer:
                with connector_errors_as_user_errors():
                    runner.context.world.crm.get_customer(self.customer)
                payload["customer_id"] = self.customer
        else:
            from langchain_core.messages import HumanMessage

            payload = {"messages": [HumanMessage(text)]}
        if new_thread:
            self.console.print(f"[dim]{self.graph_id} runs once per thread; starting a new thread[/dim]")
            self.thread_id = None
        self.thread_id = self.thread_id or new_thread_id(self.graph_id)
        # Atomic in the database: another process starting this thread id at the same time is refused.
        runner.claim_thread(self.thread_id, self.graph_id, _title(entry, payload, text))
        self.console.print(f"[dim]thread {escape(self.thread_id)}[/dim]")
        self._drive(payload, len(payload.get("messages") or []))

    def decide(self, decision: dict[str, Any]) -> None:
        """Answer the pending approval of the current thread."""
        from opsgraph.governance.approvals import parse_decision

        snapshot = self.snapshot()
        approvals = [i for i in snapshot.interrupts if _kind(i.value) == "approval"] if snapshot else []
        parsed = parse_decision({**decision, "by": self.by})
        if not approvals:
            last = self.runner.claims.last_decision(str(self.thread_id)) if snapshot else None
            if last is not None:  # another operator answered what this one was looking at
                raise self.runner.refuse_decision(str(self.thread_id), parsed, last, "")
            raise UserError("nothing is waiting for approval on this thread")
        # Compare-and-set in the database: if another operator decided first, this raises and nothing is applied.
        answers = self.runner.claim_decision(str(self.thread_id), snapshot, parsed)
        # Several pending interrupts are answered by id; one takes the decision itself.
        value = parsed if len(snapshot.interrupts) == 1 else {i.id: answers[i.id] for i in approvals}
        self._drive(_resume(value), len(snapshot.values.get("messages") or []), expect=list(answers))

    def raise_budget(self, budget: dict[str, Any]) -> None:
        """Give a run paused by a spent budget new caps and let it carry on."""
        snapshot = self.snapshot()
        if snapshot is None or not any(_kind(i.value) == "budget" for i in snapshot.interrupts):
            raise UserError("no run on this thread is paused by a budget")
        printer = TurnPrinter(self.console, len(snapshot.values.get("messages") or []), self.active_agent())
        # The runner owns the budget rules (caps must rise above what was spent, audit record).
        result = self.runner.resume(str(self.thread_id), None, budget=budget,
                                    on_step=lambda node, data: printer.handle("updates", {node: data}))
        printer.finish()
        self._after_turn(result, printer, False)

    def resume_stopped(self) -> None:
        """Continue a run that was stopped (Ctrl-C, kill switch or crash) from its last checkpoint."""
        snapshot = self.snapshot()
        if snapshot is None or not snapshot.next or snapshot.interrupts:
            raise UserError("there is no stopped run on this thread to resume")
        self.runner.context.audit.request_stop(self.thread_id, False)
        self._drive(None, len(snapshot.values.get("messages") or []))

    def _conversational(self) -> bool:
        return accepts_messages(self.runner.graph(self.graph_id))

    def _drive(self, payload: Any, first_index: int, expect: list[str] | None = None) -> None:
        runner, thread = self.runner, self.thread_id
        assert thread is not None
        privacy = runner.context.privacy
        reveal = (lambda text: privacy.unmask_text(thread, text)) if privacy is not None else None
        printer = TurnPrinter(self.console, first_index, self.active_agent(), reveal)
        # One driver per thread: another chat or `runs resume` on this thread is refused meanwhile.
        with runner.driving(thread, expect=expect):
            if getattr(payload, "resume", None) is not None:
                runner.context.audit.set_status(thread, "running")
            stopped = self._stream(runner, payload, printer)
        printer.finish()
        result = runner.status(thread)  # also records the status in the run registry
        self._after_turn(result, printer, stopped)

    def _stream(self, runner: "Runner", payload: Any, printer: TurnPrinter) -> bool:
        """Stream the run; returns True when Ctrl-C stopped it at a step boundary."""
        from opsgraph.runner import tracing

        graph, thread = runner.graph(self.graph_id), str(self.thread_id)
        modes = ["updates", "messages"] if wants_tokens(self.settings) else ["updates"]
        payload = runner.mask_input(thread, payload)  # checkpoints keep the input as it comes in
        with sigint_stops_run() as stop, tracing(self.settings, self.graph_id, thread, runner.context.privacy):
            stream = graph.stream(payload, runner.config(thread), context=runner.context_for(thread),
                                  stream_mode=modes)
            try:
                for mode, chunk in stream:
                    printer.handle(mode, chunk)
                    # An update means a node finished and its writes are saved: a safe place to stop.
                    if mode == "updates" and stop.requested:
                        stream.close()  # ends the run now; LangGraph flushes the pending checkpoint
                        runner.stopped_by_operator(thread, "stopped at a step boundary (Ctrl-C in chat)")
                        return True
            except KeyboardInterrupt:
                printer.finish()
                runner.stopped_by_operator(thread, "abandoned mid-step (Ctrl-C in chat)")
                self.console.print("[red]run abandoned[/red]; the thread keeps its last saved step")
                return True
            except BaseException:
                runner.context.audit.set_status(thread, "failed")
                raise
        return False

    def _after_turn(self, result: Any, printer: TurnPrinter, stopped: bool) -> None:
        if stopped:
            self.console.print("[yellow]stopped at a step boundary[/yellow]; the thread's state is saved — "
                               "/resume continues the run, /state shows where it is")
        if result.pending:  # sources first: the decision asked of the operator comes last
            print_citations(self.console, printer.citations)
            for item in result.pending:
                print_approval(self.console, item)
        else:
            if "report" in printer.keys_seen and isinstance(result.report, dict):
                # A conversation reports every turn: one line; a one-shot run gets the full report.
                print_any_report(self.console, result.report, brief=self._conversational())
            print_citations(self.console, printer.citations)
        self.console.print(f"[dim]thread {escape(result.thread_id)} · {result.status}[/dim]")

    # -- recap ---------------------------------------------------------------------------------------
    def recap(self) -> None:
        """Where the current thread stands: last answer, pending approval, stopped run."""
        snapshot = self.snapshot()
        if snapshot is None:
            return
        answer = next((m for m in reversed(snapshot.values.get("messages") or [])
                       if getattr(m, "type", "") == "ai" and message_text(m).strip()), None)
        if answer is not None:
            who = getattr(answer, "name", None) or "assistant"
            self.console.print(f"[dim]last:[/dim] [bold]{escape(who)}[/bold]: {escape(_clip(message_text(answer)))}",
                               highlight=False)
        report = (snapshot.values or {}).get("report")
        if isinstance(report, dict) and report.get("title"):
            self.console.print(f"[dim]report:[/dim] {escape(str(report['title']))} — {escape(str(report.get('outcome', '-')))}",
                               highlight=False)
        for interrupt in snapshot.interrupts:
            print_approval(self.console, interrupt.value if isinstance(interrupt.value, dict) else {"question": interrupt.value})
        if snapshot.next and not snapshot.interrupts:
            self.console.print("[yellow]the last run was stopped mid-way[/yellow]; /resume continues it")
        agent = (snapshot.values or {}).get("active_agent")
        if agent:
            self.console.print(f"[dim]active agent: {escape(str(agent))}[/dim]")


def _resume(value: Any) -> Any:
    from langgraph.types import Command

    return Command(resume=value)


def _kind(value: Any) -> str | None:
    return value.get("type") if isinstance(value, dict) else None


def _title(entry: Any, payload: dict[str, Any], text: str) -> str:
    try:
        return str(entry.title(payload))
    except (KeyError, TypeError, IndexError, AttributeError):
        # Titles are cosmetic; a graph whose title function expects other input gets the line.
        return _clip(text, 60)


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
