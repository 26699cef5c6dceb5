"""Live rendering of one chat turn: who is speaking, handoffs, tool calls and streamed tokens.

The printer only reads what LangGraph streams (``updates`` and, with a token-streaming
provider, ``messages``), so it works for every registered graph without knowing its nodes.
"""

from __future__ import annotations

from typing import Any, Callable

from rich.console import Console
from rich.markup import escape

from opsgraph.cli.render import call_summary, shorten

SUPERVISOR_STYLE, AGENT_STYLE = "magenta", "green"
MAX_ANSWER_LINES = 12


def message_text(message: Any) -> str:
    """Plain text of a message whose content is a string or a list of content blocks."""
    content = getattr(message, "content", "")
    if isinstance(content, str):
        return content
    parts = [b.get("text", "") if isinstance(b, dict) else str(b) for b in content or []]
    return "".join(parts)


def speaker_style(name: str) -> str:
    """Colour of an agent's name: supervisors and directors stand out from specialists."""
    return SUPERVISOR_STYLE if "supervisor" in name or "director" in name else AGENT_STYLE


class TurnPrinter:
    """Prints one turn as it streams; remembers citations and where the answer came from."""

    def __init__(self, console: Console, first_index: int, speaker: str | None,
                 reveal: Callable[[str], str] | None = None) -> None:
        self.console = console
        # The chat is the channel to the person who wrote the message: agents' answers are shown
        # with the thread's placeholders resolved; state, reports and the audit trail keep them.
        self.reveal = reveal or (lambda text: text)
        self.index = first_index  # position in state["messages"] of the next message seen
        self.speaker = speaker
        self.citations: list[str] = []
        self.keys_seen: set[str] = set()  # state keys written during the turn (e.g. "report")
        self._announced = False  # has the agent in control been named yet in this turn?
        self._streaming: str | None = None  # node whose tokens are being printed right now

    def handle(self, mode: str, chunk: Any) -> None:
        """Render one ``(mode, chunk)`` item of ``graph.stream(..., stream_mode=[...])``."""
        if mode == "messages":
            self._token(*chunk)
        elif mode == "updates" and isinstance(chunk, dict):
            for node, data in chunk.items():
                self._update(node, data)

    def finish(self) -> None:
        """Close a line left open by token streaming."""
        if self._streaming is not None:
            self.console.print()
            self._streaming = None

    def switch(self, agent: str) -> None:
        """Mark control passing to ``agent``; the first agent of a turn is named once."""
        if not agent or (agent == self.speaker and self._announced):
            return
        self.finish()
        self._announced = True
        if self.speaker is None or agent == self.speaker:
            self.console.print(f"[dim]── {escape(agent)} ──[/dim]")
        else:
            self.console.print(f"[bold yellow]── handoff: {escape(self.speaker)} → {escape(agent)} ──[/bold yellow]")
        self.speaker = agent

    def _token(self, chunk: Any, metadata: dict[str, Any]) -> None:
        # Only model chunks are tokens; whole messages written by nodes arrive as updates.
        if getattr(chunk, "type", "") != "AIMessageChunk":
            return
        text = message_text(chunk)
        if not text:
            return
        node = str(metadata.get("langgraph_node", ""))
        if self._streaming != node:
            self.finish()
            agent = getattr(chunk, "name", None) or node
            self.switch(agent)
            style = speaker_style(agent)
            self.console.print(f"[{style}]{escape(agent)}[/{style}]: ", end="")
            self._streaming = node
        self.console.print(text, end="", markup=False, highlight=False, soft_wrap=True)

    def _update(self, node: str, data: Any) -> None:
        if node == "__interrupt__":
            self.finish()
            self.console.print("[yellow]⏸  waiting for a human decision[/yellow]")
            return
        if not isinstance(data, dict):
            return
        self.keys_seen.update(data)
        streamed = self._streaming == node
        if streamed:
            self.finish()
        messages = data.get("messages") or []
        for message in messages if isinstance(messages, list) else [messages]:
            self._message(node, message, streamed)
        agent = data.get("active_agent")
        if isinstance(agent, str):
            self.switch(agent)
        for citation in data.get("citations") or []:
            if isinstance(citation, str) and citation not in self.citations:
                self.citations.append(citation)

    def _message(self, node: str, message: Any, streamed: bool) -> None:
        index, kind = self.index, getattr(message, "type", "")
        self.index += 1
        if kind == "ai":
            speaker = getattr(message, "name", None) or node
            self.switch(speaker)
            text = self.reveal(message_text(message).strip())
            if text and not streamed:
                style = speaker_style(speaker)
                self.console.print(f"[{style}]{escape(speaker)}[/{style}]: {escape(_clip_lines(text, index))}")
            for call in getattr(message, "tool_calls", None) or []:
                summary = escape(call_summary(call["name"], call.get("args") or {}))
                self.console.print(f"  [cyan]⚙[/cyan] {summary} [dim]#{index}[/dim]")
        elif kind == "tool" and getattr(message, "status", "success") == "error":
            self.console.print(f"    [red]✗ {escape(str(message.name))}[/red]: {escape(shorten(message_text(message), 110))}")


def _clip_lines(text: str, index: int) -> str:
    """Long agent write-ups stay readable in the stream; /history and /trace have the rest."""
    lines = text.splitlines()
    if len(lines) <= MAX_ANSWER_LINES:
        return text
    return "\n".join(lines[:MAX_ANSWER_LINES] + [f"… {len(lines) - MAX_ANSWER_LINES} more lines: /trace {index} shows all"])


