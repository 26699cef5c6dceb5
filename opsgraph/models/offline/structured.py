"""Structured output for the offline engine: fill a JSON schema from the conversation.

Enumerated choices (a supervisor's next worker, a checker's verdict) are chosen from the
options the prompt describes: the first option, in the prompt's order, that has not acted
yet and whose description is supported by what the conversation affirms. When a tool result
already states the field (``"risk_level": "high"``) with one of the allowed values, that value
is copied, as a model reading the result would. A nullable field with no evidence stays null.
"""

from __future__ import annotations

import re
from typing import Any

from opsgraph.models import textsim
from opsgraph.models.offline.arguments import find_value
from opsgraph.models.offline.conversation import Conversation

FINISH_WORDS = ("finish", "end", "done", "complete", "stop")
OPTION_THRESHOLD = 0.5
_OPTION_LINE = r"^\s*[-*]\s*`?{name}`?\s*[:\u2014-]\s*(.+)$"


def option_descriptions(options: list[str], system: str) -> dict[str, str]:
    """The prompt's description line of each option ("- logistics: assesses ...")."""
    found = {}
    for option in options:
        match = re.search(_OPTION_LINE.format(name=re.escape(str(option))), system, re.MULTILINE | re.IGNORECASE)
        found[option] = match.group(1).strip() if match else str(option)
    return found


def _finish_option(options: list[str]) -> str | None:
    return next((o for o in options if str(o).lower() in FINISH_WORDS), None)


def option_scores(options: list[str], convo: Conversation) -> dict[str, float]:
    """Support for each option: the best share of its description found in one affirmed sentence."""
    evidence = textsim.evidence_sentences(convo.request + "\n" + convo.transcript)
    descriptions = option_descriptions(options, convo.system)
    return {o: max((textsim.coverage(descriptions[o], s) for s in evidence), default=0.0) for o in options}


def choose_option(options: list[str], convo: Conversation) -> tuple[str, str]:
    """Pick an option and say why; prompt order breaks ties so the prompt author sets the flow."""
    finish = _finish_option(options)
    scores = option_scores(options, convo)
    for option in options:
        if option == finish or option in convo.speakers:
            continue
        if scores[option] >= OPTION_THRESHOLD:
            return option, f"{option} is next: its remit matches the open work (support {scores[option]:.2f})"
    if finish is not None:
        return finish, "every worker whose remit matches the open work has reported"
    best = max(options, key=lambda o: scores[o])
    return best, f"{best} has the strongest support ({scores[best]:.2f})"


def fill_schema(schema: dict[str, Any], convo: Conversation, defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A dict that satisfies ``schema`` (a JSON schema object) from what the conversation shows."""
    defs = defs if defs is not None else schema.get("$defs", {})
    props = schema.get("properties", {})
    chosen: dict[str, Any] = {}
    reason = ""
    for name, spec in props.items():
        spec = _resolve(spec, defs)
        if "enum" in spec and len(spec["enum"]) > 1:
            stated = _stated_option(name, list(spec["enum"]), convo)
            if stated is not None:
                chosen[name], reason = stated, reason or f"{name} is {stated}, as the tool results state"
            else:
                chosen[name], reason = choose_option(list(spec["enum"]), convo)
    for name, spec in props.items():
        if name not in chosen:
            chosen[name] = _fill_field(name, _resolve(spec, defs), convo, defs, reason)
    return chosen


def _stated_option(name: str, options: list[Any], convo: Conversation) -> Any:
    # The most recent tool result that names this field with an allowed value settles it.
    for obj in convo.objects():
        if name in obj and not isinstance(obj[name], (dict, list)) and obj[name] in options:
            return obj[name]
    return None


def _resolve(spec: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in spec:
        return defs.get(spec["$ref"].rsplit("/", 1)[-1], {})
    if "anyOf" in spec:
        options = [s for s in spec["anyOf"] if s.get("type") != "null"]
        merged = dict(_resolve(options[0], defs)) if options else {}
        merged.setdefault("default", spec.get("default"))
        merged["nullable"] = len(options) < len(spec["anyOf"])
        return merged
    if "allOf" in spec and len(spec["allOf"]) == 1:
        return _resolve(spec["allOf"][0], defs)
    return spec


def _fill_field(name: str, spec: dict[str, Any], convo: Conversation, defs: dict, reason: str) -> Any:
    kind = spec.get("type")
    if "enum" in spec:
        return spec["enum"][0]
    if "const" in spec:
        return spec["const"]
    if kind == "object" and "properties" in spec:
        return fill_schema(spec, convo, defs)
    if kind == "string" and reason and name in ("reason", "rationale", "why", "explanation"):
        return reason
    value = find_value(name, spec, convo, convo.request, True)
    if value is not None:
        return value
    return _default(spec, kind, convo)


def _default(spec: dict[str, Any], kind: str | None, convo: Conversation) -> Any:
    if spec.get("default") is not None:
        return spec["default"]
    if spec.get("nullable"):
        return None  # nothing in the conversation supports a value: say so rather than invent one
    if kind == "number":
        return float(spec.get("minimum", 0.0))
    if kind == "integer":
        return int(spec.get("minimum", 0))
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return " ".join(convo.request.split())[:200]
