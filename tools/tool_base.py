"""The tool class every opsgraph connector tool is built with."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import StructuredTool

_CALL_SCHEMAS: dict[tuple[str, str, int], tuple[type, Any]] = {}


class SharedSchemaTool(StructuredTool):
    """A StructuredTool whose tool-call schema is built once per tool definition, not per instance.

    Every run context builds its own tool objects (they hold that run's connectors), and
    LangChain builds a pydantic model for the model-facing schema of each object on first
    use: about a millisecond per tool per run, more than a tool call itself. The schema
    depends only on the name, the description and the argument class, so it is shared.
    """

    @property
    def tool_call_schema(self) -> Any:
        """The model-facing argument schema (injected arguments removed), shared per definition."""
        schema = self.args_schema
        if not isinstance(schema, type):
            return super().tool_call_schema
        key = (self.name, self.description, id(schema))
        hit = _CALL_SCHEMAS.get(key)
        if hit is None or hit[0] is not schema:  # the class is kept with its entry, so its id is not reused
            hit = _CALL_SCHEMAS[key] = (schema, super().tool_call_schema)
        return hit[1]
