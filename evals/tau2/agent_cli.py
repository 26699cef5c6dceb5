"""``opsgraph eval tau2-retail --agent``: the benchmark against real models, with its report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opsgraph.errors import UserError
from opsgraph.settings import Settings, TierSettings

# Local OpenAI-compatible servers on a CPU answer a policy-sized prompt in minutes, not seconds.
MODEL_TIMEOUT_S = 900.0


def user_tier(settings: Settings) -> TierSettings:
    """The simulator's model: its own setting, else the small tier (with the shared endpoint)."""
    if settings.tau2_user is not None:
        return settings.tau2_user
    return settings.small


def check_real_models(settings: Settings) -> None:
    """Refuse the offline engine (it is not an LLM) for the agent tiers and the simulator."""
    specs = {settings.small.model, settings.large.model, user_tier(settings).model}
    if any(spec.startswith("offline:") for spec in specs):
        raise UserError("tau2-retail --agent needs a real model, the offline engine is not an LLM "
                        "(set OPENAI_API_KEY or OPENAI_BASE_URL)")


def make_bench(settings: Settings, rows: Any, gold: dict[str, str], model_factory: Any = None,
               routing: str = "routed") -> Any:
    """The shared trial set-up from settings (the simulator model is built per trial: thread safety)."""
    from opsgraph.evals.tau2.trials import Bench
    from opsgraph.models.pricing import load_pricing
    from opsgraph.models.provider import load_chat_model

    tier = user_tier(settings)
    base_url = tier.base_url or settings.openai_base_url
    api_key = tier.api_key or settings.openai_api_key

    def user_model() -> Any:
        return load_chat_model(tier.model, api_key=api_key, base_url=base_url, timeout=MODEL_TIMEOUT_S)

    return Bench(settings, rows, gold, user_model, tier.model, load_pricing(settings.pricing_file),
                 model_factory or agent_models(settings), routing=routing)


def agent_models(settings: Settings) -> Any:
    """The agents' model factory: the configured tiers, with the benchmark's longer timeout."""
    from opsgraph.models.provider import load_chat_model

    def build(tier: str, spec: str) -> Any:
        conf = settings.tier(tier)
        return load_chat_model(spec, api_key=conf.api_key or settings.openai_api_key,
                               base_url=conf.base_url or settings.openai_base_url, timeout=MODEL_TIMEOUT_S)

    return build


def agent_command(settings: Settings, options: Any, console: Any) -> None:
    """Gold-replay the selected tasks, run the trials, write report.json/report.html, print pass^k."""
    from opsgraph.evals.report import write_report
    from opsgraph.evals.tau2.benchmark import report_data, run_benchmark, timed
    from opsgraph.evals.tau2.cli import data_files, load_db
    from opsgraph.evals.tau2.data import load_tasks
    from opsgraph.evals.tau2.replay import gold_hash
    from opsgraph.tools.connectors.retail_store import encode

    check_real_models(settings)
    if options.repeat < 1 or options.concurrency < 1:
        raise UserError("--repeat and --concurrency must be at least 1")
    tasks_path, db_path = data_files(settings, options)
    tasks, rows = load_tasks(tasks_path), encode(load_db(db_path))
    gold = {task.task_id: gold_hash(task, rows) for task in tasks}
    bench = make_bench(settings, rows, gold, routing=options.routing)

    def progress(row: dict[str, Any]) -> None:
        mark = "ok" if row["passed"] else "FAIL"
        console.print(f"{mark} task {row['case_id']} #{row['repetition']} ({row['status']}, {row['turns']} turns, "
                      f"${row['cost_usd']:.4f})", markup=False, highlight=False)

    try:
        trials, wall = timed(lambda: run_benchmark(bench, tasks, options.repeat, options.concurrency, progress))
    finally:
        bench.close()
    data = report_data(bench, trials, {"repeat": options.repeat, "concurrency": options.concurrency,
                                       "routing": options.routing, "tasks_file": str(tasks_path)}, wall)
    target = write_report(data, Path(options.out))
    summary = ", ".join(f"pass^{k} {v:.3f}" for k, v in data["tau2"]["pass_hat_k"].items())
    console.print(f"tau2-retail: {len(tasks)} tasks x {options.repeat}: {summary}; total cost "
                  f"${data['tau2']['total_cost_usd']:.4f}; report {target}", markup=False, highlight=False)
