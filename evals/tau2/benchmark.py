"""Agent-mode benchmark over many tasks: trials in threads, pass^k, the report data.

The report has the shape of the other suites' (one suite, ``tau2-retail``, one row per
trial) plus a ``tau2`` section with pass^k and per-task results, so ``report.html`` and
``opsgraph eval compare`` work on it unchanged.
"""

from __future__ import annotations

import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Callable

from opsgraph.evals.summary import distribution, evaluator_rates
from opsgraph.evals.tau2.data import Task
from opsgraph.evals.tau2.scoring import pass_hat_table
from opsgraph.evals.tau2.trials import Bench

SUITE = "tau2-retail"
PUBLISHED = {"gpt-4.1": 74.0, "gpt-4.1-mini": 61.4, "claude-sonnet-4.5": 86.2}  # single-agent pass^1, retail


def run_benchmark(bench: Bench, tasks: list[Task], repeat: int, concurrency: int,
                  on_result: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Every task ``repeat`` times, ``concurrency`` trials at once; rows sorted by task then repetition."""
    jobs = [(task, n) for task in tasks for n in range(1, repeat + 1)]

    def run(job: tuple[Task, int]) -> dict[str, Any]:
        row = bench.run_trial(*job)
        if on_result:
            on_result(row)
        return row

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        rows = list(pool.map(run, jobs))
    order = {task.task_id: i for i, task in enumerate(tasks)}
    return sorted(rows, key=lambda r: (order[r["case_id"]], r["repetition"]))


def per_task(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per task: trial outcomes, mean cost and tokens, termination reasons."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = out.setdefault(row["case_id"], {"passed": [], "cost_usd": 0.0, "tokens": 0, "terminations": []})
        entry["passed"].append(bool(row["passed"]))
        entry["cost_usd"] = round(entry["cost_usd"] + row["cost_usd"], 8)
        entry["tokens"] += int(row["tokens"])
        entry["terminations"].append(row["status"])
    for entry in out.values():
        n = len(entry["passed"])
        entry.update(mean_cost_usd=round(entry["cost_usd"] / n, 8), mean_tokens=round(entry["tokens"] / n, 1))
    return out


def suite_entry(rows: list[dict[str, Any]], description: str) -> dict[str, Any]:
    """The report's suite entry for the trials (no gate: a benchmark reports, it does not pass or fail)."""
    passed = sum(1 for r in rows if r["passed"])
    return {
        "name": SUITE, "graph_id": "retail_support", "description": description, "threshold": 0.0,
        "dataset_threshold": 0.0, "dataset": "tasks.json", "cases": len({r["case_id"] for r in rows}),
        "runs": len(rows), "passed": passed, "pass_rate": round(passed / len(rows), 4) if rows else 0.0,
        "gate_passed": True, "evaluators": evaluator_rates(rows),
        "cost_usd": distribution([float(r["cost_usd"]) for r in rows], 6),
        "tokens": distribution([float(r["tokens"]) for r in rows], 0),
        "latency_s": distribution([float(r["latency_s"]) for r in rows], 3),
        "experiment": None, "results": rows,
    }


def report_data(bench: Bench, rows: list[dict[str, Any]], options: dict[str, Any], wall: float) -> dict[str, Any]:
    """report.json for an agent-mode run."""
    tasks = per_task(rows)
    settings = bench.settings
    return {
        "version": 1, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": round(wall, 2), "options": options,
        "environment": {"small_model": settings.small.model, "large_model": settings.large.model,
                        "user_model": bench.user_spec, "world_seed": "tau2 db.json",
                        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()},
        "suites": [suite_entry(rows, "tau2-bench retail: retail_support against a simulated customer")],
        "skipped": [], "graphs_without_suite": [], "gate": {"passed": True, "failures": []},
        "tau2": {"pass_hat_k": pass_hat_table({t: e["passed"] for t, e in tasks.items()}), "tasks": tasks,
                 "total_cost_usd": round(sum(r["cost_usd"] for r in rows), 6),
                 "published_single_agent_pass1": PUBLISHED},
    }


def timed(fn: Callable[[], list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], float]:
    """Run ``fn`` and return its rows with the wall time in seconds."""
    started = time.perf_counter()
    rows = fn()
    return rows, time.perf_counter() - started
