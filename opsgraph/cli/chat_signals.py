"""Ctrl-C during a chat run: stop at the next step boundary instead of killing the process.

The handler only sets a flag (and writes a notice with ``os.write``, which is safe inside a
signal handler); the stream loop checks the flag after each node update, where LangGraph
has already saved the node's writes, so nothing is lost and the run can be resumed.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

ABANDON_AFTER = 3  # presses; for a node that never returns (e.g. a hung model endpoint)


@dataclass
class StopFlag:
    """Set by Ctrl-C; read by the stream loop."""

    presses: int = 0

    @property
    def requested(self) -> bool:
        """True once the operator pressed Ctrl-C."""
        return self.presses > 0


def _notice(text: str) -> None:
    try:
        os.write(sys.stdout.fileno(), text.encode())
    except (OSError, ValueError, AttributeError):
        pass  # no real stdout (e.g. captured in tests): the flag still works


@contextmanager
def sigint_stops_run() -> Iterator[StopFlag]:
    """While the block runs, Ctrl-C requests a stop; the third press abandons the run at once."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag  # signal handlers can only be installed from the main thread
        return

    def on_sigint(signum: int, frame: object) -> None:
        flag.presses += 1
        if flag.presses >= ABANDON_AFTER:
            raise KeyboardInterrupt
        left = ABANDON_AFTER - flag.presses
        _notice(f"\n^C stopping at the next step boundary… (Ctrl-C {left} more time{'s' if left > 1 else ''} to abandon now)\n")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
