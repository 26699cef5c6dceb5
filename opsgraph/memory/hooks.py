"""From a run's state to memories: lessons when approvals are decided, an episode when the run ends."""

from __future__ import annotations

from typing import Any

from opsgraph.memory.layer import MEMORY_LEDGER, LessonRefused, Memory
from opsgraph.memory.lessons import Lesson, lesson_from_decision
from opsgraph.memory.records import Episode, collect_subjects, episode_text, event_of, key_args, memory_id

FINISHED = ("completed", "failed", "stopped")


def remember_run(memory: Memory, graph_id: str, thread_id: str, status: str, values: dict[str, Any]) -> dict[str, Any]:
    """Write the lessons of the run's decided approvals, and its episode once it has ended.

    Safe to call after every step that returns control: ids are stable, so writing again
    overwrites. Returns what was written and what was refused.
    """
    decisions = decided_approvals(values)
    day = memory.clock()[:10]
    written: dict[str, Any] = {"lessons": [], "refused": [], "episode": None}
    for decision in decisions:
        lesson = lesson_from_decision(decision, thread_id, day)
        if lesson is None:
            continue
        try:
            written["lessons"].append(memory.write_lesson(lesson))
        except LessonRefused as exc:
            written["refused"].append(str(exc))
    if status in FINISHED:
        episode = build_episode(graph_id, thread_id, status, values, decisions, day)
        written["episode"] = memory.write_episode(episode, _agents(values))
    return written


def decided_approvals(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Every human decision of the run, in the approval gate's shape (an escalation's too)."""
    decisions = [dict(a) for a in values.get("approvals") or [] if isinstance(a, dict)]
    escalation = values.get("escalation")
    if isinstance(escalation, dict) and escalation.get("decision"):
        from opsgraph.governance.approvals import apply_edits
        from opsgraph.graphs.procurement_review import order_args

        proposal = values.get("proposal") or {}
        args = order_args(proposal) if proposal else {}
        final = apply_edits(args, escalation.get("edits") or {}) if escalation["decision"] == "edit" and args else args
        decisions.append({"kind": "purchase_order", "decision": escalation["decision"],
                          "reason": escalation.get("reason"), "by": escalation.get("by"),
                          "proposal": proposal, "final_args": final,
                          "approval_id": f"escalation:{values.get('round')}"})
    return decisions


def build_episode(graph_id: str, thread_id: str, status: str, values: dict[str, Any],
                  decisions: list[dict[str, Any]], day: str) -> Episode:
    """The episode of a finished run: event, subjects, actions, human decisions, outcome, cost."""
    event_type, event = event_of(graph_id, values)
    actions = [{"agent": a.get("agent"), "tool": a.get("tool"), "args": key_args(a.get("args") or {}),
                "status": a.get("status"), "writes": bool(a.get("writes"))} for a in values.get("actions") or []]
    said = [{"kind": d.get("kind"), "decision": d.get("decision"), "by": d.get("by"), "reason": d.get("reason") or "",
             "edits": _edits(d)} for d in decisions]
    report = values.get("report") or {}
    outcome = str(report.get("outcome") or status) if isinstance(report, dict) else status
    writes = [a for a in values.get("actions") or [] if a.get("writes")]
    subjects = collect_subjects(event, [a.get("args") for a in values.get("actions") or []],
                                [a.get("result") for a in writes if a.get("ok")],
                                [d.get("final_args") for d in decisions])
    return Episode(id=memory_id("ep", thread_id), kind="episode",
                   text=episode_text(graph_id, event_type, event, actions, said, outcome, day), graph=graph_id,
                   thread_id=thread_id, event_type=event_type, event=event, subjects=subjects, actions=actions,
                   decisions=said, outcome=outcome, cost=_cost(values), created_at="")


def _edits(decision: dict[str, Any]) -> dict[str, Any]:
    if decision.get("decision") != "edit":
        return {}
    final, proposal = decision.get("final_args") or {}, decision.get("proposal") or {}
    lines = {line.get("sku_id"): line.get("quantity") for line in final.get("lines") or []}
    before = {line.get("sku_id"): line.get("quantity") for line in proposal.get("lines") or []}
    return {sku: {"from": before.get(sku), "to": qty} for sku, qty in lines.items() if before.get(sku) != qty}


def _cost(values: dict[str, Any]) -> dict[str, Any]:
    calls = [c for c in values.get("calls") or [] if isinstance(c, dict)]
    return {"model_calls": len(calls), "usd": round(sum(float(c.get("cost_usd") or 0) for c in calls), 6),
            "tokens": sum(int(c.get("input_tokens") or 0) + int(c.get("output_tokens") or 0) for c in calls)}


def _agents(values: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(str(a["agent"]) for a in values.get("actions") or [] if a.get("agent")))


def seed_memories(memory: Memory, seeds: list[dict[str, Any]]) -> list[str]:
    """Write lessons and episodes given as plain data (eval cases, imports); lessons pass the policy check.

    A seed with ``kind: episode`` is a past run (text, subjects, optionally graph, event, outcome,
    agents); any other seed is a lesson.
    """
    return [_seed_episode(memory, seed) if seed.get("kind") == "episode" else _seed_lesson(memory, seed)
            for seed in seeds]


def _seed_lesson(memory: Memory, seed: dict[str, Any]) -> str:
    lesson = Lesson(id=memory_id("le", "seed", seed["text"]), kind="lesson", text=str(seed["text"]),
                    category=str(seed.get("category") or "purchase_order"), subjects=_seed_subjects(seed),
                    decision=str(seed.get("decision") or "edit"), by=str(seed.get("by") or "operator"),
                    reason=str(seed.get("reason") or ""), changes=[],
                    stated_values=list(seed.get("stated_values") or []), thread_id=MEMORY_LEDGER, created_at="")
    return memory.write_lesson(lesson)


def _seed_episode(memory: Memory, seed: dict[str, Any]) -> str:
    event = dict(seed.get("event") or {})
    episode = Episode(id=memory_id("ep", "seed", seed["text"]), kind="episode", text=str(seed["text"]),
                      graph=str(seed.get("graph") or ""), thread_id=MEMORY_LEDGER,
                      event_type=str(seed.get("event_type") or ""), event=event, subjects=_seed_subjects(seed),
                      actions=[], decisions=[], outcome=str(seed.get("outcome") or "completed"), cost={},
                      created_at=str(seed.get("created_at") or ""))
    return memory.write_episode(episode, [str(a) for a in seed.get("agents") or []])


def _seed_subjects(seed: dict[str, Any]) -> dict[str, list[str]]:
    return {str(k): [str(i) for i in v] for k, v in seed["subjects"].items()}
