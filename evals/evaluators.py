"""Evaluators: each looks at one aspect of a run and returns a named score from 0 to 1 with why.

Every evaluator takes the run's outputs (evals/harness.py ``describe``) and the case's
expectations (the ``expect`` block of the dataset) and returns a :class:`Score`. A score
of ``None`` means the case sets no expectation of that kind. Scores are the share of the
evaluator's assertions that hold; a case passes when every gating evaluator scores 1.
The LLM judge (``make_judge``) exists only when a real model is configured and never gates.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from opsgraph.evals.checks import MISSING, args_match, compare, describe_where, lookup, row_matches

Baseline = Callable[[str, str], "dict[str, Any] | None"]
MEMORY_CITATION = "memory:"
_CITATION = re.compile(r"^\[([^\]§]+?)(?:\s*§[^\]]*)?\]$")


@dataclass(frozen=True)
class Score:
    """One evaluator's verdict on one run."""

    name: str
    score: float | None
    explanation: str

    @property
    def passed(self) -> bool | None:
        """True/False, or None when the evaluator did not apply."""
        return None if self.score is None else self.score >= 1.0 - 1e-9


def _verdict(name: str, checks: list[tuple[bool, str]], ok_text: str) -> Score:
    """Score = share of checks that hold; the explanation lists the ones that do not."""
    if not checks:
        return Score(name, None, "no expectation of this kind")
    failed = [text for ok, text in checks if not ok]
    score = (len(checks) - len(failed)) / len(checks)
    return Score(name, round(score, 4), "; ".join(failed) if failed else ok_text)


# -- outcome --------------------------------------------------------------------------------------
def outcome(outputs: dict[str, Any], expect: dict[str, Any]) -> Score:
    """Run status, input-error message, approvals asked and decided, and assertions on the final report."""
    checks: list[tuple[bool, str]] = []
    want = expect.get("status", "completed")
    got = outputs.get("status")
    detail = f" ({outputs.get('error')})" if outputs.get("error") and got != want else ""
    checks.append((got == want, f"status: expected {want}, got {got}{detail}"))
    if expect.get("error"):
        message = str(outputs.get("error") or "")
        checks.append((expect["error"].lower() in message.lower(),
                       f"error: expected a message containing {expect['error']!r}, got {message or 'none'!r}"))
    if "approvals" in expect:
        checks += _approval_checks(outputs, expect["approvals"])
    for rule in expect.get("report", []):
        checks.append(_report_check(outputs.get("report"), rule))
    if "reply" in expect:
        checks += reply_checks(outputs.get("report"), expect["reply"])
    return _verdict("outcome", checks, f"status {got} as expected")


def reply_checks(report: Any, want: dict[str, Any]) -> list[tuple[bool, str]]:
    """The reply to the customer exists, states every ``facts`` item and shows no ``internal`` one.

    Matching is by case-insensitive substring: a fact is a value the customer must read
    (an amount, a refund id), an internal item a field name or value they must not see.
    """
    reply = report.get("reply") if isinstance(report, dict) else None
    if not isinstance(reply, str) or not reply.strip():
        return [(False, "reply: the run gave the customer no reply")]
    text = reply.lower()
    checks = [(str(fact).lower() in text, f"reply: does not state {fact!r}") for fact in want.get("facts", [])]
    checks += [(str(item).lower() not in text, f"reply: shows internal {item!r}") for item in want.get("internal", [])]
    return checks or [(True, "")]


def _approval_checks(outputs: dict[str, Any], want: Any) -> list[tuple[bool, str]]:
    want = {"count": want} if isinstance(want, int) else dict(want)
    asked = outputs.get("approvals_requested") or []
    checks = []
    if "count" in want:
        checks.append((len(asked) == want["count"], f"approvals: expected {want['count']} approval request(s) "
                       f"from the gate, got {len(asked)}"))
    for field in ("kind", "type"):
        if field in want:
            seen = sorted({str(a.get(field)) for a in asked})
            checks.append((bool(seen) and all(v == want[field] for v in seen),
                           f"approvals: expected requests of {field} {want[field]}, got {seen or 'none'}"))
    if "decisions" in want:
        made = [a.get("decision") for a in outputs.get("approvals") or []]
        checks.append((made == want["decisions"], f"approvals: expected decisions {want['decisions']}, recorded {made}"))
    return checks


def _report_check(report: Any, rule: dict[str, Any]) -> tuple[bool, str]:
    path = rule.get("path", "")
    if report is None:
        return False, f"report.{path}: the run produced no report"
    problems = compare(lookup(report, path), rule)
    return not problems, f"report.{path}: " + "; ".join(problems)


# -- state of the mock enterprise ----------------------------------------------------------------
def state(outputs: dict[str, Any], expect: dict[str, Any], baseline: Baseline | None = None) -> Score:
    """Assertions on the case's mock enterprise after the run (rows added, changed, field values)."""
    changes = outputs.get("world_changes") or {}
    checks = [_state_check(rule, changes, baseline) for rule in expect.get("state", [])]
    return _verdict("state", checks, "mock systems in the expected state")


def _state_check(rule: dict[str, Any], changes: dict[str, Any], baseline: Baseline | None) -> tuple[bool, str]:
    if rule.get("untouched") == "all":
        touched = sorted(changes)
        return not touched, f"expected no writes at all, but {', '.join(touched)} changed"
    table = rule.get("table", "?")
    diff = changes.get(table) or {"added": [], "changed": [], "removed": []}
    if rule.get("untouched"):
        n = len(diff["added"]) + len(diff["changed"]) + len(diff["removed"])
        return n == 0, f"{table}: expected untouched, {n} row(s) written"
    if "key" in rule:
        return _field_check(table, rule, diff, baseline)
    kind = "new" if "new" in rule else "changed"
    rows = diff["added"] if kind == "new" else [c["after"] for c in diff["changed"]]
    where = rule.get("where") or {}
    rows = [r for r in rows if row_matches(r, where)]
    label = f"{table}: {kind} rows" + (f" where {describe_where(where)}" if where else "")
    count_rule = rule.get(kind, {})
    count_rule = {"equals": count_rule} if isinstance(count_rule, int) else count_rule
    problems = compare(len(rows), count_rule)
    for column, bounds in (rule.get("sum") or {}).items():
        total = round(sum(float(r.get(column) or 0) for r in rows), 2)
        low, high = bounds
        if not low <= total <= high:
            problems.append(f"sum of {column} {total:,.2f} outside {low:,.2f}..{high:,.2f}")
    return not problems, f"{label}: " + "; ".join(problems)


def _field_check(table: str, rule: dict[str, Any], diff: dict[str, Any], baseline: Baseline | None) -> tuple[bool, str]:
    key = str(rule["key"])
    after = next((c["after"] for c in diff["changed"] if c["key"] == key), None)
    after = after or next((r for r in diff["added"] if r.get("_key") == key), None)
    if after is None and baseline is not None and key not in diff["removed"]:
        after = baseline(table, key)
    if after is None:
        return False, f"{table} {key}: no such row after the run"
    field = rule.get("field", "")
    problems = compare(after.get(field, MISSING), rule)
    return not problems, f"{table} {key}.{field}: " + "; ".join(problems)


# -- trajectory -----------------------------------------------------------------------------------
def trajectory(outputs: dict[str, Any], expect: dict[str, Any]) -> Score:
    """Agents visited vs expected: ``strict`` (same order), ``subset`` (all present) or ``unordered`` (same set)."""
    want = expect.get("trajectory")
    if not want:
        return Score("trajectory", None, "no expectation of this kind")
    expected, match = list(want["agents"]), want.get("match", "strict")
    actual = list(outputs.get("trajectory") or [])
    shown = f"expected {match} {' > '.join(expected) or '(none)'}, got {' > '.join(actual) or '(none)'}"
    if match == "strict":
        return Score("trajectory", 1.0 if actual == expected else 0.0, "as expected" if actual == expected else shown)
    if match == "subset":
        missing = [a for a in expected if a not in actual]
        score = 1.0 if not expected else (len(expected) - len(missing)) / len(expected)
        return Score("trajectory", round(score, 4), shown + f" (missing {', '.join(missing)})" if missing else "as expected")
    union = set(expected) | set(actual)
    score = len(set(expected) & set(actual)) / len(union) if union else 1.0
    return Score("trajectory", round(score, 4), "as expected" if score == 1.0 else shown)


# -- tool calls -----------------------------------------------------------------------------------
def tool_calls(outputs: dict[str, Any], expect: dict[str, Any]) -> Score:
    """Each expected call (name, key arguments, agent, status; optional count) was made."""
    calls = outputs.get("tool_calls") or []
    checks = []
    for want in expect.get("tool_calls", []):
        found = [c for c in calls if _call_matches(c, want)]
        label = _call_label(want)
        if "count" in want:
            checks.append((len(found) == want["count"], f"{label}: expected {want['count']} call(s), got {len(found)}"
                           + _seen(calls, want["name"])))
        else:
            checks.append((bool(found), f"{label}: not called" + _seen(calls, want["name"])))
    return _verdict("tool_calls", checks, "every expected tool call made")


def _call_matches(call: dict[str, Any], want: dict[str, Any]) -> bool:
    status = want.get("status", "done")
    return (call["tool"] == want["name"] and args_match(call.get("args") or {}, want.get("args") or {})
            and (not want.get("agent") or call["agent"] == want["agent"])
            and (status == "any" or call["status"] == status))


def _call_label(want: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={json.dumps(v)}" for k, v in (want.get("args") or {}).items())
    return f"{want['name']}({args})" + (f" by {want['agent']}" if want.get("agent") else "")


def _seen(calls: list[dict[str, Any]], name: str) -> str:
    same = [c for c in calls if c["tool"] == name]
    if not same:
        return ""
    shown = "; ".join(f"{json.dumps(c['args'], sort_keys=True)[:160]} -> {c['status']}" for c in same[:3])
    return f" (calls of {name}: {shown})"


# -- forbidden actions ----------------------------------------------------------------------------
def forbidden(outputs: dict[str, Any], expect: dict[str, Any]) -> Score:
    """No forbidden tool was called (``must_not: call``) or succeeded (``must_not: succeed``); no forbidden agent acted."""
    calls = outputs.get("tool_calls") or []
    visited = outputs.get("trajectory") or []
    checks = []
    for rule in expect.get("forbidden", []):
        if rule.get("agent") and not rule.get("tool"):
            checks.append((rule["agent"] not in visited, f"agent {rule['agent']} must not act, but it did"))
            continue
        must_not = rule.get("must_not", "call")
        hits = [c for c in calls if c["tool"] == rule["tool"] and args_match(c.get("args") or {}, rule.get("args") or {})
                and (not rule.get("agent") or c["agent"] == rule["agent"]) and (must_not == "call" or c["ok"])]
        label = _call_label({"name": rule["tool"], "args": rule.get("args"), "agent": rule.get("agent")})
        rule_text = "must not be called, but was" if must_not == "call" else "must not succeed, but did"
        first = f" by {hits[0]['agent']} with {json.dumps(hits[0]['args'], sort_keys=True)[:160]}" if hits else ""
        checks.append((not hits, f"{label} {rule_text} {len(hits)} time(s){first}"))
    return _verdict("forbidden", checks, "no forbidden action")


# -- citations and groundedness -------------------------------------------------------------------
def citations(outputs: dict[str, Any], expect: dict[str, Any], corpus: Path | None = None) -> Score:
    """Required policies are cited, excluded ones are not, and every citation is grounded in this run."""
    want = expect.get("citations")
    if want is None:
        return Score("citations", None, "no expectation of this kind")
    cited = report_citations(outputs.get("report"), outputs.get("citations") or [])
    checks = [(any(need.lower() in c.lower() for c in cited), f"policy {need} not cited (cited: {_few(cited)})")
              for need in want.get("include", [])]
    checks += [(not any(bad.lower() in c.lower() for c in cited), f"{bad} cited but must not be (cited: {_few(cited)})")
               for bad in want.get("exclude", [])]
    if want.get("grounded", True):
        retrieved = {_source(c) for c in outputs.get("retrieved") or []}
        recalled = set(outputs.get("recalled") or [])
        for cite in dict.fromkeys(cited):
            if cite.startswith(MEMORY_CITATION):
                # A memory is grounded when this run recalled it; it names no corpus document.
                checks.append((cite in recalled, f"citation {cite} is not grounded: never recalled in this run"))
                continue
            source = _source(cite)
            exists = source is not None and (corpus is None or (corpus / source).is_file())
            checks.append((exists and source in retrieved, f"citation {cite} is not grounded: "
                           + ("no such document in the corpus" if not exists else "never retrieved in this run")))
    if not checks:
        # Nothing to hold against the run: scoring 1.0 here would count as a passed check
        # and lift the suite's citation score without anything having been verified.
        return Score("citations", None, "not applicable: nothing cited and nothing required")
    return _verdict("citations", checks, f"{len(set(cited))} citation(s), all grounded")


def report_citations(report: Any, state_citations: list[str]) -> list[str]:
    """Citations the run presents: the report's ``policies_cited`` and any nested ``citations`` lists."""
    found: list[str] = []

    def walk(data: Any, key: str = "") -> None:
        if isinstance(data, dict):
            for k, v in data.items():
                walk(v, k)
        elif isinstance(data, list):
            if key in ("policies_cited", "citations"):
                found.extend(str(x) for x in data if isinstance(x, str))
            else:
                for item in data:
                    walk(item)

    walk(report)
    return list(dict.fromkeys(found or ([] if report else state_citations)))


def _source(citation: str) -> str | None:
    match = _CITATION.match(citation.strip())
    return match.group(1).strip() if match else None


def _few(items: list[str], n: int = 4) -> str:
    return ", ".join(items[:n]) + (" …" if len(items) > n else "") if items else "none"


# -- cost and latency -----------------------------------------------------------------------------
def cost_latency(outputs: dict[str, Any], expect: dict[str, Any]) -> Score:
    """The run stayed within the case's cost (USD), token and wall-time limits."""
    checks = []
    if "max_cost_usd" in expect:
        cost = float(outputs.get("cost_usd") or 0)
        checks.append((cost <= expect["max_cost_usd"], f"cost ${cost:.4f} above ${expect['max_cost_usd']:.4f}"))
    if "max_tokens" in expect:
        tokens = int(outputs.get("tokens") or 0)
        checks.append((tokens <= expect["max_tokens"], f"{tokens:,} tokens above {expect['max_tokens']:,}"))
    if "max_latency_s" in expect:
        latency = float(outputs.get("latency_s") or 0)
        checks.append((latency <= expect["max_latency_s"], f"latency {latency:.2f}s above {expect['max_latency_s']}s"))
    return _verdict("cost_latency", checks, f"${float(outputs.get('cost_usd') or 0):.4f}, "
                    f"{int(outputs.get('tokens') or 0):,} tokens, {float(outputs.get('latency_s') or 0):.2f}s")


def shadow(outputs: dict[str, Any], expect: dict[str, Any]) -> Score:
    """Under ``eval --shadow``: the case's shadow run ran and changed nothing in the live world.

    Agreement of its proposals with the live run is reported per suite, not gated: a human
    who rejects a proposal the shadow run would have made is a difference worth seeing, not a defect.
    """
    run = outputs.get("shadow")
    if run is None:
        return Score("shadow", None, "not applicable: not a shadow eval")
    if run.get("error") and not run.get("applicable", True):
        return Score("shadow", None, f"not applicable: {run['error']}")
    checks = [(not run.get("error"), f"the shadow run failed: {run.get('error')}"),
              (not run.get("live_changes"), f"the shadow run wrote to the live world: {run.get('live_changes')}")]
    return _verdict("shadow", checks, f"live world untouched; {len(run.get('agreed') or [])} write(s) agreed, "
                    f"{len(run.get('shadow_only') or [])} shadow only, {len(run.get('live_only') or [])} live only")


GATING = ("outcome", "state", "trajectory", "tool_calls", "forbidden", "citations", "cost_latency", "shadow")


def evaluate_all(outputs: dict[str, Any], expect: dict[str, Any], *, baseline: Baseline | None = None,
                 corpus: Path | None = None) -> list[Score]:
    """Every gating evaluator on one run, in report order."""
    return [outcome(outputs, expect), state(outputs, expect, baseline), trajectory(outputs, expect),
            tool_calls(outputs, expect), forbidden(outputs, expect), citations(outputs, expect, corpus),
            cost_latency(outputs, expect), shadow(outputs, expect)]


def case_passed(scores: list[Score]) -> bool:
    """A case passes when every gating evaluator that applies scores 1."""
    return all(s.passed is not False for s in scores if s.name in GATING)


# -- LLM as judge (real models only) ---------------------------------------------------------------
PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def judge_available(settings: Any) -> bool:
    """True when the large tier is a real model (the offline engine cannot judge anything)."""
    return not str(settings.large.model).startswith("offline:")


def make_judge(settings: Any, model: Any = None) -> Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], Score] | None:
    """A judge evaluator on the large tier, or None when only the offline engine is configured.

    ``model`` replaces the configured chat model (tests). The judge is advisory: it is reported
    but never decides whether a case passes.
    """
    if model is None:
        if not judge_available(settings):
            return None
        from opsgraph.models.gateway import settings_model_factory

        model = settings_model_factory(settings)("large", settings.large.model)

    def judge(outputs: dict[str, Any], expect: dict[str, Any], inputs: dict[str, Any]) -> Score:
        return _ask_judge(model, outputs, expect, inputs)

    return judge


def _ask_judge(model: Any, outputs: dict[str, Any], expect: dict[str, Any], inputs: dict[str, Any]) -> Score:
    from langchain_core.messages import HumanMessage

    from opsgraph.prompts import load_prompt

    calls = "\n".join(f"- {c['agent']}: {c['tool']}({json.dumps(c['args'], sort_keys=True)[:300]}) -> {c['status']}"
                      for c in outputs.get("tool_calls") or []) or "(none)"
    prompt = load_prompt("judge", PROMPTS_DIR, graph_id=inputs.get("graph_id", "?"),
                         request=json.dumps(inputs.get("input"), default=str)[:2000],
                         report=json.dumps(outputs.get("report"), default=str)[:6000],
                         tool_calls=calls[:6000], expectations=json.dumps(expect, default=str)[:3000])
    try:
        reply = model.invoke([HumanMessage(prompt)])
    except Exception as exc:  # noqa: BLE001 - an unreachable judge must not sink the eval run
        return Score("judge", None, f"judge unavailable: {type(exc).__name__}: {exc}")
    return parse_verdict(str(reply.content))


def parse_verdict(text: str) -> Score:
    """The judge's ``{"score": x, "reason": "..."}`` answer as a Score (None when unreadable)."""
    match = _JSON_OBJECT.search(text or "")
    try:
        data = json.loads(match.group(0)) if match else {}
        value = min(1.0, max(0.0, float(data["score"])))
    except (ValueError, KeyError, TypeError):
        return Score("judge", None, f"unreadable judge answer: {text[:200]!r}")
    return Score("judge", round(value, 4), str(data.get("reason") or "")[:500])
