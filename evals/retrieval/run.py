"""Retrieval eval: recall@5 and MRR of hybrid, vector-only and lexical-only (BM25) ranking.

Usage::

    python -m opsgraph.evals.retrieval.run [--out reports/retrieval_eval.json] [--home DIR] [--k 5]

By default the shipped corpus is ingested into a temporary data home, so the result does not
depend on (or disturb) your own store. Searches run with operator access.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import yaml

DATASET = Path(__file__).resolve().parent / "dataset.yaml"
DEFAULT_OUT = Path("reports") / "retrieval_eval.json"
MRR_DEPTH = 10
TARGETS = {"recall_at_5": 0.90, "mrr": 0.75}


@dataclass(frozen=True)
class Case:
    """One question and the documents that answer it."""

    id: str
    question: str
    relevant: tuple[str, ...]


def load_dataset(path: Path = DATASET) -> list[Case]:
    """The eval cases from ``path``."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    cases = [Case(str(c["id"]), str(c["question"]), tuple(c["relevant"])) for c in raw.get("cases", [])]
    if not cases:
        raise ValueError(f"{path} holds no cases")
    return cases


def score_case(sources: Sequence[str], relevant: Sequence[str], k: int) -> tuple[float, float, int | None]:
    """(recall@k, reciprocal rank, first relevant rank) for one ranked list of chunk sources."""
    wanted = set(relevant)
    recall = len(wanted & set(sources[:k])) / len(wanted)
    first = next((rank for rank, src in enumerate(sources[:MRR_DEPTH], start=1) if src in wanted), None)
    return recall, (1.0 / first if first else 0.0), first


def evaluate(retriever: Any, cases: Sequence[Case], mode: str, k: int = 5) -> dict[str, Any]:
    """Run every case in ``mode``; returns the averages, latency and the misses."""
    recalls, reciprocal, misses, latencies = [], [], [], []
    for case in cases:
        started = time.perf_counter()
        hits = retriever.search(case.question, k=max(k, MRR_DEPTH), mode=mode)
        latencies.append((time.perf_counter() - started) * 1000)
        recall, rr, first = score_case([h.source for h in hits], case.relevant, k)
        recalls.append(recall)
        reciprocal.append(rr)
        if recall < 1.0:
            misses.append({"id": case.id, "first_relevant_rank": first, "got": [h.source for h in hits[:k]]})
    return {
        "mode": mode,
        f"recall_at_{k}": round(sum(recalls) / len(cases), 4),
        "mrr": round(sum(reciprocal) / len(cases), 4),
        "mean_latency_ms": round(sum(latencies) / len(latencies), 2),
        "misses": misses,
    }


def run(settings: Any, *, k: int = 5, modes: Sequence[str] = ("hybrid", "vector", "lexical")) -> dict[str, Any]:
    """Ingest the shipped corpus into ``settings`` (idempotent) and evaluate every mode."""
    from opsgraph.governance.policy import load_policy
    from opsgraph.knowledge.embeddings import build_embedding_function
    from opsgraph.knowledge.ingest import ingest
    from opsgraph.knowledge.retrieval import Retriever

    policy = load_policy(settings.policy_path)
    ef = build_embedding_function(settings)
    report = ingest(settings.knowledge_path, settings, policy=policy, embedding_function=ef)
    retriever = Retriever(settings, policy, embedding_function=ef, auto_ingest=False)
    cases = load_dataset()
    retriever.search(cases[0].question)  # warm up (model, BM25 index) so latencies are steady-state
    results = [evaluate(retriever, cases, mode, k) for mode in modes]
    return {
        "dataset": str(DATASET.name),
        "cases": len(cases),
        "k": k,
        "embedding": report.embedding,
        "chunks": report.chunks_total,
        "targets": TARGETS,
        "results": results,
    }


def _print(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    k = summary["k"]
    table = Table(title=f"retrieval eval: {summary['cases']} questions, {summary['chunks']} chunks, "
                        f"{summary['embedding']}")
    for column in ("method", f"recall@{k}", "MRR", "mean latency ms", "misses"):
        table.add_column(column)
    for r in summary["results"]:
        table.add_row(r["mode"], f"{r[f'recall_at_{k}']:.3f}", f"{r['mrr']:.3f}", f"{r['mean_latency_ms']:.1f}",
                      ", ".join(m["id"] for m in r["misses"]) or "-")
    Console().print(table)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; exit code 1 when the default retrieval mode misses a target."""
    parser = argparse.ArgumentParser(prog="python -m opsgraph.evals.retrieval.run", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON results")
    parser.add_argument("--home", type=Path, default=None, help="data home to use (default: a temporary one)")
    parser.add_argument("--k", type=int, default=5, help="cut-off for recall (default 5)")
    args = parser.parse_args(argv)
    from opsgraph.errors import UserError
    from opsgraph.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="opsgraph-eval-") as tmp:
        try:
            settings = load_settings().with_overrides(data_home=args.home or Path(tmp), chroma_url=None)
            summary = run(settings, k=args.k)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    _print(summary)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    from opsgraph.knowledge.retrieval import DEFAULT_MODE

    default = next(r for r in summary["results"] if r["mode"] == DEFAULT_MODE)
    return 0 if default[f"recall_at_{args.k}"] >= TARGETS["recall_at_5"] and default["mrr"] >= TARGETS["mrr"] else 1


if __name__ == "__main__":
    sys.exit(main())
