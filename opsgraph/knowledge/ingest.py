"""Idempotent ingestion of a markdown corpus into the knowledge collection.

Each document's hash (rendered text + metadata + pipeline version) is stored on its chunks.
Re-ingesting compares hashes: an unchanged file costs no embedding at all, a changed file has
its old chunks replaced, and a file that disappeared has its chunks removed. The collection
therefore mirrors the corpus directory it was last ingested from.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from opsgraph.governance.policy import Policy, load_policy
from opsgraph.knowledge.chunking import chunk_document, embedding_text
from opsgraph.knowledge.corpus import Document, load_corpus
from opsgraph.knowledge.store import KnowledgeStore, iter_records, update_metadata
from opsgraph.settings import Settings


@dataclass(frozen=True)
class IngestProgress:
    """One step of an ingestion, for progress bars."""

    done: int
    total: int
    source: str
    action: str  # added | changed | unchanged | deleted


@dataclass
class IngestReport:
    """What an ingestion did."""

    files_added: int = 0
    files_changed: int = 0
    files_deleted: int = 0
    files_unchanged: int = 0
    chunks_embedded: int = 0
    chunks_deleted: int = 0
    chunks_total: int = 0
    seconds: float = 0.0
    embedding: str = ""
    store: str = ""
    changed_sources: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return asdict(self)


ProgressCallback = Callable[[IngestProgress], None]


def ingest(
    path: Path | None,
    settings: Settings,
    progress: ProgressCallback | None = None,
    *,
    policy: Policy | None = None,
    embedding_function: Any = None,
    rebuild: bool = False,
) -> IngestReport:
    """Bring the collection in line with the corpus at ``path`` (default: the shipped corpus)."""
    started = time.perf_counter()
    root = Path(path) if path is not None else settings.knowledge_path
    policy = policy or load_policy(settings.policy_path)
    docs = load_corpus(root, policy)  # validate everything before touching the store
    store = KnowledgeStore(settings, embedding_function)
    if rebuild:
        store.reset()
    collection = store.open(create=True)
    stored = _stored_hashes(collection)
    report = IngestReport(embedding=store.embedding_function.spec, store=store.location)
    gone = sorted(set(stored) - {d.source for d in docs})
    total = len(docs) + len(gone)
    for done, doc in enumerate(docs, start=1):
        action = _sync_document(collection, store.embedding_function, doc, stored.get(doc.source), report)
        if progress:
            progress(IngestProgress(done, total, doc.source, action))
    for done, source in enumerate(gone, start=len(docs) + 1):
        report.chunks_deleted += _delete_source(collection, source)
        report.files_deleted += 1
        report.changed_sources.append(source)
        if progress:
            progress(IngestProgress(done, total, source, "deleted"))
    _finish(collection, store, report)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _stored_hashes(collection: Any) -> dict[str, str]:
    """source -> doc_hash of what the collection holds now."""
    hashes: dict[str, str] = {}
    for record in iter_records(collection, include=["metadatas"]):
        meta = record["metadatas"] or {}
        hashes[str(meta.get("source"))] = str(meta.get("doc_hash"))
    return hashes


def _sync_document(collection: Any, ef: Any, doc: Document, stored_hash: str | None, report: IngestReport) -> str:
    if stored_hash == doc.doc_hash:
        report.files_unchanged += 1
        return "unchanged"
    if stored_hash is not None:
        report.chunks_deleted += _delete_source(collection, doc.source)
        report.files_changed += 1
        action = "changed"
    else:
        report.files_added += 1
        action = "added"
    report.chunks_embedded += _add_document(collection, ef, doc)
    report.changed_sources.append(doc.source)
    return action


def _add_document(collection: Any, ef: Any, doc: Document) -> int:
    chunks = chunk_document(doc)
    if not chunks:
        return 0
    embeddings = ef([embedding_text(c, doc.title) for c in chunks])
    # upsert, not add: two processes ingesting the same fresh store must not collide on ids.
    collection.upsert(
        ids=[c.id for c in chunks],
        documents=[c.text for c in chunks],
        embeddings=embeddings,
        metadatas=[_metadata(doc, c.heading, c.index, c.content_hash) for c in chunks],
    )
    return len(chunks)


def _metadata(doc: Document, heading: str, index: int, content_hash: str) -> dict[str, Any]:
    return {
        "source": doc.source, "title": doc.title, "heading": heading, "department": doc.department,
        "access": doc.access, "access_rank": doc.access_rank, "owner": doc.owner,
        "effective_date": doc.effective_date, "chunk_index": index,
        "content_hash": content_hash, "doc_hash": doc.doc_hash,
    }


def _delete_source(collection: Any, source: str) -> int:
    ids = collection.get(where={"source": source}, include=[])["ids"]
    if ids:
        collection.delete(ids=ids)
    return len(ids)


def _finish(collection: Any, store: KnowledgeStore, report: IngestReport) -> None:
    report.chunks_total = collection.count()
    changes: dict[str, Any] = {}
    if report.changed_sources:
        # Retrievers rebuild their lexical index when the revision moves.
        changes["revision"] = int((collection.metadata or {}).get("revision", 0)) + 1
    dim = store.embedding_function.dimension
    if dim and (collection.metadata or {}).get("embedding_dim") != dim:
        changes["embedding_dim"] = int(dim)
    if changes:
        update_metadata(collection, **changes)


def ensure_ingested(settings: Settings, *, policy: Policy | None = None, embedding_function: Any = None,
                    progress: ProgressCallback | None = None) -> IngestReport | None:
    """Ingest the shipped corpus when the collection is missing or empty; otherwise do nothing.

    Graphs call this on first run so retrieval works on a fresh machine without a manual
    ``opsgraph kb ingest``. Returns the report when it ingested, None when it did not need to.
    """
    store = KnowledgeStore(settings, embedding_function)
    collection = store.open(create=False)
    if collection is not None and collection.count() > 0:
        return None
    return ingest(settings.knowledge_path, settings, progress, policy=policy,
                  embedding_function=store.embedding_function)
