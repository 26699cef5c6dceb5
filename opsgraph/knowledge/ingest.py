"""Idempotent, batched ingestion of documents into the knowledge collection.

Each document's hash (rendered text + metadata + pipeline version) is stored on its chunks,
with the document's chunk count. Re-ingesting compares hashes: an unchanged document costs no
embedding at all and a changed one has its old chunks replaced. Ingesting a folder adds to
what the store holds; removing what the folder lacks is explicit (``prune``), and so is
starting over (``rebuild``).

Chunks of many documents are embedded together (the embedding function forms token-budget
batches across them) and written to Chroma and the lexical index in one call per batch. A
document's chunks never straddle two writes, and a document whose stored chunk count is short
is treated as changed, so a killed ingest resumes where it stopped. While an ingest runs the
lexical index is marked as not matching the collection; if the ingest dies, the next search
or ingest rebuilds the index from Chroma. Ingests hold the lexical index's writing lock, so
with the shared Postgres index two processes ingesting at once take turns.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from opsgraph.governance.policy import Policy, load_policy
from opsgraph.knowledge.chunking import Chunk, chunk_document, embedding_text
from opsgraph.knowledge.corpus import Document, DocumentDefaults, Failure, scan_corpus
from opsgraph.knowledge.store import (
    KnowledgeStore,
    collection_state,
    iter_records,
    lexical_row,
    sync_lexical,
    update_metadata,
)
from opsgraph.settings import Settings

# Chunks embedded and written per batch: big enough that embedding runs at its batch speed,
# small enough that a kill loses little work and memory stays flat.
BATCH_CHUNKS = 512


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
    files_failed: int = 0
    chunks_embedded: int = 0
    chunks_deleted: int = 0
    chunks_total: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    embedding: str = ""
    store: str = ""
    changed_sources: list[str] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return asdict(self)

    def add_failures(self, failures: Iterable[Failure]) -> None:
        """Record documents that were skipped, with the reason."""
        for failure in failures:
            self.failures.append({"source": failure.source, "reason": failure.reason})
        self.files_failed = len(self.failures)


ProgressCallback = Callable[[IngestProgress], None]


def ingest(
    path: Path | None,
    settings: Settings,
    progress: ProgressCallback | None = None,
    *,
    policy: Policy | None = None,
    embedding_function: Any = None,
    rebuild: bool = False,
    prune: bool = False,
    strict: bool = False,
    defaults: DocumentDefaults | None = None,
) -> IngestReport:
    """Add the documents under ``path`` (default: the shipped corpus) to the collection.

    Unreadable documents are reported in ``failures`` and skipped (``strict`` raises at the
    first). ``prune`` also removes stored documents that are not in the folder; ``rebuild``
    empties the store first.
    """
    started = time.perf_counter()
    root = Path(path) if path is not None else settings.knowledge_path
    policy = policy or load_policy(settings.policy_path)
    scan = scan_corpus(root, policy, defaults, strict=strict)  # read everything before touching the store
    report = write_documents(scan.documents, settings, progress, embedding_function=embedding_function,
                             rebuild=rebuild, prune=prune)
    report.add_failures(scan.failures)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def write_documents(docs: Iterable[Document], settings: Settings, progress: ProgressCallback | None = None, *,
                    embedding_function: Any = None, rebuild: bool = False, prune: bool = False) -> IngestReport:
    """Embed and store new and changed ``docs``; the engine behind every way of adding documents."""
    started = time.perf_counter()
    unique = {doc.source: doc for doc in docs}  # the same id twice: the last one wins
    store = KnowledgeStore(settings, embedding_function)
    try:
        # A shared index has one writer at a time: a second ingest waits, then finds the
        # documents the first one stored unchanged instead of embedding them again.
        with store.lexical.writing():
            report = _write_held(store, unique, progress, rebuild, prune)
    finally:
        store.lexical.close()
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _write_held(store: KnowledgeStore, unique: dict[str, Document], progress: ProgressCallback | None,
                rebuild: bool, prune: bool) -> IngestReport:
    """The part of :func:`write_documents` that runs while this process holds the index's writing lock."""
    if rebuild:
        store.reset()
    collection = store.open(create=True)
    _begin(collection, store)
    stored = _stored_hashes(collection)
    gone = sorted(set(stored) - set(unique)) if prune else []
    report = IngestReport(embedding=store.embedding_function.spec, store=store.location)
    writer = _BatchWriter(collection, store, report, progress, len(unique) + len(gone))
    for doc in unique.values():
        writer.add(doc, stored.get(doc.source))
    writer.flush()
    writer.delete(gone)
    _finish(collection, store, report)
    return report


def delete_sources(sources: Iterable[str], settings: Settings, *, embedding_function: Any = None) -> IngestReport:
    """Remove the documents ``sources`` (ids) and their chunks; unknown ids are ignored."""
    store = KnowledgeStore(settings, embedding_function)
    try:
        with store.lexical.writing():
            return _delete_held(store, sources)
    finally:
        store.lexical.close()


def _delete_held(store: KnowledgeStore, sources: Iterable[str]) -> IngestReport:
    collection = store.open(create=False)
    report = IngestReport(store=store.location)
    if collection is None:
        return report
    _begin(collection, store)
    stored = _stored_hashes(collection)
    wanted = [s for s in dict.fromkeys(sources) if s in stored]
    _BatchWriter(collection, store, report, None, len(wanted)).delete(wanted)
    _finish(collection, store, report)
    return report


def _stored_hashes(collection: Any) -> dict[str, str]:
    """source -> doc_hash of what the collection holds now; incomplete documents map to ''."""
    hashes: dict[str, str] = {}
    expected: dict[str, int] = {}
    found: dict[str, int] = {}
    for record in iter_records(collection, include=["metadatas"]):
        meta = record["metadatas"] or {}
        source = str(meta.get("source"))
        hashes[source] = str(meta.get("doc_hash"))
        expected[source] = int(meta.get("chunks", 0) or 0)
        found[source] = found.get(source, 0) + 1
    # A kill between two writes of one document would leave it short: embed it again.
    return {s: (h if found[s] >= expected[s] else "") for s, h in hashes.items()}


class _BatchWriter:
    """Collects chunks of changed documents and writes them in embedding-sized batches."""

    def __init__(self, collection: Any, store: KnowledgeStore, report: IngestReport,
                 progress: ProgressCallback | None, total: int) -> None:
        self.collection, self.store, self.report = collection, store, report
        self.progress, self.total, self.done = progress, total, 0
        self.pending: list[tuple[Document, list[Chunk], str]] = []
        self.pending_chunks = 0

    def add(self, doc: Document, stored_hash: str | None) -> None:
        """Queue ``doc`` unless the store already holds this exact version."""
        if stored_hash == doc.doc_hash:
            self.report.files_unchanged += 1
            self._step(doc.source, "unchanged")
            return
        chunks = chunk_document(doc)
        self.pending.append((doc, chunks, "added" if stored_hash is None else "changed"))
        self.pending_chunks += len(chunks)
        if self.pending_chunks >= BATCH_CHUNKS:
            self.flush()

    def flush(self) -> None:
        """Embed and write everything queued (one Chroma write, one lexical transaction)."""
        if not self.pending:
            return
        batch, self.pending, self.pending_chunks = self.pending, [], 0
        replaced = [doc.source for doc, _, action in batch if action == "changed"]
        self.report.chunks_deleted += self._remove(replaced)
        rows = [(doc, chunk) for doc, chunks, _ in batch for chunk in chunks]
        if rows:
            self._write(rows)
        for doc, chunks, action in batch:
            self.report.files_added += action == "added"
            self.report.files_changed += action == "changed"
            self.report.chunks_embedded += len(chunks)
            self.report.changed_sources.append(doc.source)
            self._step(doc.source, action)

    def _write(self, rows: list[tuple[Document, Chunk]]) -> None:
        started = time.perf_counter()
        embeddings = self.store.embedding_function([embedding_text(c, d.title) for d, c in rows])
        self.report.embed_seconds += time.perf_counter() - started
        counts: dict[str, int] = {}
        for doc, _ in rows:
            counts[doc.source] = counts.get(doc.source, 0) + 1
        metadatas = [_metadata(d, c, counts[d.source]) for d, c in rows]
        # upsert, not add: two processes ingesting the same fresh store must not collide on ids.
        self.collection.upsert(ids=[c.id for _, c in rows], documents=[c.text for _, c in rows],
                               embeddings=embeddings, metadatas=metadatas)
        self.store.lexical.upsert([lexical_row(c.id, c.text, m) for (_, c), m in zip(rows, metadatas)])

    def delete(self, sources: list[str]) -> None:
        """Remove whole documents."""
        for start in range(0, len(sources), BATCH_CHUNKS):
            part = sources[start : start + BATCH_CHUNKS]
            self.report.chunks_deleted += self._remove(part)
            for source in part:
                self.report.files_deleted += 1
                self.report.changed_sources.append(source)
                self._step(source, "deleted")

    def _remove(self, sources: list[str]) -> int:
        if not sources:
            return 0
        ids = self.collection.get(where={"source": {"$in": sources}}, include=[])["ids"]
        if ids:
            self.collection.delete(ids=ids)
        self.store.lexical.delete_sources(sources)
        return len(ids)

    def _step(self, source: str, action: str) -> None:
        self.done += 1
        if self.progress:
            self.progress(IngestProgress(self.done, self.total, source, action))


def _metadata(doc: Document, chunk: Chunk, count: int) -> dict[str, Any]:
    return {
        "source": doc.source, "title": doc.title, "heading": chunk.heading, "department": doc.department,
        "access": doc.access, "access_rank": doc.access_rank, "owner": doc.owner,
        "effective_date": doc.effective_date, "chunk_index": chunk.index, "chunks": count,
        "content_hash": chunk.content_hash, "doc_hash": doc.doc_hash,
    }


def _begin(collection: Any, store: KnowledgeStore) -> None:
    """Catch the lexical index up with the collection, then mark it as mid-ingest."""
    sync_lexical(collection, store.lexical)  # an interrupted or foreign ingest left it behind
    # Until _finish records the new state, a reader in another process (or after a crash)
    # sees a mismatch and rebuilds the index from Chroma instead of trusting a partial one.
    store.lexical.set_state(f"ingesting:{collection_state(collection)}")


def _finish(collection: Any, store: KnowledgeStore, report: IngestReport) -> None:
    report.chunks_total = collection.count()
    report.embed_seconds = round(report.embed_seconds, 3)
    changes: dict[str, Any] = {}
    if report.changed_sources:
        # Retrievers reopen the collection when the revision moves.
        changes["revision"] = int((collection.metadata or {}).get("revision", 0)) + 1
    dim = store.embedding_function.dimension if report.embedding else None
    if dim and (collection.metadata or {}).get("embedding_dim") != dim:
        changes["embedding_dim"] = int(dim)
    if changes:
        update_metadata(collection, **changes)
    store.lexical.set_state(collection_state(collection))


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
