"""Runs per minute on 1, 2 and 4 Celery workers; queue overhead and p95 latency at each count.

Two engines: the offline engine, and an OpenAI-compatible server (tests/support/fake_openai.py)
that answers every chat completion after a fixed delay (300 ms by default), which stands in
for a hosted model: a run then waits on the network most of the time, as it would in production.

For each (engine, worker count): a fresh Postgres database (checkpoints, claims, leases), a
fresh data home shared by the workers, a Chroma server with the corpus ingested once, and the
workers started and warmed up (one run each, not measured). Then:

- overhead: on idle workers, one run at a time, the time from submit to the worker's first
  audit event (task picked up) and to the graph's first step (first model call audited);
- throughput: a batch of runs submitted at once; runs per minute = batch / (last completion
  - first submit); end-to-end latency of each run = its completion - its submit (queue wait
  included), reported as p50 and p95.

    python bench/bench_scale.py --workers 1 2 4 --batch 16 --delay-ms 300

Needs Postgres (--postgres, default the tests' URL) and Redis (--redis).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from tests.support import fleet  # noqa: E402
from tests.support.chroma_server import chroma_server  # noqa: E402
from tests.support.cli import isolated_env  # noqa: E402
from tests.support.fake_openai import FakeOpenAIServer, completion  # noqa: E402

# Runs that need no human: supply chain on shipments without an approval, reviews, risk, support.
BATCH_PLAN = [run for run in fleet.plan() if run[0][:3] not in (fleet.APPROVE, fleet.REJECT, fleet.PENDING, fleet.RACE)]
FINAL = ("completed", "stopped", "awaiting_approval", "failed", "budget_exhausted")


def delayed(delay_s: float):
    """A fake-server ``respond`` that answers after ``delay_s`` seconds."""
    def respond(body: dict[str, Any]) -> dict[str, Any]:
        time.sleep(delay_s)
        return completion(body)
    return respond


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _database(admin_url: str) -> tuple[str, str]:
    name = f"opsgraph_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return name, admin_url.rsplit("/", 1)[0] + "/" + name


def _drop(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _wait(runner: Any, threads: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(runner.context.audit.run(t).status in FINAL for t in threads):
            return
        time.sleep(0.2)
    raise RuntimeError(f"runs not finished within {timeout_s} s")


def _submit(runner: Any, app: Any, run: tuple[str, str, dict], tag: str) -> tuple[str, float]:
    from opsgraph.workers import submit_run

    thread, graph, options = run
    sent = time.time()
    return submit_run(runner, app, graph, runner.make_input(graph, options), thread_id=f"{tag}-{thread}"), sent


def _overhead(runner: Any, app: Any, samples: int) -> dict[str, float]:
    """Median seconds from submit to pickup and to the first step, one run at a time on idle workers."""
    pickup, first_step = [], []
    for n in range(samples):
        thread, sent = _submit(runner, app, BATCH_PLAN[n % len(BATCH_PLAN)], f"o{n}")
        _wait(runner, [thread], 300)
        events = runner.context.audit.events(thread)
        pickup.append(_ts(next(e.ts for e in events if e.kind == "task_started")) - sent)
        first_step.append(_ts(next(e.ts for e in events if e.kind == "model_call")) - sent)
    return {"pickup_s": round(statistics.median(pickup), 3), "first_step_s": round(statistics.median(first_step), 3)}


def _throughput(runner: Any, app: Any, batch: int) -> dict[str, float]:
    sent = dict(_submit(runner, app, BATCH_PLAN[n % len(BATCH_PLAN)], f"b{n}") for n in range(batch))
    _wait(runner, list(sent), 1800)
    done = {t: _ts(runner.context.audit.run(t).updated_at) for t in sent}
    latencies = sorted(done[t] - sent[t] for t in sent)
    span = max(done.values()) - min(sent.values())
    p95 = latencies[min(len(latencies) - 1, int(round(0.95 * len(latencies))) - 1)]
    statuses = [runner.context.audit.run(t).status for t in sent]
    return {"runs_per_min": round(60 * batch / span, 1), "p50_s": round(statistics.median(latencies), 2),
            "p95_s": round(p95, 2), "span_s": round(span, 1), "completed": statuses.count("completed"),
            "other": len(statuses) - statuses.count("completed")}


def measure(engine: str, workers: int, args: argparse.Namespace, chroma_url: str, model_env: dict[str, str]) -> dict:
    """One (engine, worker count) measurement on fresh stores."""
    from opsgraph.runner import open_runner
    from opsgraph.settings import load_settings
    from opsgraph.workers import celery_app

    db_name, db_url = _database(args.postgres)
    home, queue = Path(tempfile.mkdtemp(prefix="opsgraph-scale-")) / "home", f"opsgraph-bench-{uuid.uuid4().hex[:8]}"
    env = isolated_env(home, OPSGRAPH_DATABASE_URL=db_url, OPSGRAPH_CHROMA_URL=chroma_url, OPSGRAPH_BROKER_URL=args.redis,
                       OPSGRAPH_QUEUE=queue, **model_env)
    settings = load_settings(env={k: v for k, v in env.items() if k.startswith(("OPSGRAPH_", "OPENAI_"))},
                             cwd=home.parent)
    app = celery_app(settings)
    try:
        with open_runner(settings, with_knowledge=False) as runner, fleet.workers(workers, env, home.parent / "logs"):
            fleet.top_up_budgets(settings)
            warm = [_submit(runner, app, BATCH_PLAN[n], f"w{n}")[0] for n in range(workers)]
            _wait(runner, warm, 600)
            overhead = _overhead(runner, app, args.overhead_samples)
            result = _throughput(runner, app, args.batch)
    finally:
        _drop(args.postgres, db_name)
        fleet.forget_queue(args.redis, queue)
    return {"engine": engine, "workers": workers, "batch": args.batch, **overhead, **result,
            "load_avg": round(os.getloadavg()[0], 1)}


def main() -> None:
    """Print one JSON line per (engine, worker count)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--batch", type=int, default=16, help="runs submitted at once per measurement")
    parser.add_argument("--overhead-samples", type=int, default=3)
    parser.add_argument("--delay-ms", type=int, default=300, help="fake server's answer delay")
    parser.add_argument("--engines", nargs="+", default=["fake-openai", "offline"])
    parser.add_argument("--postgres", default=os.environ.get("OPSGRAPH_TEST_POSTGRES_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis", default=os.environ.get("OPSGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()
    from opsgraph.governance.policy import load_policy
    from opsgraph.knowledge.ingest import ingest
    from opsgraph.settings import load_settings

    with chroma_server(Path(tempfile.mkdtemp(prefix="opsgraph-scale-chroma-"))) as chroma_url, \
            FakeOpenAIServer(respond=delayed(args.delay_ms / 1000)) as server:
        kb = load_settings(env={"OPSGRAPH_HOME": tempfile.mkdtemp(), "OPSGRAPH_CHROMA_URL": chroma_url})
        ingest(None, kb, policy=load_policy(kb.policy_path))
        fake = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-bench",
                "OPSGRAPH_SMALL_MODEL": "openai:gpt-4o-mini", "OPSGRAPH_LARGE_MODEL": "openai:gpt-4o"}
        for engine in args.engines:
            for count in args.workers:
                row = measure(engine, count, args, chroma_url, fake if engine == "fake-openai" else {})
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
