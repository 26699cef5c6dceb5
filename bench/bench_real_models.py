"""Benchmark: every graph's sample cases against real OpenAI-compatible models.

Runs the first sample input(s) of each registered graph (opsgraph/registry.py ``samples``)
on whatever models are configured (``OPSGRAPH_SMALL_MODEL`` / ``OPSGRAPH_LARGE_MODEL`` and
their base URLs, or opsgraph.yaml), under each routing mode asked for, approving every
approval as ``bench``. Each run gets a fresh seeded world. It is compared with a reference
run of the same input on the offline engine (the deterministic procedure follower, whose
runs pass the eval suites):

- completed correctly: ended as the reference did and made the same writes (prose excluded)
- completed wrongly: ended, but with another status or other writes (what differs is shown)
- failed: the run raised or ended ``failed``; the reason is shown (agent and why for a model
  that could not decide). A Python traceback is never the outcome: every error is a reason.
- not finished (token cap): the run reached ``--max-tokens`` (a per-run token budget written
  into a copy of policy.yaml) and paused, as any run does at a spent budget. Small local models
  answer at a few tokens per second, so the cap is what keeps a looping model from taking the
  whole benchmark's time.

The markdown table has: graph, routing, outcome, model calls (retries with feedback and
escalations), tool calls recovered from text, tokens, wall time. ``--minutes`` bounds the
whole benchmark: cases that would start after it are listed as not run.

Usage::

    OPSGRAPH_SMALL_MODEL=openai:small OPSGRAPH_SMALL_BASE_URL=http://127.0.0.1:8089/v1 \\
    OPSGRAPH_LARGE_MODEL=openai:large OPSGRAPH_LARGE_BASE_URL=http://127.0.0.1:8088/v1 OPENAI_API_KEY=x \\
    python bench/bench_real_models.py --routing small --routing routed --cases 1 --minutes 25 --md /tmp/real.md
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opsgraph.registry import graph_entries  # noqa: E402
from opsgraph.routing_eval import SampleRun, offline_settings, run_with_routing  # noqa: E402
from opsgraph.settings import Settings, load_settings  # noqa: E402

REASON_CHARS = 160


@dataclass
class Row:
    """One benchmark run and how it compares with its reference."""

    graph_id: str
    options: dict[str, Any]
    routing: str
    outcome: str
    detail: str
    run: SampleRun | None
    seconds: float


def cases(graph_ids: list[str] | None, per_graph: int) -> list[tuple[str, dict[str, Any]]]:
    """The first ``per_graph`` sample inputs of each graph (all graphs when ``graph_ids`` is empty)."""
    entries = graph_entries()
    wanted = graph_ids or list(entries)
    return [(gid, dict(options)) for gid in wanted for options in entries[gid].samples[:per_graph]]


def judge(run: SampleRun, reference: SampleRun) -> tuple[str, str]:
    """(outcome, detail) of ``run`` against the offline ``reference`` run."""
    if run.status == "failed" or run.error:
        return "failed", (run.error or "run ended failed")[:REASON_CHARS]
    if run.status == "budget_exhausted":
        return "not finished (token cap)", f"paused at the token cap after {len(run.calls)} calls"
    if run.succeeded(reference):
        return "completed correctly", run.status
    if run.status != reference.status:
        return "completed wrongly", f"ended {run.status} (reference: {reference.status})"
    missing = Counter(reference.writes) - Counter(run.writes)
    extra = Counter(run.writes) - Counter(reference.writes)
    parts = [f"missing {', '.join(w.split(' ')[0] for w in missing.elements())}" if missing else "",
             f"extra {', '.join(w.split(' ')[0] for w in extra.elements())}" if extra else ""]
    return "completed wrongly", "; ".join(p for p in parts if p) or "writes differ"


def run_case(settings: Settings, base: Path, index: int, graph_id: str, options: dict[str, Any],
             routing: str, reference: SampleRun) -> Row:
    """One real-model run on a fresh data home, judged against ``reference``."""
    started = time.perf_counter()
    home = base / f"{routing}-{index:02d}"
    try:
        run = run_with_routing(settings.with_overrides(data_home=home), graph_id, options, routing,
                               approve_by="bench")
    except Exception as exc:  # noqa: BLE001 - the table reports it; a traceback would hide the other rows
        seconds = time.perf_counter() - started
        return Row(graph_id, options, routing, "failed", f"{type(exc).__name__}: {exc}"[:REASON_CHARS], None, seconds)
    outcome, detail = judge(run, reference)
    return Row(graph_id, options, routing, outcome, detail, run, time.perf_counter() - started)


def capped_policy(settings: Settings, max_tokens: int, folder: Path) -> Path:
    """A copy of the policy file whose per-run token budget is ``max_tokens``."""
    policy = yaml.safe_load(Path(settings.policy_path).read_text())
    run = policy.setdefault("budgets", {}).setdefault("run", {})
    run["max_tokens"] = max_tokens
    path = folder / "policy-capped.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


def call_counts(run: SampleRun | None) -> tuple[int, int, int, int, int]:
    """(model calls, retries with feedback, escalations, recovered tool calls, tokens)."""
    calls = run.calls if run else []
    rules = [str(c.get("rule") or "") for c in calls]
    recovered = sum(1 for c in calls if str(c.get("validation") or "").startswith("recovered"))
    return (len(calls), sum(1 for r in rules if r.startswith("retry with feedback")),
            sum(1 for r in rules if r.startswith("cascade")), recovered, run.tokens if run else 0)


def markdown(rows: list[Row], skipped: list[str], settings: Settings, minutes: float) -> str:
    """The results as a markdown table with the setup above it."""
    lines = [f"Models: small = `{settings.small.model}` at {settings.small.base_url or settings.openai_base_url}, "
             f"large = `{settings.large.model}` at {settings.large.base_url or settings.openai_base_url}. "
             f"Machine: {platform.machine()}, Python {platform.python_version()}, date {date.today()}.", "",
             "| graph | input | routing | outcome | detail | model calls (retries / escalations) "
             "| recovered tool calls | tokens | wall time |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        calls, retries, escalations, recovered, tokens = call_counts(row.run)
        inputs = ", ".join(f"{k}={v}" for k, v in row.options.items())[:40]
        detail = row.detail.replace("|", "/").replace("\n", " ")
        lines.append(f"| {row.graph_id} | {inputs} | {row.routing} | {row.outcome} | {detail} "
                     f"| {calls} ({retries} / {escalations}) | {recovered} | {tokens:,} | {row.seconds:.0f} s |")
    totals = Counter(r.outcome for r in rows)
    lines += ["", "Totals: " + ", ".join(f"{n} {o}" for o, n in sorted(totals.items()))
              + f"; {sum(r.seconds for r in rows) / 60:.1f} min of model time (limit {minutes:g} min)."]
    if skipped:
        lines.append("Not run (time limit): " + "; ".join(skipped) + ".")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--routing", action="append", choices=["routed", "small", "large"],
                        help="routing mode(s) to run; repeat for several (default: small)")
    parser.add_argument("--graph", action="append", help="graph id(s) to run (default: every registered graph)")
    parser.add_argument("--cases", type=int, default=1, help="sample inputs per graph (default 1)")
    parser.add_argument("--minutes", type=float, default=25.0, help="stop starting new runs after this long")
    parser.add_argument("--max-tokens", type=int, default=20000, help="per-run token cap of the real-model runs")
    parser.add_argument("--md", type=Path, help="also write the markdown table to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; prints the table (and writes ``--md``)."""
    args = parse_args(argv)
    settings = load_settings()
    if settings.small.model.startswith("offline:") and settings.large.model.startswith("offline:"):
        print("no real model configured: set OPSGRAPH_SMALL_MODEL / OPSGRAPH_LARGE_MODEL and their base URLs",
              file=sys.stderr)
        return 2
    routings, deadline = args.routing or ["small"], time.monotonic() + args.minutes * 60
    rows, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="opsgraph-bench-real-") as tmp:
        base = Path(tmp)
        capped = settings.with_overrides(policy_path=capped_policy(settings, args.max_tokens, base))
        for index, (graph_id, options) in enumerate(cases(args.graph, args.cases)):
            if time.monotonic() > deadline:
                skipped += [f"{graph_id} ({routing})" for routing in routings]
                continue
            reference = run_with_routing(offline_settings(settings).with_overrides(data_home=base / f"ref-{index:02d}"),
                                         graph_id, options, "routed", approve_by="bench")
            for routing in routings:
                if time.monotonic() > deadline:
                    skipped.append(f"{graph_id} ({routing})")
                    continue
                row = run_case(capped, base, index, graph_id, options, routing, reference)
                rows.append(row)
                print(f"{graph_id} [{routing}] {row.outcome}: {row.detail} ({row.seconds:.0f} s)", flush=True)
    table = markdown(rows, skipped, settings, args.minutes) + f"Per-run token cap: {args.max_tokens:,}.\n"
    print(table)
    if args.md:
        args.md.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
