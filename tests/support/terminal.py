"""Drive ``opsgraph`` on a pseudo-terminal as a person would: type lines, press Ctrl-C/Ctrl-D, read the screen.

Output is matched after removing terminal escape codes, so assertions read like what an
operator sees. Every wait has a deadline and fails with the last screenful of output.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pexpect

from tests.support.cli import isolated_env

ESCAPES = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-Za-z]|\x1b[=>78]|[\r\x07]")
PROMPT = "›"


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for an isolated data home on the offline engine (developer settings ignored)."""
    # No terminal answers cursor-position requests here; without this prompt_toolkit waits and warns.
    return isolated_env(home, **{"TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1", **extra})


class Terminal:
    """One ``python -m opsgraph ...`` process on a pty."""

    def __init__(self, home: Path, *args: str, **env: str) -> None:
        self.child = pexpect.spawn(sys.executable, ["-m", "opsgraph", *args], env=cli_env(home, **env),
                                   cwd=str(home.parent), encoding="utf-8", codec_errors="replace",
                                   dimensions=(50, 160), timeout=5)
        self.raw = ""
        self.seen = 0  # how much of the cleaned output earlier expectations consumed

    @property
    def screen(self) -> str:
        """Everything printed so far, without escape codes."""
        return ESCAPES.sub("", self.raw)

    def expect(self, needle: str, timeout: float = 180) -> str:
        """Wait until ``needle`` appears after what was already matched; returns the text up to it."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen
            found = text.find(needle, self.seen)
            if found >= 0:
                chunk, self.seen = text[self.seen:found + len(needle)], found + len(needle)
                return chunk
            if time.monotonic() > deadline or not self._read():
                tail = text[-4000:]
                raise AssertionError(f"did not see {needle!r} within {timeout}s; last output:\n{tail}")

    def _read(self) -> bool:
        try:
            self.raw += self.child.read_nonblocking(65536, timeout=0.2)
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            return False
        return True

    def prompt(self, timeout: float = 180) -> str:
        """Wait for the next prompt; returns what was printed before it."""
        return self.expect(PROMPT, timeout)

    def type(self, line: str) -> None:
        """Type a line and press Enter (the echo of the typed text is skipped)."""
        self.child.send(line + "\r")
        self.expect(line[-20:], timeout=30)

    def ctrl_c(self) -> None:
        """Press Ctrl-C."""
        self.child.sendintr()

    def ctrl_d(self) -> None:
        """Press Ctrl-D."""
        self.child.sendeof()

    def wait_exit(self, timeout: float = 60) -> int:
        """Wait for the process to end; returns its exit code."""
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            self._read()
        self.child.close()
        assert self.child.exitstatus is not None, f"still running; last output:\n{self.screen[-3000:]}"
        return self.child.exitstatus

    def kill(self) -> None:
        """Make sure the process is gone (test clean-up)."""
        if self.child.isalive():
            self.child.terminate(force=True)
