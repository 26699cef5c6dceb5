"""The Chroma store holding the knowledge chunks.

One collection, ``opsgraph_knowledge``, in a persistent store under the data home, or on a
Chroma server when ``settings.chroma_url`` is set. The collection's metadata records which
embedding built it (spec + dimension) so that opening it with another embedding fails with
an explanation instead of returning meaningless neighbours.

Beside the collection lives its persisted lexical index: SQLite FTS5 in the data home by
default, Postgres full-text search in the shared database when ``settings.database_url`` is
set (one index for every process and machine). It records which collection state (id +
revision) it mirrors; when that differs from Chroma's (an older store, another machine
ingesting into a shared Chroma server with a local index, an interrupted ingest) it is
rebuilt from the chunks Chroma holds, once, by whoever holds its writing lock.
"""

from __future__ import annotations

import socket
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Iterator
from urllib.parse import urlparse

from opsgraph.knowledge.chunking import Chunk, embedding_text
from opsgraph.knowledge.embeddings import build_embedding_function
from opsgraph.knowledge.errors import EmbeddingMismatchError, KnowledgeError
from opsgraph.knowledge.lexical import LexicalIndex, LexicalRow, SqliteLexicalIndex
from opsgraph.locks import init_lock
from opsgraph.settings import Settings

COLLECTION_NAME = "opsgraph_knowledge"
SCHEMA_VERSION = 1
PAGE_SIZE = 1000
LEXICAL_FILE = "knowledge_lexical.db"


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    # No product telemetry: the store must stay silent on the network.
    return ChromaSettings(anonymized_telemetry=False)


def make_client(settings: Settings) -> Any:
    """A Chroma client: HTTP when ``chroma_url`` is set, otherwise a persistent local store."""
    import chromadb

    if not settings.chroma_url:
        # Processes opening a fresh data home at once would race to create Chroma's own SQLite file.
        with init_lock(settings.chroma_path.parent):
            settings.chroma_path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(settings.chroma_path), settings=_chroma_settings())
    url = urlparse(settings.chroma_url if "://" in settings.chroma_url else f"http://{settings.chroma_url}")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise KnowledgeError(f"chroma_url {settings.chroma_url!r} must look like http://host:8000")
    port = url.port or (443 if url.scheme == "https" else 8000)
    try:
        return chromadb.HttpClient(host=url.hostname, port=port, ssl=url.scheme == "https",
                                   settings=_chroma_settings())
    except Exception as exc:  # noqa: BLE001 - connection errors come in many types
        raise KnowledgeError(f"cannot reach the Chroma server at {settings.chroma_url}: {exc}") from None


def lexical_store_key(settings: Settings) -> str:
    """What a shared lexical index is keyed by: the Chroma server, or this machine's Chroma directory."""
    if settings.chroma_url:
        return settings.chroma_url.rstrip("/")
    return f"local:{socket.gethostname()}:{settings.chroma_path.resolve()}"


def open_lexical(settings: Settings) -> LexicalIndex:
    """The lexical index the settings select (nothing is connected until it is used)."""
    if settings.shared_postgres_url:
        from opsgraph.knowledge.lexical_pg import PgLexicalIndex

        return PgLexicalIndex(settings.shared_postgres_url, lexical_store_key(settings))
    return SqliteLexicalIndex(settings.data_home / LEXICAL_FILE)


class KnowledgeStore:
    """Access to the knowledge collection; the client is created on first use."""

    def __init__(self, settings: Settings, embedding_function: Any = None, *, client: Any = None,
                 lexical: LexicalIndex | None = None) -> None:
        """Remember what to open; nothing is connected or loaded yet."""
        self.settings = settings
        self._ef = embedding_function
        self._client = client
        self._lexical = lexical

    @property
    def location(self) -> str:
        """Where the store lives, for messages and ``kb stats``."""
        return self.settings.chroma_url or str(self.settings.chroma_path)

    @property
    def client(self) -> Any:
        """The Chroma client (created once)."""
        if self._client is None:
            self._client = make_client(self.settings)
        return self._client

    @property
    def embedding_function(self) -> Any:
        """The embedding function the settings select (built once, loaded on first call)."""
        if self._ef is None:
            self._ef = build_embedding_function(self.settings)
        return self._ef

    @property
    def lexical(self) -> LexicalIndex:
        """The persisted lexical index of this store (opened once): Postgres when the settings
        share a database, otherwise a SQLite file in the data home."""
        if self._lexical is None:
            self._lexical = open_lexical(self.settings)
        return self._lexical

    def exists(self) -> bool:
        """True when the collection has been created."""
        return self.peek() is not None

    def peek(self) -> Any:
        """The collection without an embedding function (to read metadata), or None if absent."""
        # embedding_function=None skips Chroma's own conflict check so we can explain it ourselves.
        client = self.client  # connection problems already carry a clear message
        try:
            return client.get_collection(COLLECTION_NAME, embedding_function=None)
        except Exception as exc:  # noqa: BLE001 - chroma raises NotFoundError or ValueError
            if "does not exist" in str(exc) or "not found" in str(exc).lower():
                return None
            raise KnowledgeError(f"cannot open the knowledge store at {self.location}: {exc}") from None

    def open(self, *, create: bool = False) -> Any:
        """The collection bound to the embedding function, or None when absent and not ``create``."""
        raw = self.peek()
        if raw is None:
            return self._create() if create else None
        check_embedding(raw.metadata or {}, self.embedding_function, self.location)
        try:
            return self.client.get_collection(COLLECTION_NAME, embedding_function=self.embedding_function)
        except ValueError as exc:  # Chroma's own conflict check, should ours ever miss one
            raise EmbeddingMismatchError(f"knowledge store at {self.location}: {exc}") from None

    def _create(self) -> Any:
        with self._init_guard():
            if self.peek() is not None:  # another process created it while this one waited
                return self.open()
            return self._create_collection()

    def _init_guard(self) -> AbstractContextManager:
        """The data home's init lock for a local store; a Chroma server serialises creation itself."""
        return nullcontext() if self.settings.chroma_url else init_lock(self.settings.chroma_path.parent)

    def _create_collection(self) -> Any:
        ef = self.embedding_function
        metadata = {"embedding": ef.spec, "schema": SCHEMA_VERSION, "revision": 0}
        if ef.dimension:
            metadata["embedding_dim"] = int(ef.dimension)
        return self.client.create_collection(
            COLLECTION_NAME, embedding_function=ef, metadata=metadata,
            configuration={"hnsw": {"space": "cosine"}},
        )

    def reset(self) -> None:
        """Delete the collection (``kb ingest --rebuild``)."""
        if self.exists():
            self.client.delete_collection(COLLECTION_NAME)
        self.lexical.clear()

    def describe(self) -> dict[str, Any]:
        """Collection metadata as stored (embedding, dimension, revision), or {} when absent."""
        raw = self.peek()
        return dict(raw.metadata or {}) if raw is not None else {}


def check_embedding(metadata: dict[str, Any], ef: Any, location: str) -> None:
    """Refuse a collection that another embedding built (or one opsgraph did not create)."""
    built_with = metadata.get("embedding")
    if built_with is None:
        raise EmbeddingMismatchError(
            f"the collection {COLLECTION_NAME!r} at {location} was not created by opsgraph "
            "(no embedding recorded); rebuild it with 'opsgraph kb ingest --rebuild'"
        )
    dim = metadata.get("embedding_dim")
    if built_with != ef.spec or (dim and ef.dimension and int(dim) != int(ef.dimension)):
        raise EmbeddingMismatchError(
            f"the knowledge store at {location} was built with embedding {built_with!r}"
            f"{f' ({dim} dimensions)' if dim else ''} but the settings select {ef.spec!r}; "
            f"set OPSGRAPH_EMBEDDING={built_with} or rebuild with 'opsgraph kb ingest --rebuild'"
        )


def update_metadata(collection: Any, **changes: Any) -> None:
    """Merge ``changes`` into the collection metadata (Chroma replaces it as a whole)."""
    merged = {**(collection.metadata or {}), **changes}
    collection.modify(metadata=merged)


def iter_records(collection: Any, *, include: list[str], where: dict | None = None) -> Iterator[dict[str, Any]]:
    """Every record of ``collection`` (optionally filtered), fetched in pages."""
    offset = 0
    while True:
        page = collection.get(include=include, where=where, limit=PAGE_SIZE, offset=offset)
        ids = page["ids"]
        for i, record_id in enumerate(ids):
            yield {"id": record_id, **{key: page[key][i] for key in include}}
        if len(ids) < PAGE_SIZE:
            return
        offset += PAGE_SIZE


def collection_state(collection: Any) -> str:
    """Identity of what a collection holds now: its id and ingest revision."""
    return f"{collection.id}:{int((collection.metadata or {}).get('revision', 0))}"


def lexical_row(chunk_id: str, text: str, meta: dict[str, Any]) -> LexicalRow:
    """The lexical row of a stored chunk: the same title + heading + text that was embedded."""
    chunk = Chunk(str(meta.get("source")), 0, str(meta.get("heading", "")), text, "")
    return LexicalRow(chunk_id, str(meta.get("source", "")), str(meta.get("department", "")),
                      int(meta.get("access_rank", 0)), embedding_text(chunk, str(meta.get("title", ""))),
                      chunk_text=text, meta=dict(meta))


def sync_lexical(collection: Any, lexical: LexicalIndex) -> bool:
    """Rebuild ``lexical`` from the collection unless it already mirrors it; True when rebuilt.

    The caller holds ``lexical.writing()``: a shared index is rebuilt by one process at a time.
    """
    state = collection_state(collection)
    if lexical.state() == state:
        return False
    lexical.clear()
    rows: list[LexicalRow] = []
    for record in iter_records(collection, include=["documents", "metadatas"]):
        rows.append(lexical_row(record["id"], record["documents"] or "", record["metadatas"] or {}))
        if len(rows) >= PAGE_SIZE:
            lexical.upsert(rows)
            rows = []
    lexical.upsert(rows)
    lexical.set_state(state)
    return True
