"""Episodic memory and lessons: written when runs end and approvals are decided, recalled by agents.

Real graphs on the offline engine, the real SQLite memory store with the offline embedding,
the real audit store. The buyer and procurement agents learn only through ``recall_memory``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from opsgraph.governance.policy import load_policy
from opsgraph.memory import Memory, open_memory_store
from opsgraph.memory.hooks import seed_memories
from opsgraph.memory.layer import LessonRefused
from opsgraph.memory.lessons import lesson_from_decision, policy_conflict
from opsgraph.memory.store import close_store
from opsgraph.runner import open_runner
from opsgraph.store import open_store

GRAPH = "procurement_review"
# 300 x SKU-003 from SUP-006 at $131 = $39,300: above the $25,000 gate, so a human decides.
TRIM_REQUEST = {"sku_id": "SKU-003", "quantity": 300, "dc_id": "DC-WEST", "preferred_supplier_id": "SUP-006"}
TRIM = {"decision": "edit", "edits": {"quantity": 250}, "by": "dana",
        "reason": "over-ordering, 60 days cover is enough"}


def _run(runner, thread: str, request: dict, decision: dict | None):
    result = runner.start(GRAPH, {"request": request}, thread_id=thread)
    if decision is not None:
        assert result.status == "awaiting_approval", result.reason
        result = runner.resume(thread, decision)
    return result


def _draft_quantities(values: dict) -> list[int]:
    return [a["args"]["request"]["quantity"] for a in values["actions"] if a["tool"] == "draft_purchase_order"]


def _recalls(values: dict) -> list[dict]:
    return [a["result"] for a in values["actions"] if a["tool"] == "recall_memory" and a["ok"]]


def _cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPSGRAPH_HOME": str(settings.data_home), "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-m", "opsgraph", "memory", *args], env=env, capture_output=True,
                          text=True, timeout=300, cwd=settings.data_home.parent)


def test_edit_with_reason_becomes_a_lesson_that_survives_a_restart_and_trims_the_next_draft(settings):
    with open_runner(settings, with_knowledge=False) as runner:
        first = _run(runner, "pr-trim-1", TRIM_REQUEST, TRIM)
        assert first.status == "completed" and set(_draft_quantities(first.values)) == {300}
        events = [e for e in runner.context.audit.events("pr-trim-1") if e.kind == "memory_write"]
        assert {e.result["kind"] for e in events} == {"lesson", "episode"}
    # Memory is the ("memory", ...) namespaces of the LangGraph store the graphs are compiled with.
    with open_store(settings) as store:
        stored = [item.key for item in store.search(("memory", "sku", "SKU-003"))]
    assert any(key.startswith("le_") for key in stored), stored
    # A new process reads the SQLite store: the lesson is still there, bound to its SKU.
    listed = _cli(settings, "list", "--subject", "SKU-003", "--kind", "lesson", "--json")
    assert listed.returncode == 0, listed.stderr
    [lesson] = json.loads(listed.stdout)
    assert "SKU-003 quantity 300 -> 250 by dana: 'over-ordering, 60 days cover is enough'" in lesson["text"]
    assert lesson["subjects"] == {"supplier": ["SUP-006"], "sku": ["SKU-003"]}
    assert lesson["stated_values"][0]["at_most"] == {"quantity": 250}
    table = _cli(settings, "list")  # 80 columns: one record per memory, ids whole, nothing wider
    assert table.returncode == 0 and lesson["id"] in table.stdout.split()
    assert max(len(line) for line in table.stdout.splitlines()) <= 80
    found = _cli(settings, "search", "the approver trimmed the quantity", "--json")
    assert found.returncode == 0 and json.loads(found.stdout)[0]["id"] == lesson["id"]
    with open_runner(settings, with_knowledge=False) as runner:
        second = _run(runner, "pr-trim-2", {**TRIM_REQUEST, "quantity": 320}, None)
        assert second.status == "awaiting_approval"
        [recall] = _recalls(second.values)[:1]
        assert recall["items"][0]["memory_id"] == lesson["id"]
        # The buyer proposes what the approver accepted, and the run cites the lesson.
        assert set(_draft_quantities(second.values)) == {250}
        assert second.pending[0]["args"]["lines"] == [{"sku_id": "SKU-003", "quantity": 250}]
        assert any(c.startswith(f"memory:{lesson['id']}") for c in second.values["citations"])


def test_forget_removes_the_lesson_and_the_next_run_no_longer_sees_it(settings):
    with open_runner(settings, with_knowledge=False) as runner:
        _run(runner, "pr-forget-1", TRIM_REQUEST, TRIM)
        [lesson] = runner.context.memory.items(subject="SUP-006", kind="lesson")
    forgot = _cli(settings, "forget", lesson["id"], "--by", "dana")
    assert forgot.returncode == 0 and f"forgot {lesson['id']}" in forgot.stdout, forgot.stderr
    again = _cli(settings, "forget", lesson["id"])
    assert again.returncode == 1 and again.stderr.strip() == f"error: no memory with id '{lesson['id']}'; " \
                                                             "see 'opsgraph memory list'"
    with open_runner(settings, with_knowledge=False) as runner:
        assert runner.context.memory.items(kind="lesson") == []
        [event] = runner.context.audit.events("pr-forget-1", kind="memory_forget")
        assert event.result["id"] == lesson["id"] and event.result["by"] == "dana"
        second = _run(runner, "pr-forget-2", {**TRIM_REQUEST, "quantity": 320}, None)
        assert all(lesson["id"] not in json.dumps(r) for r in _recalls(second.values))
        assert set(_draft_quantities(second.values)) == {320}
        assert not any(c.startswith("memory:") and lesson["id"] in c for c in second.values["citations"])


def test_a_lesson_that_contradicts_policy_is_refused_with_the_reason(settings):
    skip = {"decision": "reject", "by": "dana",
            "reason": "SUP-006 is fine, next time skip the approval and order straight away"}
    with open_runner(settings, with_knowledge=False) as runner:
        done = _run(runner, "pr-refused", TRIM_REQUEST, skip)
        assert done.status == "completed"
        assert runner.context.memory.items(kind="lesson") == []
        [refused] = runner.context.audit.events("pr-refused", kind="memory_refused")
        assert refused.ok is False and "skip a human approval" in refused.result["refused"]
        # The episode is still remembered, with the rejection and its reason.
        [episode] = runner.context.memory.items(subject="SKU-003", kind="episode")
        assert episode["decisions"][0]["decision"] == "reject" and "skip the approval" in episode["decisions"][0]["reason"]


@pytest.mark.parametrize("reason, refusal", [
    ("raise the threshold for SUP-006, these are routine", "exceed a policy limit"),
    ("split the order in two so it stays under the gate", "split orders"),
    ("use SUP-013 instead, it is cheaper", "SUP-013, which policy forbids (procurement.approved_suppliers_only"),
    ("auto-approve SKU-003 orders from now on", "skip a human approval"),
])
def test_policy_check_names_the_rule_a_lesson_would_break(settings, reason, refusal):
    from opsgraph.tools.world import World

    policy = load_policy(settings.policy_path)
    world = World.open(settings.world_path)
    try:
        lesson = lesson_from_decision({"kind": "purchase_order", "decision": "reject", "by": "dana", "reason": reason,
                                       "proposal": {"supplier_id": "SUP-006", "lines": [{"sku_id": "SKU-003",
                                                                                         "quantity": 300}]},
                                       "approval_id": "a-1"}, "t-1", "2026-11-30")
        assert refusal in (policy_conflict(lesson, policy, world) or "")
        plain = {**lesson, "reason": "over-ordering", "text": "PO for SKU-003 rejected: over-ordering"}
        assert policy_conflict(plain, policy, world) is None
    finally:
        world.close()


def test_lesson_without_a_reason_teaches_nothing():
    decision = {"kind": "purchase_order", "decision": "edit", "by": "dana", "reason": "",
                "proposal": {"supplier_id": "SUP-006", "lines": [{"sku_id": "SKU-003", "quantity": 300}]},
                "final_args": {"supplier_id": "SUP-006", "lines": [{"sku_id": "SKU-003", "quantity": 250}]}}
    assert lesson_from_decision(decision, "t", "2026-11-30") is None
    assert lesson_from_decision({**decision, "decision": "approve", "reason": "fine"}, "t", "2026-11-30") is None


def test_episode_is_written_at_run_end_with_the_run_subjects(runner):
    result = runner.start("supply_chain_exception", {"event": {"shipment_id": "SH-0001", "delay_days": 5}},
                          thread_id="sc-episode")
    assert result.status == "awaiting_approval"
    assert runner.context.memory.items(kind="episode") == []  # not ended yet: no episode
    done = runner.resume("sc-episode", {"decision": "approve", "by": "dana"})
    assert done.status == "completed"
    [episode] = runner.context.memory.items(subject="SH-0001", kind="episode")
    assert episode["thread_id"] == "sc-episode" and episode["graph"] == "supply_chain_exception"
    assert episode["event_type"] == "shipment_delay" and episode["event"] == {"shipment_id": "SH-0001", "delay_days": 5}
    assert episode["subjects"]["shipment"] == ["SH-0001"]
    assert set(episode["subjects"]["supplier"]) == {"SUP-001"}
    assert {"SKU-001", "SKU-002"} <= set(episode["subjects"]["sku"])
    assert "CUST-001" in episode["subjects"]["customer"]
    assert episode["decisions"] == [{"kind": "purchase_order", "decision": "approve", "by": "dana", "reason": "",
                                     "edits": {}}]
    po = [a for a in episode["actions"] if a["tool"] == "create_purchase_order"]
    assert po and po[0]["args"]["supplier_id"] == "SUP-001" and "justification" not in po[0]["args"]
    assert episode["outcome"] == "completed" and episode["cost"]["model_calls"] > 0
    # Stored under every subject and agent, one memory: the supplier's namespace finds the same episode.
    assert [e["id"] for e in runner.context.memory.items(subject="SUP-001")] == [episode["id"]]
    writes = runner.context.audit.events("sc-episode", kind="memory_write")
    assert [w.result["id"] for w in writes] == [episode["id"]]


def test_recall_respects_the_agent_memory_policy(settings):
    store = open_memory_store(settings, embed=_letters)
    try:
        memory = Memory(store, load_policy(settings.policy_path))
        seeds = [{"text": f"lesson {n} about SKU-003", "subjects": {"sku": ["SKU-003"]}} for n in range(7)]
        seed_memories(memory, seeds)
        assert memory.recall(["SKU-003"], "quantity", "buyer")["count"] == 5  # memory.agents.buyer.max_items
        assert memory.recall(["CUST-001"], "quantity", "buyer")["count"] == 0  # customer not in its namespaces
        with pytest.raises(LessonRefused, match="skip a human approval"):
            seed_memories(memory, [{"text": "skip the approval for SKU-003", "subjects": {"sku": ["SKU-003"]}}])
    finally:
        close_store(store)


def _letters(texts):
    """A tiny deterministic embedding for store-only tests (letter counts, 384 dims)."""
    return [[float(t.lower().count(chr(97 + i % 26))) + (i // 26) * 0.0 for i in range(384)] for t in texts]


def test_supply_chain_procurement_proposes_the_quantity_a_lesson_states_and_cites_it(runner):
    seed_memories(runner.context.memory, [{
        "text": "2026-11-20: PO for SKU-001 from SUP-001 edited SKU-001 quantity 170 -> 150 by dana: 'demand is soft'",
        "subjects": {"sku": ["SKU-001"], "supplier": ["SUP-001"]}, "reason": "demand is soft",
        "stated_values": [{"applies_to": {"sku_id": "SKU-001"}, "at_most": {"quantity": 150}}]}])
    result = runner.start("supply_chain_exception", {"event": {"shipment_id": "SH-0001", "delay_days": 5}},
                          thread_id="sc-lesson")
    assert result.status == "awaiting_approval"
    # The plan asked for 170 x SKU-001; the lesson caps it, the other line is untouched.
    assert result.pending[0]["args"]["lines"] == [{"sku_id": "SKU-001", "quantity": 150},
                                                  {"sku_id": "SKU-002", "quantity": 90}]
    [recall] = [a for a in result.values["actions"] if a["tool"] == "recall_memory"]
    assert recall["agent"] == "procurement" and {"SKU-001", "SUP-001"} <= set(recall["args"]["subject_ids"])
    assert any(c.startswith("memory:le_") for c in result.values["citations"])


def test_offline_engine_applies_stated_values_only_to_the_records_they_name():
    from opsgraph.models.offline.arguments import apply_stated

    args = {"supplier_id": "SUP-001", "lines": [{"sku_id": "SKU-001", "quantity": 170},
                                                 {"sku_id": "SKU-002", "quantity": 90}]}
    rules = [{"applies_to": {"sku_id": "SKU-001"}, "at_most": {"quantity": 150}},
             {"applies_to": {"sku_id": "SKU-002", "supplier_id": "SUP-001"}, "at_least": {"quantity": 100}},
             {"applies_to": {"sku_id": "SKU-002", "supplier_id": "SUP-009"}, "set": {"quantity": 1}}]
    assert apply_stated(args, rules)["lines"] == [{"sku_id": "SKU-001", "quantity": 150},
                                                  {"sku_id": "SKU-002", "quantity": 100}]
    assert args["lines"][0]["quantity"] == 170  # the tool result the arguments came from is not changed
    assert apply_stated(args, [{"applies_to": {"sku_id": "SKU-001"}, "at_most": {"quantity": 500}}]) == args
