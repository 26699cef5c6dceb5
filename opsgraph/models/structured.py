"""Structured output asked for in the way a provider supports, falling back in a fixed order.

Hosted OpenAI models support a JSON schema in ``response_format`` and function calling; a
llama.cpp, vLLM or Ollama server may support only some of json_schema, function calling and
JSON mode. The asker tries the tier's methods in order (settings ``<tier>_structured_methods``)
and drops, for the rest of the process, a method the server refused outright (HTTP 400, 404,
422 or 501), so a run pays for a refusal once. An answer that does not validate is not a
refusal: the gateway retries it with feedback.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, SystemMessage
from pydantic import BaseModel, ValidationError

_REFUSED_STATUS = (400, 404, 405, 422, 501)


def refused(exc: BaseException) -> bool:
    """True when the provider rejected the request format itself (not a transient failure)."""
    if isinstance(exc, NotImplementedError):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and status in _REFUSED_STATUS


class StructuredAsker:
    """Per-tier method order, and what each tier's server refused so far."""

    def __init__(self, methods: Mapping[str, Sequence[str]]):
        self._methods = {tier: list(order) for tier, order in methods.items()}
        self._lock = threading.Lock()

    def methods(self, tier: str) -> list[str]:
        """Methods still worth trying on ``tier``, in order."""
        with self._lock:
            return list(self._methods.get(tier) or [])

    def ask(self, tier: str, model: BaseChatModel, schema: type, messages: list[BaseMessage]) -> dict[str, Any]:
        """Structured answer in ``include_raw`` form: {raw, parsed, parsing_error}."""
        if getattr(model, "_llm_type", "") in ("opsgraph-offline", "scripted"):
            return model.with_structured_output(schema, include_raw=True).invoke(messages)
        order = self.methods(tier)
        for index, method in enumerate(order):
            try:
                return _ask_with(method, model, schema, messages)
            except Exception as exc:
                if not refused(exc) or index == len(order) - 1:
                    raise
                self._drop(tier, method)
        raise NotImplementedError(f"no structured-output method left to try on the {tier} tier")

    def _drop(self, tier: str, method: str) -> None:
        with self._lock:
            order = self._methods.get(tier) or []
            # Keep at least one method, so a later call still reports the provider's own error.
            if method in order and len(order) > 1:
                order.remove(method)


def _ask_with(method: str, model: BaseChatModel, schema: type, messages: list[BaseMessage]) -> dict[str, Any]:
    """One structured request by ``method``; the answer is validated here, never inside the client."""
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)) or method == "function_calling":
        return model.with_structured_output(schema, include_raw=True, method=method).invoke(messages)
    json_schema = schema.model_json_schema()
    if method == "json_mode":
        # JSON mode constrains the syntax only; the model must be told the shape.
        hint = SystemMessage(f"Reply with one JSON object that fits this JSON schema: {json_schema}")
        messages = [*messages, hint]
    # A JSON schema (not the class) keeps the client from parsing: the client's own parse raises
    # on a missing field and loses the raw answer, its token usage and the retry with feedback.
    out = model.with_structured_output(json_schema, include_raw=True, method=method).invoke(messages)
    parsed = out.get("parsed")
    if out.get("parsing_error") is None and isinstance(parsed, dict):
        try:
            out = {**out, "parsed": schema.model_validate(parsed)}
        except ValidationError as exc:
            out = {**out, "parsed": None, "parsing_error": exc}
    return out
