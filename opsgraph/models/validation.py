"""Is a model's answer usable? Tool calls checked against the bound tools, structured output
against its schema, and tool calls that small models write as JSON text recovered.

A problem found here is what the cascade escalates on: the same step is asked again on
the large tier. Recovery is deliberately strict: a call written as text is used only when
it names a bound tool and its arguments validate against that tool's schema.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Sequence

from langchain_core.messages import AIMessage
from pydantic import BaseModel, ValidationError

_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
# Hermes-style tags (Qwen, NousResearch and others): <tool_call>{...}</tool_call>, one per call.
_TAG = re.compile(r"</?tool_calls?>|<\|?(?:tool_call|python_tag)\|?>", re.IGNORECASE)
# Text that tries to be a tool call even when its JSON is broken.
_CALL_ATTEMPT = re.compile(r'"(?:name|function|tool)"\s*:\s*"[^"]*"\s*,\s*"(?:arguments|args|parameters|input)"\s*:')
_NAME_KEYS = ("name", "tool", "tool_name", "function")
_ARG_KEYS = ("arguments", "args", "parameters", "input", "action_input")


def _tool_name(tool: Any) -> str:
    if isinstance(tool, dict):
        return tool.get("function", tool).get("name", "")
    return getattr(tool, "name", "")


def _schema_problem(tool: Any, args: Any) -> str | None:
    """Why ``args`` do not fit ``tool``'s argument schema, or None."""
    if not isinstance(args, dict):
        return f"arguments of {_tool_name(tool)} are not an object"
    schema = getattr(tool, "tool_call_schema", None)
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        return None  # a tool given as a plain dict: nothing to validate against
    try:
        schema.model_validate(args)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "arguments"
        return f"arguments of {_tool_name(tool)} fail its schema ({where}: {first['msg']})"
    return None


NOT_BOUND = "is not bound to this agent"


def _call_problem(name: str, args: Any, tools: dict[str, Any]) -> str | None:
    if name not in tools:
        return f"tool {name!r} {NOT_BOUND}"
    return _schema_problem(tools[name], args)


def _text(message: AIMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in message.content)


def _json_values(text: str) -> list[Any]:
    """JSON objects or arrays in ``text``: the whole text, else each top-level one found in it."""
    text = _FENCE.sub("", _TAG.sub(" ", text).strip())
    try:
        return [json.loads(text)]
    except ValueError:
        pass
    decoder, found, position = json.JSONDecoder(), [], 0
    while True:
        starts = [i for i in (text.find("{", position), text.find("[", position)) if i >= 0]
        if not starts:
            return found
        start = min(starts)
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            position = start + 1
            continue
        found.append(value)
        position = end


def _as_call(value: Any) -> tuple[str, Any] | None:
    """(name, arguments) when ``value`` is shaped like a tool call, else None.

    Accepts ``{"name", "arguments"}`` (and the synonyms real models use for both keys),
    OpenAI's ``{"type": "function", "function": {...}}`` and ``{"function": "name", ...}``.
    """
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):
        value = value["function"]
    name = next((value[k] for k in _NAME_KEYS if isinstance(value.get(k), str)), None)
    key = next((k for k in _ARG_KEYS if k in value), None)
    if name is None or key is None:
        return None
    args = value[key]
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return name, args  # reported as malformed arguments
    return name, args


def text_tool_calls(text: str) -> list[tuple[str, Any]] | None:
    """Tool calls written as JSON in ``text``; None when the text holds none."""
    calls = []
    for value in _json_values(text):
        listed = value.get("tool_calls") if isinstance(value, dict) else None
        items = listed if isinstance(listed, list) else None
        for item in items if items is not None else (value if isinstance(value, list) else [value]):
            call = _as_call(item)
            if call:
                calls.append(call)
    return calls or None


def check_tool_message(message: AIMessage, tools: Sequence[Any],
                       position: int = 0) -> tuple[AIMessage, str | None, str | None]:
    """Validate an answer given with ``tools`` bound.

    Returns the message (with tool calls recovered from its text when that was
    unambiguous), the problem that makes it unusable or None, and a note on any recovery.
    ``position`` (messages sent) makes recovered call ids unique within the thread.
    """
    bound = {_tool_name(t): t for t in tools}
    if message.invalid_tool_calls:
        bad = message.invalid_tool_calls[0]
        why = bad.get("error") or "invalid JSON arguments"
        return message, f"unparseable tool call {bad.get('name')!r}: {why}", None
    for call in message.tool_calls:
        problem = _call_problem(call["name"], call["args"], bound)
        if problem:
            return message, problem, None
    text = _text(message)
    if not message.tool_calls and not text.strip():
        return message, "the answer was empty (no text and no tool call)", None
    if message.tool_calls or not bound:
        return message, None, None
    written = text_tool_calls(text)
    if written is None:
        if _broken_call(text):
            return message, "a tool call written as text could not be read (not valid JSON with a name and arguments)", None
        return message, None, None
    for name, args in written:
        problem = _call_problem(name, args, bound)
        if problem:
            return message, f"tool call written as text could not be used: {problem}", None
    calls = [{"name": name, "args": args, "id": _call_id(position, i, name, args), "type": "tool_call"}
             for i, (name, args) in enumerate(written)]
    recovered = message.model_copy(update={"content": "", "tool_calls": calls, "invalid_tool_calls": []})
    return recovered, None, f"recovered {len(calls)} tool call(s) written as text"


def _broken_call(text: str) -> bool:
    """Text that tries to call a tool but holds no readable call (a plain JSON answer is not one)."""
    return "<tool_call>" in text.lower() or bool(_CALL_ATTEMPT.search(text))


def calls_for_tool_errors(message: AIMessage, tools: Sequence[Any], position: int = 0) -> AIMessage | None:
    """The message with its unusable calls turned into real tool calls, or None when it has none.

    Used once retry and escalation are spent: each call (unknown tool, arguments that fail
    the schema, unparseable arguments) then reaches the tool executor, which validates it
    and answers with a tool error the model reads on its next turn, instead of the call's
    JSON text ending up as the agent's answer.
    """
    raw = [(c.get("name") or "", c.get("args")) for c in message.invalid_tool_calls]
    if not raw and not message.tool_calls:
        raw = text_tool_calls(_text(message)) or []
    calls = [*message.tool_calls]
    for i, (name, args) in enumerate(raw):
        args = args if isinstance(args, dict) else {}
        calls.append({"name": name or "unnamed", "args": args, "id": _call_id(position, i, name, args),
                      "type": "tool_call"})
    if not calls:
        return None
    return message.model_copy(update={"content": "", "tool_calls": calls, "invalid_tool_calls": []})


def _call_id(position: int, index: int, name: str, args: Any) -> str:
    # Deterministic, so a replayed step yields the same ids (and the same idempotent writes).
    digest = hashlib.sha256(f"{position}|{index}|{name}|{json.dumps(args, sort_keys=True, default=str)}".encode())
    return f"call_{digest.hexdigest()[:20]}"


def _recover_structured(raw: Any, schema: Any) -> Any:
    if not (isinstance(raw, AIMessage) and isinstance(schema, type) and issubclass(schema, BaseModel)):
        return None
    for value in _json_values(_text(raw)):
        try:
            return schema.model_validate(value)
        except ValidationError:
            continue
    return None


def confidence_of(parsed: Any) -> float | None:
    """A self-reported ``confidence`` field (0..1, or a percentage), if the output has one."""
    value = parsed.get("confidence") if isinstance(parsed, dict) else getattr(parsed, "confidence", None)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) / 100 if value > 1 else float(value)


def check_structured(out: dict[str, Any], schema: Any, min_confidence: float) -> tuple[Any, str | None, str | None]:
    """Validate a structured answer (``include_raw`` form): (parsed or None, problem, note)."""
    parsed, note = out.get("parsed"), None
    if out.get("parsing_error") is not None or parsed is None:
        parsed = _recover_structured(out.get("raw"), schema)
        if parsed is None:
            name = getattr(schema, "__name__", "the schema")
            return None, f"structured output did not match {name}: {out.get('parsing_error') or 'no output'}", None
        note = "recovered structured output written as text"
    confidence = confidence_of(parsed)
    if confidence is not None and confidence < min_confidence:
        return parsed, f"self-reported confidence {confidence:.2f} is below {min_confidence:.2f}", note
    return parsed, None, note
