"""A reply to a person, written from the reply template in the agent's prompt and its tool results.

A prompt may show the reply it wants as template lines, each starting with ``> ``::

    > We refunded ${issue_refund.amount_usd} on invoice {issue_refund.invoice_id}.
    > (if issue_refund failed) We have not issued a refund yet; our billing team will contact you.
    > (if no issue_refund) We made no change to your invoice.

``{tool.field}`` is the field of that tool's latest successful result in this turn (found
at any depth, so ``{search_knowledge.citation}`` is the top passage's citation). A line
whose fields did not come back is left out: the reply only states what the tools showed.
A line may start with a condition on a tool: ``(if TOOL done)``, ``(if TOOL failed)``,
``(if TOOL failed "words")`` (its error says those words) or ``(if no TOOL)`` (not called at
all). A specific failure line that applies stands instead of the plain ``(if TOOL failed)``
lines of the same tool, so the customer hears the one true reason. A real model reads the
same lines as guidance.
"""

from __future__ import annotations

import re
from typing import Any

from opsgraph.models.offline.conversation import Conversation, ToolResult

_LINE = re.compile(r"^>\s?(.*)$", re.MULTILINE)
_FIELD = re.compile(r"\{([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\}")
_CONDITION = re.compile(r'^\(if\s+(no\s+)?([a-z][a-z0-9_]*)(?:\s+(done|failed)(?:\s+"([^"]+)")?)?\)\s*',
                        re.IGNORECASE)
MAX_VALUE_CHARS = 400


def template_lines(system: str) -> list[str]:
    """The ``> `` lines of the prompt, in order (empty when it has no reply template)."""
    return [m.group(1).rstrip() for m in _LINE.finditer(system)]


def compose_reply(convo: Conversation) -> str:
    """The reply the template describes, filled from this turn's tool results ("" without a template)."""
    lines = template_lines(convo.system)
    specific = {m.group(2) for m in map(_CONDITION.match, lines)
                if m and m.group(4) and _condition_holds(m, convo.turn_results)}
    kept = [line for line in lines if not _plain_failure_of(line, specific)]
    return "\n".join(filled for filled in (_fill(line, convo.turn_results) for line in kept) if filled)


def _plain_failure_of(line: str, tools: set[str]) -> bool:
    """True for a plain ``(if TOOL failed)`` line of a tool whose specific failure line applies."""
    match = _CONDITION.match(line)
    return bool(match and match.group(2) in tools and (match.group(3) or "").lower() == "failed"
                and not match.group(4))


def _fill(line: str, results: list[ToolResult]) -> str | None:
    condition = _CONDITION.match(line)
    if condition:
        if not _condition_holds(condition, results):
            return None
        line = line[condition.end():]
    values: dict[str, str] = {}
    for tool, field in _FIELD.findall(line):
        value = _field_value(results, tool, field)
        if value is None:
            return None
        values[f"{tool}.{field}"] = value
    return _FIELD.sub(lambda m: values[f"{m.group(1)}.{m.group(2)}"], line).strip() or None


def _condition_holds(match: re.Match, results: list[ToolResult]) -> bool:
    negated, tool, state = bool(match.group(1)), match.group(2), (match.group(3) or "done").lower()
    done = any(r.name == tool and not r.is_error for r in results)
    if negated:
        return not any(r.name == tool for r in results)
    if state == "failed":
        # A call that failed and was never redone: the customer must hear it was not done.
        words = (match.group(4) or "").lower()
        return not done and any(r.name == tool and r.is_error and words in r.content.lower() for r in results)
    return done


def _field_value(results: list[ToolResult], tool: str, field: str) -> str | None:
    for result in reversed(results):
        if result.name == tool and not result.is_error:
            value = _find(result.data, field)
            if value is not None:
                return _show(value)
    return None


def _find(data: Any, field: str) -> Any:
    """The first value of ``field`` in ``data``, breadth first (top-level facts before nested ones)."""
    level = [data]
    while level:
        for item in level:
            if isinstance(item, dict) and item.get(field) not in (None, "", []):
                return item[field]
        level = [v for item in level for v in (item.values() if isinstance(item, dict) else
                                                item if isinstance(item, list) else [])]
    return None


def _show(value: Any) -> str | None:
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        return None  # a flag or a structure is not something to say to a person as is
    if isinstance(value, float):
        return f"{value:,.2f}"
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"
