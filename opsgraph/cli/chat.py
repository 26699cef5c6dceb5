"""``opsgraph chat``: talk to a workflow, watch its agents work, approve their actions.

The prompt appears before LangGraph and the services are loaded (they load in the
background); every conversation is a checkpointed thread that ``--thread`` reopens later.
"""

from __future__ import annotations

import sys
import threading
import traceback
from datetime import datetime, timezone
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from opsgraph.cli.app import _is_user_error, _settings, app, console, user_errors
from opsgraph.cli.chat_io import LineReader, PlainReader, PromptReader
from opsgraph.cli.chat_session import ChatSession
from opsgraph.errors import UserError
from opsgraph.settings import Settings

DEFAULT_GRAPHS = ("support_desk", "supply_chain_exception")
ERROR_LOG = "chat-errors.log"


class ChatRepl:
    """Reads lines, runs slash commands or turns, and never lets an error end the session."""

    def __init__(self, session: ChatSession, reader: LineReader, console: Console) -> None:
        self.session, self.reader, self.console = session, reader, console
        self._lock = threading.Lock()
        self._caught_up = False
        self.agent: str | None = None  # cached for the prompt label, which redraws often

    def run(self) -> int:
        """The read-eval-print loop; returns the exit code (0 on /exit or end of input)."""
        while True:
            try:
                line = self.reader.read(self.label)
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt clears the line, as in a shell
            except EOFError:
                break
            if not self.handle(line):
                break
        self.console.print("[dim]bye — reopen with: opsgraph chat --thread "
                           f"{escape(self.session.thread_id or '<id>')}[/dim]", highlight=False)
        return 0

    def handle(self, line: str) -> bool:
        """One line; returns False when the operator leaves."""
        from opsgraph.cli.chat_commands import dispatch

        text = line.strip()
        if not text:
            return True
        try:
            if text.lower() in ("/exit", "/quit", "/q"):
                return False
            self.catch_up()
            if text.startswith("/"):
                keep = dispatch(self.session, text)
            else:
                keep = True
                self.session.send(text)
            self.refresh()
            return keep
        except KeyboardInterrupt:
            self.console.print("[yellow]interrupted[/yellow]")
        except Exception as exc:  # noqa: BLE001 - the REPL must survive anything a turn raises
            self.report(exc)
        return True

    def label(self) -> list[tuple[str, str]]:
        """The prompt: graph, thread and the agent in control."""
        parts = [("ansicyan bold", self.session.graph_id)]
        if self.session.thread_id:
            parts.append(("ansibrightblack", f" {self.session.thread_id}"))
        if self.agent:
            parts.append(("ansigreen", f" [{self.agent}]"))
        return parts + [("", " › ")]

    def when_ready(self, _future: object = None) -> None:
        """Called in the loader thread: recap a reopened thread above the prompt, redraw it."""
        self.catch_up()
        self.reader.invalidate()

    def catch_up(self) -> None:
        """Once the runner is open: the active agent and, for a reopened thread, where it stands."""
        with self._lock:
            if self._caught_up:
                return
            self._caught_up = True
            try:
                if self.session.thread_id:
                    self.session.recap()
                self.refresh()
            except Exception as exc:  # noqa: BLE001 - shown once; commands report it again if it persists
                self.report(exc)

    def refresh(self) -> None:
        """Re-read the agent in control for the prompt label."""
        self.agent = self.session.active_agent()

    def report(self, exc: BaseException) -> None:
        """One line for the operator; the traceback of an unexpected error goes to a log file."""
        if isinstance(exc, UserError) or _is_user_error(exc) or _is_knowledge_error(exc):
            self.console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            return
        log = self.session.settings.data_home / ERROR_LOG
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a") as fh:
                fh.write(f"--- {datetime.now(timezone.utc).isoformat()}\n{traceback.format_exc()}\n")
        except OSError:
            log = None
        where = f" (details in {escape(str(log))})" if log else ""
        self.console.print(f"[red]error:[/red] {escape(type(exc).__name__)}: {escape(str(exc))}{where}", highlight=False)


def _is_knowledge_error(exc: BaseException) -> bool:
    try:
        from opsgraph.knowledge.errors import KnowledgeError
    except ImportError:
        return False
    return isinstance(exc, KnowledgeError)


def default_graph() -> str:
    """support_desk when registered (a conversation), else supply_chain_exception."""
    from opsgraph.registry import graph_entries

    known = graph_entries()
    return next((g for g in DEFAULT_GRAPHS if g in known), sorted(known)[0])


def resolve_start(settings: Settings, graph: str | None, thread: str | None) -> tuple[str, Optional[object]]:
    """Graph id and run-registry row for the options; a known thread decides its own graph."""
    from opsgraph.governance.audit import open_audit_store
    from opsgraph.registry import get_entry

    info = None
    if thread:
        with open_audit_store(settings) as store:
            info = store.run(thread)
    if info is not None and graph and graph != info.graph_id:
        raise UserError(f"thread {thread!r} belongs to graph {info.graph_id}, not {graph}; drop --graph to reopen it")
    graph_id = info.graph_id if info is not None else (graph or default_graph())
    get_entry(graph_id)
    return graph_id, info


def _banner(out: Console, settings: Settings, graph_id: str, thread: str | None, info: object | None) -> None:
    from opsgraph.registry import get_entry

    entry = get_entry(graph_id)
    out.print(f"[bold]opsgraph chat[/bold] — {graph_id} ({entry.topology}): {escape(entry.description)}", highlight=False)
    if settings.small.model.startswith("offline:"):
        out.print("[dim]models: offline engine (deterministic, not a language model)[/dim]")
    if info is not None:
        out.print(f"reopened thread [bold]{escape(str(thread))}[/bold] · {getattr(info, 'status')} · "
                  f"{escape(str(getattr(info, 'title') or ''))}", highlight=False)
    elif thread:
        out.print(f"new thread [bold]{escape(thread)}[/bold] starts with your first line")
    out.print("[dim]/help for commands · Ctrl-C stops a run · Ctrl-D or /exit leaves[/dim]")


def _verified_customer(customer: str | None, graph_id: str) -> str | None:
    """The chat's channel identity: only the support desk acts for a customer."""
    if not (customer or "").strip():
        return None
    if graph_id != "support_desk":
        raise UserError("--customer applies to the support_desk chat only")
    return customer.strip().upper()


@app.command("chat")
@user_errors
def chat_cmd(
    graph: Optional[str] = typer.Option(None, "--graph", "-g", help="Workflow to chat with (default: support_desk "
                                        "when registered, else supply_chain_exception)."),
    thread: Optional[str] = typer.Option(None, "--thread", "-t", help="Reopen this thread, or start a new one with this id."),
    by: str = typer.Option("operator", "--by", help="Your name on approvals (recorded in the audit trail)."),
    plain: bool = typer.Option(False, "--plain", help="Plain input() even on a terminal (no line editing)."),
    customer: Optional[str] = typer.Option(None, "--customer", help="support_desk: the customer this chat speaks "
                                           "for, verified by you (without it the desk answers but changes nothing)."),
) -> None:
    """Chat with a workflow: stream its agents, approve their actions, reopen threads later.

    Lines starting with / are commands (/help lists them); anything else goes to the
    workflow. Works with piped input for scripts.

    Examples:

      opsgraph chat --graph supply_chain_exception

      opsgraph chat --thread supply-1a2b3c4d

      echo 'SH-0002 is 4 days late' | opsgraph chat -g supply_chain_exception
    """
    from opsgraph.cli.chat_commands import COMMANDS

    settings = _settings()
    graph_id, info = resolve_start(settings, graph, thread)
    _banner(console, settings, graph_id, thread, info)
    interactive = sys.stdin.isatty() and sys.stdout.isatty() and not plain
    session = ChatSession(settings, console, graph_id, thread, by)
    session.customer = _verified_customer(customer, graph_id)
    reader: LineReader = (PromptReader(settings.data_home / "chat_history", [f"/{n}" for n in COMMANDS])
                          if interactive else PlainReader(console, echo=not sys.stdin.isatty()))
    repl = ChatRepl(session, reader, console)
    session.start_loading()
    if interactive:
        session.on_ready(repl.when_ready)
    try:
        code = repl.run()
    finally:
        session.close()
    raise typer.Exit(code)

