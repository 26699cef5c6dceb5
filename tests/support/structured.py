"""A scripted model whose structured answers can be scripted too (to test validation gates)."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import Field

from opsgraph.models.offline.chat_model import OfflineChatModel
from tests.support.scripted import ScriptedChatModel, agent_of


class StructuredScriptModel(ScriptedChatModel):
    """Like ScriptedChatModel; ``structured[agent]`` replaces that agent's next structured answers.

    Each scripted answer is a dict the schema validates, or a callable that turns the
    offline engine's answer (a dict) into the one to return, so a test can alter one field.
    """

    structured: dict[str, list[Any]] = Field(default_factory=dict)
    structured_received: list[dict[str, Any]] = Field(default_factory=list)

    def with_structured_output(self, schema: Any, *, include_raw: bool = False, **kwargs: Any) -> Runnable:
        offline = OfflineChatModel(model_name=self.model_name).with_structured_output(schema, include_raw=True)

        def answer(messages: Any) -> Any:
            agent = agent_of(messages)
            self.structured_received.append({"agent": agent, "schema": schema.__name__, "messages": list(messages)})
            queue = self.structured.get(agent)
            out = offline.invoke(messages)
            if queue:
                scripted = queue.pop(0)
                data = scripted(out["parsed"].model_dump(mode="json")) if callable(scripted) else scripted
                raw = AIMessage(content="", tool_calls=[{"name": schema.__name__, "args": data, "id": "scripted",
                                                         "type": "tool_call"}],
                                usage_metadata={"input_tokens": 10, "output_tokens": 5, "total_tokens": 15})
                out = {"raw": raw, "parsed": schema.model_validate(data), "parsing_error": None}
            return out if include_raw else out["parsed"]

        return RunnableLambda(answer)
