"""Handoffs between agents of one graph: tools that return a ``Command``, and the guards around them.

A handoff is an ordinary tool bound to the model, named by :func:`handoff_tool_name`::

    transfer_to_billing(reason="duplicate charge on INV-0001")
    -> Command(goto="billing", update={"messages": [ToolMessage("Transferred to billing: ...")],
                                       "active_agent": "billing"})

The agents here are nodes of the same graph, so the command needs no ``graph=Command.PARENT``.
:func:`perform_handoffs` runs the handoff calls of one assistant message inside the tool
node, after that node has executed the message's ordinary calls, and keeps the thread
valid for any chat API: every call gets exactly one tool message. Rules:

- a handoff the agent may not make (policy.yaml ``tools``) is refused (``tool_refused``);
- only the first permitted handoff of a message is performed; later ones are answered
  as not executed (``tool_skipped``), whatever the model emitted in parallel;
- a handoff that would exceed the per-request limit, or bounce a second time between two
  agents (A -> B -> A, then again), is not performed: a human takes over instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Sequence

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, InjectedToolCallId, StructuredTool
from langgraph.types import Command
from pydantic import BaseModel, Field

from opsgraph.graphs.components import refuse_call, skip_call, thread_id
from opsgraph.context import OpsContext

HANDOFF_PREFIX = "transfer_to_"
# A -> B -> A is one bounce; the second bounce within one request means the agents cannot settle it.
MAX_BOUNCES = 1


def handoff_tool_name(agent: str) -> str:
    """Name of the tool that hands the conversation to ``agent``: ``transfer_to_<agent>``."""
    return f"{HANDOFF_PREFIX}{agent}"


def handoff_target(tool_name: str) -> str | None:
    """The agent a handoff tool transfers to, or None for any other tool."""
    return tool_name[len(HANDOFF_PREFIX):] if tool_name.startswith(HANDOFF_PREFIX) else None


class HandoffArgs(BaseModel):
    """Arguments of a handoff tool; the call id is injected by the tool executor."""

    reason: str = Field("", max_length=1000, description="Why this team should take over, in one sentence.")
    tool_call_id: Annotated[str, InjectedToolCallId]


def create_handoff_tool(agent: str, description: str) -> BaseTool:
    """A tool that transfers the conversation to ``agent`` by returning a ``Command``."""
    name = handoff_tool_name(agent)

    def transfer(reason: str = "", tool_call_id: str = "") -> Command:
        text = f"Transferred to {agent}" + (f": {reason.strip()}" if reason.strip() else ".")
        note = ToolMessage(content=text, tool_call_id=tool_call_id, name=name)
        return Command(goto=agent, update={"messages": [note], "active_agent": agent})

    label = agent.replace("_", " ")
    return StructuredTool.from_function(
        func=transfer, name=name, args_schema=HandoffArgs,
        description=f"Transfer the customer to the {label} team, who handle {description}.",
        metadata={"system": "graph", "writes": False, "handoff_to": agent},
    )


def bounces(trail: Sequence[str]) -> int:
    """How often the trail returns to the agent it came from two steps before (A -> B -> A)."""
    return sum(1 for i in range(2, len(trail)) if trail[i] == trail[i - 2] != trail[i - 1])


def handoff_refusal(trail: Sequence[str], target: str, count: int, limit: int,
                    max_bounces: int = MAX_BOUNCES) -> str | None:
    """Why handing the request to ``target`` must not happen (a human takes over), or None."""
    route = [*trail, target]
    if bounces(route) > max_bounces:
        return f"ping-pong between agents ({' -> '.join(route)})"
    if count + 1 > limit:
        return f"handoff limit of {limit} per request reached ({' -> '.join(route)})"
    return None


@dataclass
class HandoffOutcome:
    """What the handoff calls of one message came to."""

    answers: dict[str, tuple[ToolMessage, dict]] = field(default_factory=dict)  # by tool call id
    target: str | None = None
    escalation: str | None = None
    record: dict[str, Any] | None = None


def handoff_update(state: dict, outcome: HandoffOutcome) -> dict[str, Any]:
    """State update that hands the conversation to ``outcome.target``: the new active agent, its
    route, the handoff counter and the handoff record (tagged with the current request)."""
    record = {**(outcome.record or {}), "request": int(state.get("requests") or 1)}
    return {"active_agent": outcome.target, "route": [*(state.get("route") or []), outcome.target],
            "handoff_count": int(state.get("handoff_count") or 0) + 1, "agent_rounds": 0,
            "handoffs": [record], "visited": [outcome.target]}


def perform_handoffs(calls: Sequence[dict], agent: str, ctx: OpsContext, tools: dict[str, BaseTool],
                     trail: Sequence[str], count: int, limit: int, max_bounces: int = MAX_BOUNCES) -> HandoffOutcome:
    """Answer every handoff call of one message; perform at most the first permitted one (see module doc).

    ``max_bounces`` is the ping-pong guard: how many A -> B -> A returns one request may make."""
    outcome = HandoffOutcome()
    for call in calls:
        if not ctx.policy.agent(agent).may_call(call["name"]):
            reason = f"agent '{agent}' is not permitted to call '{call['name']}' (policy.yaml)"
            outcome.answers[call["id"]] = refuse_call(call, agent, ctx, reason)
        elif outcome.target or outcome.escalation:
            first = outcome.target or "a human"
            reason = f"only the first handoff of a message is performed; the conversation went to {first}"
            outcome.answers[call["id"]] = skip_call(call, agent, ctx, reason)
        else:
            _take(call, agent, ctx, tools[call["name"]], (trail, count, limit, max_bounces), outcome)
    return outcome


def _take(call: dict, agent: str, ctx: OpsContext, tool: BaseTool, guard: tuple, outcome: HandoffOutcome) -> None:
    trail, count, limit, max_bounces = guard
    target = handoff_target(call["name"]) or ""
    why = handoff_refusal(trail, target, count, limit, max_bounces)
    if why:
        outcome.escalation = why
        outcome.answers[call["id"]] = skip_call(call, agent, ctx, f"{why}; a human takes over")
        return
    started = time.perf_counter()
    try:
        command = tool.invoke({"type": "tool_call", "id": call["id"], "name": call["name"], "args": call["args"]})
    except Exception as exc:  # noqa: BLE001 - a malformed handoff goes back to the agent, never crashes the graph
        outcome.answers[call["id"]] = skip_call(call, agent, ctx, f"invalid handoff arguments: {exc}")
        return
    [message] = command.update["messages"]
    reason = str(call["args"].get("reason") or "")
    outcome.target = command.goto
    outcome.record = {"from_agent": agent, "to_agent": command.goto, "reason": reason, "tool_call_id": call["id"]}
    ctx.audit.record(thread_id(), f"tool:{agent}:{call['id']}", "handoff", agent=agent, name=call["name"],
                     args=call["args"], result=outcome.record)
    action = {"agent": agent, "tool": call["name"], "tool_call_id": call["id"], "args": dict(call["args"]),
              "writes": False, "ok": True, "status": "done", "result": {"transferred_to": command.goto},
              "latency_ms": round((time.perf_counter() - started) * 1000, 3)}
    outcome.answers[call["id"]] = (message, action)
