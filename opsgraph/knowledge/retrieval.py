"""Permission-filtered retrieval with citations.

``Retriever.search(query, agent=...)`` ranks chunks by vector similarity and BM25, fused with
reciprocal rank fusion. The agent's permitted departments and maximum access level from
policy.yaml become a Chroma ``where`` filter for the vector query and the same conditions in
the SQL of the persisted lexical index, which returns a lexical hit's text and metadata
itself. Every text a search returns was therefore read through that filter: a chunk the agent
may not read never leaves either store for it (and each hit's metadata is checked against the
scope once more before it is returned). A lexical-only hit's vector, for its similarity, is
read from Chroma by id. ``agent=None`` is an operator with full access.

``score`` on a hit is the ranking score, so it falls with rank in every mode (cosine
similarity in vector mode, BM25 relative to the best hit in lexical mode, the fused score
relative to its maximum in hybrid mode); ``similarity`` is the cosine similarity to the query.
``group_by="document"`` keeps the best chunk of each document and ranks documents.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from opsgraph.governance.policy import Policy
from opsgraph.knowledge.errors import KnowledgeError, UnknownAgentError
from opsgraph.knowledge.lexical import LexicalFilter, LexicalMatch
from opsgraph.knowledge.store import KnowledgeStore, collection_state, sync_lexical
from opsgraph.settings import Settings

MODES = ("hybrid", "vector", "lexical")
# Chosen on evals/retrieval (see BENCHMARKS.md): hybrid has the best MRR of the three rankings.
DEFAULT_MODE = "hybrid"
RRF_K = 60  # the usual constant; it damps the difference between rank 1 and rank 2
BEST_FUSED = 2.0 / (RRF_K + 1)  # first in both rankings
GROUPS = ("chunk", "document")


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with where it came from."""

    text: str
    score: float  # the ranking score: falls with rank (see the module docstring)
    source: str
    title: str
    heading: str
    department: str
    access: str
    citation: str
    chunk_id: str
    fused: float  # reciprocal rank fusion value (1 / (60 + rank) outside hybrid mode)
    similarity: float | None = None  # cosine similarity to the query (None in lexical mode)

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

    def lexical(self) -> LexicalFilter:
        """The same scope for the lexical index."""
        return LexicalFilter(self.departments, self.max_rank)

    def allows(self, meta: dict[str, Any]) -> bool:
        """True when a chunk with metadata ``meta`` is inside this scope."""
        if self.departments is not None and meta.get("department") not in self.departments:
            return False
        return self.max_rank is None or int(meta.get("access_rank", 1 << 30)) <= self.max_rank


class Retriever:
    """Searches the knowledge collection on behalf of an agent (or an operator)."""

    def __init__(self, settings: Settings, policy: Policy, *, mode: str = DEFAULT_MODE,
                 embedding_function: Any = None, store: KnowledgeStore | None = None,
                 auto_ingest: bool = True, candidates: int = 20, progress: Any = None) -> None:
        """Configure only: the store, model and lexical index are opened on the first search.

        ``auto_ingest`` ingests the shipped corpus on first use when the collection is empty,
        so graphs work on a fresh machine; ``progress`` receives its steps.
        """
        if mode not in MODES:
            raise KnowledgeError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
        self.settings = settings
        self.policy = policy
        self.mode = mode
        self.store = store or KnowledgeStore(settings, embedding_function)
        self.auto_ingest = auto_ingest
        self.candidates = candidates
        self.progress = progress
        self._lock = threading.RLock()
        self._collection: Any = None
        self._key: str | None = None

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

    def search(self, query: str, *, agent: str | None = None, k: int = 5, mode: str | None = None,
               group_by: str = "chunk") -> list[Hit]:
        """The ``k`` best chunks (or documents) for ``query`` that ``agent`` may read, best first.

        ``k`` may be as large as the store; ``group_by="document"`` returns each document once,
        represented by its best chunk, ranked by that chunk.
        """
        mode = self._check(query, mode, group_by)
        scope = self.scope(agent)
        if scope.empty:
            return []
        collection = self._ready()
        k, size = max(1, int(k)), collection.count()
        n = min(max(k, self.candidates), size)
        while True:
            hits = self._rank(collection, query, scope, mode, n)
            if group_by == "document":
                hits = best_per_document(hits)
            # Too few documents among n chunks: look deeper, up to the whole store.
            if group_by == "chunk" or len(hits) >= k or n >= size:
                return hits[:k]
            n = min(size, n * 4)

    @staticmethod
    def _check(query: str, mode: str | None, group_by: str) -> str:
        if not query or not query.strip():
            raise KnowledgeError("the search query is empty")
        if group_by not in GROUPS:
            raise KnowledgeError(f"unknown group_by {group_by!r}; use one of {', '.join(GROUPS)}")
        return _check_mode(mode)

    def _rank(self, collection: Any, query: str, scope: Scope, mode: str, n: int) -> list[Hit]:
        """The best ``n`` candidates of ``mode`` (hybrid may return up to 2n), best first."""
        if mode == "lexical":
            return self._lexical_only(collection, query, scope, n)
        qvec = np.asarray(self.store.embedding_function.embed_query([query])[0], dtype=np.float32)
        vector = _vector_candidates(collection, qvec, scope, n)
        if mode == "vector":
            return [_hit(rid, rec, rec["score"], 1.0 / (RRF_K + rank), rec["score"]) for rank, (rid, rec) in
                    enumerate(vector.items(), start=1)]
        lexical = self.store.lexical.top(query, scope.lexical(), n)
        return _fuse(collection, qvec, vector, lexical, scope)

    def refresh(self) -> None:
        """Forget the open collection (it is reopened on the next search)."""
        with self._lock:
            self._collection, self._key = None, None

    def _ready(self) -> Any:
        """The open collection, reopened (and the lexical index synced) when an ingest changed it."""
        with self._lock:
            raw = self.store.peek()
            if (raw is None or raw.count() == 0) and self.auto_ingest:
                from opsgraph.knowledge.ingest import ensure_ingested

                ensure_ingested(self.settings, policy=self.policy, embedding_function=self.store.embedding_function,
                                progress=self.progress)
                raw = self.store.peek()
            if raw is None:
                raise KnowledgeError(f"the knowledge store at {self.store.location} is empty; "
                                     "run 'opsgraph kb ingest' first")
            key = collection_state(raw)
            if key != self._key:
                self._collection = self.store.open()
                self._sync_lexical(raw)
                self._key = key
            return self._collection

    def _sync_lexical(self, raw: Any) -> None:
        """Rebuild the lexical index if it lags the collection, unless another process is writing it
        (an ingest in progress finishes the index itself; searching it meanwhile is fine)."""
        with self.store.lexical.writing(wait=False) as held:
            if held:
                sync_lexical(raw, self.store.lexical)  # no-op unless the index lags the collection

    def _lexical_only(self, collection: Any, query: str, scope: Scope, n: int) -> list[Hit]:
        ranked = [m for m in self.store.lexical.top(query, scope.lexical(), n) if scope.allows(m.meta)]
        best = ranked[0].score if ranked and ranked[0].score > 0 else 1.0
        return [_hit(m.chunk_id, {"text": m.text, "meta": m.meta}, m.score / best, 1.0 / (RRF_K + rank), None)
                for rank, m in enumerate(ranked, start=1)]


def _check_mode(mode: str | None) -> str:
    mode = mode or DEFAULT_MODE
    if mode not in MODES:
        raise KnowledgeError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
    return mode


def best_per_document(hits: list[Hit]) -> list[Hit]:
    """The first (best) hit of each source, in rank order."""
    seen: set[str] = set()
    out: list[Hit] = []
    for hit in hits:
        if hit.source not in seen:
            seen.add(hit.source)
            out.append(hit)
    return out


def _fuse(collection: Any, qvec: np.ndarray, vector: dict[str, dict[str, Any]], lexical: list[LexicalMatch],
          scope: Scope) -> list[Hit]:
    """Reciprocal rank fusion of the two rankings, best first."""
    fused: dict[str, float] = {}
    for ranking in (list(vector), [m.chunk_id for m in lexical]):
        for rank, rid in enumerate(ranking, start=1):
            fused[rid] = fused.get(rid, 0.0) + 1.0 / (RRF_K + rank)
    records = {rid: rec for rid, rec in vector.items() if scope.allows(rec["meta"] or {})}
    extra = [m for m in lexical if m.chunk_id not in vector and scope.allows(m.meta)]
    for match, similarity in zip(extra, _similarities(collection, qvec, [m.chunk_id for m in extra])):
        if similarity is not None:  # None: the chunk left Chroma after the lexical index saw it
            records[match.chunk_id] = {"text": match.text, "meta": match.meta, "score": similarity}
    ranked = sorted((rid for rid in fused if rid in records), key=lambda rid: -fused[rid])
    return [_hit(rid, records[rid], fused[rid] / BEST_FUSED, fused[rid], records[rid]["score"]) for rid in ranked]


def _similarities(collection: Any, qvec: np.ndarray, ids: list[str]) -> list[float | None]:
    """Cosine similarity of the query to each stored chunk ``ids`` (vectors only, read by id)."""
    if not ids:
        return []
    page = collection.get(ids=ids, include=["embeddings"])
    vectors = dict(zip(page["ids"], page["embeddings"]))
    return [float(np.dot(qvec, np.asarray(vectors[rid], dtype=np.float32))) if rid in vectors else None
            for rid in ids]


def _vector_candidates(collection: Any, qvec: np.ndarray, scope: Scope, n: int) -> dict[str, dict[str, Any]]:
    """Nearest chunks inside the scope, in rank order, as id -> record."""
    result = collection.query(query_embeddings=[qvec], n_results=n, where=scope.where(),
                              include=["documents", "metadatas", "distances"])
    out: dict[str, dict[str, Any]] = {}
    for rid, doc, meta, dist in zip(result["ids"][0], result["documents"][0], result["metadatas"][0],
                                    result["distances"][0], strict=True):
        out[rid] = {"text": doc, "meta": meta, "score": 1.0 - float(dist)}
    return out


def _hit(rid: str, record: dict[str, Any], score: float, fused: float, similarity: float | None) -> Hit:
    meta = record["meta"] or {}
    source, heading = str(meta.get("source", "")), str(meta.get("heading", ""))
    return Hit(text=record["text"] or "", score=round(float(score), 4), source=source,
               title=str(meta.get("title", "")), heading=heading, department=str(meta.get("department", "")),
               access=str(meta.get("access", "")), citation=citation_for(source, heading), chunk_id=rid,
               fused=round(float(fused), 6),
               similarity=None if similarity is None else round(float(similarity), 4))
