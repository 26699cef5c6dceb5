"""``opsgraph eval tau2-retail --agent`` end to end against the local fake OpenAI server (CLI, HTTP, report)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import opsgraph
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.retail_db import retail_db

pytestmark = pytest.mark.slow

USER_LINES = ["Please cancel order #W1; my email is ann.lee@example.com.", "yes, it is no longer needed", "###STOP###"]
TASK = {"id": "cancel-w1", "user_scenario": {"instructions": {"reason_for_call": "Cancel #W1."}},
        "evaluation_criteria": {"actions": [
            {"action_id": "0", "name": "find_user_id_by_email", "arguments": {"email": "ann.lee@example.com"}},
            {"action_id": "1", "name": "cancel_pending_order",
             "arguments": {"order_id": "#W1", "reason": "no longer needed"}}],
            "communicate_info": ["130.0"], "reward_basis": ["DB"]}}


def _completion(text: str = "", call: tuple[str, dict] | None = None) -> dict[str, Any]:
    calls = [{"id": f"call_{uuid.uuid4().hex[:8]}", "type": "function",
              "function": {"name": call[0], "arguments": json.dumps(call[1])}}] if call else []
    message = {"role": "assistant", "content": text or None, **({"tool_calls": calls} if calls else {})}
    return {"id": "chatcmpl-x", "object": "chat.completion", "created": int(time.time()), "model": "m",
            "choices": [{"index": 0, "finish_reason": "tool_calls" if calls else "stop", "message": message}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}}


def respond(body: dict[str, Any]) -> dict[str, Any]:
    """A stand-in for a capable model, deciding only from the request it receives."""
    messages = body["messages"]
    system = str(messages[0]["content"])
    if "playing a customer" in system:
        return _completion(USER_LINES[sum(1 for m in messages if m["role"] == "assistant")])
    called = [c["function"]["name"] for m in messages if m["role"] == "assistant" for c in m.get("tool_calls") or []]
    if "retail triage agent" in system:
        if "find_user_id_by_email" not in called:
            return _completion(call=("find_user_id_by_email", {"email": "ann.lee@example.com"}))
        return _completion(call=("transfer_to_retail_orders", {"reason": "cancel #W1 for ann_lee_1"}))
    if "cancel_pending_order" in called:
        return _completion("Order #W1 is cancelled; 130.0 is refunded to your card.")
    if messages[-1]["role"] == "user" and "yes" in str(messages[-1]["content"]).lower():
        return _completion(call=("cancel_pending_order", {"order_id": "#W1", "reason": "no longer needed"}))
    return _completion("Cancel order #W1 ($130.0) as 'no longer needed'? Please confirm with yes.")


def test_agent_mode_against_an_openai_compatible_server_reports_pass_and_cost(tmp_path: Path):
    (tmp_path / "db.json").write_text(json.dumps(retail_db()))
    (tmp_path / "tasks.json").write_text(json.dumps([TASK]))
    (tmp_path / "pricing.yaml").write_text("default: {input: 1.0, output: 2.0}\nmodels: {}\n")
    with FakeOpenAIServer(respond) as server:
        proc = opsgraph(tmp_path / "home", "eval", "tau2-retail", "--agent", "--tasks-file", str(tmp_path / "tasks.json"),
                        "--db", str(tmp_path / "db.json"), "--repeat", "2", "--concurrency", "2",
                        "--out", str(tmp_path / "reports"), OPENAI_BASE_URL=server.base_url,
                        OPSGRAPH_SMALL_MODEL="openai:local-small", OPSGRAPH_LARGE_MODEL="openai:local-large",
                        OPSGRAPH_TAU2_USER_MODEL="openai:local-user", OPSGRAPH_PRICING=str(tmp_path / "pricing.yaml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pass^1 1.000, pass^2 1.000" in proc.stdout, proc.stdout
    [report_dir] = list((tmp_path / "reports").iterdir())
    data = json.loads((report_dir / "report.json").read_text())
    assert (report_dir / "report.html").stat().st_size > 1000
    task = data["tau2"]["tasks"]["cancel-w1"]
    assert task["passed"] == [True, True] and task["terminations"] == ["user_stop", "user_stop"]
    # Cost per task: agent calls (110 tokens each) and simulator calls (3 per trial) at the pricing file's rates.
    assert task["mean_cost_usd"] > 0 and task["mean_tokens"] > 0
    for row in data["suites"][0]["results"]:
        assert row["user_tokens"] == 3 * 110 and row["user_cost_usd"] == pytest.approx(3 * (100 + 20) / 1e6)
        assert row["agent_cost_usd"] > 0
    assert {r["model"] for r in server.requests} == {"local-small", "local-user"}


def test_agent_mode_refuses_the_offline_engine_in_one_line(tmp_path: Path):
    proc = opsgraph(tmp_path / "home", "eval", "tau2-retail", "--agent")
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1 and len(lines) == 1 and "offline engine is not an LLM" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
