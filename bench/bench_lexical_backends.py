"""Benchmark of the two lexical index backends (not a test): SQLite FTS5 and Postgres full-text.

    OPSGRAPH_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        python bench/bench_lexical_backends.py [--sizes 10000,50000] [--queries 100] [--out FILE]

For each size, the same synthetic chunks (corpus sentences recombined, spread over eight
departments and four access levels, as in bench_knowledge.py) are written to both backends in
ingestion-sized batches through the ``LexicalIndex`` interface; then the same queries run
unfiltered (operator) and filtered (customer_comms' departments and access level). Reported:
write time, query latency p50/p95, and how often both backends rank the same chunk first and
share chunks in their top 5. Postgres runs in a database created for the run and dropped after.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_knowledge import QUERIES, corpus_texts, long_chunks  # noqa: E402

from opsgraph.governance.policy import load_policy  # noqa: E402
from opsgraph.knowledge.lexical import LexicalFilter, SqliteLexicalIndex  # noqa: E402
from opsgraph.knowledge.lexical_pg import PgLexicalIndex  # noqa: E402
from opsgraph.knowledge.store import lexical_row  # noqa: E402
from opsgraph.settings import load_settings  # noqa: E402
from tests.support.pg import fresh_database  # noqa: E402

BATCH = 512  # chunks per write, as ingestion writes them
DEPARTMENTS = ["procurement", "logistics", "inventory", "finance", "customer_support", "technical_support", "hr",
               "security"]


def synthetic_rows(texts: list[str], size: int, rng: random.Random) -> list[Any]:
    """``size`` lexical rows of 200-800 characters each."""
    fillers = long_chunks(texts, 400, rng)
    rows = []
    for i in range(size):
        rank = rng.randrange(4)
        meta = {"source": f"synthetic/{i:05d}.md", "title": f"Synthetic {i}", "heading": "Body",
                "department": DEPARTMENTS[i % len(DEPARTMENTS)], "access_rank": rank}
        rows.append(lexical_row(f"synthetic/{i:05d}.md::000", fillers[i % len(fillers)][:rng.randrange(200, 800)],
                                meta))
    return rows


def write(index: Any, rows: list[Any]) -> float:
    """Seconds to write ``rows`` in ingestion-sized batches."""
    started = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        index.upsert(rows[start : start + BATCH])
    index.set_state("bench")  # as an ingest ends
    return time.perf_counter() - started


def latency(search: Callable[[str], Any], n: int) -> dict[str, float]:
    """p50/p95/mean of ``n`` searches after one warm-up."""
    search(QUERIES[0])
    times = []
    for i in range(n):
        started = time.perf_counter()
        search(QUERIES[i % len(QUERIES)])
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": round(times[len(times) // 2], 2), "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
            "mean_ms": round(statistics.fmean(times), 2)}


def agreement(a: Any, b: Any) -> dict[str, float]:
    """Share of queries with the same first chunk, and mean overlap of the top 5, between two indexes."""
    same_first, overlap = 0, []
    for query in QUERIES:
        top_a = [m.chunk_id for m in a.top(query, LexicalFilter(), 5)]
        top_b = [m.chunk_id for m in b.top(query, LexicalFilter(), 5)]
        same_first += bool(top_a and top_b and top_a[0] == top_b[0])
        overlap.append(len(set(top_a) & set(top_b)) / max(1, len(top_a)))
    return {"same_first": round(same_first / len(QUERIES), 3), "top5_overlap": round(statistics.fmean(overlap), 3)}


def measure(size: int, texts: list[str], scope: LexicalFilter, pg_url: str, n: int) -> dict[str, Any]:
    """Both backends at ``size`` chunks."""
    rows = synthetic_rows(texts, size, random.Random(size))
    out: dict[str, Any] = {"chunks": size}
    with tempfile.TemporaryDirectory() as tmp, fresh_database(pg_url, "opsgraph_bench") as db:
        backends = {"sqlite": SqliteLexicalIndex(Path(tmp) / "lexical.db"), "postgres": PgLexicalIndex(db, "bench")}
        for name, index in backends.items():
            out[name] = {"write_s": round(write(index, rows), 2),
                         "operator": latency(lambda q, i=index: i.top(q, LexicalFilter(), 20), n),
                         "agent": latency(lambda q, i=index: i.top(q, scope, 20), n)}
        out["agreement"] = agreement(backends["sqlite"], backends["postgres"])
        for index in backends.values():
            index.close()
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and optionally save) the results as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    pg_url = os.environ.get("OPSGRAPH_BENCH_POSTGRES_URL")
    if not pg_url:
        print("set OPSGRAPH_BENCH_POSTGRES_URL to a Postgres server URL", file=sys.stderr)
        return 2
    settings = load_settings(env={}, cwd=Path.cwd())
    policy = load_policy(settings.policy_path)
    texts = corpus_texts(policy, settings.knowledge_path)
    knowledge = policy.agent("customer_comms").knowledge
    scope = LexicalFilter(tuple(knowledge.departments), policy.access_rank(knowledge.max_access))
    results = {"load_average": os.getloadavg(),
               "sizes": [measure(int(s), texts, scope, pg_url, args.queries) for s in args.sizes.split(",")]}
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
