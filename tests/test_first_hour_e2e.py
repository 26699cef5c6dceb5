"""The first hour end to end: the README's command run twice, and the README's Python API example.

Both run real graphs on the offline engine in subprocesses, as a new user would.
"""

from __future__ import annotations

import re
import shutil
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


def _run_script(code: str, where: Path, home: Path, **env: str) -> subprocess.CompletedProcess:
    where.mkdir(parents=True, exist_ok=True)
    script = where / "example.py"
    script.write_text(code, encoding="utf-8")
    return subprocess.run([sys.executable, str(script)], cwd=where, env=isolated_env(home, COLUMNS="200", **env),
                          capture_output=True, text=True, timeout=600)


def _fake_clone(parent: Path) -> None:
    """A folder named ``opsgraph`` shaped like a clone of the repository.

    Every package in it fails on import, so the example passes only if it imports the
    installed opsgraph and nothing from the folder beside it.
    """
    clone = parent / "opsgraph"
    for name in ("opsgraph", "graphs", "tools", "evals", "agents"):
        (clone / name).mkdir(parents=True)
        (clone / name / "__init__.py").write_text(f"raise ImportError('imported the clone beside the script: {name}')\n")
    (clone / "README.md").write_text("# a clone\n")


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory) -> Path:
    """One data home for the example runs: the knowledge base is embedded once, not per test."""
    return tmp_path_factory.mktemp("api") / "home"


def _assert_ran(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert re.search(r"^completed - Shipment SH-0001 delayed 5 days", proc.stdout, re.M), proc.stdout


def test_python_api_example_runs_from_an_empty_directory(tmp_path, shared_home):
    _assert_ran(_run_script(python_api_example(), tmp_path / "empty", shared_home))


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory) -> Path:
    """opsgraph built as a wheel (from a copy of the tree) and installed into a folder of its own."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", ".opsgraph", "reports", "build",
                                                                 "dist", "*.egg-info", "__pycache__"))
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(root / "dist"), str(source)], check=True,
                   capture_output=True, timeout=600)
    (wheel,) = (root / "dist").glob("opsgraph-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(root / "site"), str(wheel)], check=True,
                   capture_output=True, timeout=600)
    return root / "site"


def test_python_api_example_runs_beside_a_clone_folder_named_opsgraph_with_opsgraph_installed(
        tmp_path, shared_home, wheel_site):
    beside = tmp_path / "work"
    _fake_clone(beside)
    _assert_ran(_run_script(python_api_example(), beside, shared_home, PYTHONPATH=str(wheel_site)))


def test_python_api_example_runs_beside_a_clone_folder_named_opsgraph_with_an_editable_install(
        tmp_path, shared_home):
    beside = tmp_path / "work"
    _fake_clone(beside)
    _assert_ran(_run_script(python_api_example(), beside, shared_home))
