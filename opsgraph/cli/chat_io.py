"""Line readers for the chat REPL: prompt_toolkit on a terminal, plain ``input()`` for pipes.

Both raise EOFError at the end of input (Ctrl-D) and KeyboardInterrupt on Ctrl-C at the
prompt, so the REPL loop treats them the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Protocol

from rich.console import Console
from rich.markup import escape

Label = Callable[[], list[tuple[str, str]]]


class LineReader(Protocol):
    """Reads one line for the REPL."""

    def read(self, label: Label) -> str:
        """The next line (without its newline)."""

    def invalidate(self) -> None:
        """Redraw the prompt (its label changed); safe to call from another thread."""


class PromptReader:
    """Line editing, persistent history and Tab completion of slash commands (prompt_toolkit)."""

    def __init__(self, history_path: Path, words: list[str]) -> None:
        # Imported here: prompt_toolkit costs ~0.1 s and pipes never need it.
        from prompt_toolkit import PromptSession
        from prompt_toolkit.completion import WordCompleter
        from prompt_toolkit.history import FileHistory

        history_path.parent.mkdir(parents=True, exist_ok=True)
        self._session: Any = PromptSession(
            history=FileHistory(str(history_path)),
            completer=WordCompleter(words, sentence=True),
            complete_while_typing=False,
        )

    def read(self, label: Label) -> str:
        """Prompt for a line; output printed meanwhile from other threads appears above it."""
        from prompt_toolkit.patch_stdout import patch_stdout

        with patch_stdout(raw=True):
            return self._session.prompt(label)

    def invalidate(self) -> None:
        """Ask the running prompt to redraw (thread-safe in prompt_toolkit)."""
        app = self._session.app
        if app.is_running:
            app.invalidate()


class PlainReader:
    """``input()`` for scripts and pipes: no prompt, each line echoed so transcripts read well."""

    def __init__(self, console: Console, echo: bool) -> None:
        self.console, self.echo = console, echo

    def read(self, label: Label) -> str:
        """The next line of standard input."""
        line = input("" if self.echo else "".join(text for _, text in label()))
        if self.echo:
            self.console.print(f"[dim]» {escape(line)}[/dim]", highlight=False)
        return line

    def invalidate(self) -> None:
        """Nothing to redraw."""
