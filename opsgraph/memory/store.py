"""The LangGraph store memory lives in: a SQLite file in the data home, searched by meaning.

``open_memory_store(settings)`` is the one place that picks and opens the store, so a
shared factory (one ``BaseStore`` for every graph, Postgres when the database URL says so)
can replace it without touching the memory layer, which only sees a ``BaseStore``.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from typing import Any, Callable, Sequence

from langgraph.store.base import BaseStore

from opsgraph.failures import StorageError
from opsgraph.locks import init_lock
from opsgraph.settings import Settings

MEMORY_DIMS = 384  # all-MiniLM-L6-v2
# The fields of a memory item that are embedded: the one-line text an agent reads.
INDEXED_FIELDS = ["text"]
CACHE_SIZE = 256


class CachedEmbedding:
    """An embedding callable that remembers recent texts.

    A recall searches one namespace per subject with the same query; the store embeds the
    query for each search, and this keeps that to one model call.
    """

    def __init__(self, embed: Callable[[Sequence[str]], Sequence[Sequence[float]]], size: int = CACHE_SIZE) -> None:
        self._embed, self._size = embed, size
        self._cache: OrderedDict[str, list[float]] = OrderedDict()

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors for ``texts``, embedding only the ones not seen recently."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for text, vector in zip(missing, self._embed(list(missing))):
                self._cache[text] = [float(x) for x in vector]
                if len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        return [self._cache[t] for t in texts]


def memory_index(settings: Settings, embed: Callable[[Sequence[str]], Any] | None = None) -> dict[str, Any]:
    """The store's ``index`` config: the project's offline embedding over the ``text`` field."""
    if embed is None:
        from opsgraph.knowledge.embeddings import MiniLMOnnxEmbedding

        embed = MiniLMOnnxEmbedding(threads=settings.embedding_threads)
    return {"dims": MEMORY_DIMS, "embed": CachedEmbedding(embed), "fields": INDEXED_FIELDS}


def open_memory_store(settings: Settings, embed: Callable[[Sequence[str]], Any] | None = None) -> BaseStore:
    """The memory ``BaseStore``: the LangGraph store every graph is compiled with, searchable by meaning.

    By default the data home's ``store.db`` (SQLite, with a sqlite-vec index on the memory
    text). With ``database_url`` set, the shared ``PostgresStore``, so every process on every
    machine recalls what another learned; searches by meaning are ranked in the process (no
    pgvector needed). Tables are created on first use.
    Close it with :func:`close_store`. ``embed`` replaces the offline embedding (tests).
    """
    if settings.database_url:
        from opsgraph.memory.ranked import RankedSearchStore
        from opsgraph.store import open_postgres_store

        index = memory_index(settings, embed)
        return RankedSearchStore(open_postgres_store(settings.database_url), index["embed"], index["fields"])
    return _sqlite_memory_store(settings, embed)


def _sqlite_memory_store(settings: Settings, embed: Callable[[Sequence[str]], Any] | None) -> BaseStore:
    from langgraph.store.sqlite import SqliteStore

    # The same file as the LangGraph store every graph is compiled with (opsgraph.store): memory
    # is that store's ``("memory", ...)`` namespaces, searched through the vector index added here.
    path = settings.store_path
    path.parent.mkdir(parents=True, exist_ok=True)
    driver = sqlite_driver()
    # Nodes and tools may run in worker threads; the store serialises access with its own lock.
    conn = driver.connect(str(path), check_same_thread=False, timeout=30, isolation_level=None)
    try:
        # Two processes opening a fresh data home would otherwise race to create the tables.
        with init_lock(path.parent):
            conn.execute("PRAGMA journal_mode=WAL")
            store = SqliteStore(conn, index=memory_index(settings, embed))
            store.setup()
    except driver.DatabaseError as exc:
        conn.close()
        raise StorageError(f"store database {path} is damaged or not SQLite ({exc}); move it aside to start a new "
                           "one (its memories are lost) or restore it from a backup") from None
    return store


def sqlite_driver() -> Any:
    """A DB-API SQLite module that can load the sqlite-vec extension the store's vector search needs.

    Python's own ``sqlite3`` when it was built with extension loading; otherwise the
    ``pysqlite3`` wheel (a dependency on Linux x86-64), whose bundled SQLite can.
    """
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    try:
        import pysqlite3.dbapi2 as bundled  # type: ignore[import-not-found]
    except ImportError:
        raise StorageError("this Python's sqlite3 cannot load extensions, which memory search needs; "
                           "install pysqlite3-binary, or turn memory off with OPSGRAPH_MEMORY=off") from None
    return bundled


def close_store(store: BaseStore | None) -> None:
    """Close a store opened by :func:`open_memory_store` (a no-op for stores without a connection)."""
    conn = getattr(store, "conn", None)
    if conn is not None and hasattr(conn, "close"):
        conn.close()
