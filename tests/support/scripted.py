"""Scripted chat models for unit tests: fixed replies per agent, everything received recorded."""

from __future__ import annotations

import re
from typing import Any, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from opsgraph.models.offline.chat_model import OfflineChatModel

_AGENT = re.compile(r"You are the ([a-z_ ]+?) (?:agent|of)", re.IGNORECASE)


def agent_of(messages: Sequence[BaseMessage]) -> str:
    """Which agent a request is for, read from its system prompt."""
    system = next((m.content for m in messages if isinstance(m, SystemMessage)), "")
    match = _AGENT.search(str(system))
    return match.group(1).strip().lower().replace(" ", "_") if match else "?"


class ScriptedChatModel(BaseChatModel):
    """Replies from ``script[agent]`` in order; falls back to the offline engine when a script runs out."""

    script: dict[str, list[AIMessage]] = Field(default_factory=dict)
    received: list[dict[str, Any]] = Field(default_factory=list)
    model_name: str = "offline:small"

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Runnable:
        kwargs.pop("method", None)
        return OfflineChatModel(model_name=self.model_name).with_structured_output(schema, **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        agent = agent_of(messages)
        self.received.append({"agent": agent, "messages": list(messages), "tools": [t["function"]["name"] for t in kwargs.get("tools", [])]})
        queue = self.script.get(agent)
        if queue:
            reply = queue.pop(0).model_copy()
            reply.usage_metadata = reply.usage_metadata or {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
            return ChatResult(generations=[ChatGeneration(message=reply)])
        return OfflineChatModel(model_name=self.model_name)._generate(messages, **kwargs)


def tool_call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    """A tool call dict as a model would emit it."""
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}
