"""Benchmarks of the knowledge layer (not a test): embedding, ingestion, query latency, memory.

    python bench/bench_knowledge.py [--out reports/bench_knowledge.json] [--queries 200]
        [--docs 5000] [--sizes 10000,50000] [--threads-chunks 2000] [--skip-basic]

Sizes are parameters so a quick run stays quick (``--docs 300 --sizes 2000``). What it
measures, all on this machine with the default offline embedding:

- onnxruntime intra-op threads 1 vs 2: embedding throughput on the same chunks, alternating;
- bulk ingest of a generated corpus (``--docs`` documents of 50-600 words, files in a folder)
  end to end, against the embedding function's own batch throughput on the same chunk texts
  in the same run (the ratio is what ingestion overhead costs);
- first-query latency in a fresh process after that ingest (the lexical index is persisted,
  so nothing is rebuilt), against the next query, and what building an in-memory BM25 index
  over the same chunks would have cost instead;
- query latency p50/p95 at each of ``--sizes`` chunks for vector, hybrid and lexical ranking,
  unfiltered (operator) and filtered (an agent's departments and access level).

And, unless ``--skip-basic``:

- resident memory added by loading the MiniLM model and running a first batch (RSS delta);
- embedding throughput in chunks/s on the shipped corpus chunks and on long (~800 char) chunks;
- ingestion time of the shipped corpus into an empty store (model already loaded), and a
  re-ingest with nothing changed;
- query latency as above at 1k chunks.

Every query embeds its text (query embedding included). The fixed-size stores are synthetic:
texts recombined from corpus sentences, vectors = a real corpus chunk vector plus noise, so the
index has realistic neighbourhoods without spending an hour embedding filler; their lexical
index is written through the same interface ingestion uses.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opsgraph.governance.policy import Policy, load_policy  # noqa: E402
from opsgraph.knowledge.chunking import chunk_document, embedding_text  # noqa: E402
from opsgraph.knowledge.corpus import load_corpus, scan_corpus  # noqa: E402
from opsgraph.knowledge.embeddings import MiniLMOnnxEmbedding  # noqa: E402
from opsgraph.settings import load_settings  # noqa: E402

QUERY_ROWS = (
    ("vector_operator", {"mode": "vector"}), ("vector_agent", {"mode": "vector", "agent": "customer_comms"}),
    ("hybrid_operator", {"mode": "hybrid"}), ("hybrid_agent", {"mode": "hybrid", "agent": "customer_comms"}),
    ("lexical_operator", {"mode": "lexical"}), ("lexical_agent", {"mode": "lexical", "agent": "customer_comms"}),
)
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
    from opsgraph.knowledge.store import KnowledgeStore, collection_state, lexical_row

    departments = ["procurement", "logistics", "inventory", "finance", "customer_support", "technical_support",
                   "hr", "security"]
    store = KnowledgeStore(settings, ef)
    collection = store.open(create=True)
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
        store.lexical.upsert([lexical_row(i, d, m) for i, d, m in zip(ids, docs, metas)])
    store.lexical.set_state(collection_state(store.peek()))


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
        started = time.perf_counter()
        build_synthetic_store(settings, ef, texts, vectors, size, rng)
        build_s = time.perf_counter() - started
        retriever = Retriever(settings, policy, embedding_function=ef, auto_ingest=False)
        started = time.perf_counter()
        retriever.search("warm up the lexical index", k=5)
        index_s = time.perf_counter() - started
        out: dict[str, Any] = {"chunks": size, "first_search_s": round(index_s, 3)}
        for label, kwargs in QUERY_ROWS:
            out[label] = latency(lambda q, kw=kwargs: retriever.search(q, k=5, **kw), n)
        out["query_embedding_only"] = latency(lambda q: ef.embed_query([q]), n)
        out["store_build_s"] = round(build_s, 1)
    return out


def compare_threads(texts: list[str], n: int, rng: random.Random, rounds: int = 3) -> dict[str, Any]:
    """Embedding throughput with 1 and 2 onnxruntime threads on the same ``n`` chunks.

    Passes alternate (1, 2, 1, 2, ...) so a change in the machine's load hits both alike.
    """
    sample = [rng.choice(texts) for _ in range(n // 2)] + long_chunks(texts, n - n // 2, rng)
    functions = {threads: MiniLMOnnxEmbedding(threads=threads) for threads in (1, 2)}
    rates: dict[int, list[float]] = {1: [], 2: []}
    for ef in functions.values():
        ef(sample[:64])  # load and warm up
    for _ in range(rounds):
        for threads, ef in functions.items():
            started = time.perf_counter()
            ef(sample)
            rates[threads].append(len(sample) / (time.perf_counter() - started))
    return {"chunks": len(sample), **{f"threads_{t}_chunks_per_s": [round(r, 1) for r in rates[t]] for t in rates},
            **{f"threads_{t}_median": round(statistics.median(rates[t]), 1) for t in rates}}


WORDS_MIN, WORDS_MAX = 50, 600
DEPARTMENTS = ["procurement", "logistics", "inventory", "finance", "customer_support", "technical_support",
               "hr", "security"]
ACCESS = ["public", "internal", "confidential", "restricted"]


def generate_corpus(folder: Path, n: int, texts: list[str], rng: random.Random, first: int = 0) -> int:
    """Write ``n`` documents of 50-600 words made of corpus sentences; returns the word count.

    Half are markdown with front matter (departments and access levels spread out), half plain
    text that takes the defaults; each carries a few made-up codes so documents differ.
    """
    sentences = [s for t in texts for s in re.split(r"(?<=[.!?])\s+", t) if len(s.split()) >= 5]
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(first, first + n):
        target = rng.randint(WORDS_MIN, WORDS_MAX)
        words: list[str] = []
        while len(words) < target:
            words.extend(rng.choice(sentences).split())
            if rng.random() < 0.2:
                words.append(f"REF-{rng.randrange(100000):05d}.")
        body = " ".join(words[:target])
        paragraphs = re.sub(r"((?:\S+\s+){80})", "\\1\n\n", body)  # ~80-word paragraphs
        total += target
        title = f"Study {i:05d}"
        if i % 2:
            (folder / f"doc-{i:05d}.txt").write_text(f"{paragraphs}\n")
            continue
        meta = (f"---\ntitle: {title}\ndepartment: {DEPARTMENTS[i % 8]}\naccess: {ACCESS[(i // 8) % 4]}\n"
                "owner: bench\neffective_date: 2026-11-30\n---\n")
        (folder / f"doc-{i:05d}.md").write_text(f"{meta}# {title}\n\n{paragraphs}\n")
    return total


def measure_bulk_ingest(ef: MiniLMOnnxEmbedding, policy: Policy, texts: list[str], n_docs: int,
                        parts: int = 20, sample: float = 0.25, log: Callable[[dict], None] = print) -> dict[str, Any]:
    """A generated corpus ingested end to end vs raw embedding of the same chunk texts, same run.

    The corpus is written as ``parts`` sub-folders ingested one after another into one store
    (each adds to it). Before each part, a random ``sample`` of that part's own chunk texts is
    embedded raw, so a change in the machine's load hits both measurements alike; the ratio is
    total ingest rate / total raw rate. ``log`` gets the running totals after every part.
    """
    from opsgraph.knowledge.ingest import ingest

    rng = random.Random(11)
    totals = {"docs": 0, "words": 0, "chunks": 0, "ingest_s": 0.0, "embed_s": 0.0, "raw_chunks": 0, "raw_s": 0.0,
              "failed": 0}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        settings = load_settings(env={"OPSGRAPH_HOME": str(home)}, cwd=Path(tmp))
        per_part = -(-n_docs // parts)
        for part in range(parts):
            count = min(per_part, n_docs - part * per_part)
            if count <= 0:
                break
            folder = Path(tmp) / f"part-{part:02d}"
            totals["words"] += generate_corpus(folder, count, texts, random.Random(part), first=part * per_part)
            docs = scan_corpus(folder, policy).documents
            chunk_texts = [embedding_text(c, d.title) for d in docs for c in chunk_document(d)]
            raw = rng.sample(chunk_texts, max(1, int(len(chunk_texts) * sample)))
            started = time.perf_counter()
            ef(raw)
            totals["raw_s"] += time.perf_counter() - started
            totals["raw_chunks"] += len(raw)
            report = ingest(folder, settings, policy=policy, embedding_function=ef)
            totals["docs"] += report.files_added
            totals["failed"] += report.files_failed
            totals["chunks"] += report.chunks_embedded
            totals["ingest_s"] += report.seconds
            totals["embed_s"] += report.embed_seconds
            log({"part": part + 1, "of": parts, **_bulk_summary(totals), "load": os.getloadavg()})
        result = _bulk_summary(totals)
        result["after_restart"] = first_query_in_fresh_process(home)
        result["in_memory_bm25_build_s"] = _in_memory_bm25_cost(settings)
    return result


def _bulk_summary(t: dict[str, Any]) -> dict[str, Any]:
    ingest_rate = t["chunks"] / max(t["ingest_s"], 1e-9)
    raw_rate = t["raw_chunks"] / max(t["raw_s"], 1e-9)
    return {"documents": t["docs"], "documents_failed": t["failed"], "words_mean": round(t["words"] / max(t["docs"], 1)),
            "chunks": t["chunks"], "ingest_s": round(t["ingest_s"], 1), "ingest_embed_s": round(t["embed_s"], 1),
            "ingest_chunks_per_s": round(ingest_rate, 1), "raw_sample_chunks": t["raw_chunks"],
            "raw_embedding_chunks_per_s": round(raw_rate, 1), "ratio_ingest_to_raw": round(ingest_rate / raw_rate, 3)}


def _in_memory_bm25_cost(settings: Any) -> float:
    """What the first lexical search used to pay: read every chunk from Chroma and index it in memory."""
    from opsgraph.knowledge.lexical import BM25Index
    from opsgraph.knowledge.store import KnowledgeStore, iter_records, lexical_row

    started = time.perf_counter()
    rows = [lexical_row(r["id"], r["documents"] or "", r["metadatas"] or {})
            for r in iter_records(KnowledgeStore(settings).peek(), include=["documents", "metadatas"])]
    BM25Index([r.chunk_id for r in rows], [r.text for r in rows])
    return round(time.perf_counter() - started, 2)


_FRESH_PROCESS = """
import json, statistics, sys, time
from pathlib import Path
started = time.perf_counter()
from opsgraph.governance.policy import load_policy
from opsgraph.knowledge.retrieval import Retriever
from opsgraph.settings import load_settings
imported = time.perf_counter()
settings = load_settings(env={"OPSGRAPH_HOME": sys.argv[1]}, cwd=Path(sys.argv[1]))
retriever = Retriever(settings, load_policy(settings.policy_path), auto_ingest=False)
retriever.store.embedding_function.load()
loaded = time.perf_counter()
def timed(query, **kw):
    t = time.perf_counter(); retriever.search(query, k=10, **kw); return (time.perf_counter() - t) * 1000
first_hybrid = timed("who must approve a large purchase order")
first_lexical = timed("carrier on-time delivery target REF-00042", mode="lexical")
first_agent = timed("refund window for customers", agent="customer_comms")
nxt = [timed(f"reorder point calculation {i}") for i in range(10)]
nxt_lex = [timed(f"expedite premium limit {i}", mode="lexical") for i in range(10)]
print(json.dumps({"imports_s": round(imported - started, 2), "model_load_s": round(loaded - imported, 2),
                  "first_hybrid_ms": round(first_hybrid, 1), "first_lexical_ms": round(first_lexical, 1),
                  "first_hybrid_agent_ms": round(first_agent, 1),
                  "next_hybrid_ms_median": round(statistics.median(nxt), 1),
                  "next_lexical_ms_median": round(statistics.median(nxt_lex), 1)}))
"""


def first_query_in_fresh_process(home: Path) -> dict[str, Any]:
    """Open the store in a new Python process (a restart) and time its first and next searches."""
    done = subprocess.run([sys.executable, "-c", _FRESH_PROCESS, str(home)], capture_output=True, text=True,
                          timeout=600, cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Run the measurements the arguments select, print JSON and write it to ``--out``."""
    args = _arguments(argv)
    settings = load_settings()
    policy = load_policy(settings.policy_path)
    texts = corpus_texts(policy, settings.knowledge_path)
    ef, memory = measure_memory()
    rng = random.Random(1)
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "threads_default": ef.threads,
                               "load_average_start": os.getloadavg()}
    if args.threads_chunks:
        results["threads"] = compare_threads(texts, args.threads_chunks, random.Random(3))
    if not args.skip_basic:
        results.update({
            "memory": memory,
            "throughput_chunks_per_s": {"corpus_chunks": throughput(ef, texts),
                                        "long_800_char_chunks": throughput(ef, long_chunks(texts, 128, rng))},
            "corpus_chunk_chars_median": statistics.median(len(t) for t in texts),
            "ingest": measure_ingest(ef, policy),
        })
    if args.docs:
        results["bulk_ingest"] = measure_bulk_ingest(ef, policy, texts, args.docs, log=_progress(args.out))
    sizes = ([] if args.skip_basic else [1000]) + args.sizes
    results["queries"] = [measure_queries(ef, policy, texts, size, args.queries) for size in sizes]
    results["load_average_end"] = os.getloadavg()
    print(json.dumps(results, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def _progress(out: Path) -> Callable[[dict], None]:
    """Print running totals to stderr and keep the latest in ``<out>.partial`` (long runs)."""
    partial = out.with_suffix(".partial.json")

    def log(row: dict) -> None:
        print(json.dumps(row), file=sys.stderr, flush=True)
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(row, indent=2) + "\n")

    return log


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="knowledge layer benchmarks")
    parser.add_argument("--out", type=Path, default=Path("reports") / "bench_knowledge.json")
    parser.add_argument("--queries", type=int, default=200, help="queries per latency measurement")
    parser.add_argument("--docs", type=int, default=5000, help="generated documents to bulk-ingest (0: skip)")
    parser.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",") if x], default=[10000, 50000],
                        help="store sizes in chunks for the latency runs, comma-separated")
    parser.add_argument("--threads-chunks", type=int, default=2000, help="chunks per 1-vs-2 thread pass (0: skip)")
    parser.add_argument("--skip-basic", action="store_true", help="skip memory, shipped-corpus and 1k runs")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
