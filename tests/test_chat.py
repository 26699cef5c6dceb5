"""The ``opsgraph chat`` REPL, driven through a pseudo-terminal and through pipes, as operators and scripts use it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.support.terminal import Terminal, cli_env

pytestmark = pytest.mark.slow
SUPPORT_QUESTION = ("This is Lakeside Packaging, customer CUST-005: we were charged twice for invoice INV-0001. "
                    "Can you refund the duplicate payment?")


def _state(home: Path, graph_id: str, thread: str):
    """The thread's checkpointed state, read through the Python API."""
    from opsgraph.runner import open_runner

    with open_runner(make_settings(home), with_knowledge=False) as runner:
        return runner.graph(graph_id).get_state(runner.config(thread))


def _registered(graph_id: str) -> bool:
    from opsgraph.registry import graph_entries

    return graph_id in graph_entries()


def _chat(home: Path, *args: str, **env: str) -> Terminal:
    term = Terminal(home, "chat", *args, **env)
    term.prompt(timeout=60)
    return term


def test_approval_in_chat_then_cost_history_exit_and_reopen(tmp_path):
    home = tmp_path / "home"
    term = _chat(home, "--graph", "supply_chain_exception", "--thread", "chat-1")
    try:
        term.type("SH-0001 is 5 days late")
        term.expect("handoff: supervisor → logistics")
        term.expect("⚙ get_shipment(shipment_id=SH-0001)")
        proposal = term.expect("Answer with /approve")
        assert "Approval required" in proposal and "create_purchase_order" in proposal
        assert "Amount: $" in proposal and "approvals.purchase_order.threshold_usd" in proposal
        assert "Supplier:" in proposal
        term.expect("awaiting_approval")
        term.prompt()
        term.type("/approve fine by me")
        assert "Incident report" in term.expect("thread chat-1 · completed")
        term.prompt()
        term.type("/cost")
        term.expect("Cost by agent and tier")
        assert "supervisor" in term.expect("total")
        term.prompt()
        term.type("/history")
        assert "/trace" in term.prompt()
        term.type("/exit")
        assert term.wait_exit() == 0
    finally:
        term.kill()
    assert "SH-0001 is 5 days late" in (home / "chat_history").read_text()  # persistent input history

    again = _chat(home, "--thread", "chat-1")
    try:
        assert "reopened thread chat-1 · completed" in again.screen
        again.expect("report: Delay of inbound shipment SH-0001 — completed")
        again.prompt()
        again.child.send("\x1b[A\x1b[A\r")  # Up, Up, Enter: /history, recalled from the last session
        again.expect("/trace")  # the numbered history of the first session's run
        again.expect("create_purchase_order")
        again.prompt()
        again.child.send("SH-0003 is")
        again.ctrl_c()  # at the prompt: clears the line, the REPL stays
        again.child.send("/thread\r")
        again.expect("thread chat-1 · supply_chain_exception · completed")
        again.prompt()
        again.ctrl_d()
        assert again.wait_exit() == 0
    finally:
        again.kill()
    values = _state(home, "supply_chain_exception", "chat-1").values
    assert values["report"]["outcome"] == "completed"
    assert values["approvals"][0]["decision"] == "approve" and values["approvals"][0]["reason"] == "fine by me"


def test_piped_input_runs_and_exits_zero(tmp_path):
    home = tmp_path / "home"
    script = "question\n/exit\n"
    proc = subprocess.run([sys.executable, "-m", "opsgraph", "chat", "--graph", "supply_chain_exception"],
                          input=script, env=cli_env(home, COLUMNS="160"), capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "error: name the late shipment" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_piped_script_completes_a_run_and_bad_commands_get_one_line(tmp_path):
    home = tmp_path / "home"
    bad = ["/frobnicate", "/aprove", "/trace", "/trace 9999", "/edit {quantity: 5", "/reject", "/use nope",
           "/thread nope", "/budget lots", "/approve"]
    script = "\n".join(["/history", "SH-0002 is 4 days late", "/cost", "/trace 2", *bad, "/graphs", "/threads"]) + "\n"
    proc = subprocess.run([sys.executable, "-m", "opsgraph", "chat", "-g", "supply_chain_exception", "-t", "pipe-1"],
                          input=script, env=cli_env(home, COLUMNS="160"), capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in out + proc.stderr
    assert "no conversation on this thread yet" in out  # /history before the first line
    assert "Incident report" in out and "thread pipe-1 · completed" in out
    assert "Cost by agent and tier" in out and "get_shipment" in out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == len(bad) + 1, errors
    assert "did you mean /approve?" in out
    assert "not valid JSON" in out
    assert "unknown graph 'nope'" in out
    assert "supply_chain_exception" in out.split("» /graphs")[1]


def test_ctrl_c_stops_the_run_keeps_state_and_the_repl(tmp_path):
    home = tmp_path / "home"
    term = _chat(home, "-g", "supply_chain_exception", "-t", "cc-1", OPSGRAPH_CONNECTOR_LATENCY_MS="300")
    try:
        term.type("SH-0002 is 4 days late")
        term.expect("⚙ get_shipment")
        term.ctrl_c()
        term.expect("stopping at the next step boundary")
        stopped = term.expect("thread cc-1 · interrupted")
        assert "stopped at a step boundary" in stopped and "Incident report" not in stopped
        term.prompt()
        snapshot = _state(home, "supply_chain_exception", "cc-1")
        assert snapshot.next, "the stopped run must have a next step to resume"
        assert snapshot.values["event"]["shipment_id"] == "SH-0002"
        assert len(snapshot.values["messages"]) >= 3 and snapshot.values["calls"]
        term.type("/state")
        assert "cc-1" in term.prompt()
        term.type("/resume")
        assert "Incident report" in term.expect("thread cc-1 · completed", timeout=300)
        term.prompt()
        term.type("/exit")
        assert term.wait_exit() == 0
    finally:
        term.kill()
    assert _state(home, "supply_chain_exception", "cc-1").values["report"]["outcome"] == "completed"
    with sqlite3.connect(home / "audit.db") as audit:
        stops = audit.execute("SELECT result FROM audit_events WHERE thread_id = 'cc-1' AND kind = 'run_interrupted'"
                              ).fetchall()
    assert len(stops) == 1 and "Ctrl-C in chat" in stops[0][0]


def test_support_desk_handoff_citations_and_same_agent_after_reopen(tmp_path):
    if not _registered("support_desk"):
        pytest.skip("support_desk not registered")
    home = tmp_path / "home"
    term = _chat(home, "--graph", "support_desk", "--thread", "sd-1")
    try:
        term.type(SUPPORT_QUESTION)
        turn = term.expect("thread sd-1 ·")
        assert "handoff: triage → " in turn
        assert "Sources:" in turn and "[" in turn.split("Sources:")[1]
        term.prompt()
        term.type("/exit")
        assert term.wait_exit() == 0
    finally:
        term.kill()
    before = _state(home, "support_desk", "sd-1")
    agent, count = before.values["active_agent"], len(before.values["messages"])
    assert agent and agent != "triage"

    again = _chat(home, "--thread", "sd-1")
    try:
        again.expect(f"active agent: {agent}")
        again.prompt()
        again.type("Thanks. When will the refund reach our account?")
        turn = again.expect("thread sd-1 ·")
        # The first speaker marker of the turn names the same agent (how much of the typed line the
        # terminal echoes before it varies, so look at the markers only).
        markers = [line.strip() for line in turn.splitlines() if line.strip().startswith("── ")]
        assert markers and markers[0] == f"── {agent} ──" and "handoff" not in turn, turn
        again.prompt()
        again.type("/exit")
        assert again.wait_exit() == 0
    finally:
        again.kill()
    after = _state(home, "support_desk", "sd-1").values
    assert len(after["messages"]) > count + 1
    assert any(getattr(m, "type", "") == "human" and "refund reach" in str(m.content) for m in after["messages"][count:])


def test_tokens_stream_from_an_openai_compatible_server(tmp_path):
    from tests.support.fake_openai import FakeOpenAIServer

    home = tmp_path / "home"
    with FakeOpenAIServer() as server:
        env = cli_env(home, COLUMNS="160", OPENAI_BASE_URL=server.base_url,
                      OPSGRAPH_SMALL_MODEL="openai:small-model", OPSGRAPH_LARGE_MODEL="openai:large-model")
        proc = subprocess.run([sys.executable, "-m", "opsgraph", "chat", "-g", "supply_chain_exception", "-t", "tok-1"],
                              input="SH-0002 is 4 days late\n/cost\n/exit\n", env=env, capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert server.requests and all(r["stream"] for r in server.requests), server.requests[:3]
    out = proc.stdout
    assert "Traceback" not in out + proc.stderr
    assert out.count("logistics: Summary report") == 1, out  # streamed once, not printed again from the update
    assert "handoff: supervisor → logistics" in out and "thread tok-1 · completed" in out
    total = next(line for line in out.split("Cost by agent and tier")[1].splitlines() if "total" in line)
    assert int(total.split("│")[4]) > 0, total  # streamed answers still report token usage
