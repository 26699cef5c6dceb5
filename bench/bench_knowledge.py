"""Benchmarks of the knowledge layer (not a test): embedding, ingestion, query latency, memory.

    python bench/bench_knowledge.py [--out reports/bench_knowledge.json] [--queries 200]

What it measures, all on this machine with the default offline embedding (2 onnxruntime threads):

- resident memory added by loading the MiniLM model and running a first batch (RSS delta);
- embedding throughput in chunks/s on the shipped corpus chunks and on long (~800 char) chunks;
- ingestion time of the shipped corpus into an empty store (model already loaded), and a
  re-ingest with nothing changed;
- query latency p50/p95 at 1k and 10k chunks for vector-only and hybrid ranking, as operator
  and as a permission-filtered agent. Every query embeds its text (query embedding included).
  The 1k/10k stores are synthetic: texts recombined from corpus sentences, vectors = a real
  corpus chunk vector plus noise, so the index has realistic neighbourhoods without spending
  minutes embedding filler.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opsgraph.governance.policy import Policy, load_policy  # noqa: E402
from opsgraph.knowledge.chunking import chunk_document, embedding_text  # noqa: E402
from opsgraph.knowledge.corpus import load_corpus  # noqa: E402
from opsgraph.knowledge.embeddings import MiniLMOnnxEmbedding  # noqa: E402
from opsgraph.settings import load_settings  # noqa: E402

QUERIES = [
    "who must approve a large purchase order", "how long do customers have to request a refund",
    "carrier on-time delivery target", "what to do when a shipment is late", "sync error 401 after password change",
    "API rate limit exceeded 429", "how to transfer stock between distribution centres",
    "reorder point calculation", "notify platinum customers about delays", "competitive bidding three quotes",
    "supplier ESG minimum score", "liability cap in supplier contracts", "escalate a support ticket",
    "export orders to CSV", "expedite premium limit",
]


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def corpus_texts(policy: Policy, root: Path) -> list[str]:
    """The texts that ingestion embeds for the shipped corpus."""
    return [embedding_text(c, d.title) for d in load_corpus(root, policy) for c in chunk_document(d)]


def measure_memory() -> tuple[MiniLMOnnxEmbedding, dict[str, float]]:
    """Load the model and embed a first batch, recording RSS before and after."""
    before = rss_mb()
    ef = MiniLMOnnxEmbedding()
    started = time.perf_counter()
    ef.load()
    load_s = time.perf_counter() - started
    loaded = rss_mb()
    ef(["warm-up text about purchase orders and approvals " * 20] * 32)
    used = rss_mb()
    return ef, {"rss_before_mb": round(before, 1), "rss_after_load_mb": round(loaded, 1),
                "rss_after_first_batch_mb": round(used, 1), "rss_delta_mb": round(used - before, 1),
                "model_load_s": round(load_s, 3)}


def throughput(ef: MiniLMOnnxEmbedding, texts: list[str], repeats: int = 3) -> float:
    """Median chunks per second over ``repeats`` passes."""
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        ef(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
    return round(statistics.median(rates), 1)


def long_chunks(texts: list[str], n: int, rng: random.Random) -> list[str]:
    """~800-character chunks made of corpus sentences (the chunker's maximum size)."""
    sentences = [s for t in texts for s in re.split(r"(?<=[.!?])\s+", t) if len(s) > 30]
    out = []
    for _ in range(n):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < 760:
            parts.append(rng.choice(sentences))
        out.append(" ".join(parts)[:800])
    return out


def measure_ingest(ef: MiniLMOnnxEmbedding, policy: Policy) -> dict[str, float]:
    """Ingest the shipped corpus into a fresh store, then again with nothing changed."""
    from opsgraph.knowledge.ingest import ingest

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(env={"OPSGRAPH_HOME": tmp}, cwd=Path(tmp))
        first = ingest(None, settings, policy=policy, embedding_function=ef)
        again = ingest(None, settings, policy=policy, embedding_function=ef)
    return {"documents": first.files_added, "chunks": first.chunks_embedded, "ingest_s": first.seconds,
            "reingest_unchanged_s": again.seconds, "reingest_embedded": again.chunks_embedded}


def build_synthetic_store(settings: Any, ef: MiniLMOnnxEmbedding, texts: list[str], vectors: np.ndarray,
                          size: int, rng: random.Random) -> None:
    """A collection of ``size`` synthetic chunks spread over departments and access levels."""
    from opsgraph.knowledge.store import KnowledgeStore

    departments = ["procurement", "logistics", "inventory", "finance", "customer_support", "technical_support",
                   "hr", "security"]
    collection = KnowledgeStore(settings, ef).open(create=True)
    noise = np.random.default_rng(7)
    fillers = long_chunks(texts, 400, rng)
    for start in range(0, size, 1000):
        ids, docs, metas, embs = [], [], [], []
        for i in range(start, min(size, start + 1000)):
            base = rng.randrange(len(texts))
            vec = vectors[base] + noise.normal(0, 0.03, vectors.shape[1]).astype(np.float32)
            rank = rng.randrange(4)
            ids.append(f"synthetic/{i:05d}.md::000")
            docs.append(fillers[i % len(fillers)][:rng.randrange(200, 800)])
            metas.append({"source": f"synthetic/{i:05d}.md", "title": f"Synthetic {i}", "heading": "Body",
                          "department": departments[i % len(departments)], "access": ["public", "internal",
                          "confidential", "restricted"][rank], "access_rank": rank, "doc_hash": "x"})
            embs.append(vec / np.linalg.norm(vec))
        collection.add(ids=ids, documents=docs, metadatas=metas, embeddings=embs)


def latency(search: Callable[[str], Any], n: int) -> dict[str, float]:
    """p50/p95/mean of ``n`` searches (after a warm-up search)."""
    search(QUERIES[0])
    times = []
    for i in range(n):
        started = time.perf_counter()
        search(QUERIES[i % len(QUERIES)] + ("" if i < len(QUERIES) else f" {i}"))
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": round(times[len(times) // 2], 2), "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
            "mean_ms": round(statistics.fmean(times), 2)}


def measure_queries(ef: MiniLMOnnxEmbedding, policy: Policy, texts: list[str], size: int, n: int) -> dict[str, Any]:
    """Query latency at ``size`` chunks for each ranking and caller."""
    from opsgraph.knowledge.retrieval import Retriever

    rng = random.Random(size)
    vectors = np.asarray(ef(texts), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(env={"OPSGRAPH_HOME": tmp}, cwd=Path(tmp))
        build_synthetic_store(settings, ef, texts, vectors, size, rng)
        retriever = Retriever(settings, policy, embedding_function=ef, auto_ingest=False)
        started = time.perf_counter()
        retriever.search("warm up the lexical index", k=5)
        index_s = time.perf_counter() - started
        out: dict[str, Any] = {"chunks": size, "bm25_index_build_s": round(index_s, 3)}
        for label, kwargs in (("vector_operator", {"mode": "vector"}), ("hybrid_operator", {"mode": "hybrid"}),
                              ("hybrid_agent", {"mode": "hybrid", "agent": "customer_comms"})):
            out[label] = latency(lambda q, kw=kwargs: retriever.search(q, k=5, **kw), n)
        out["query_embedding_only"] = latency(lambda q: ef.embed_query([q]), n)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run every measurement, print JSON and write it to ``--out``."""
    parser = argparse.ArgumentParser(description="knowledge layer benchmarks")
    parser.add_argument("--out", type=Path, default=Path("reports") / "bench_knowledge.json")
    parser.add_argument("--queries", type=int, default=200, help="queries per latency measurement")
    args = parser.parse_args(argv)
    settings = load_settings()
    policy = load_policy(settings.policy_path)
    texts = corpus_texts(policy, settings.knowledge_path)
    ef, memory = measure_memory()
    rng = random.Random(1)
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "threads": ef.threads,
        "memory": memory,
        "throughput_chunks_per_s": {"corpus_chunks": throughput(ef, texts),
                                    "long_800_char_chunks": throughput(ef, long_chunks(texts, 128, rng))},
        "corpus_chunk_chars_median": statistics.median(len(t) for t in texts),
        "ingest": measure_ingest(ef, policy),
        "queries": [measure_queries(ef, policy, texts, size, args.queries) for size in (1000, 10000)],
    }
    print(json.dumps(results, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
