"""Run ``opsgraph`` as a user would, in a subprocess on an isolated data home."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# The developer's own settings (models, keys, tracing) must not leak into a test run.
SETTINGS_PREFIXES = ("OPSGRAPH_", "OPENAI_", "LANGSMITH_")


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """This environment without the developer's opsgraph/OpenAI/LangSmith settings, on data home ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)}
    env.update({"OPSGRAPH_HOME": str(home), **extra})
    return env


def opsgraph(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    """Run ``python -m opsgraph ARGS`` on data home ``home``, 200 columns wide; ``extra`` adds env vars."""
    env = isolated_env(home, **{"COLUMNS": "200", **extra})
    return subprocess.run([sys.executable, "-m", "opsgraph", *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=home.parent)


def one_error_line(proc: subprocess.CompletedProcess, needle: str = "") -> str:
    """The one line a failed command printed: exit 1, no traceback anywhere, a single stderr line
    containing ``needle``; returns it."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    return lines[0]
