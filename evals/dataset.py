"""Eval datasets: one YAML file per workflow graph in ``evals/datasets/<graph_id>.yaml``.

A dataset names its graph, the pass rate the suite must reach (``threshold``) and its
cases. Each case has an input (CLI-style options, a raw graph input, or chat turns),
scripted human decisions for approvals, and expectations (see evals/README.md for the
schema). Loading validates the whole file, so a typo fails with one clear line before
anything runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opsgraph.evals.checks import OPERATORS
from opsgraph.errors import UserError
from opsgraph.resources import default_policy_path

DATASETS_DIR = Path(__file__).resolve().parent / "datasets"
SMOKE_DEFAULT = 3
INPUT_KINDS = ("options", "graph_input", "turns")
EXPECT_KEYS = frozenset({"status", "error", "approvals", "report", "reply", "state", "trajectory", "tool_calls",
                         "forbidden", "citations", "max_cost_usd", "max_tokens", "max_latency_s"})
SUITE_KEYS = frozenset({"graph", "description", "threshold", "defaults", "cases"})
CASE_KEYS = frozenset({"id", "description", "tags", "smoke", "input", "decisions", "expect", "policy", "memory",
                       "forced_calls"})
MEMORY_KEYS = frozenset({"text", "category", "subjects", "decision", "by", "reason", "stated_values",
                         "kind", "graph", "event_type", "event", "outcome", "agents", "created_at"})
# Stable example ids: a case keeps its LangSmith example across uploads.
EXAMPLE_NAMESPACE = uuid.UUID("6f1f4c1e-8d0a-4c1b-9a57-0b6f2d1e7a10")


class DatasetError(UserError):
    """An eval dataset file is malformed."""


@dataclass(frozen=True)
class Case:
    """One eval case: what the graph gets, what a person decides, what must hold afterwards."""

    id: str
    description: str
    input: dict[str, Any]
    decisions: tuple[Any, ...]
    expect: dict[str, Any]
    tags: tuple[str, ...] = ()
    smoke: bool = False
    # policy.yaml values this case runs with, by dotted path ({"support.max_handoffs": 1}).
    policy: dict[str, Any] = field(default_factory=dict)
    # Lessons the case's memory holds before the run starts (written through the policy check).
    memory: tuple[dict[str, Any], ...] = ()
    # Tool calls a misbehaving model makes first, per agent (opsgraph.evals.forced): reaches guards.
    forced_calls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def example_inputs(self, graph_id: str) -> dict[str, Any]:
        """What the target sees: the graph, its input, the decisions, any policy values and remembered
        lessons; never the case id."""
        inputs = {"graph_id": graph_id, "input": self.input, "decisions": list(self.decisions)}
        inputs |= {"memory": [dict(m) for m in self.memory]} if self.memory else {}
        inputs |= {"forced_calls": {a: [dict(c) for c in calls] for a, calls in self.forced_calls.items()}} \
            if self.forced_calls else {}
        return inputs | ({"policy": dict(self.policy)} if self.policy else {})


@dataclass(frozen=True)
class Suite:
    """All cases of one workflow graph, with the pass rate the suite must reach."""

    name: str
    graph_id: str
    description: str
    threshold: float
    cases: tuple[Case, ...]
    path: Path

    def select(self, smoke: bool) -> list[Case]:
        """Every case, or the smoke subset (cases marked ``smoke: true``, else the first three)."""
        if not smoke:
            return list(self.cases)
        marked = [c for c in self.cases if c.smoke]
        return marked or list(self.cases[:SMOKE_DEFAULT])

    def example_id(self, case: Case) -> uuid.UUID:
        """Deterministic LangSmith example id of ``case`` in this suite."""
        return uuid.uuid5(EXAMPLE_NAMESPACE, f"{self.name}:{case.id}")


def load_suite(path: Path) -> Suite:
    """Read and validate one dataset file; raises DatasetError naming the file and the problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DatasetError(f"{path}: cannot read dataset ({exc})") from None
    where = path.name
    _require(isinstance(raw, dict), where, "the file must hold a mapping")
    _unknown(raw, SUITE_KEYS, where)
    graph_id = raw.get("graph")
    _require(isinstance(graph_id, str) and graph_id, where, "'graph' (a graph id) is required")
    threshold = raw.get("threshold", 1.0)
    _require(isinstance(threshold, (int, float)) and 0 <= threshold <= 1, where, "'threshold' must be 0..1")
    defaults = raw.get("defaults") or {}
    _require(isinstance(defaults, dict), where, "'defaults' must be a mapping")
    cases = [_case(item, defaults, f"{where} case #{n}") for n, item in enumerate(raw.get("cases") or [], start=1)]
    _require(bool(cases), where, "no cases")
    ids = [c.id for c in cases]
    duplicate = sorted({i for i in ids if ids.count(i) > 1})
    _require(not duplicate, where, f"duplicate case ids: {', '.join(duplicate)}")
    return Suite(path.stem, graph_id, str(raw.get("description") or ""), float(threshold), tuple(cases), path)


def _case(item: Any, defaults: dict[str, Any], where: str) -> Case:
    _require(isinstance(item, dict), where, "a case must be a mapping")
    _unknown(item, CASE_KEYS, where)
    case_id = item.get("id")
    _require(isinstance(case_id, str) and case_id.strip(), where, "'id' is required")
    where = f"{where.split(' case')[0]} case {case_id}"
    graph_input = item.get("input")
    _require(isinstance(graph_input, dict), where, "'input' must be a mapping")
    _require(set(graph_input) <= set(INPUT_KINDS) and bool(graph_input), where,
             f"'input' takes {', '.join(INPUT_KINDS)}")
    _require(not {"options", "graph_input"} <= set(graph_input), where, "'input' takes options or graph_input, not both")
    if "turns" in graph_input:
        turns = graph_input["turns"]
        _require(isinstance(turns, list) and turns and all(isinstance(t, str) for t in turns), where,
                 "'turns' must be a non-empty list of strings")
    decisions = item.get("decisions", defaults.get("decisions", []))
    _require(isinstance(decisions, list), where, "'decisions' must be a list")
    for decision in decisions:
        _check_decision(decision, where)
    expect = merge_expect(defaults.get("expect") or {}, item.get("expect") or {})
    _unknown(expect, EXPECT_KEYS, f"{where} expect")
    _check_expect(expect, where)
    tags = item.get("tags") or []
    _require(isinstance(tags, list), where, "'tags' must be a list")
    return Case(case_id, str(item.get("description") or ""), graph_input, tuple(decisions), expect,
                tuple(str(t) for t in tags), bool(item.get("smoke", False)), _policy_values(item, where),
                _memory_seeds(item, where), _forced_calls(item, where))


def _forced_calls(item: dict[str, Any], where: str) -> dict[str, list[dict[str, Any]]]:
    """A case's ``forced_calls``: {agent: [{tool, args}]}, each call naming a tool."""
    forced = item.get("forced_calls") or {}
    _require(isinstance(forced, dict), where, "'forced_calls' maps an agent to a list of {tool, args}")
    for agent, calls in forced.items():
        _require(isinstance(calls, list) and all(isinstance(c, dict) and isinstance(c.get("tool"), str)
                                                 and isinstance(c.get("args", {}), dict) for c in calls),
                 where, f"forced_calls.{agent} must be a list of {{tool: NAME, args: {{...}}}}")
        for call in calls:
            _unknown(call, frozenset({"tool", "args"}), f"{where} forced_calls.{agent}")
    return {str(a): [dict(c) for c in calls] for a, calls in forced.items()}


def _memory_seeds(item: dict[str, Any], where: str) -> tuple[dict[str, Any], ...]:
    """A case's ``memory`` to seed: lessons (text, category, subjects by kind, optional stated_values) and
    past episodes (``kind: episode``, text, subjects, optional graph/event_type/event/outcome/agents)."""
    seeds = item.get("memory") or []
    _require(isinstance(seeds, list), where, "'memory' must be a list of lessons and episodes")
    for seed in seeds:
        _require(isinstance(seed, dict) and isinstance(seed.get("text"), str) and isinstance(seed.get("subjects"), dict),
                 where, "each memory needs 'text' and 'subjects' ({sku: [SKU-003], supplier: [SUP-006]})")
        _unknown(seed, MEMORY_KEYS, f"{where} memory")
        _require(seed.get("kind", "lesson") in ("lesson", "episode"), where, "a memory's kind is lesson or episode")
    return tuple(dict(seed) for seed in seeds)


def _policy_values(item: dict[str, Any], where: str) -> dict[str, Any]:
    """A case's ``policy`` values; each dotted path must name a setting of the shipped policy.yaml."""
    values = item.get("policy") or {}
    _require(isinstance(values, dict), where, "'policy' must map dotted policy.yaml paths to values")
    shipped = yaml.safe_load(default_policy_path().read_text(encoding="utf-8"))
    for path in values:
        node: Any = shipped
        for part in str(path).split("."):
            _require(isinstance(node, dict) and part in node, where, f"policy path {path!r} is not in policy.yaml")
            node = node[part]
    return dict(values)


def merge_expect(defaults: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """A case's expectations over the suite defaults: lists (state, report, forbidden, ...) add up,
    anything else in the case replaces the default."""
    merged = dict(defaults)
    for key, value in own.items():
        merged[key] = _merged(defaults.get(key), value)
    return merged


def _merged(default: Any, own: Any) -> Any:
    """Lists add up; a mapping adds to the default mapping key by key (its lists add up too)."""
    if isinstance(own, list) and isinstance(default, list):
        return [*default, *own]
    if isinstance(own, dict) and isinstance(default, dict):
        return {**default, **{k: _merged(default.get(k), v) for k, v in own.items()}}
    return own


def _check_decision(decision: Any, where: str) -> None:
    verb = decision if isinstance(decision, str) else (decision or {}).get("decision")
    _require(verb in ("approve", "reject", "edit"), where, f"unknown decision {decision!r}; use approve, reject or edit")


def _check_expect(expect: dict[str, Any], where: str) -> None:
    for key in ("report", "state", "tool_calls", "forbidden"):
        value = expect.get(key, [])
        _require(isinstance(value, list) and all(isinstance(v, dict) for v in value), where,
                 f"expect.{key} must be a list of mappings")
    trajectory = expect.get("trajectory")
    if trajectory is not None:
        _require(isinstance(trajectory, dict) and trajectory.get("match", "strict") in ("strict", "subset", "unordered")
                 and isinstance(trajectory.get("agents"), list), where,
                 "expect.trajectory needs 'agents' (a list) and 'match': strict, subset or unordered")
    reply = expect.get("reply")
    _require(reply is None or (isinstance(reply, dict) and set(reply) <= {"facts", "internal"}
                               and all(isinstance(v, list) for v in reply.values())), where,
             "expect.reply takes facts and internal, each a list of strings")
    for rule in expect.get("report", []):
        _require(isinstance(rule.get("path"), str) and any(op in rule for op in OPERATORS), where,
                 f"every expect.report entry needs a path and one of: {', '.join(OPERATORS)}")
    for rule in expect.get("state", []):
        _require(rule.get("untouched") == "all" or _state_rule_ok(rule), where,
                 "every expect.state entry needs a table and new, changed, untouched or key + field + an operator "
                 "(or untouched: all)")
    for tool in expect.get("tool_calls", []):
        _require(isinstance(tool.get("name"), str), where, "every expect.tool_calls entry needs a 'name'")
    for rule in expect.get("forbidden", []):
        _require(bool(rule.get("tool") or rule.get("agent")), where, "every expect.forbidden entry needs 'tool' or 'agent'")
        _require(rule.get("must_not", "call") in ("call", "succeed"), where, "forbidden must_not is 'call' or 'succeed'")


def _state_rule_ok(rule: dict[str, Any]) -> bool:
    if not isinstance(rule.get("table"), str):
        return False
    if "key" in rule:
        return isinstance(rule.get("field"), str) and any(op in rule for op in OPERATORS)
    return any(k in rule for k in ("new", "changed", "untouched"))


def _require(ok: bool, where: str, problem: str) -> None:
    if not ok:
        raise DatasetError(f"{where}: {problem}")


def _unknown(data: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    extra = sorted(set(data) - allowed)
    _require(not extra, where, f"unknown key(s) {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}")


def available_suites(directory: Path = DATASETS_DIR) -> dict[str, Path]:
    """Dataset files by suite name (the file stem)."""
    return {p.stem: p for p in sorted(Path(directory).glob("*.yaml"))}


def load_suites(names: list[str] | None = None, directory: Path = DATASETS_DIR) -> list[Suite]:
    """The named suites (all when ``names`` is empty); an unknown name is a DatasetError.

    Besides the dataset files, a YAML workflow whose spec names a dataset (``evals.dataset``)
    is a suite under its own id: that dataset, run against the workflow's graph.
    """
    found = available_suites(directory)
    specs = _workflow_suites(found)
    unknown = [n for n in names or [] if n not in found and n not in specs]
    if unknown:
        known = ", ".join([*found, *specs]) or "none"
        raise DatasetError(f"unknown eval suite(s) {', '.join(unknown)}; known suites: {known}")
    return [specs[n] if n in specs else load_suite(found[n]) for n in (names or [*found, *specs])]


def _workflow_suites(found: dict[str, Path]) -> dict[str, Suite]:
    """Suites of YAML workflows scored on another graph's dataset, by workflow id."""
    import dataclasses

    from opsgraph.workflows.registration import eval_datasets

    return {workflow: dataclasses.replace(load_suite(found[dataset]), name=workflow, graph_id=workflow)
            for workflow, dataset in eval_datasets().items() if workflow not in found and dataset in found}
