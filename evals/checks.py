"""Small matching helpers shared by the evaluators: paths into data, comparisons, argument subsets."""

from __future__ import annotations

from typing import Any

OPERATORS = ("equals", "one_of", "includes", "excludes", "contains", "min", "max", "length", "empty")


class _Missing:
    """A field the data does not have at all (unlike a field that is present and null)."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def lookup(data: Any, path: str) -> Any:
    """Value at a dotted ``path``, or MISSING when a step of it does not exist.

    A number picks a list item (``verdicts.0.verdict``). A ``*`` segment maps over a list
    (``flagged_risks.*.clause``); when any mapped item
    lacks the rest of the path the whole value is MISSING, since "no item says X" cannot
    be told from "the items never said anything".
    """
    values, mapped = [data], False
    for part in [p for p in path.split(".") if p]:
        if part == "*":
            if any(not isinstance(value, list) for value in values):
                return MISSING
            values = [item for value in values for item in value]
            mapped = True
            continue
        if part.isdigit() and all(isinstance(value, list) for value in values):
            # A number picks one item of a list (``verdicts.0.reasons``); past the end is missing.
            if any(int(part) >= len(value) for value in values):
                return MISSING
            values = [value[int(part)] for value in values]
            continue
        if any(not isinstance(value, dict) or part not in value for value in values):
            return MISSING
        values = [value[part] for value in values]
    return values if mapped else values[0]


def resolve(data: Any, path: str) -> Any:
    """Like :func:`lookup`, with None for a missing field (for display and plain reads)."""
    value = lookup(data, path)
    return None if value is MISSING else value


def compare(value: Any, rule: dict[str, Any]) -> list[str]:
    """Problems with ``value`` under the operators in ``rule`` (empty list: it holds).

    A MISSING value fails every operator, even ``empty``, ``excludes`` and ``equals: null``,
    which an absent field would otherwise satisfy by accident; ``optional: true`` in the
    rule accepts absence (a present value is still checked).
    """
    if value is MISSING:
        if rule.get("optional"):
            return []
        wanted = ", ".join(f"{op} {_show(rule[op])}" for op in OPERATORS if op in rule)
        return [f"field missing (expected {wanted}; add optional: true if it may be absent)"]
    problems = []
    for op in OPERATORS:
        if op in rule:
            ok = _holds(op, value, rule[op])
            if not ok:
                problems.append(f"expected {op} {_show(rule[op])}, got {_show(value)}")
    return problems


def _holds(op: str, value: Any, want: Any) -> bool:
    if op == "equals":
        return _same(value, want)
    if op == "one_of":
        return any(_same(value, w) for w in want)
    if op in ("includes", "excludes"):
        items = value if isinstance(value, list) else [value]
        wanted = want if isinstance(want, list) else [want]
        hits = [any(_same(i, w) or _within(i, w) for i in items) for w in wanted]
        return all(hits) if op == "includes" else not any(hits)
    if op == "contains":
        return isinstance(value, str) and str(want).lower() in value.lower()
    if op in ("min", "max"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        return value >= want if op == "min" else value <= want
    if op == "length":
        return isinstance(value, (list, dict, str)) and len(value) == want
    if op == "empty":
        return (not value) == bool(want)
    return False


def _within(item: Any, want: Any) -> bool:
    """A string item matches a wanted substring (citations: ``po-approval.md`` in ``[procurement/po-approval.md]``)."""
    return isinstance(item, str) and isinstance(want, str) and bool(want) and want.lower() in item.lower()


def _same(value: Any, want: Any) -> bool:
    if isinstance(value, (int, float)) and isinstance(want, (int, float)) and not isinstance(value, bool):
        return abs(float(value) - float(want)) < 1e-6
    return value == want


def args_match(actual: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """True when every wanted argument is present with that value (nested mappings and lists as subsets)."""
    return all(key in actual and _subset(actual[key], value) for key, value in wanted.items())


def _subset(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        if isinstance(actual, dict):
            return args_match(actual, wanted)
        return isinstance(actual, list) and any(_subset(item, wanted) for item in actual)
    if isinstance(wanted, list):
        return isinstance(actual, list) and all(any(_subset(a, w) for a in actual) for w in wanted)
    return _same(actual, wanted)


def row_matches(row: dict[str, Any], where: dict[str, Any]) -> bool:
    """True when a table row satisfies ``where``: ``{column: value}`` or ``{column: {operator: ...}}``."""
    for column, want in where.items():
        value = row.get(column, MISSING)
        if isinstance(want, dict) and any(op in want for op in OPERATORS):
            if compare(value, want):
                return False
        elif not _same(value, want):
            return False
    return True


def describe_where(where: dict[str, Any]) -> str:
    """``supplier_id=SUP-001, status=issued`` for explanations."""
    return ", ".join(f"{k}={_show(v)}" for k, v in where.items())


def _show(value: Any, limit: int = 120) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"
