"""Suite summaries: pass rate, per-evaluator pass rates, cost, tokens and latency, the gate verdict."""

from __future__ import annotations

import statistics
from typing import Any

from opsgraph.evals.dataset import Suite
from opsgraph.evals.evaluators import GATING

# Evaluators that apply only under an option (eval --shadow): left out of the tables otherwise.
SHOWN_WHEN_APPLIED = ("shadow",)


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low, high = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def distribution(values: list[float], digits: int = 4) -> dict[str, float]:
    """Total, mean, median, p95 and max of ``values``."""
    return {"total": round(sum(values), digits), "mean": round(statistics.fmean(values), digits) if values else 0.0,
            "p50": round(percentile(values, 0.5), digits), "p95": round(percentile(values, 0.95), digits),
            "max": round(max(values), digits) if values else 0.0}


def evaluator_rates(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per evaluator: how many runs it applied to, how many passed, pass rate and mean score."""
    names = list(GATING) + sorted({k for r in rows for k in r["scores"]} - set(GATING))
    out = {}
    for name in names:
        scored = [r["scores"][name]["score"] for r in rows if r["scores"].get(name, {}).get("score") is not None]
        if name in SHOWN_WHEN_APPLIED and not scored:
            continue
        passed = sum(1 for s in scored if s >= 1.0 - 1e-9)
        out[name] = {"applicable": len(scored), "passed": passed,
                     "pass_rate": round(passed / len(scored), 4) if scored else None,
                     "mean": round(statistics.fmean(scored), 4) if scored else None,
                     "gating": name in GATING}
    return out


def shadow_agreement(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Under ``eval --shadow``: per action category, the shadow runs' writes agreed with the live runs'.

    ``rate`` = agreed / (agreed + shadow only + live only), as ``opsgraph shadow report`` counts it.
    """
    runs = [r["shadow"] for r in rows if isinstance(r.get("shadow"), dict) and r["shadow"].get("applicable", True)]
    if not runs:
        return None
    tallies: dict[str, dict[str, int]] = {}
    for run in runs:
        for side in ("agreed", "shadow_only", "live_only"):
            for write in run.get(side) or []:
                tally = tallies.setdefault(write["category"], {"agreed": 0, "shadow_only": 0, "live_only": 0})
                tally[side] += 1
    categories = {c: {**t, "rate": round(t["agreed"] / sum(t.values()), 4)} for c, t in sorted(tallies.items())}
    untouched = sum(1 for run in runs if not run.get("live_changes") and not run.get("error"))
    return {"runs": len(runs), "live_world_untouched": untouched, "categories": categories}


def summarize_suite(suite: Suite, rows: list[dict[str, Any]], fail_under: float | None,
                    experiment: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report entry of one suite; ``fail_under`` replaces the dataset's threshold when given."""
    threshold = suite.threshold if fail_under is None else fail_under
    passed = sum(1 for r in rows if r["passed"])
    rate = passed / len(rows) if rows else 0.0
    return {
        "name": suite.name, "graph_id": suite.graph_id, "description": suite.description,
        "threshold": threshold, "dataset_threshold": suite.threshold, "dataset": str(suite.path.name),
        "cases": len({r["case_id"] for r in rows}), "runs": len(rows), "passed": passed, "pass_rate": round(rate, 4),
        "gate_passed": bool(rows) and rate >= threshold - 1e-9,
        "evaluators": evaluator_rates(rows),
        "cost_usd": distribution([float(r.get("cost_usd") or 0) for r in rows], 6),
        "tokens": distribution([float(r.get("tokens") or 0) for r in rows], 0),
        "latency_s": distribution([float(r.get("latency_s") or 0) for r in rows], 3),
        "experiment": experiment,
        "shadow": shadow_agreement(rows),
        "results": rows,
    }
