"""`OfflineChatModel`: the deterministic engine behind the LangChain chat-model interface.

It supports ``bind_tools`` (real tool calls with ids), ``with_structured_output`` and
usage metadata with estimated token counts, so graphs, cost accounting and tests treat it
exactly like a hosted model. It is not a language model and says so in its metadata.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any, Callable, Sequence

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel

from opsgraph.models.offline.conversation import parse_conversation
from opsgraph.models.offline.engine import ToolSpec, call_id, final_answer, next_tool_calls
from opsgraph.models.offline.structured import fill_schema

ENGINE_NOTE = "opsgraph offline engine: deterministic rules, not a language model"
CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """Rough token count (about four characters a token, as for English with BPE)."""
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def _messages_text(messages: Sequence[BaseMessage], tools: list[dict] | None) -> str:
    parts = [str(m.content) + json.dumps(getattr(m, "tool_calls", []) or [], default=str) for m in messages]
    return "".join(parts) + json.dumps(tools or [], default=str)


class OfflineChatModel(BaseChatModel):
    """Deterministic chat model that works from prompt, tool schemas and conversation."""

    model_name: str = "offline:small"
    role: str = "Summary"

    @property
    def _llm_type(self) -> str:
        return "opsgraph-offline"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any) -> Runnable:
        """Bind tools the way hosted chat models do (OpenAI function format)."""
        formatted = [openai_tool(t) for t in tools]
        return self.bind(tools=formatted, **kwargs)

    def with_structured_output(self, schema: Any, *, include_raw: bool = False, **kwargs: Any) -> Runnable:
        """Return a runnable producing an instance of ``schema`` (pydantic class or JSON schema)."""
        json_schema = _model_schema(schema) if _is_pydantic(schema) else _as_json_schema(schema)
        bound = self.bind(structured_schema=json_schema)
        return bound | RunnableLambda(_structured_parser(schema, include_raw))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools = kwargs.get("tools") or []
        schema = kwargs.get("structured_schema")
        message = self._respond(messages, tools, schema)
        text_in = _messages_text(messages, tools)
        text_out = str(message.content) + json.dumps(message.tool_calls, default=str)
        message.usage_metadata = _usage(estimate_tokens(text_in), estimate_tokens(text_out))
        message.response_metadata = {"model_name": self.model_name, "engine": ENGINE_NOTE}
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _respond(self, messages: list[BaseMessage], tools: list[dict], schema: dict | None) -> AIMessage:
        convo = parse_conversation(messages)
        if schema is not None:
            values = fill_schema(schema, convo)
            name = schema.get("title", "output")
            return AIMessage(content="", tool_calls=[_tool_call(name, values, len(messages))])
        specs = [ToolSpec.from_openai(t) for t in tools]
        calls = next_tool_calls(convo, specs) if specs else []
        if calls:
            return AIMessage(content="", tool_calls=[_tool_call(c["name"], c["args"], len(messages)) for c in calls])
        return AIMessage(content=final_answer(convo, self.role))


_CONVERTED: dict[tuple, tuple[Any, dict[str, Any]]] = {}
_CONVERTED_LIMIT = 2048


def openai_tool(tool: Any) -> dict[str, Any]:
    """``tool`` in OpenAI function format, converted once per distinct tool definition.

    Converting generates the tool's JSON schema with pydantic, which costs more than the
    engine's own decision. The format depends only on the name, description and argument
    class, which every run context's copy of a tool shares. The result is shared: callers
    read it, never modify it.
    """
    schema = getattr(tool, "args_schema", None)
    if isinstance(tool, dict) or not isinstance(schema, type):
        return convert_to_openai_tool(tool)
    key = (getattr(tool, "name", ""), getattr(tool, "description", ""), id(schema))
    hit = _CONVERTED.get(key)
    if hit is not None and hit[0] is schema:  # the class is kept with its entry, so its id cannot be reused
        return hit[1]
    if len(_CONVERTED) >= _CONVERTED_LIMIT:
        _CONVERTED.clear()
    converted = convert_to_openai_tool(tool)
    _CONVERTED[key] = (schema, converted)
    return converted


@lru_cache(maxsize=256)
def _model_schema(schema: type[BaseModel]) -> dict[str, Any]:
    # Pydantic classes are immutable schemas; the JSON schema is only read by fill_schema.
    return schema.model_json_schema()


def _tool_call(name: str, args: dict[str, Any], position: int) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id(str(position), name, args), "type": "tool_call"}


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {"input_tokens": input_tokens, "output_tokens": output_tokens, "total_tokens": input_tokens + output_tokens}


def _is_pydantic(schema: Any) -> bool:
    return isinstance(schema, type) and issubclass(schema, BaseModel)


def _as_json_schema(schema: Any) -> dict[str, Any]:
    if isinstance(schema, dict):
        return schema if "properties" in schema else convert_to_openai_tool(schema)["function"]["parameters"]
    return convert_to_openai_tool(schema)["function"]["parameters"]


def _structured_parser(schema: Any, include_raw: bool) -> Callable[[AIMessage], Any]:
    def parse(message: AIMessage) -> Any:
        args = message.tool_calls[0]["args"] if message.tool_calls else {}
        parsed = schema.model_validate(args) if _is_pydantic(schema) else args
        return {"raw": message, "parsed": parsed, "parsing_error": None} if include_raw else parsed

    return parse
