"""Run eval suites with LangSmith's ``evaluate``: isolated cases, evaluators, summaries, the gate.

    from opsgraph.evals.runner import EvalOptions, run_evals
    data = run_evals(load_settings(), EvalOptions(suites=("supply_chain_exception",), smoke=True))
    data["gate"]["passed"]

Each suite is one ``langsmith.evaluation.evaluate`` call over the suite's examples (local
examples offline, a synced LangSmith dataset with a key). Cases run in threads
(``concurrency``), each in its own workspace home; ``repeat`` runs each case N times.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import time
import warnings
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from opsgraph.evals import evaluators as ev
from opsgraph.evals.dataset import DATASETS_DIR, Case, DatasetError, Suite, available_suites, load_suite, load_suites
from opsgraph.evals.harness import make_target
from opsgraph.evals.summary import summarize_suite
from opsgraph.evals.upload import dataset_name, local_examples, make_client, sync_examples
from opsgraph.evals.workspace import EVAL_SEED, Workspace
from opsgraph.settings import Settings

ResultCallback = Callable[[str, dict[str, Any]], None]
StartCallback = Callable[[str, int], None]


@dataclass(frozen=True)
class EvalOptions:
    """What to run and how (the ``opsgraph eval`` options)."""

    suites: tuple[str, ...] = ()
    routing: str = "routed"
    repeat: int = 1
    concurrency: int = 1
    fail_under: float | None = None
    smoke: bool = False
    judge: bool | None = None  # None: only when a real model is configured
    datasets_dir: Path = DATASETS_DIR
    # Also run every case in shadow mode first and report agreement with the live run.
    shadow: bool = False


def plan_suites(options: EvalOptions) -> tuple[list[Suite], list[dict[str, str]]]:
    """Suites to run and the ones skipped (their graph is not registered yet), with the reason."""
    from opsgraph.registry import graph_entries

    registered = graph_entries()
    suites = load_suites(list(options.suites), options.datasets_dir)
    missing = [s for s in suites if s.graph_id not in registered]
    if options.suites and missing:
        raise DatasetError(f"suite {missing[0].name} is for graph {missing[0].graph_id!r}, which is not registered; "
                           f"registered graphs: {', '.join(sorted(registered))}")
    skipped = [{"suite": s.name, "reason": f"graph {s.graph_id} is not registered yet"} for s in missing]
    return [s for s in suites if s.graph_id in registered], skipped


def run_evals(settings: Settings, options: EvalOptions, *, on_start: StartCallback | None = None,
              on_result: ResultCallback | None = None) -> dict[str, Any]:
    """Run the selected suites and return the report data (report.json: suites with every run's scores,
    trajectory, tool calls, cost and latency; the gate verdict)."""
    _check_options(options)
    suites, skipped = plan_suites(options)
    upload = settings.langsmith_enabled
    client = make_client(upload)
    judge = _judge(settings, options)
    started = time.perf_counter()
    results = []
    with Workspace(settings, routing=options.routing, shadow=options.shadow) as workspace, _quiet_langsmith():
        _ = workspace.retriever  # ingest before the first case, so no case's latency includes it
        setup = time.perf_counter() - started
        for suite in suites:
            cases = suite.select(options.smoke)
            if on_start:
                on_start(suite.name, len(cases) * options.repeat)
            results.append(run_suite(workspace, suite, cases, options, client, upload, judge, on_result))
    data = _assemble(settings, options, results, skipped, time.perf_counter() - started, upload, judge is not None)
    return {**data, "setup_s": round(setup, 2)}


def _check_options(options: EvalOptions) -> None:
    from opsgraph.errors import UserError
    from opsgraph.models.router import ROUTING_MODES

    if options.routing not in ROUTING_MODES:
        raise UserError(f"unknown routing {options.routing!r}; use one of {', '.join(ROUTING_MODES)}")
    if options.repeat < 1 or options.concurrency < 1:
        raise UserError("--repeat and --concurrency must be at least 1")
    if options.fail_under is not None and not 0 <= options.fail_under <= 1:
        raise UserError(f"--fail-under must be a pass rate from 0 to 1, got {options.fail_under}")


def _judge(settings: Settings, options: EvalOptions) -> Any:
    if options.judge is False:
        return None
    judge = ev.make_judge(settings)
    if options.judge and judge is None:
        from opsgraph.errors import UserError

        raise UserError("--judge needs a real model on the large tier (OPSGRAPH_LARGE_MODEL); "
                        "the offline engine cannot judge")
    return judge


def run_suite(workspace: Workspace, suite: Suite, cases: list[Case], options: EvalOptions, client: Any, upload: bool,
              judge: Any, on_result: ResultCallback | None) -> dict[str, Any]:
    """One ``evaluate`` call over ``cases``; returns the suite's summary with every case result."""
    from langsmith.evaluation import evaluate

    data = sync_examples(client, suite, cases) if upload else local_examples(suite, cases)
    order = {c.id: n for n, c in enumerate(cases)}
    results = evaluate(
        make_target(workspace), data=data, evaluators=langsmith_evaluators(workspace, judge),
        max_concurrency=options.concurrency if options.concurrency > 1 else 0, num_repetitions=options.repeat,
        client=client, upload_results=upload, blocking=False, experiment_prefix=dataset_name(suite),
        metadata={"suite": suite.name, "graph_id": suite.graph_id, "routing": options.routing, "smoke": options.smoke},
        description=suite.description,
    )
    seen: dict[str, int] = {}
    rows = []
    for row in results:
        case_id = row["example"].metadata["case_id"]
        seen[case_id] = seen.get(case_id, 0) + 1
        rows.append(case_result(row, seen[case_id]))
        if on_result:
            on_result(suite.name, rows[-1])
    rows.sort(key=lambda r: (order.get(r["case_id"], 0), r["repetition"]))
    experiment = {"name": results.experiment_name, "url": results.url} if upload else None
    return summarize_suite(suite, rows, options.fail_under, experiment)


def langsmith_evaluators(workspace: Workspace, judge: Any) -> list[Callable[[Any, Any], dict[str, Any]]]:
    """The evaluators as LangSmith row evaluators ``(run, example) -> {key, score, comment}``."""
    corpus = workspace.settings.knowledge_path
    plain: dict[str, Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], ev.Score]] = {
        "outcome": lambda o, e, i: ev.outcome(o, e),
        "state": lambda o, e, i: ev.state(o, e, workspace.template_row),
        "trajectory": lambda o, e, i: ev.trajectory(o, e),
        "tool_calls": lambda o, e, i: ev.tool_calls(o, e),
        "forbidden": lambda o, e, i: ev.forbidden(o, e),
        "citations": lambda o, e, i: ev.citations(o, e, corpus),
        "cost_latency": lambda o, e, i: ev.cost_latency(o, e),
        "shadow": lambda o, e, i: ev.shadow(o, e),
    }
    if judge is not None:
        plain["judge"] = judge
    return [_as_langsmith(name, fn) for name, fn in plain.items()]


def _as_langsmith(name: str, fn: Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], ev.Score]
                  ) -> Callable[[Any, Any], dict[str, Any]]:
    def evaluator(run: Any, example: Any) -> dict[str, Any]:
        outputs = run.outputs or {"status": "crashed", "error": str(run.error or "the target returned nothing")}
        score = fn(outputs, example.outputs or {}, example.inputs or {})
        return {"key": name, "score": score.score, "comment": score.explanation}

    # LangSmith names an evaluator's feedback (and its errors) after the function.
    evaluator.__name__ = name
    return evaluator


def case_result(row: dict[str, Any], repetition: int) -> dict[str, Any]:
    """One run of one case as report data: scores, pass/fail, cost, latency, what it did."""
    example, outputs = row["example"], dict(row["run"].outputs or {})
    scores = {}
    for result in row["evaluation_results"]["results"]:
        error = (result.extra or {}).get("error") if hasattr(result, "extra") else None
        scores[result.key] = {"score": 0.0 if error else result.score,
                              "explanation": f"evaluator error: {result.comment}" if error else (result.comment or "")}
    for name in ev.GATING:  # an evaluator that never reported is a failure, not a silent pass
        scores.setdefault(name, {"score": 0.0, "explanation": "evaluator did not report"})
    failed = [n for n in ev.GATING if scores[n]["score"] is not None and scores[n]["score"] < 1.0 - 1e-9]
    changes = outputs.pop("world_changes", {}) or {}
    return {
        "case_id": example.metadata["case_id"], "description": example.metadata.get("description", ""),
        "tags": example.metadata.get("tags", []), "repetition": repetition, "passed": not failed, "failed": failed,
        "scores": scores, "inputs": example.inputs, "world_changes": _change_counts(changes), **outputs,
    }


def _change_counts(changes: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {t: {k: len(v) for k, v in d.items()} for t, d in changes.items()}


@contextlib.contextmanager
def _quiet_langsmith() -> Iterator[None]:
    """No tqdm bar, beta warning or experiment banner from langsmith: opsgraph draws its own progress."""
    previous = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.filterwarnings("ignore", message=".*upload_(results|runs).*")
            yield
    finally:
        if previous is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = previous


def _assemble(settings: Settings, options: EvalOptions, suites: list[dict[str, Any]], skipped: list[dict[str, str]],
              wall: float, uploaded: bool, judged: bool) -> dict[str, Any]:
    from opsgraph.registry import graph_entries

    from opsgraph.workflows.registration import eval_datasets

    covered = {load_suite(path).graph_id for path in available_suites(options.datasets_dir).values()}
    covered |= set(eval_datasets())  # a YAML workflow scored on the dataset its spec names
    failures = [f"{s['name']}: pass rate {s['pass_rate']:.0%} under threshold {s['threshold']:.0%}"
                for s in suites if not s["gate_passed"]]
    return {
        "version": 1, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": round(wall, 2),
        "options": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
                    "judge": judged, "uploaded": uploaded},
        "environment": {"small_model": settings.small.model, "large_model": settings.large.model,
                        "world_seed": EVAL_SEED, "python": platform.python_version(),
                        "machine": platform.machine(), "cpus": os.cpu_count()},
        "suites": suites, "skipped": skipped,
        "graphs_without_suite": sorted(set(graph_entries()) - covered),
        "gate": {"passed": not failures and bool(suites), "failures": failures or ([] if suites else ["no suite ran"])},
    }
