"""A real ``langgraph dev`` server over the project's langgraph.json, offline, for slow tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.chroma_server import free_port
from tests.support.paths import PROJECT_ROOT

START_TIMEOUT_S = 120
# Everything `langgraph dev` would reach on the internet, switched off: the CLI's usage
# analytics, the server's PyPI version check, LangSmith tracing; --no-browser skips Studio.
OFFLINE_ENV = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
}
DROPPED_ENV = ("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY", "LANGGRAPH_CLOUD_LICENSE_KEY", "OPENAI_API_KEY",
               "OPENAI_BASE_URL", "OPSGRAPH_CONFIG", "OPSGRAPH_DATABASE_URL", "OPSGRAPH_CHECKPOINT_URL",
               "OPSGRAPH_CHROMA_URL")


def _binary() -> str | None:
    found = shutil.which("langgraph") or str(Path(sys.executable).parent / "langgraph")
    return found if Path(found).exists() else None


def _healthy(url: str, proc: subprocess.Popen) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/ok", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def _workdir(root: Path) -> Path:
    """A copy of langgraph.json whose relative graph paths resolve to this checkout.

    The in-memory server keeps its state in the working directory, so it runs in a temp dir.
    """
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "langgraph.json", root / "langgraph.json")
    (root / "opsgraph").symlink_to(PROJECT_ROOT / "opsgraph", target_is_directory=True)
    return root


@contextmanager
def langgraph_dev(workdir: Path, home: Path) -> Iterator[str]:
    """Start ``langgraph dev`` with ``OPSGRAPH_HOME=home``; yield its URL; stop it afterwards.

    Skips the calling test when the CLI (``langgraph-cli[inmem]``) is not installed; fails
    with the server's log when it does not become healthy.
    """
    binary = _binary()
    if binary is None:
        pytest.skip("langgraph-cli[inmem] is not installed")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env.update(OFFLINE_ENV, OPSGRAPH_HOME=str(home))
    cwd = _workdir(workdir)
    log = (cwd / "server.log").open("w")
    proc = subprocess.Popen([binary, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        if not _healthy(url, proc):
            pytest.fail(f"langgraph dev did not become healthy:\n{(cwd / 'server.log').read_text()[-4000:]}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
