"""Run workflows under a routing mode and compare: for evals, router calibration and benchmarks.

``run_with_routing`` runs one graph input under ``routed``, ``small`` or ``large`` and
returns what it cost and what it wrote; ``run_samples`` does that for the sample inputs of
every registered graph, each on a fresh seeded world so runs are comparable. A run
succeeds when it ends as a reference run did (completed, or stopped by a check the graph
makes) and makes the same writes (tool and arguments, prose excluded).
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from opsgraph.governance.policy import load_policy
from opsgraph.models.gateway import ModelFactory
from opsgraph.models.router import RoutingPolicy, calibrate_threshold, check_mode, score
from opsgraph.registry import graph_entries
from opsgraph.settings import Settings, TierSettings

MAX_APPROVALS = 10


@dataclass
class SampleRun:
    """One run of one input under one routing mode."""

    graph_id: str
    options: dict[str, Any]
    routing: str
    thread_id: str
    status: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def cost_usd(self) -> float:
        """Total cost of the run's model calls."""
        return round(sum(c["cost_usd"] for c in self.calls), 8)

    @property
    def tokens(self) -> int:
        """Input plus output tokens of the run's model calls."""
        return sum(c["input_tokens"] + c["output_tokens"] for c in self.calls)

    def succeeded(self, reference: "SampleRun | None" = None) -> bool:
        """Completed; or, given a reference run, ended as it did and made the same writes."""
        if reference is None:
            return self.status == "completed"
        return self.status == reference.status and Counter(self.writes) == Counter(reference.writes)


def sample_inputs(graph_ids: Iterable[str] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(graph id, options) for every sample of every registered graph (or of ``graph_ids``)."""
    entries = graph_entries()
    wanted = list(graph_ids) if graph_ids else list(entries)
    return [(gid, dict(options)) for gid in wanted for options in entries[gid].samples]


def _write_key(action: dict[str, Any]) -> str:
    # Prose (reasons, justifications, messages) differs between models without changing the write.
    args = {k: v for k, v in action["args"].items() if not (isinstance(v, str) and " " in v.strip())}
    return f"{action['tool']} {json.dumps(args, sort_keys=True, default=str)}"


def run_with_routing(settings: Settings, graph_id: str, options: dict[str, Any], routing: str, *,
                     model_factory: ModelFactory | None = None, approve_by: str = "routing-eval",
                     with_knowledge: bool = False, budget: dict[str, Any] | None = None) -> SampleRun:
    """Run ``graph_id`` on ``options`` (CLI-style) under ``routing``, approving every approval.

    Model errors end the run as ``failed`` with the error kept, so a comparison counts them
    instead of crashing. The data home of ``settings`` is used as is (give each run a fresh one).
    """
    from opsgraph.runner import open_runner

    thread = f"{check_mode(routing)}-{uuid.uuid4().hex[:8]}"
    with open_runner(settings, routing=routing, model_factory=model_factory, with_knowledge=with_knowledge) as runner:
        graph_input = runner.make_input(graph_id, options)
        try:
            result = runner.start(graph_id, graph_input, thread_id=thread, budget=budget)
            for _ in range(MAX_APPROVALS):
                if result.status != "awaiting_approval":
                    break
                result = runner.resume(thread, {"decision": "approve", "by": approve_by})
        except Exception as exc:  # noqa: BLE001 - a failed run is a data point of the comparison
            values = runner.graph(graph_id).get_state(runner.config(thread)).values
            return SampleRun(graph_id, options, routing, thread, "failed", list(values.get("calls") or []),
                             error=f"{type(exc).__name__}: {exc}")
    writes = [_write_key(a) for a in result.values.get("actions") or [] if a["writes"] and a["ok"]]
    return SampleRun(graph_id, options, routing, thread, result.status, list(result.values.get("calls") or []), writes)


def run_samples(settings: Settings, routing: str, base: Path, *, graph_ids: Iterable[str] | None = None,
                model_factory: ModelFactory | None = None) -> list[SampleRun]:
    """Every sample input under ``routing``, each with a fresh data home under ``base``."""
    runs = []
    for i, (graph_id, options) in enumerate(sample_inputs(graph_ids)):
        home = base / f"{routing}-{i:02d}"
        runs.append(run_with_routing(settings.with_overrides(data_home=home), graph_id, options, routing,
                                     model_factory=model_factory))
    return runs


def summarize(runs: list[SampleRun], references: list[SampleRun] | None = None) -> dict[str, Any]:
    """Success rate, cost, tokens, tier mix and escalations of a set of runs."""
    refs = references or [None] * len(runs)
    calls = [c for r in runs for c in r.calls]
    return {
        "runs": len(runs),
        "succeeded": sum(1 for r, ref in zip(runs, refs) if r.succeeded(ref)),
        "success_rate": round(sum(1 for r, ref in zip(runs, refs) if r.succeeded(ref)) / max(1, len(runs)), 4),
        "cost_usd": round(sum(r.cost_usd for r in runs), 6),
        "tokens": sum(r.tokens for r in runs),
        "model_calls": len(calls),
        "large_share": round(sum(1 for c in calls if c["tier"] == "large") / max(1, len(calls)), 4),
        "escalations": sum(1 for c in calls if c.get("escalated")),
        "recovered": sum(1 for c in calls if str(c.get("validation") or "").startswith("recovered")),
        "failed": [f"{r.graph_id} {r.options}: {_why(r, ref)}" for r, ref in zip(runs, refs) if not r.succeeded(ref)],
    }


def _why(run: SampleRun, reference: SampleRun | None) -> str:
    if run.error:
        return run.error
    if reference is not None and run.status == reference.status:
        return f"{run.status}, but its writes differ from the reference run"
    return run.status if reference is None else f"{run.status} (reference: {reference.status})"


def offline_settings(settings: Settings) -> Settings:
    """The same settings on the offline engine (both tiers), whatever models are configured."""
    return settings.with_overrides(small=TierSettings("offline:small"), large=TierSettings("offline:large"))


def router_decisions(runs: Iterable[SampleRun]) -> list[dict[str, Any]]:
    """Signals of every routing decision in ``runs`` (a cascade retry is not a new decision)."""
    return [c["signals"] for r in runs for c in r.calls if not str(c.get("rule", "")).startswith("cascade")]


def calibrate(settings: Settings, large_share: float, base: Path) -> dict[str, Any]:
    """Threshold that sends about ``large_share`` of calls to large, on the samples run offline."""
    runs = run_samples(offline_settings(settings), "routed", base)
    routing = RoutingPolicy.from_policy(load_policy(settings.policy_path))
    scores = [score(signals, routing)[0] for signals in router_decisions(runs)]
    threshold, achieved = calibrate_threshold(scores, large_share)
    return {"threshold": threshold, "previous_threshold": routing.threshold, "target_share": large_share,
            "achieved_share": achieved, "calls": len(scores), "runs": len(runs),
            "failed_runs": [f"{r.graph_id} {r.options}: {r.error}" for r in runs if r.status == "failed"]}


_SECTION = re.compile(r"^routing:\s*(#.*)?$")
_THRESHOLD = re.compile(r"^(\s+threshold:\s*)([^#\s]+)(.*)$")


def _section_end(lines: list[str], start: int) -> int:
    for i in range(start + 1, len(lines)):
        if lines[i].strip() and not lines[i][0].isspace() and not lines[i].startswith("#"):
            return i
    return len(lines)


def write_threshold(path: Path, threshold: float) -> None:
    """Set ``routing.threshold`` in a policy file, leaving every other line (and comment) as it was."""
    lines = path.read_text().splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _SECTION.match(line.rstrip("\n"))), None)
    if start is None:
        lines += ["\nrouting:\n", f"  threshold: {threshold}\n"]
    else:
        body = [i for i in range(start + 1, _section_end(lines, start)) if lines[i].strip()
                and not lines[i].lstrip().startswith("#")]
        indent = len(lines[body[0]]) - len(lines[body[0]].lstrip()) if body else 2
        found = next((i for i in body if _THRESHOLD.match(lines[i].rstrip("\n"))
                      and len(lines[i]) - len(lines[i].lstrip()) == indent), None)
        if found is None:
            lines.insert(start + 1, f"{' ' * indent}threshold: {threshold}\n")
        else:
            head, _old, tail = _THRESHOLD.match(lines[found].rstrip("\n")).groups()
            lines[found] = f"{head}{threshold}{tail}\n"
    text = "".join(lines)
    if float((yaml.safe_load(text).get("routing") or {}).get("threshold")) != float(threshold):
        raise ValueError(f"could not set routing.threshold in {path}")
    path.write_text(text)
