"""Permission-filtered retrieval with citations.

``Retriever.search(query, agent=...)`` ranks chunks by vector similarity and BM25, fused with
reciprocal rank fusion. The agent's permitted departments and maximum access level from
policy.yaml become a Chroma ``where`` filter, used both for the vector query and for reading
the chunks its BM25 index is built from (one index per permission scope). Every text a search
returns was therefore read from Chroma through that filter: a chunk the agent may not read
never leaves the store for it. ``agent=None`` is an operator with full access.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from opsgraph.governance.policy import Policy
from opsgraph.knowledge.chunking import Chunk, embedding_text
from opsgraph.knowledge.errors import KnowledgeError, UnknownAgentError
from opsgraph.knowledge.lexical import BM25Index
from opsgraph.knowledge.store import KnowledgeStore, iter_records
from opsgraph.settings import Settings

MODES = ("hybrid", "vector", "lexical")
# Chosen on evals/retrieval (see BENCHMARKS.md): hybrid has the best MRR of the three rankings.
DEFAULT_MODE = "hybrid"
RRF_K = 60  # the usual constant; it damps the difference between rank 1 and rank 2
MAX_K = 50


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with where it came from."""

    text: str
    score: float  # cosine similarity to the query (BM25 share of the best in lexical mode)
    source: str
    title: str
    heading: str
    department: str
    access: str
    citation: str
    chunk_id: str
    fused: float  # the ranking score (reciprocal rank fusion in hybrid mode)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return asdict(self)


def citation_for(source: str, heading: str) -> str:
    """``[procurement/po-approval.md § Approval limits]``."""
    return f"[{source} § {heading}]" if heading else f"[{source}]"


@dataclass(frozen=True)
class Scope:
    """What a caller may read; ``None`` fields mean unrestricted (operator)."""

    departments: tuple[str, ...] | None = None
    max_rank: int | None = None

    @property
    def empty(self) -> bool:
        """True when the caller may read nothing at all."""
        return self.departments is not None and not self.departments

    def where(self) -> dict[str, Any] | None:
        """The Chroma metadata filter for this scope."""
        clauses: list[dict[str, Any]] = []
        if self.departments is not None:
            clauses.append({"department": {"$in": list(self.departments)}})
        if self.max_rank is not None:
            clauses.append({"access_rank": {"$lte": self.max_rank}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class Retriever:
    """Searches the knowledge collection on behalf of an agent (or an operator)."""

    def __init__(self, settings: Settings, policy: Policy, *, mode: str = DEFAULT_MODE,
                 embedding_function: Any = None, store: KnowledgeStore | None = None,
                 auto_ingest: bool = True, candidates: int = 20) -> None:
        """Configure only: the store, model and BM25 index are opened on the first search.

        ``auto_ingest`` ingests the shipped corpus on first use when the collection is empty,
        so graphs work on a fresh machine.
        """
        if mode not in MODES:
            raise KnowledgeError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
        self.settings = settings
        self.policy = policy
        self.mode = mode
        self.store = store or KnowledgeStore(settings, embedding_function)
        self.auto_ingest = auto_ingest
        self.candidates = candidates
        self._lock = threading.RLock()
        self._collection: Any = None
        self._key: tuple[str, int] | None = None
        self._lexical: dict[Scope, LexicalView] = {}

    def scope(self, agent: str | None) -> Scope:
        """The permission scope of ``agent`` from policy.yaml (``None`` = full access)."""
        if agent is None:
            return Scope()
        if agent not in self.policy.agent_names:
            known = ", ".join(self.policy.agent_names)
            raise UnknownAgentError(f"unknown agent {agent!r}; policy.yaml defines: {known}")
        knowledge = self.policy.agent(agent).knowledge
        if knowledge.max_access not in self.policy.access_levels:
            # Unknown levels would rank above everything; refuse rather than over-grant.
            raise KnowledgeError(f"agent {agent!r} has unknown max_access {knowledge.max_access!r} in policy.yaml")
        return Scope(tuple(knowledge.departments), self.policy.access_rank(knowledge.max_access))

    def search(self, query: str, *, agent: str | None = None, k: int = 5, mode: str | None = None) -> list[Hit]:
        """The ``k`` best chunks for ``query`` that ``agent`` may read, best first."""
        if not query or not query.strip():
            raise KnowledgeError("the search query is empty")
        mode = mode or self.mode
        if mode not in MODES:
            raise KnowledgeError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
        scope = self.scope(agent)
        k = max(1, min(int(k), MAX_K))
        if scope.empty:
            return []
        collection = self._ready()
        n = max(k, self.candidates)
        if mode == "lexical":
            return self._lexical_only(collection, query, scope, n)[:k]
        qvec = np.asarray(self.store.embedding_function.embed_query([query])[0], dtype=np.float32)
        vector = _vector_candidates(collection, qvec, scope, n)
        if mode == "vector":
            return [_hit(rid, rec, rec["score"], 1.0 / (RRF_K + rank)) for rank, (rid, rec) in
                    enumerate(vector.items(), start=1)][:k]
        view = self._view(collection, scope)
        lexical = [rid for rid, _ in view.index.top(query, n)]
        return _fuse(collection, qvec, vector, lexical, view, k)

    def refresh(self) -> None:
        """Forget the open collection and BM25 indexes (they are rebuilt on the next search)."""
        with self._lock:
            self._collection, self._key, self._lexical = None, None, {}

    def _ready(self) -> Any:
        """The open collection, reopened (and the index dropped) when an ingest changed it."""
        with self._lock:
            raw = self.store.peek()
            if (raw is None or raw.count() == 0) and self.auto_ingest:
                from opsgraph.knowledge.ingest import ensure_ingested

                ensure_ingested(self.settings, policy=self.policy, embedding_function=self.store.embedding_function)
                raw = self.store.peek()
            if raw is None:
                raise KnowledgeError(f"the knowledge store at {self.store.location} is empty; "
                                     "run 'opsgraph kb ingest' first")
            key = (str(raw.id), int((raw.metadata or {}).get("revision", 0)))
            if key != self._key:
                self._collection, self._lexical, self._key = self.store.open(), {}, key
            return self._collection

    def _view(self, collection: Any, scope: Scope) -> LexicalView:
        """The BM25 view of ``scope``, built once per scope and collection revision."""
        with self._lock:
            if scope not in self._lexical:
                self._lexical[scope] = LexicalView.build(collection, scope)
            return self._lexical[scope]

    def _lexical_only(self, collection: Any, query: str, scope: Scope, n: int) -> list[Hit]:
        view = self._view(collection, scope)
        ranked = view.index.top(query, n)
        best = ranked[0][1] if ranked else 1.0
        return [_hit(rid, view.records[rid], s / best, 1.0 / (RRF_K + rank))
                for rank, (rid, s) in enumerate(ranked, start=1)]


@dataclass
class LexicalView:
    """BM25 over the chunks one permission scope may read, with their text and metadata."""

    index: BM25Index
    records: dict[str, dict[str, Any]]

    @classmethod
    def build(cls, collection: Any, scope: Scope) -> LexicalView:
        """Read the scope's chunks through its ``where`` filter and index them."""
        records = {r["id"]: {"text": r["documents"] or "", "meta": r["metadatas"] or {}}
                   for r in iter_records(collection, include=["documents", "metadatas"], where=scope.where())}
        texts = [_indexed_text(rec) for rec in records.values()]
        return cls(BM25Index(list(records), texts), records)


def _fuse(collection: Any, qvec: np.ndarray, vector: dict[str, dict[str, Any]], lexical: list[str],
          view: LexicalView, k: int) -> list[Hit]:
    """Reciprocal rank fusion of the two rankings; scores stay cosine similarities."""
    fused: dict[str, float] = {}
    for ranking in (list(vector), lexical):
        for rank, rid in enumerate(ranking, start=1):
            fused[rid] = fused.get(rid, 0.0) + 1.0 / (RRF_K + rank)
    top = sorted(fused, key=lambda rid: -fused[rid])[:k]
    records = dict(vector)
    missing = [rid for rid in top if rid not in records]
    if missing:  # lexical-only hits: text from the scoped view, vectors by id for the score
        page = collection.get(ids=missing, include=["embeddings"])
        for rid, emb in zip(page["ids"], page["embeddings"], strict=True):
            records[rid] = {**view.records[rid], "score": float(np.dot(qvec, np.asarray(emb, dtype=np.float32)))}
    return [_hit(rid, records[rid], records[rid]["score"], fused[rid]) for rid in top if rid in records]


def _indexed_text(record: dict[str, Any]) -> str:
    """What BM25 indexes: the same title + heading + chunk text that was embedded."""
    meta = record["meta"]
    chunk = Chunk(str(meta.get("source")), 0, str(meta.get("heading", "")), record["text"], "")
    return embedding_text(chunk, str(meta.get("title", "")))


def _vector_candidates(collection: Any, qvec: np.ndarray, scope: Scope, n: int) -> dict[str, dict[str, Any]]:
    """Nearest chunks inside the scope, in rank order, as id -> record."""
    result = collection.query(query_embeddings=[qvec], n_results=n, where=scope.where(),
                              include=["documents", "metadatas", "distances"])
    out: dict[str, dict[str, Any]] = {}
    for rid, doc, meta, dist in zip(result["ids"][0], result["documents"][0], result["metadatas"][0],
                                    result["distances"][0], strict=True):
        out[rid] = {"text": doc, "meta": meta, "score": 1.0 - float(dist)}
    return out


def _hit(rid: str, record: dict[str, Any], score: float, fused: float) -> Hit:
    meta = record["meta"] or {}
    source, heading = str(meta.get("source", "")), str(meta.get("heading", ""))
    return Hit(text=record["text"] or "", score=round(float(score), 4), source=source,
               title=str(meta.get("title", "")), heading=heading, department=str(meta.get("department", "")),
               access=str(meta.get("access", "")), citation=citation_for(source, heading), chunk_id=rid,
               fused=round(float(fused), 6))
