"""``opsgraph eval compare <a> <b>``: what regressed and what improved between two eval reports.

A case regressed when every run of it passed in ``a`` and some run failed in ``b``; it
improved the other way round. Suites and evaluators are compared by pass rate, cost by the
total, latency by the median.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _case_verdicts(suite: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per case: passed (all runs passed) and the failed evaluators' explanations of its first failed run."""
    out: dict[str, dict[str, Any]] = {}
    for r in suite["results"]:
        entry = out.setdefault(r["case_id"], {"passed": True, "why": ""})
        if not r["passed"] and entry["passed"]:
            entry["passed"] = False
            entry["why"] = "; ".join(f"{n}: {r['scores'][n]['explanation']}" for n in r["failed"])
    return out


def compare_reports(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Suite deltas, evaluator deltas, regressed/improved/added/removed cases from report ``a`` to ``b``."""
    old = {s["name"]: s for s in a["suites"]}
    new = {s["name"]: s for s in b["suites"]}
    suites = []
    for name in sorted(set(old) | set(new)):
        suites.append(_suite_delta(name, old.get(name), new.get(name)))
    return {"a": a.get("created"), "b": b.get("created"), "suites": suites,
            "regressed": [c for s in suites for c in s["regressed"]],
            "improved": [c for s in suites for c in s["improved"]]}


def _suite_delta(name: str, a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any]:
    if a is None or b is None:
        rates = [None if a is None else a["pass_rate"], None if b is None else b["pass_rate"]]
        return {"name": name, "status": "added" if a is None else "removed", "regressed": [], "improved": [],
                "evaluators": {}, "pass_rate": rates}
    va, vb = _case_verdicts(a), _case_verdicts(b)
    regressed = [{"suite": name, "case_id": c, "why": vb[c]["why"]} for c in vb
                 if c in va and va[c]["passed"] and not vb[c]["passed"]]
    improved = [{"suite": name, "case_id": c, "why": va[c]["why"]} for c in vb
                if c in va and not va[c]["passed"] and vb[c]["passed"]]
    evaluators = {n: [a["evaluators"].get(n, {}).get("pass_rate"), b["evaluators"].get(n, {}).get("pass_rate")]
                  for n in dict.fromkeys([*a["evaluators"], *b["evaluators"]])}
    return {"name": name, "status": "compared", "pass_rate": [a["pass_rate"], b["pass_rate"]],
            "gate": [a["gate_passed"], b["gate_passed"]], "evaluators": evaluators,
            "cost_usd": [a["cost_usd"]["total"], b["cost_usd"]["total"]],
            "latency_p50": [a["latency_s"]["p50"], b["latency_s"]["p50"]],
            "regressed": regressed, "improved": improved,
            "added_cases": sorted(set(vb) - set(va)), "removed_cases": sorted(set(va) - set(vb))}


def _pair(values: list[Any], pct: bool = True, fmt: str = "{:.4f}") -> str:
    shown = ["-" if v is None else (f"{v:.0%}" if pct else fmt.format(v)) for v in values]
    if None in values:
        return " → ".join(shown)
    delta = values[1] - values[0]
    sign = "+" if delta > 0 else ""
    change = f"{sign}{delta * 100:.0f} pts" if pct else f"{sign}{fmt.format(delta)}"
    return f"{shown[0]} → {shown[1]} ({change})" if abs(delta) > 1e-9 else f"{shown[1]} (same)"


def print_comparison(result: dict[str, Any], console: Console) -> None:
    """Suites and evaluators side by side, then every regressed and improved case with why."""
    table = Table(title=f"Eval comparison: {result['a']} → {result['b']}", title_justify="left")
    for column in ("suite", "pass rate", "cost (USD)", "latency p50 (s)", "evaluators that changed"):
        table.add_column(column)
    for s in result["suites"]:
        if s["status"] != "compared":
            table.add_row(s["name"], f"suite {s['status']}", "", "", "")
            continue
        changed = ", ".join(f"{n} {_pair(v)}" for n, v in s["evaluators"].items()
                            if None not in v and abs(v[1] - v[0]) > 1e-9)
        table.add_row(s["name"], _pair(s["pass_rate"]), _pair(s["cost_usd"], False),
                      _pair(s["latency_p50"], False, "{:.2f}"), changed or "none")
    console.print(table)
    for s in result["suites"]:
        if s.get("added_cases") or s.get("removed_cases"):
            console.print(f"{escape(s['name'])}: {len(s['added_cases'])} case(s) only in B, "
                          f"{len(s['removed_cases'])} only in A (pass rates cover different cases)", highlight=False)
    for label, key, style in (("regressed", "regressed", "red"), ("improved", "improved", "green")):
        cases = result[key]
        console.print(f"[{style}]{len(cases)} case(s) {label}[/{style}]")
        for c in cases:
            why = f": {c['why']}" if c["why"] else ""
            console.print(f"  {escape(c['suite'])}/{escape(c['case_id'])}{escape(why)}", highlight=False)
