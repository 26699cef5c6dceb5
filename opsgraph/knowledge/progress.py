"""Progress of an ingestion on the terminal, for the places where embedding takes a while.

On a terminal it is a live bar (documents done of total, elapsed time) that disappears when
finished; elsewhere (logs, pipes, tests) it writes one line when it starts and one when it
ends. Either way a closing line says how long it took, so a first run never looks frozen.
"""

from __future__ import annotations

import time
from typing import Any

from opsgraph.knowledge.ingest import IngestProgress


class ConsoleProgress:
    """An ingest progress callback that reports on stderr (the console is created on first use)."""

    def __init__(self, label: str = "embedding the knowledge base (first run)", console: Any = None) -> None:
        """``label`` starts every line; ``console`` defaults to a rich console on stderr."""
        self.label = label
        self._console = console
        self._bar: Any = None
        self._task: Any = None
        self._started = 0.0

    def __call__(self, step: IngestProgress) -> None:
        """Show ``step``; the first step opens the display and the last one closes it."""
        if self._started == 0.0:
            self._start(step.total)
        if self._bar is not None:
            self._bar.update(self._task, total=step.total, completed=step.done,
                             description=f"{self.label}: {step.source}")
        if step.done >= step.total:
            self._finish(step)

    def _start(self, total: int) -> None:
        from rich.console import Console

        self._started = time.perf_counter()
        self._console = self._console or Console(stderr=True)
        if not self._console.is_terminal:
            self._console.print(f"{self.label}: {total} documents…", markup=False, highlight=False)
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        self._bar = Progress(*columns, console=self._console, transient=True)
        self._task = self._bar.add_task(self.label, total=total)
        self._bar.start()

    def _finish(self, step: IngestProgress) -> None:
        if self._bar is not None:
            self._bar.stop()
        seconds = time.perf_counter() - self._started
        self._console.print(f"{self.label}: {step.done}/{step.total} documents in {seconds:.1f} s",
                            markup=False, highlight=False)
        self._bar, self._task, self._started = None, None, 0.0
