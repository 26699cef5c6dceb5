"""Checks on a message thread that every chat API would accept."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage


def assert_valid_thread(messages: Sequence[BaseMessage]) -> None:
    """Every tool call has exactly one tool message after it, and every tool message answers an earlier call."""
    called: list[str] = []
    answered: Counter[str] = Counter()
    for message in messages:
        if isinstance(message, AIMessage):
            called += [c["id"] for c in message.tool_calls]
        elif isinstance(message, ToolMessage):
            assert message.tool_call_id in called, f"tool message {message.tool_call_id} answers no earlier call"
            answered[message.tool_call_id] += 1
    missing = [c for c in called if answered[c] == 0]
    doubled = [c for c, n in answered.items() if n > 1]
    assert not missing, f"tool calls without a tool message: {missing}"
    assert not doubled, f"tool calls answered twice: {doubled}"
    assert len(called) == len(set(called)), "a tool call id is used twice"


def tool_message(messages: Sequence[BaseMessage], call_id: str) -> ToolMessage:
    """The one tool message answering ``call_id``."""
    [found] = [m for m in messages if isinstance(m, ToolMessage) and m.tool_call_id == call_id]
    return found
