"""Provider faults injected by the fake OpenAI-compatible server, seen through the CLI as a user would.

Each fault strikes mid-run, after the run has already written to the mock enterprise. The
CLI must print one line and exit non-zero, the run must be recorded ``failed`` with its
reason, and ``runs resume`` on a healthy server must finish the run with every write made
exactly once: the same world rows and audited tool calls as a run that never failed.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import one_error_line, opsgraph
from tests.support.fake_openai import FAULT_MODES, FakeOpenAIServer

pytestmark = pytest.mark.slow

THREAD = "fault-1"
RUN = ("run", "supply_chain_exception", "--shipment", "SH-0002", "--delay-days", "4", "--thread", THREAD)
# Requests served before the fault: after the first write (the delay is reported on the first
# tool turn) and before the last, so the resume has work left that must not be redone.
FAULT_AFTER = 4
CLIENT_TIMEOUT_S = "4"

EXPECTED_REASON = {
    "500": "HTTP 500",
    "429": "HTTP 429",
    "timeout": "did not answer in time",
    "malformed_json": "could not be read",
    "html": "could not be read",
    "empty_choices": "could not be read",
}


def _env(server: FakeOpenAIServer) -> dict[str, str]:
    # Priced model names keep stderr to the one error line (an unpriced model adds a warning line).
    return {"OPENAI_BASE_URL": server.base_url, "OPSGRAPH_SMALL_MODEL": "openai:gpt-4o-mini",
            "OPSGRAPH_LARGE_MODEL": "openai:gpt-4o", **{
                f"OPSGRAPH_{tier}_{name}": value for tier in ("SMALL", "LARGE")
                for name, value in (("TIMEOUT_S", CLIENT_TIMEOUT_S), ("MAX_RETRIES", "1"), ("BACKOFF_S", "0.1"))}}




def _fingerprint(home: Path) -> dict[str, Any]:
    """What the run left behind: row counts of the world and the tool calls in the audit trail."""
    from opsgraph.tools.world import MAIN_TABLES

    with sqlite3.connect(home / "world.db") as world:
        counts = {t: world.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in MAIN_TABLES}
        delay = world.execute("SELECT delay_days FROM shipments WHERE shipment_id = 'SH-0002'").fetchone()[0]
    with sqlite3.connect(home / "audit.db") as audit:
        calls = audit.execute("SELECT name, args, ok FROM audit_events WHERE thread_id = ? AND kind = 'tool_call'"
                              " ORDER BY name, args", (THREAD,)).fetchall()
    return {"counts": counts, "delay_days": delay, "tool_calls": calls}


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same run on a server that never fails: what a faulted run must end up with."""
    home = tmp_path_factory.mktemp("healthy") / "home"
    with FakeOpenAIServer() as server:
        proc = opsgraph(home, *RUN, "--json", **_env(server))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "completed"
    fingerprint = _fingerprint(home)
    assert fingerprint["delay_days"] == 4 and fingerprint["tool_calls"], fingerprint
    return {"fingerprint": fingerprint, "requests": len(server.requests)}


@pytest.mark.parametrize("mode", FAULT_MODES)
def test_provider_fault_fails_the_run_in_one_line_and_resume_finishes_it_once(tmp_path, healthy, mode):
    home = tmp_path / "home"
    assert FAULT_AFTER < healthy["requests"]
    with FakeOpenAIServer() as server:
        server.inject(mode, after=FAULT_AFTER, hang_s=3 * float(CLIENT_TIMEOUT_S))
        line = one_error_line(opsgraph(home, *RUN, **_env(server)))
        assert server.faults_served >= 1
        assert f"run {THREAD} failed" in line and EXPECTED_REASON[mode] in line, line
        assert f"opsgraph runs resume {THREAD}" in line

        shown = json.loads(opsgraph(home, "runs", "show", THREAD, "--json").stdout)
        assert shown["status"] == "failed" and EXPECTED_REASON[mode] in shown["reason"]
        listed = json.loads(opsgraph(home, "runs", "list", "--json").stdout)
        assert [(r["status"], EXPECTED_REASON[mode] in (r["reason"] or "")) for r in listed] == [("failed", True)]
        audit = json.loads(opsgraph(home, "audit", THREAD, "--json").stdout)
        failures = [e for e in audit if e["kind"] == "run_failed"]
        assert len(failures) == 1 and not failures[0]["ok"] and failures[0]["result"]["resumable"] is True
        assert any(e["kind"] == "tool_call" for e in audit)  # the fault struck after work was done

        server.heal()
        resumed = opsgraph(home, "runs", "resume", THREAD, "--json", **_env(server))
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "completed"
    assert _fingerprint(home) == healthy["fingerprint"]


def test_a_rate_limit_that_clears_on_retry_completes_the_run(tmp_path, healthy):
    home = tmp_path / "home"
    with FakeOpenAIServer() as server:
        server.inject("429", after=FAULT_AFTER, times=1)
        proc = opsgraph(home, *RUN, "--json", **_env(server))
    assert proc.returncode == 0, proc.stderr
    assert server.faults_served == 1
    assert json.loads(proc.stdout)["status"] == "completed"
    assert _fingerprint(home) == healthy["fingerprint"]
