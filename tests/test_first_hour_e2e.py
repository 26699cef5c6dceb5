"""The first hour end to end: the README's command run twice, and the README's Python API example.

Both run real graphs on the offline engine in subprocesses, as a new user would.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import isolated_env, opsgraph

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
README_RUN = ("run", "supply_chain_exception", "--shipment", "SH-0002", "--delay-days", "4")


def test_rerunning_the_readme_command_says_the_world_already_has_its_effects(tmp_path):
    home = tmp_path / "home"
    first = opsgraph(home, *README_RUN)
    assert first.returncode == 0, first.stderr
    assert "world reset" not in first.stdout + first.stderr
    second = opsgraph(home, *README_RUN)
    assert second.returncode == 0, second.stderr
    assert "Traceback" not in second.stderr
    notice = " ".join(second.stderr.split())
    assert "earlier runs already delayed SH-0002 once" in notice and "opsgraph world reset" in notice, second.stderr
    reset = opsgraph(home, "world", "reset")
    assert reset.returncode == 0, reset.stderr
    third = opsgraph(home, *README_RUN, "--json")
    assert third.returncode == 0 and "world reset" not in third.stderr, third.stderr


def python_api_example() -> str:
    """The code block of the README's ``## Python API`` section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Python API\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, "README has no '## Python API' section"
    block = re.search(r"```python\n(.*?)```", section.group(1), re.S)
    assert block, "the Python API section has no python code block"
    return block.group(1)


def _run_script(code: str, where: Path, home: Path) -> subprocess.CompletedProcess:
    where.mkdir(parents=True, exist_ok=True)
    script = where / "example.py"
    script.write_text(code, encoding="utf-8")
    return subprocess.run([sys.executable, str(script)], cwd=where, env=isolated_env(home, COLUMNS="200"),
                          capture_output=True, text=True, timeout=600)


def _fake_clone(parent: Path) -> None:
    """A folder named ``opsgraph`` shaped like a clone: the generic top-level packages, each importable."""
    clone = parent / "opsgraph"
    for name in ("graphs", "tools", "evals", "agents"):
        (clone / name).mkdir(parents=True)
        (clone / name / "__init__.py").write_text("")
    (clone / "README.md").write_text("# a clone\n")


def test_python_api_example_runs_beside_a_clone_folder_named_opsgraph_and_from_an_empty_directory(tmp_path):
    code = python_api_example()
    home = tmp_path / "home"
    beside = tmp_path / "work"
    _fake_clone(beside)
    first = _run_script(code, beside, home)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Traceback" not in first.stderr
    assert "completed" in first.stdout, first.stdout
    empty = tmp_path / "empty"
    second = _run_script(code, empty, home)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "completed" in second.stdout, second.stdout
