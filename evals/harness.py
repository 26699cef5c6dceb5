"""Run one eval case in isolation and describe what happened, as plain JSON-ready data.

The target sees only the graph id, the graph input and the scripted decisions (never the
case id, never the expectations). It drives the run the way a person would: answers each
approval or escalation with the next scripted decision, answers a question or sends the
next chat turn (``turns``: after ``options``/``graph_input``, or all of the conversation), and
stops when the run has nothing left to ask. Then it reads the final state of
the run and of the case's mock enterprise.
"""

from __future__ import annotations

import json
import time
import traceback
import uuid
from typing import Any, Callable

from opsgraph.citations import collect_citations
from opsgraph.errors import UserError

MAX_EXCHANGES = 12  # approvals answered plus turns sent: a loop guard, far above any dataset case
RETRIEVAL_TOOL = "search_knowledge"
RECALL_TOOL = "recall_memory"
DEFAULT_APPROVER = "eval"
RESULT_CHARS = 300


def make_target(workspace: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The LangSmith target: ``inputs`` of one example -> outputs of one isolated run."""

    def run_case(inputs: dict[str, Any]) -> dict[str, Any]:
        return execute(workspace, inputs)

    return run_case


def execute(workspace: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Run the case described by ``inputs`` in a fresh home; never raises (a crash is an outcome)."""
    from opsgraph.runner import open_runner

    settings, world = workspace.new_case(inputs.get("policy"))
    started = time.perf_counter()
    out: dict[str, Any] = {"status": "crashed", "error": None}
    try:
        with open_runner(settings, world=world, retriever=workspace.retriever, routing=workspace.routing,
                         with_knowledge=workspace.with_knowledge, memory_embed=workspace.memory_embedding,
                         **_forced(inputs)) as runner:
            if inputs.get("memory"):
                from opsgraph.memory.hooks import seed_memories

                seed_memories(runner.context.memory, inputs["memory"])
            shadow = _shadow_first(workspace, runner, settings, inputs) if workspace.shadow else None
            out = _drive(runner, inputs)
            if shadow is not None:
                out["shadow"] = _agreement(runner.context.audit, shadow, out["thread_id"])
    except UserError as exc:
        out = {"status": "input_error", "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a crashing graph is a failed case, not a failed eval run
        out = {"status": "crashed", "error": f"{type(exc).__name__}: {exc}",
               "traceback": traceback.format_exc(limit=6)}
    out["latency_s"] = round(time.perf_counter() - started, 4)
    out["world_changes"] = workspace.changes(settings.world_path)
    workspace.discard(settings)
    return _defaults(out)


def _forced(inputs: dict[str, Any]) -> dict[str, Any]:
    """Runner options for a case with ``forced_calls`` (see opsgraph.evals.forced); none otherwise."""
    if not inputs.get("forced_calls"):
        return {}
    from opsgraph.evals.forced import forced_factory

    return {"model_factory": forced_factory(inputs["forced_calls"])}


def _shadow_first(workspace: Any, runner: Any, settings: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Run the case in shadow mode before the live run, on the same untouched world.

    Returns the shadow thread and what, if anything, it changed in the case's live world
    (it must change nothing: every write goes to the shadow run's scratch copy).
    """
    try:
        shadow = _drive(runner, inputs, shadow=True)
    except UserError as exc:  # a graph that cannot run in shadow mode, or input the live run refuses too
        return {"thread_id": None, "error": str(exc), "applicable": False, "live_changes": {}}
    except Exception as exc:  # noqa: BLE001 - a failed shadow run fails the shadow check, not the eval run
        return {"thread_id": None, "error": f"{type(exc).__name__}: {exc}", "live_changes": {}}
    changed = {t: {k: len(v) for k, v in d.items() if v} for t, d in workspace.changes(settings.world_path).items()}
    return {"thread_id": shadow["thread_id"], "status": shadow["status"], "error": None,
            "live_changes": {t: c for t, c in changed.items() if c}}


def _agreement(audit: Any, shadow: dict[str, Any], live_thread: str) -> dict[str, Any]:
    """The shadow run's proposed writes against the live run's writes on the same input."""
    from opsgraph.governance.shadow import done_writes, proposed_writes, write_agreement

    proposed = proposed_writes(audit, shadow["thread_id"]) if shadow["thread_id"] else []
    paired = write_agreement(proposed, done_writes(audit, live_thread))
    return {**shadow, **{side: [{"category": c, "action": k} for c, k in items] for side, items in paired.items()}}


def _drive(runner: Any, inputs: dict[str, Any], shadow: bool = False) -> dict[str, Any]:
    graph_id, spec = inputs["graph_id"], inputs["input"]
    turns = list(spec.get("turns") or [])
    opening = None if ("options" in spec or "graph_input" in spec) else turns.pop(0)
    first = _first_input(runner, graph_id, spec, opening)
    thread = f"eval-{'shadow-' if shadow else ''}{uuid.uuid4().hex[:12]}"
    decisions = list(inputs.get("decisions") or [])
    asked: list[dict[str, Any]] = []
    result = runner.start(graph_id, first, thread_id=thread, shadow=shadow)
    for _ in range(MAX_EXCHANGES):
        decidable = [p for p in result.pending if _kind(p) not in ("budget", "question")]
        asked += [_asked(p) for p in decidable]
        if decidable and decisions:
            result = runner.resume(thread, _decision(decisions.pop(0)))
        elif any(_kind(p) == "question" for p in result.pending) and turns:
            result = _send(runner, thread, graph_id, _command(turns.pop(0)))
        elif not result.pending and turns and result.status == "completed":
            result = _send(runner, thread, graph_id, _turn(turns.pop(0)))
        else:
            break
    return describe(result, asked, unused_decisions=len(decisions), unsent_turns=len(turns),
                    audit=runner.context.audit)


def _first_input(runner: Any, graph_id: str, spec: dict[str, Any], text: str | None) -> dict[str, Any]:
    """Graph input from options (validated like the CLI), a raw input, or the opening chat turn."""
    from opsgraph.registry import get_entry

    if "options" in spec:
        return runner.make_input(graph_id, dict(spec["options"]))
    if "graph_input" in spec:
        return dict(spec["graph_input"])
    entry = get_entry(graph_id)
    if entry.chat_input is not None:
        return entry.chat_input(text or "", runner.context.world)
    return _turn(text or "")


def _turn(text: str) -> dict[str, Any]:
    from langchain_core.messages import HumanMessage

    return {"messages": [HumanMessage(text)]}


def _command(text: str) -> Any:
    from langgraph.types import Command

    return Command(resume=text)


def _send(runner: Any, thread: str, graph_id: str, payload: Any) -> Any:
    """Continue a thread with a new turn or an answer to a question, as the chat REPL does."""
    from opsgraph.runner import tracing

    runner.context.audit.set_status(thread, "running")
    with tracing(runner.context.settings, graph_id, thread):
        for _ in runner.graph(graph_id).stream(payload, runner.config(thread), context=runner.context_for(thread)):
            pass
    return runner.status(thread)


def _kind(payload: Any) -> str | None:
    return payload.get("type") if isinstance(payload, dict) else None


def _decision(raw: Any) -> dict[str, Any]:
    decision = {"decision": raw} if isinstance(raw, str) else dict(raw)
    return {"by": DEFAULT_APPROVER, **decision}


def _asked(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: payload.get(k) for k in ("type", "kind", "agent", "tool", "amount_usd", "threshold_usd", "reason")}


def describe(result: Any, asked: list[dict[str, Any]], *, unused_decisions: int = 0, unsent_turns: int = 0,
             audit: Any = None) -> dict[str, Any]:
    """The evaluators' view of a finished (or paused) run.

    Tool calls come from the graph's ``actions``; a graph whose work happens in subgraphs
    with their own state (team supervisors) has none, so its calls are read from the
    thread's audit trail instead.
    """
    values = result.values
    actions = [_call(a) for a in values.get("actions") or []]
    if not actions and audit is not None:
        actions = audited_calls(audit, result.thread_id)
    report = _plain(values.get("report"))
    return {
        "status": result.status, "error": None, "thread_id": result.thread_id,
        "trajectory": _trajectory(values),
        "tool_calls": actions,
        "approvals_requested": asked,
        # Teams decide inside their subgraphs: their approvals reach the parent only through the report.
        "approvals": [{k: a.get(k) for k in ("kind", "decision", "by", "reason")}
                      for a in values.get("approvals") or (report or {}).get("approvals") or []],
        "pending": [_kind(p) or "question" for p in result.pending],
        "unused_decisions": unused_decisions, "unsent_turns": unsent_turns,
        "citations": list(values.get("citations") or []),
        "retrieved": list(dict.fromkeys(c for a in actions if a["tool"] == RETRIEVAL_TOOL and a["ok"]
                                        for c in a["citations"])),
        "recalled": list(dict.fromkeys(c for a in actions if a["tool"] == RECALL_TOOL and a["ok"]
                                       for c in a["citations"])),
        "report": report,
        "final_message": _final_message(values.get("messages") or []),
        **_spend(values.get("calls") or [], report),
    }


def audited_calls(audit: Any, thread: str) -> list[dict[str, Any]]:
    """Tool calls of a thread as the audit store recorded them (every namespace of the thread)."""
    statuses = {"tool_refused": "refused", "tool_rejected": "rejected", "tool_skipped": "skipped"}
    calls = []
    for event in audit.events(thread):
        if event.kind == "tool_call" or event.kind in statuses:
            status = statuses.get(event.kind) or ("done" if event.ok else "error")
            calls.append(_call({"agent": event.agent or "", "tool": event.name or "", "args": event.args or {},
                                "status": status, "ok": event.ok and status == "done", "result": event.result}))
    return calls


def _spend(calls: list[dict[str, Any]], report: dict[str, Any] | None) -> dict[str, Any]:
    """Cost, tokens and model calls of the run, teams' subgraph calls included (from the report)."""
    cost = (report or {}).get("cost") or {}
    teams = [t for t in (cost.get("teams") or {}).values() if isinstance(t, dict)]
    usd = round(sum(c["cost_usd"] for c in calls) + sum(float(t.get("total_usd") or 0) for t in teams), 8)
    tokens = sum(c["input_tokens"] + c["output_tokens"] for c in calls)
    tokens += sum(int(t.get("input_tokens") or 0) + int(t.get("output_tokens") or 0) for t in teams)
    model_calls = len(calls) + sum(int(t.get("model_calls") or 0) for t in teams)
    return {"cost_usd": usd, "tokens": tokens, "model_calls": model_calls}


def _trajectory(values: dict[str, Any]) -> list[str]:
    """Agents (or teams) that acted, in order: the graph's ``visited`` list, else the agents of its model calls."""
    if values.get("visited"):
        return list(values["visited"])
    return list(dict.fromkeys(c["agent"] for c in values.get("calls") or []))


def _call(action: dict[str, Any]) -> dict[str, Any]:
    result = action.get("result")
    text = result if isinstance(result, str) else json.dumps(result, default=str)
    return {"agent": action["agent"], "tool": action["tool"], "args": _plain(action.get("args") or {}),
            "status": action["status"], "ok": bool(action["ok"]), "result": text[:RESULT_CHARS],
            "citations": collect_citations(result) if action["tool"] in (RETRIEVAL_TOOL, RECALL_TOOL) else []}


def _final_message(messages: list[Any]) -> str:
    for message in reversed(messages):
        if getattr(message, "type", "") == "ai" and str(message.content).strip():
            return str(message.content)[:4000]
    return ""


def _plain(data: Any) -> Any:
    """JSON-ready copy (dates and other objects as strings)."""
    return json.loads(json.dumps(data, default=str)) if data is not None else None


def _defaults(out: dict[str, Any]) -> dict[str, Any]:
    """Every key evaluators read, present even when the run never started."""
    empty: dict[str, Any] = {"thread_id": None, "trajectory": [], "tool_calls": [], "approvals_requested": [],
                             "approvals": [], "pending": [], "unused_decisions": 0, "unsent_turns": 0,
                             "citations": [], "retrieved": [], "recalled": [], "report": None, "final_message": "",
                             "cost_usd": 0.0, "tokens": 0, "model_calls": 0}
    return {**empty, **out}
