"""What the offline engine can see in a conversation: the prompt, the request, tool results."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

ID_PATTERN = re.compile(r"\b([A-Z]{2,5})-([A-Z0-9]{2,8})\b")
STEP_PATTERN = re.compile(r"^\s*(\d+)[.)]\s+(.+)$", re.MULTILINE)
# An id typed in lower case ("sh-0002", "inv-0001"): letters, a hyphen, then a digit. The digit
# keeps ordinary hyphenated words ("re-run", "e-mail") from being read as ids.
_LOWER_ID = re.compile(r"\b[A-Za-z]{2,5}-\d[A-Za-z0-9]{1,7}\b")


def canonical_ids(text: str) -> str:
    """``text`` with ids in any case written as the systems spell them (upper case)."""
    return _LOWER_ID.sub(lambda m: m.group(0).upper(), text)


@dataclass
class ToolResult:
    """One executed tool call with its parsed result."""

    name: str
    args: dict[str, Any]
    content: str
    data: Any
    is_error: bool


@dataclass
class Conversation:
    """A parsed view of the messages a model receives."""

    system: str
    request: str
    transcript: str
    results: list[ToolResult] = field(default_factory=list)
    done_calls: set[str] = field(default_factory=set)
    speakers: set[str] = field(default_factory=set)
    turn_results: list[ToolResult] = field(default_factory=list)
    request_data: list[Any] = field(default_factory=list)

    @property
    def procedure(self) -> list[str]:
        """Numbered steps written in the system prompt, in order."""
        return [m.group(2).strip() for m in STEP_PATTERN.finditer(self.system)]

    def ids(self) -> list[str]:
        """Every entity id mentioned in the request and transcript, in order of appearance."""
        seen: dict[str, None] = {}
        for match in ID_PATTERN.finditer(self.request + "\n" + self.transcript):
            seen.setdefault(match.group(0), None)
        return list(seen)

    def objects(self, exclude_tool: str | None = None) -> Iterator[dict[str, Any]]:
        """Every dict inside successful tool results, most recent result first, then JSON in the request.

        ``exclude_tool`` skips that tool's own results: what a tool returned is not a
        request to call it again. Structured data the requester wrote (a JSON object in
        the latest request) comes last: tool results are fresher facts.
        """
        for result in reversed(self.results):
            if not result.is_error and result.name != exclude_tool:
                yield from _walk_dicts(result.data)
        for data in self.request_data:
            yield from _walk_dicts(data)


def call_key(name: str, args: dict[str, Any]) -> str:
    """Canonical identity of a tool call, used to avoid repeating the same call."""
    return name + ":" + json.dumps(args, sort_keys=True, default=str)


def _walk_dicts(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _walk_dicts(value)
    elif isinstance(data, list):
        for item in data:
            yield from _walk_dicts(item)


def _parse(content: Any) -> Any:
    if isinstance(content, (dict, list)):
        return content
    try:
        return json.loads(content)
    except (TypeError, ValueError):
        return content


def json_objects(text: str) -> list[dict[str, Any]]:
    """Top-level JSON objects written anywhere in ``text``, in order."""
    decoder, found, position = json.JSONDecoder(), [], text.find("{")
    while position >= 0:
        try:
            value, end = decoder.raw_decode(text, position)
        except ValueError:
            position = text.find("{", position + 1)
            continue
        if isinstance(value, dict):
            found.append(value)
        position = text.find("{", end)
    return found


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)


def _last_request_index(messages: Sequence[BaseMessage]) -> int:
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return index
    return -1


def parse_conversation(messages: Sequence[BaseMessage]) -> Conversation:
    """Split ``messages`` into prompt, latest request, transcript and tool results."""
    system = "\n".join(_text(m) for m in messages if isinstance(m, SystemMessage))
    start = _last_request_index(messages)
    request = canonical_ids(_text(messages[start])) if start >= 0 else ""
    convo = Conversation(system=system, request=request, transcript="", request_data=json_objects(request))
    pending: dict[str, tuple[str, dict[str, Any]]] = {}
    last_ai_index = max((i for i, m in enumerate(messages) if isinstance(m, AIMessage) and not m.tool_calls), default=-1)
    lines: list[str] = []
    for index, message in enumerate(messages):
        if isinstance(message, AIMessage):
            _read_ai(message, index > start, convo, pending, lines)
        elif isinstance(message, ToolMessage):
            _read_tool(message, index > start, index > last_ai_index, convo, pending)
        elif isinstance(message, HumanMessage) and index != start:
            lines.append(_text(message))
    convo.transcript = canonical_ids("\n".join(lines))
    return convo


def _read_ai(message: AIMessage, current: bool, convo: Conversation, pending: dict, lines: list[str]) -> None:
    if message.name and current:
        convo.speakers.add(message.name)
    text = _text(message)
    if text:
        lines.append(text)
    for call in message.tool_calls:
        pending[call["id"]] = (call["name"], call["args"])


def _read_tool(message: ToolMessage, current: bool, this_turn: bool, convo: Conversation, pending: dict) -> None:
    name, args = pending.get(message.tool_call_id, (message.name or "", {}))
    content = _text(message)
    result = ToolResult(name, args, content, _parse(content), message.status == "error")
    convo.results.append(result)
    if this_turn:
        convo.turn_results.append(result)
    if current:
        convo.done_calls.add(call_key(name, _public_args(args)))


def _public_args(args: dict[str, Any]) -> dict[str, Any]:
    # Injected arguments (idempotency keys) are not part of what the model asked for.
    return {k: v for k, v in args.items() if k != "idempotency_key"}
