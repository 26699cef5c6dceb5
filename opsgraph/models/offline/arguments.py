"""Filling tool arguments from what the conversation shows, the way a careful model would.

Sources, in order of trust: a single earlier result object that carries every required
parameter (a proposed purchase order, say); values under the same key in earlier results;
entities written in the request (ids, "5 days", "$120.50"); free text for prose fields.

A tool result may also state values for the records it names, as an object such as
``{"applies_to": {"sku_id": "SKU-003"}, "at_most": {"quantity": 250}}`` (a recalled lesson:
the approver accepts at most 250 of SKU-003). Every argument record that matches
``applies_to`` gets the stated value: ``at_most`` caps a number, ``at_least`` raises it,
``set`` replaces it. A careful model reading the same result would do the same.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Iterator

from opsgraph.models import textsim
from opsgraph.models.offline.conversation import ID_PATTERN, Conversation

PROSE_FIELDS = ("reason", "justification", "note", "message", "body", "summary", "description", "query", "subject")
_MONEY = re.compile(r"\$\s?([0-9][0-9,]*(?:\.[0-9]{1,2})?)")
_NUMBER_UNIT = re.compile(r"\b([0-9]+(?:\.[0-9]+)?)\s*([a-z]+)")
MAX_LISTED_IDS = 20


def properties(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Parameter name -> JSON schema of a tool's parameters."""
    return schema.get("properties", {}) or {}


def required(schema: dict[str, Any]) -> list[str]:
    """Names of the required parameters."""
    return list(schema.get("required", []) or [])


def candidate_argument_sets(tool: str, schema: dict[str, Any], convo: Conversation, step: str) -> Iterator[dict[str, Any]]:
    """Yield plausible argument sets for one tool, best first; each is complete for required params.

    A call with structured parameters (lists, objects) is only made from one earlier object
    that carries all of it (a proposed purchase order, say): assembling such a call from
    values scattered over several results would mix up unrelated records.
    """
    props, needed = properties(schema), required(schema)
    stated = stated_rules(convo, tool)
    if any(_is_structured(props[p]) for p in needed) or len(needed) >= 3:
        for obj in convo.objects(exclude_tool=tool):
            if all(p in obj and _fits(props[p], obj[p]) for p in needed):
                args = _complete({p: obj[p] for p in props if p in obj and _fits(props[p], obj[p])}, props, convo, step)
                yield apply_stated(args, stated)
        if any(_is_structured(props[p]) for p in needed):
            return
    args = fill_individually(tool, props, needed, convo, step)
    if args is not None:
        yield apply_stated(args, stated)


STATED_BOUNDS = ("at_most", "at_least", "set")


def stated_rules(convo: Conversation, exclude_tool: str | None = None) -> list[dict[str, Any]]:
    """Objects in tool results that state values for the records they name (see the module doc)."""
    return [obj for obj in convo.objects(exclude_tool) if isinstance(obj.get("applies_to"), dict)
            and obj["applies_to"] and any(isinstance(obj.get(b), dict) for b in STATED_BOUNDS)]


def apply_stated(args: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any]:
    """``args`` with every stated value applied to the argument records its rule applies to."""
    if not rules:
        return args
    args = copy.deepcopy(args)
    scope = {k: v for k, v in args.items() if not isinstance(v, (dict, list))}
    for record in _records(args):
        seen = {**scope, **{k: v for k, v in record.items() if not isinstance(v, (dict, list))}}
        for rule in rules:
            if all(seen.get(k) == v for k, v in rule["applies_to"].items()):
                _apply_rule(record, rule)
    return args


def _records(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _records(value)
    elif isinstance(data, list):
        for item in data:
            yield from _records(item)


def _apply_rule(record: dict[str, Any], rule: dict[str, Any]) -> None:
    for bound in STATED_BOUNDS:
        for name, value in (rule.get(bound) or {}).items():
            if name not in record:
                continue
            current = record[name]
            numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (current, value))
            if bound == "set":
                record[name] = value
            elif numbers:
                record[name] = min(current, value) if bound == "at_most" else max(current, value)


def _complete(args: dict[str, Any], props: dict[str, dict], convo: Conversation, step: str) -> dict[str, Any]:
    for name, spec in props.items():
        if name not in args and any(word in name for word in PROSE_FIELDS):
            args[name] = prose_value(name, convo, step)
    return args


def fill_individually(tool: str, props: dict[str, dict], needed: list[str], convo: Conversation, step: str) -> dict | None:
    """Fill each parameter on its own; None when a required one cannot be found."""
    args: dict[str, Any] = {}
    for name, spec in props.items():
        value = stated_value(name, spec, convo, exclude_tool=tool, call_ids=_ids_in(args))
        if value is None:
            value = find_value(name, spec, convo, step, name in needed, exclude_tool=tool)
        if value is None:
            if name in needed:
                return None
            continue
        args[name] = value
    return args


def stated_value(name: str, spec: dict[str, Any], convo: Conversation, exclude_tool: str | None = None,
                 call_ids: set[str] | None = None) -> Any:
    """A tool argument someone stated outright, which beats anything inferred; or None.

    An amount the requester wrote ("please refund $738") is the amount asked for, whatever
    other amounts the records hold. Prose that a record already keeps for the same purpose
    (an invoice's ``dispute_reason`` for a refund's ``reason``) is reused, so asking twice
    produces the same arguments, and so the same idempotency key and no second write.
    """
    kind = spec.get("type")
    if kind in ("number", "integer") and _is_money(name):
        amount = stated_amount(convo.request, call_ids or set())
        if amount is not None:
            return int(amount) if kind == "integer" else amount
    if kind == "string" and name in PROSE_FIELDS:
        for obj in convo.objects(exclude_tool):
            for key, value in obj.items():
                if key.endswith("_" + name) and isinstance(value, str) and value.strip():
                    return value
    return None


def stated_amount(text: str, call_ids: set[str]) -> float | None:
    """The first dollar amount in ``text`` that belongs to this call.

    An amount written next to another record's id ("refund $5,000 on INV-0002") is about that
    record, not about the one this call changes, so it is skipped.
    """
    for sentence in re.split(r"(?<=[.!?;])\s+|\n+", text):
        named = {m.group(0) for m in ID_PATTERN.finditer(sentence)}
        if named and call_ids and not named & call_ids:
            continue
        match = _MONEY.search(sentence)
        if match:
            return float(match.group(1).replace(",", ""))
    return None


def _ids_in(args: dict[str, Any]) -> set[str]:
    return {v for v in args.values() if isinstance(v, str) and ID_PATTERN.fullmatch(v)}


def _is_money(name: str) -> bool:
    return "usd" in name or "amount" in name or "price" in name


def find_value(name: str, spec: dict[str, Any], convo: Conversation, step: str, is_required: bool,
               exclude_tool: str | None = None) -> Any:
    """Best value for one parameter, or None."""
    kind = spec.get("type")
    if "enum" in spec:
        return _pick_enum(spec["enum"], convo, step) if is_required else None
    if kind == "string" and any(word in name for word in PROSE_FIELDS):
        return prose_value(name, convo, step) if is_required or name in ("reason", "justification", "note") else None
    found = _from_results(name, spec, convo, exclude_tool)
    if found is not None:
        return found
    if kind == "array" and name.endswith("_ids"):
        found = _collect_ids(name[:-4] + "_id", convo, exclude_tool)
        return found or (_ids_of_kinds(spec, convo, exclude_tool) if is_required else None) or None
    if kind == "string" and name.endswith("_id"):
        return _id_from_text(name, spec, convo)
    if kind in ("integer", "number"):
        return _number_from_text(name, kind, convo.request)
    return None


def _from_results(name: str, spec: dict[str, Any], convo: Conversation, exclude_tool: str | None) -> Any:
    for obj in convo.objects(exclude_tool):
        if name in obj and obj[name] not in (None, "", []) and _fits(spec, obj[name]):
            return obj[name]
    return None


def _collect_ids(key: str, convo: Conversation, exclude_tool: str | None) -> list[str]:
    # The most recent result that lists several entities is what the step is about.
    for result in reversed(convo.results):
        if result.is_error or result.name == exclude_tool:
            continue
        values = _values_under(result.data, key)
        if values:
            return list(dict.fromkeys(values))
    return []


def _ids_of_kinds(spec: dict[str, Any], convo: Conversation, exclude_tool: str | None) -> list[str]:
    """Ids of the kinds a list parameter's description names (``e.g. SUP-006, SKU-003``), as the
    request and transcript write them and as earlier results carry them, most recent first."""
    prefixes = {m.group(1) for m in ID_PATTERN.finditer(spec.get("description", ""))}
    if not prefixes:
        return []
    found = [i for i in convo.ids() if i.split("-", 1)[0] in prefixes]
    for obj in convo.objects(exclude_tool):
        for key, value in obj.items():
            if key.endswith("_id") and isinstance(value, str) and ID_PATTERN.fullmatch(value) \
                    and value.split("-", 1)[0] in prefixes:
                found.append(value)
    return list(dict.fromkeys(found))[:MAX_LISTED_IDS]


def _values_under(data: Any, key: str) -> list[Any]:
    if isinstance(data, dict):
        found = [data[key]] if key in data and isinstance(data[key], str) else []
        return found + [v for value in data.values() for v in _values_under(value, key)]
    if isinstance(data, list):
        return [v for item in data for v in _values_under(item, key)]
    return []


def _id_prefixes(name: str, spec: dict[str, Any], convo: Conversation) -> set[str]:
    prefixes = {m.group(1) for m in ID_PATTERN.finditer(spec.get("description", ""))}
    for obj in convo.objects():
        value = obj.get(name)
        if isinstance(value, str) and (match := ID_PATTERN.fullmatch(value)):
            prefixes.add(match.group(1))
    return prefixes


def _id_from_text(name: str, spec: dict[str, Any], convo: Conversation) -> str | None:
    prefixes = _id_prefixes(name, spec, convo)
    for candidate in convo.ids():
        prefix = candidate.split("-", 1)[0]
        if prefix in prefixes or (not prefixes and is_abbreviation(prefix, name[: -len("_id")])):
            return candidate
    return None


def is_abbreviation(prefix: str, noun: str) -> bool:
    """True when ``prefix`` reads as an abbreviation of ``noun`` (SH: shipment, TCK: ticket)."""
    prefix, noun = prefix.lower(), noun.lower().replace("_", "")
    if not noun.startswith(prefix[0]):
        return False
    position = 0
    for letter in prefix:
        position = noun.find(letter, position) + 1
        if position == 0:
            return False
    return True


def _number_from_text(name: str, kind: str, text: str) -> int | float | None:
    words = set(textsim.tokens(name))
    if "usd" in name or "amount" in name or "price" in name:
        match = _MONEY.search(text)
        if match:
            return float(match.group(1).replace(",", ""))
    for match in _NUMBER_UNIT.finditer(text.lower()):
        if textsim.stem(match.group(2)) in words:
            number = float(match.group(1))
            return int(number) if kind == "integer" else number
    return None


def _pick_enum(options: list[Any], convo: Conversation, step: str = "") -> Any:
    # The prompt's own step wins when it names exactly one option ("..., status resolved").
    in_step = [o for o in options if re.search(rf"\b{re.escape(str(o))}\b", step, re.IGNORECASE)]
    if len(in_step) == 1:
        return in_step[0]
    text = convo.request + "\n" + convo.transcript
    # Between options the text names equally, the one it moves to ("to the enterprise plan") wins.
    scored = [(textsim.coverage(str(option), text), _is_destination(str(option), text), -index, option)
              for index, option in enumerate(options)]
    return max(scored)[3]


def _is_destination(option: str, text: str) -> bool:
    return bool(re.search(rf"\b(?:to|into|onto)\s+(?:the\s+|an?\s+)?{re.escape(option)}\b", text, re.IGNORECASE))


def prose_value(name: str, convo: Conversation, step: str) -> str:
    """Free text for a prose parameter: the request for reasons, the step for queries."""
    if name == "query":
        return _query_text(convo, step)
    request = " ".join(convo.request.split())
    return request[:300] if request else step[:300]


def _query_text(convo: Conversation, step: str) -> str:
    # A search query combines what the step is about with the request's key terms.
    # Tool names in the step ("with search_knowledge") are instructions, not search terms.
    topic = re.sub(r"\s*\b(?:with|using|via)\s+[a-z]+(?:_[a-z]+)+\b", "", step).rstrip(".")
    terms = [t for t in convo.request.split() if not ID_PATTERN.fullmatch(t.strip(".,;:"))]
    return (topic + ": " + " ".join(terms))[:300]


def _is_structured(spec: dict[str, Any]) -> bool:
    # A list of plain ids or words is not a record; a list of objects is.
    if spec.get("type") == "array":
        return (spec.get("items") or {}).get("type") not in ("string", "integer", "number")
    return spec.get("type") == "object" or "$ref" in spec or "anyOf" in spec


def _fits(spec: dict[str, Any], value: Any) -> bool:
    kind = spec.get("type")
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list) and len(v) > 0,
        "object": lambda v: isinstance(v, dict),
    }
    check = checks.get(kind)
    return check(value) if check else value is not None
