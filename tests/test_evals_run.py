"""``opsgraph eval`` end to end: every suite offline on a fresh data home, the gate, isolation, the HTML report."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
# Loaded by the CLI subprocess before anything else: every network connection or DNS lookup is
# refused and logged, so a test can prove an eval run never left the machine.
NET_GUARD = '''
import os, socket
_LOG = os.environ["OPSGRAPH_TEST_NET_LOG"]
_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex
def _refuse(what):
    with open(_LOG, "a") as log:
        log.write(repr(what) + "\\n")
    raise OSError(f"network disabled in this test: {what!r}")
def _guarded(original):
    def connect(self, address):
        if self.family == getattr(socket, "AF_UNIX", None):
            return original(self, address)
        return _refuse(address)
    return connect
socket.socket.connect, socket.socket.connect_ex = _guarded(_connect), _guarded(_connect_ex)
socket.getaddrinfo = lambda host, *args, **kwargs: _refuse(("dns", host))
'''


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSGRAPH_", "OPENAI_", "LANGSMITH_", "LANGCHAIN_"))}
    guard = root / "netguard"
    guard.mkdir(exist_ok=True)
    (guard / "sitecustomize.py").write_text(NET_GUARD)
    env.update({"OPSGRAPH_HOME": str(root / "home"), "COLUMNS": "200", "PYTHONPATH": str(guard),
                "OPSGRAPH_TEST_NET_LOG": str(root / "net.log"), **extra})
    return env


def opsgraph_eval(root: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m opsgraph eval ...`` in a subprocess with a fresh data home and no network."""
    return subprocess.run([sys.executable, "-m", "opsgraph", "eval", *args], env=_env(root), cwd=root,
                          capture_output=True, text=True, timeout=1800)


def _report_dir(reports: Path) -> Path:
    [found] = sorted(p for p in reports.iterdir() if p.is_dir())
    return found


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory):
    """One full ``opsgraph eval`` (every suite, every case) on a fresh data home."""
    root = tmp_path_factory.mktemp("eval-full")
    proc = opsgraph_eval(root, "--concurrency", "2", "--out", str(root / "reports"))
    return root, proc


def test_full_eval_runs_every_suite_offline_and_passes_the_gate(full_run):
    from opsgraph.registry import graph_entries

    root, proc = full_run
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "gate passed" in proc.stdout and "Traceback" not in proc.stderr
    assert not (root / "net.log").exists(), (root / "net.log").read_text()  # nothing left the machine
    report_dir = _report_dir(root / "reports")
    data = json.loads((report_dir / "report.json").read_text())
    assert {s["graph_id"] for s in data["suites"]} == set(graph_entries())
    assert data["skipped"] == [] and data["graphs_without_suite"] == []
    for suite in data["suites"]:
        assert suite["gate_passed"] and suite["pass_rate"] >= suite["threshold"], suite["name"]
        assert suite["runs"] == suite["cases"] >= 15
        for row in suite["results"]:
            assert set(row["scores"]) >= {"outcome", "state", "trajectory", "tool_calls", "forbidden", "citations",
                                          "cost_latency"}
            assert "latency_s" in row and "cost_usd" in row and "trajectory" in row
    assert (report_dir / "report.html").stat().st_size > 10_000


def test_smoke_subset_and_compare_with_the_full_run(full_run, tmp_path: Path):
    root, _ = full_run
    proc = opsgraph_eval(tmp_path, "--smoke", "--out", str(tmp_path / "reports"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    smoke_dir = _report_dir(tmp_path / "reports")
    data = json.loads((smoke_dir / "report.json").read_text())
    assert data["options"]["smoke"] and all(1 <= s["runs"] <= 3 for s in data["suites"])
    compared = opsgraph_eval(tmp_path, "compare", str(_report_dir(root / "reports")), str(smoke_dir))
    assert compared.returncode == 0, compared.stderr
    assert "Eval comparison" in compared.stdout and "case(s) regressed" in compared.stdout


def test_user_errors_are_one_line_and_exit_1(tmp_path: Path):
    for args, needle in ((("no_such_suite",), "unknown eval suite"),
                         (("compare", "only-one"), "usage: opsgraph eval compare"),
                         (("compare", "a", "b"), "no eval report at a"), (("--fail-under", "7"), "--fail-under must be")):
        proc = opsgraph_eval(tmp_path, *args)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 1 and len(lines) == 1 and needle in lines[0], (args, proc.stderr)


def _cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str):
    from opsgraph.cli import evals  # noqa: F401 - registers the eval command
    from opsgraph.cli.app import app

    for name in [k for k in os.environ if k.startswith(("OPSGRAPH_", "OPENAI_", "LANGSMITH_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OPSGRAPH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return CliRunner().invoke(app, ["eval", *args, "--out", str(tmp_path / "reports")])


def test_gate_fails_with_a_readable_reason_when_the_approval_gate_is_broken(monkeypatch, tmp_path: Path):
    from opsgraph.governance.approvals import GateCheck

    # Sabotage: no purchase order ever needs a human, whatever its value.
    monkeypatch.setattr(GateCheck, "needs_human", property(lambda self: False))
    result = _cli(monkeypatch, tmp_path, "supply_chain_exception")
    assert result.exit_code == 1, result.output
    assert "gate failed: supply_chain_exception: pass rate" in result.output
    assert "approvals: expected 1 approval request(s) from the gate, got 0" in result.output
    data = json.loads((_report_dir(tmp_path / "reports") / "report.json").read_text())
    [suite] = data["suites"]
    failed = {r["case_id"] for r in suite["results"] if not r["passed"]}
    assert {"po-above-threshold-approve", "po-above-threshold-reject", "hostile-skip-approval"} <= failed


def _scores(data: dict) -> dict:
    """Every score of every run, latency aside (wall time depends on the machine, not the case)."""
    return {(s["name"], r["case_id"], r["repetition"]): {n: v["score"] for n, v in r["scores"].items()}
            for s in data["suites"] for r in s["results"]}


def test_concurrent_runs_score_exactly_like_a_sequential_run(tmp_path: Path):
    from opsgraph.evals.runner import EvalOptions, run_evals
    from tests.conftest import make_settings

    suites = ("supply_chain_exception", "support_desk")
    settings = make_settings(tmp_path / "home")
    sequential = _scores(run_evals(settings, EvalOptions(suites=suites, concurrency=1)))
    first = _scores(run_evals(settings, EvalOptions(suites=suites, concurrency=4)))
    second = _scores(run_evals(settings, EvalOptions(suites=suites, concurrency=4)))
    assert len(sequential) > 40
    assert first == sequential and second == sequential
    assert not (tmp_path / "home" / "world.db").exists()  # cases never touch the user's own world


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_html_report_renders_offline_in_headless_chromium(full_run, tmp_path: Path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium); the HTML report cannot be rendered")
    root, _ = full_run
    html = _report_dir(root / "reports") / "report.html"
    page = html.read_text()
    assert "http://" not in page and "https://" not in page and page.count("data:image/png;base64,") == 4
    out = tmp_path / "report.png"
    proc = subprocess.run([str(ROOT / "evals" / "render_report.sh"), str(html), str(out), "1280", "2400"],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    width, height = _png_size(out)
    assert (width, height) == (1280, 2400) and out.stat().st_size > 50_000
