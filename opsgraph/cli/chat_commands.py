"""Slash commands of the chat REPL: one small handler each, looked up by name.

A handler gets the session and the rest of the line; it returns False to leave the REPL.
Malformed arguments raise UserError, which the REPL prints as one line.
"""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass
from typing import Any, Callable

from rich.markup import escape
from rich.table import Table

from opsgraph.cli.chat_session import ChatSession
from opsgraph.cli.chat_view import print_history, print_state, print_trace
from opsgraph.cli.render import shorten
from opsgraph.errors import UserError

Handler = Callable[[ChatSession, str], "bool | None"]


@dataclass(frozen=True)
class SlashCommand:
    """One slash command: name, usage line, one-line help, handler."""

    name: str
    usage: str
    help: str
    run: Handler


def _snapshot(session: ChatSession) -> Any:
    snapshot = session.snapshot()
    if snapshot is None:
        raise UserError("no conversation on this thread yet; type a line to start one")
    return snapshot


def _messages(session: ChatSession) -> list:
    return list(_snapshot(session).values.get("messages") or [])


def _status(session: ChatSession, default: str) -> str:
    """The current thread's run status from the audit store, or ``default`` when it has none."""
    info = session.runner.context.audit.run(str(session.thread_id))
    return info.status if info else default


def _require(arg: str, usage: str) -> None:
    if not arg:
        raise UserError(usage)


def _help(session: ChatSession, arg: str) -> None:
    table = Table(show_header=False, box=None)
    for command in COMMANDS.values():
        table.add_row(f"[bold]{escape(command.usage)}[/bold]", command.help)
    session.console.print(table)
    session.console.print("Type anything else to talk to the workflow. Ctrl-C stops a run at the next step; "
                          "Ctrl-D or /exit leaves (the thread is saved: opsgraph chat --thread <id>).")


def _graphs(session: ChatSession, arg: str) -> None:
    from opsgraph.registry import graph_entries

    table = Table("", "graph", "topology", "description")
    for entry in graph_entries().values():
        mark = "*" if entry.graph_id == session.graph_id else ""
        table.add_row(mark, entry.graph_id, entry.topology, entry.description)
    session.console.print(table)


def _use(session: ChatSession, arg: str) -> None:
    _require(arg, "usage: /use <graph>; /graphs lists them")
    session.use(arg.split()[0])
    session.console.print(f"now chatting with [bold]{session.graph_id}[/bold]; your next line starts a new thread")


def _new(session: ChatSession, arg: str) -> None:
    session.thread_id = None
    session.console.print(f"new conversation with {session.graph_id}; your next line starts a thread")


def _thread(session: ChatSession, arg: str) -> None:
    if arg:
        session.switch_thread(arg.split()[0])
        session.console.print(f"switched to thread [bold]{escape(str(session.thread_id))}[/bold] ({session.graph_id})")
        session.recap()
        return
    if session.thread_id is None:
        session.console.print(f"no thread yet ({session.graph_id}); your next line starts one")
        return
    status = _status(session, "not started")
    session.console.print(f"thread [bold]{escape(session.thread_id)}[/bold] · {session.graph_id} · {status}")


def _threads(session: ChatSession, arg: str) -> None:
    table = Table("", "thread", "graph", "status", "title", "updated")
    for run in session.runner.context.audit.runs(20):
        mark = "*" if run.thread_id == session.thread_id else ""
        table.add_row(mark, run.thread_id, run.graph_id, run.status, run.title or "", run.updated_at[:19])
    session.console.print(table)


def _history(session: ChatSession, arg: str) -> None:
    print_history(session.console, _messages(session))


def _state(session: ChatSession, arg: str) -> None:
    snapshot = _snapshot(session)
    print_state(session.console, session.graph_id, str(session.thread_id), _status(session, "-"), snapshot)


def _approve(session: ChatSession, arg: str) -> None:
    session.decide({"decision": "approve", "reason": arg})


def _reject(session: ChatSession, arg: str) -> None:
    _require(arg, "usage: /reject <reason>; the reason goes to the audit trail and back to the agent")
    session.decide({"decision": "reject", "reason": arg})


def _edit(session: ChatSession, arg: str) -> None:
    from opsgraph.governance.approvals import DecisionError, parse_edits

    _require(arg, 'usage: /edit <json>, e.g. /edit {"quantity": 100} or /edit {"supplier_id": "SUP-004"}')
    try:
        edits = parse_edits(arg)
    except DecisionError as exc:  # its wording names the CLI option; here the command is /edit
        raise UserError(str(exc).replace("--edit", "/edit")) from None
    session.decide({"decision": "edit", "edits": edits, "reason": "edited in chat"})


def _cost(session: ChatSession, arg: str) -> None:
    from opsgraph.graphs.incident import cost_summary
    from opsgraph.cli.render import cost_table

    calls = _snapshot(session).values.get("calls") or []
    if not calls:
        session.console.print("no model calls on this thread yet")
        return
    session.console.print(cost_table(cost_summary(calls)))


def _audit(session: ChatSession, arg: str) -> None:
    _snapshot(session)
    limit = _int_arg(arg or "20", "usage: /audit [n] — the last n audit events (default 20)")
    events = session.runner.context.audit.events(str(session.thread_id))[-limit:]
    table = Table("#", "time", "agent", "kind", "name", "result")
    for e in events:
        table.add_row(str(e.seq), e.ts[11:19], e.agent or "", e.kind, e.name or "", shorten("" if e.result is None else str(e.result), 70))
    session.console.print(table)


def _kb(session: ChatSession, arg: str) -> None:
    _require(arg, "usage: /kb <query>, e.g. /kb who approves a purchase order above the threshold")
    retriever = session.runner.context.retriever
    if retriever is None:
        raise UserError("the knowledge layer is not available in this installation")
    session.console.print("[dim]searching the knowledge base…[/dim]")
    hits = retriever.search(arg, k=5)
    if not hits:
        session.console.print("no matching passages")
    for n, hit in enumerate(hits, start=1):
        session.console.print(f"{n}. [bold]{escape(hit.citation)}[/bold] [dim]{hit.score:.2f}[/dim]\n   "
                              f"{escape(shorten(hit.text, 220))}", highlight=False)


def _trace(session: ChatSession, arg: str) -> None:
    index = _int_arg(arg, "usage: /trace <n> — n is a message number from /history (or the #n after a tool call)")
    messages = _messages(session)
    if not 0 <= index < len(messages):
        raise UserError(f"no message {index}; this thread has messages 0-{len(messages) - 1}")
    print_trace(session.console, messages, index)


def _resume(session: ChatSession, arg: str) -> None:
    session.resume_stopped()


BUDGET_FLAGS = {"--budget-usd": "usd", "--max-tokens": "tokens", "--agent-budget-usd": "agent_usd",
                "--agent-max-tokens": "agent_tokens"}
BUDGET_USAGE = "usage: /budget <USD> or /budget --budget-usd 1.5 --max-tokens N --agent-budget-usd AGENT=USD"


def _budget(session: ChatSession, arg: str) -> None:
    from opsgraph.governance.budgets import budget_overrides

    values: dict[str, list[str]] = {key: [] for key in BUDGET_FLAGS.values()}
    try:
        words = shlex.split(arg)
    except ValueError as exc:  # unbalanced quotes
        raise UserError(f"{exc}; {BUDGET_USAGE}") from None
    if len(words) == 1 and not words[0].startswith("--"):
        words = ["--budget-usd", words[0]]  # the common case: raise the run's cost cap
    if not words or len(words) % 2:
        raise UserError(BUDGET_USAGE)
    for flag, value in zip(words[::2], words[1::2]):
        if flag not in BUDGET_FLAGS:
            raise UserError(f"unknown option {flag}; {BUDGET_USAGE}")
        values[BUDGET_FLAGS[flag]].append(value)
    usd, tokens = (values["usd"] or [None])[-1], (values["tokens"] or [None])[-1]
    session.raise_budget(budget_overrides(usd, tokens, values["agent_usd"], values["agent_tokens"],
                                          policy=session.runner.context.policy))


def _exit(session: ChatSession, arg: str) -> bool:
    return False


def _int_arg(arg: str, usage: str) -> int:
    try:
        return int(arg.strip())
    except ValueError:
        raise UserError(usage) from None




COMMANDS: dict[str, SlashCommand] = {c.name: c for c in (
    SlashCommand("help", "/help", "this list", _help),
    SlashCommand("graphs", "/graphs", "registered workflows (* = current)", _graphs),
    SlashCommand("use", "/use <graph>", "switch workflow; the next line starts a new thread", _use),
    SlashCommand("new", "/new", "start a new conversation (thread) with the current workflow", _new),
    SlashCommand("thread", "/thread [id]", "show the current thread, or switch to thread <id>", _thread),
    SlashCommand("threads", "/threads", "recent threads of every workflow", _threads),
    SlashCommand("history", "/history", "messages of this thread, numbered", _history),
    SlashCommand("state", "/state", "checkpointed state: active agent, next step, fields", _state),
    SlashCommand("approve", "/approve [note]", "approve the pending action", _approve),
    SlashCommand("reject", "/reject <reason>", "reject the pending action, with a reason", _reject),
    SlashCommand("edit", "/edit <json>", 'edit then approve, e.g. /edit {"quantity": 100}', _edit),
    SlashCommand("budget", "/budget <USD>", "raise a spent budget and continue (also --max-tokens N, "
                 "--agent-budget-usd AGENT=USD)", _budget),
    SlashCommand("resume", "/resume", "continue a run stopped with Ctrl-C (or a crash)", _resume),
    SlashCommand("cost", "/cost", "model calls, tokens and cost by agent and tier", _cost),
    SlashCommand("audit", "/audit [n]", "the last n audit events of this thread", _audit),
    SlashCommand("kb", "/kb <query>", "search the knowledge base (citations)", _kb),
    SlashCommand("trace", "/trace <n>", "tool calls of message n with arguments and results", _trace),
    SlashCommand("exit", "/exit", "leave (also /quit or Ctrl-D)", _exit),
)}
ALIASES = {"quit": "exit", "q": "exit", "?": "help", "h": "help"}


def dispatch(session: ChatSession, line: str) -> bool:
    """Run a slash command line; returns False when the REPL should end."""
    parts = line[1:].strip().split(maxsplit=1)
    name = parts[0].lower() if parts else "help"
    arg = parts[1] if len(parts) > 1 else ""
    name = ALIASES.get(name, name)
    command = COMMANDS.get(name)
    if command is None:
        close = difflib.get_close_matches(name, list(COMMANDS), n=1)
        hint = f"did you mean /{close[0]}? " if close else ""
        raise UserError(f"unknown command /{name}; {hint}/help lists the commands")
    return command.run(session, arg.strip()) is not False
