"""Forced tool calls: a stand-in for a model that misbehaves in one stated way, for guard cases.

The offline engine is a careful model: it never hands a request back to an agent that already
spoke, never floods handoffs, never calls a tool outside its step. The guards against a
model that does (ping-pong, the handoff limit) must still be shown to hold in the eval
suites, so a case may say what a misbehaving model would do: ``forced_calls: {billing:
[{tool: transfer_to_technical_support}]}`` makes the billing agent's next model turns those
calls, in order; every other turn is the offline engine's. The guard, not the script,
decides what happens next.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from pydantic import Field

from opsgraph.models.gateway import AGENT_KEY
from opsgraph.models.offline.chat_model import OfflineChatModel, openai_tool


class ForcedCallsModel(BaseChatModel):
    """The offline engine, except that ``forced[agent]`` calls are made first, one turn each."""

    forced: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    model_name: str = "offline:small"

    @property
    def _llm_type(self) -> str:
        return "opsgraph-offline-forced"

    def _engine(self) -> OfflineChatModel:
        return OfflineChatModel(model_name=self.model_name)

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable:
        """Bind like the offline engine (OpenAI tool format)."""
        kwargs.pop("tool_choice", None)
        return self.bind(tools=[openai_tool(t) for t in tools], **kwargs)

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Runnable:
        """Structured answers are never forced: the offline engine gives them."""
        return self._engine().with_structured_output(schema, **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        agent = str(((run_manager.metadata if run_manager else None) or {}).get(AGENT_KEY) or "")
        queue = self.forced.get(agent)
        if queue:
            call = queue.pop(0)
            reply = AIMessage("", tool_calls=[{"name": call["tool"], "args": dict(call.get("args") or {}),
                                               "id": f"forced_{uuid.uuid4().hex[:12]}", "type": "tool_call"}],
                              usage_metadata={"input_tokens": 0, "output_tokens": 0, "total_tokens": 0})
            return ChatResult(generations=[ChatGeneration(message=reply)])
        return self._engine()._generate(messages, stop, run_manager, **kwargs)


def forced_factory(forced: dict[str, list[dict[str, Any]]]) -> Callable[[str, str], BaseChatModel]:
    """A model factory for ``open_runner``: one forced-calls model per tier over one shared script."""
    script = {agent: [dict(c) for c in calls] for agent, calls in forced.items()}

    def build(tier: str, spec: str) -> BaseChatModel:
        return ForcedCallsModel(forced=script, model_name=spec)

    return build
