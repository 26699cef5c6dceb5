"""A real ``chroma run`` server process for tests that need knowledge on a Chroma server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

START_TIMEOUT_S = 30


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _chroma_binary() -> str | None:
    found = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    return found if Path(found).exists() else None


def _wait_listening(port: int, proc: subprocess.Popen) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


@contextmanager
def chroma_server(data_dir: Path) -> Iterator[str]:
    """Start ``chroma run`` persisting under ``data_dir``; yield its URL; stop it afterwards.

    Skips the calling test (with the reason) when the binary is missing or the server does not start.
    """
    binary = _chroma_binary()
    if binary is None:
        pytest.skip("the chroma server binary is not installed")
    port = free_port()
    proc = subprocess.Popen([binary, "run", "--path", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not _wait_listening(port, proc):
            pytest.skip(f"the chroma server did not start within {START_TIMEOUT_S} s")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
