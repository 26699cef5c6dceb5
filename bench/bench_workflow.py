"""Benchmark: one offline run of supply_chain_exception in-process, and framework overhead per step.

Each repetition uses a fresh data home (seeded world, SQLite checkpointer, audit store) so
runs are identical; set-up is excluded from the timing. Framework overhead is the wall
time of the run minus the time spent inside model calls and tool calls, divided by the
number of node executions (graph steps). Usage: ``python bench/bench_workflow.py [-n 7]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opsgraph.runner import open_runner  # noqa: E402
from opsgraph.settings import load_settings  # noqa: E402

EVENT = {"event": {"shipment_id": "SH-0002", "delay_days": 4, "description": "Inbound shipment SH-0002 is delayed by 4 days."}}


def one_run(home: Path, with_knowledge: bool) -> dict[str, float]:
    """Time one complete run; returns wall, model, tool and step figures."""
    settings = load_settings(env={"OPSGRAPH_HOME": str(home)}, cwd=home.parent)
    steps = 0

    def count(_node: str, _update: dict) -> None:
        nonlocal steps
        steps += 1

    with open_runner(settings, with_knowledge=with_knowledge) as runner:
        if with_knowledge:
            runner.context.retriever.search("warm up", k=1)  # load the embedding model outside the timing
        started = time.perf_counter()
        result = runner.start("supply_chain_exception", EVENT, on_step=count)
        wall = (time.perf_counter() - started) * 1000
    model_ms = sum(c["latency_ms"] for c in result.values["calls"])
    tool_ms = sum(a.get("latency_ms", 0.0) for a in result.values["actions"])
    assert result.status == "completed", result.status
    return {"wall_ms": wall, "model_ms": model_ms, "tool_ms": tool_ms, "steps": steps,
            "overhead_per_step_ms": (wall - model_ms - tool_ms) / steps}


def summarise(runs: list[dict[str, float]]) -> dict[str, float]:
    """Median of every measured figure."""
    return {key: round(statistics.median(r[key] for r in runs), 3) for key in runs[0]}


def main() -> None:
    """Run the benchmark and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=7, help="repetitions (median reported)")
    parser.add_argument("--knowledge", action="store_true", help="include the knowledge layer (retrieval tool)")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.n + 1):
            figures = one_run(Path(tmp) / f"home{i}", args.knowledge)
            if i:  # the first run warms imports and caches
                runs.append(figures)
    out = {"date": date.today().isoformat(), "python": platform.python_version(), "runs": args.n,
           "knowledge": args.knowledge, "median": summarise(runs)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
