"""The wheel carries everything a run needs and claims no generic import names.

The wheel is built from this checkout and installed (without its dependencies, which come from
the test environment's own site-packages through a path file) into a fresh virtual
environment; the README's main job then runs from an empty directory, far from the checkout.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.support.cli import isolated_env
from tests.support.paths import PROJECT_ROOT

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory) -> Path:
    """A fresh venv with the opsgraph wheel installed; returns its python."""
    root = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                  str(root / "dist"), str(PROJECT_ROOT)], cwd=root)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((root / "dist").glob("opsgraph-*.whl"))
    venv.EnvBuilder(with_pip=False).create(root / "venv")
    python = root / "venv" / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=root).stdout.strip())
    # The dependencies come from this environment; a plain path line does not run its .pth files,
    # so the checkout's editable install stays invisible to the new venv.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                      str(wheel)], cwd=root)
    assert installed.returncode == 0, installed.stderr[-2000:]
    return python


def test_wheel_runs_the_main_job_from_an_empty_directory(wheel_env: Path, tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    env = isolated_env(empty / ".opsgraph", COLUMNS="200")
    done = _run([str(wheel_env), "-m", "opsgraph", "run", "supply_chain_exception", "--shipment", "SH-0002",
                 "--delay-days", "4", "--json"], cwd=empty, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"status": "completed"' in done.stdout
    where = _run([str(wheel_env), "-c", "import opsgraph, opsgraph.graphs.supply_chain as g; "
                  "print(opsgraph.__file__); print(g.__file__)"], cwd=empty, env=env).stdout
    assert str(PROJECT_ROOT) not in where and "site-packages" in where


def test_wheel_claims_no_generic_top_level_names(wheel_env: Path, tmp_path: Path):
    probe = "import importlib.util as u; print([n for n in ('graphs', 'tools', 'agents', 'evals', 'prompts') " \
            "if u.find_spec(n)])"
    done = _run([str(wheel_env), "-c", probe], cwd=tmp_path, env=isolated_env(tmp_path / "home"))
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_wheel_ships_corpus_prompts_policy_and_datasets(wheel_env: Path, tmp_path: Path):
    code = ("from opsgraph.resources import corpus_dir, default_policy_path, prompts_dir; "
            "from opsgraph.evals.dataset import DATASETS_DIR; "
            "print(len(list(corpus_dir().rglob('*.md'))), default_policy_path().is_file(), "
            "(prompts_dir() / 'billing.md').is_file(), len(list(DATASETS_DIR.glob('*.yaml'))))")
    done = _run([str(wheel_env), "-c", code], cwd=tmp_path, env=isolated_env(tmp_path / "home"))
    corpus, policy, prompt, datasets = done.stdout.split()
    assert int(corpus) >= 30 and policy == "True" and prompt == "True" and int(datasets) >= 6, done.stderr


def test_wheel_ships_the_console_templates_and_stylesheet(wheel_env: Path, tmp_path: Path):
    code = ("from pathlib import Path; import opsgraph.console as c; here = Path(c.__file__).parent; "
            "print(sorted(p.name for p in (here / 'templates').glob('*.html')), (here / 'static' / 'console.css').is_file())")
    done = _run([str(wheel_env), "-c", code], cwd=tmp_path, env=isolated_env(tmp_path / "home"))
    assert "'kpis.html'" in done.stdout and "'inbox.html'" in done.stdout and done.stdout.strip().endswith("True"), \
        done.stdout + done.stderr
