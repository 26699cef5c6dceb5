"""Per-agent views of the shared thread, so specialists do not drown in others' tokens.

Every view keeps the history valid for any chat API: a tool message is only kept together
with the assistant message that called it, and vice versa.
"""

from __future__ import annotations

from typing import Sequence

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage

from opsgraph.agents.base import HistoryPolicy
from opsgraph.governance.policy import Policy, PolicyError

HISTORY_POLICIES: tuple[str, ...] = ("full", "last_message", "summary", "own_turns")


def context_policy(agent: str, policy: Policy, default: HistoryPolicy = "full") -> HistoryPolicy:
    """``agent``'s context policy: ``agents.<agent>.history`` in policy.yaml, else ``default``.

    Reading it from the policy lets operators change what an agent sees without a code
    change; an unknown value is a configuration error, not a silent fallback.
    """
    try:
        chosen = policy.get(f"agents.{agent}.history")
    except PolicyError:
        return default
    if chosen not in HISTORY_POLICIES:
        raise PolicyError(f"agents.{agent}.history is {chosen!r}; use one of {', '.join(HISTORY_POLICIES)}")
    return chosen


def _last_request(messages: Sequence[AnyMessage]) -> int:
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return index
    return 0


def _own_turns(messages: Sequence[AnyMessage], agent: str) -> list[AnyMessage]:
    kept: list[AnyMessage] = []
    own_calls: set[str] = set()
    for message in messages:
        if isinstance(message, AIMessage) and message.name == agent:
            kept.append(message)
            own_calls |= {c["id"] for c in message.tool_calls}
        elif isinstance(message, ToolMessage) and message.tool_call_id in own_calls:
            kept.append(message)
    return kept


def _summary(messages: Sequence[AnyMessage], agent: str) -> AnyMessage | None:
    reports = [
        f"{m.name}: {m.content}" for m in messages
        if isinstance(m, AIMessage) and m.name not in (agent, None) and not m.tool_calls and m.content
    ]
    if not reports:
        return None
    return HumanMessage(content="Reports from other agents so far:\n" + "\n".join(reports), name="summary")


def history_view(messages: Sequence[AnyMessage], agent: str, policy: HistoryPolicy) -> list[AnyMessage]:
    """The messages ``agent`` sees under its context ``policy``."""
    if policy == "full" or not messages:
        return list(messages)
    start = _last_request(messages)
    request, after = messages[start], messages[start + 1:]
    if policy == "last_message":
        tail = [m for m in after[-1:] if not isinstance(m, ToolMessage) and not getattr(m, "tool_calls", None)]
        return [request, *tail, *_own_turns(after, agent)]
    if policy == "own_turns":
        return [request, *_own_turns(after, agent)]
    summary = _summary(after, agent)
    # The summary goes before the request so the request stays the latest human turn.
    return [*([summary] if summary else []), request, *_own_turns(after, agent)]
