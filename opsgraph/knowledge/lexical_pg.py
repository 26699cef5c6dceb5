"""The lexical index in Postgres full-text search, shared by every process of a deployment.

With one database for every store (``OPSGRAPH_DATABASE_URL``) the BM25 half of hybrid
retrieval lives beside the other stores instead of in a SQLite file per data home, so a new
machine or worker searches at once and nobody rebuilds an index of the whole corpus locally.

Chunks are rows of ``opsgraph_lexical_chunks`` with a ``tsvector`` of the terms
:func:`~opsgraph.knowledge.lexical.tokenize` produced (the same stemming and stop words as
the SQLite index; the vector is written as a literal, so Postgres' own parser never splits a
code such as ``cc-ops``) and a GIN index for matching. Ranking is Okapi BM25 computed in SQL
(k1 = 1.2, b = 0.75) over a pool of candidates that IDF-weighted ``ts_rank`` picks among the
matches: term frequencies are the lexeme positions, document frequencies are counted in one
pass over the matches, and the chunk count and total length are kept per store in
``opsgraph_lexical_state``, updated in the transaction that changes the chunks.

Rows are keyed by a store key (the Chroma server's URL, or the local Chroma directory), so
deployments with different Chroma stores can share one database without mixing chunks.
Writers of one store are serialised: every write transaction takes a transaction advisory
lock, and a whole ingest holds a session advisory lock (:meth:`PgLexicalIndex.writing`).
"""

from __future__ import annotations

import json
import math
import threading
from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence

from opsgraph.knowledge.errors import KnowledgeError
from opsgraph.knowledge.lexical import LexicalFilter, LexicalMatch, LexicalRow, tokenize

K1, B = 1.2, 0.75
# Matches that get exact BM25: the best n * POOL_FACTOR (at least MIN_POOL) by ts_rank.
POOL_FACTOR, MIN_POOL = 5, 100
MAX_POSITION = 16383  # Postgres clamps larger positions; chunks are far shorter than this
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS opsgraph_lexical_state (store TEXT PRIMARY KEY, state TEXT, "
    "chunks BIGINT NOT NULL DEFAULT 0, total_length BIGINT NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS opsgraph_lexical_chunks (store TEXT NOT NULL, chunk_id TEXT NOT NULL, "
    "source TEXT NOT NULL, department TEXT NOT NULL, access_rank INTEGER NOT NULL, length INTEGER NOT NULL, "
    "terms TSVECTOR NOT NULL, text TEXT NOT NULL, meta JSONB NOT NULL, PRIMARY KEY (store, chunk_id))",
    "CREATE INDEX IF NOT EXISTS opsgraph_lexical_chunks_terms ON opsgraph_lexical_chunks USING GIN (terms)",
    "CREATE INDEX IF NOT EXISTS opsgraph_lexical_chunks_source ON opsgraph_lexical_chunks (store, source)",
)
# Advisory locks are keyed by hashtext() of a name: one for creating the schema, and per store
# one for write transactions and one held through a whole ingest or rebuild.
_SCHEMA_LOCK = "opsgraph_lexical:schema"


def _quote(term: str) -> str:
    """A lexeme as a tsvector/tsquery literal (terms hold only [a-z0-9'-])."""
    return "'" + term.replace("'", "''") + "'"


def tsvector_literal(text: str) -> tuple[str, int]:
    """The terms of ``text`` with their positions as a tsvector literal, and the term count."""
    positions: dict[str, list[int]] = defaultdict(list)
    terms = tokenize(text)
    for position, term in enumerate(terms, start=1):
        positions[term].append(min(position, MAX_POSITION))
    literal = " ".join(f"{_quote(t)}:{','.join(map(str, p))}" for t, p in positions.items())
    return literal, len(terms)


class PgLexicalIndex:
    """BM25 over chunk terms in Postgres; one instance per process, safe to share between threads."""

    def __init__(self, url: str, store_key: str) -> None:
        """Remember where the index lives; the connection is opened on first use."""
        self.url = url
        self.store_key = store_key
        self._lock = threading.Lock()
        self._conn: Any = None

    def _connect(self) -> Any:
        import psycopg

        try:
            return psycopg.connect(self.url, connect_timeout=10)
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise KnowledgeError(f"cannot reach the lexical index in Postgres: {reason}") from None

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Database failures as a KnowledgeError (one line); a broken connection is reopened next time."""
        import psycopg

        try:
            yield
        except psycopg.Error as exc:
            if self._conn is not None and (self._conn.closed or self._conn.broken):
                self._conn = None
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise KnowledgeError(f"the lexical index in Postgres failed: {reason}") from exc

    def _db(self) -> Any:
        """The open connection (created, with the schema, on first use); call with ``_lock`` held."""
        if self._conn is None or self._conn.closed:
            conn = self._connect()
            with conn.transaction():
                # Two processes creating the tables at once would collide in the catalog.
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_SCHEMA_LOCK,))
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute("INSERT INTO opsgraph_lexical_state (store) VALUES (%s) ON CONFLICT DO NOTHING",
                             (self.store_key,))
            self._conn = conn
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """A write transaction holding the store's transaction lock (writers of one store queue)."""
        with self._lock, self._errors():
            conn = self._db()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"opsgraph_lexical:write:{self.store_key}",))
                yield conn

    @contextmanager
    def writing(self, wait: bool = True) -> Iterator[bool]:
        """Hold the store's ingest lock (a session advisory lock on its own connection).

        Yields True when held; with ``wait=False`` yields False at once if another process holds it.
        """
        conn = self._connect()
        key = f"opsgraph_lexical:ingest:{self.store_key}"
        try:
            with self._errors():
                conn.autocommit = True
                if wait:
                    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
                    held = True
                else:
                    held = bool(conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()[0])
            yield held
        finally:
            conn.close()  # closing the session releases its advisory locks

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def state(self) -> str | None:
        """The collection state the index mirrors, or None for a new index."""
        with self._lock, self._errors():
            conn = self._db()
            with conn.transaction():
                row = conn.execute("SELECT state FROM opsgraph_lexical_state WHERE store = %s",
                                   (self.store_key,)).fetchone()
        return row[0] if row else None

    def set_state(self, state: str) -> None:
        """Record the collection state the index now mirrors (and refresh the planner's statistics)."""
        with self._write() as conn:
            conn.execute("UPDATE opsgraph_lexical_state SET state = %s WHERE store = %s", (state, self.store_key))
        # After an ingest the table may have grown many times over; without fresh statistics the
        # planner guesses a handful of rows and skips the GIN index. Autovacuum would get there later.
        with self._lock, self._errors():
            conn = self._db()
            with conn.transaction():
                conn.execute("ANALYZE opsgraph_lexical_chunks")

    def upsert(self, rows: Sequence[LexicalRow]) -> None:
        """Add or replace chunks by id, in one transaction."""
        if not rows:
            return
        records = []
        for row in rows:
            literal, length = tsvector_literal(row.text)
            records.append((self.store_key, row.chunk_id, row.source, row.department, int(row.access_rank),
                            length, literal, row.chunk_text, json.dumps(row.meta)))
        with self._write() as conn:
            removed = self._delete(conn, "chunk_id", [r.chunk_id for r in rows])
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO opsgraph_lexical_chunks (store, chunk_id, source, department, access_rank, length, "
                    "terms, text, meta) VALUES (%s, %s, %s, %s, %s, %s, %s::tsvector, %s, %s::jsonb)", records)
            self._count(conn, len(records) - removed[0], sum(r[5] for r in records) - removed[1])

    def delete_sources(self, sources: Iterable[str]) -> None:
        """Remove every chunk of ``sources``."""
        wanted = list(sources)
        if not wanted:
            return
        with self._write() as conn:
            chunks, length = self._delete(conn, "source", wanted)
            self._count(conn, -chunks, -length)

    def _delete(self, conn: Any, column: str, values: list[str]) -> tuple[int, int]:
        """Delete the store's chunks whose ``column`` is in ``values``; (chunks, total length) removed."""
        row = conn.execute(
            f"WITH gone AS (DELETE FROM opsgraph_lexical_chunks WHERE store = %s AND {column} = ANY(%s) "
            "RETURNING length) SELECT count(*), coalesce(sum(length), 0) FROM gone", (self.store_key, values)).fetchone()
        return int(row[0]), int(row[1])

    def _count(self, conn: Any, chunks: int, length: int) -> None:
        conn.execute("UPDATE opsgraph_lexical_state SET chunks = chunks + %s, total_length = total_length + %s "
                     "WHERE store = %s", (chunks, length, self.store_key))

    def clear(self) -> None:
        """Remove every chunk of this store and the recorded state."""
        with self._write() as conn:
            conn.execute("DELETE FROM opsgraph_lexical_chunks WHERE store = %s", (self.store_key,))
            conn.execute("UPDATE opsgraph_lexical_state SET state = NULL, chunks = 0, total_length = 0 "
                         "WHERE store = %s", (self.store_key,))

    def count(self) -> int:
        """Chunks indexed for this store."""
        with self._lock, self._errors():
            conn = self._db()
            with conn.transaction():
                return int(conn.execute("SELECT count(*) FROM opsgraph_lexical_chunks WHERE store = %s",
                                        (self.store_key,)).fetchone()[0])

    def chunk_ids(self) -> set[str]:
        """Ids of every chunk indexed for this store."""
        with self._lock, self._errors():
            conn = self._db()
            with conn.transaction():
                rows = conn.execute("SELECT chunk_id FROM opsgraph_lexical_chunks WHERE store = %s",
                                    (self.store_key,)).fetchall()
        return {r[0] for r in rows}

    def top(self, query: str, scope: LexicalFilter, n: int) -> list[LexicalMatch]:
        """Best ``n`` chunks for ``query`` inside ``scope``; scores are BM25 (higher is better)."""
        terms = sorted(set(tokenize(query)))
        if not terms or n <= 0:
            return []
        with self._lock, self._errors():
            conn = self._db()
            with conn.transaction():
                weights = self._idf(conn, terms)
                sql, params = _top_query(terms, weights, scope, n, self.store_key)
                rows = conn.execute(sql, params).fetchall()
        return [LexicalMatch(chunk_id, float(score), text, meta) for chunk_id, score, text, meta in rows]

    def _idf(self, conn: Any, terms: list[str]) -> list[float]:
        """BM25 IDF of each term over the whole store (as in the SQLite index), in one pass over the matches."""
        counts = ", ".join(f"count(*) FILTER (WHERE terms @@ %(q{i})s::tsquery)" for i in range(len(terms)))
        params = {f"q{i}": _quote(t) for i, t in enumerate(terms)}
        params.update(store=self.store_key, match=" | ".join(_quote(t) for t in terms))
        df = conn.execute(f"SELECT {counts} FROM opsgraph_lexical_chunks WHERE store = %(store)s "
                          "AND terms @@ %(match)s::tsquery", params).fetchone()
        n = conn.execute("SELECT chunks FROM opsgraph_lexical_state WHERE store = %s", (self.store_key,)).fetchone()
        total = max(int(n[0]) if n else 0, 1)
        return [math.log(1 + (total - d + 0.5) / (d + 0.5)) for d in df]


def _top_query(terms: list[str], weights: list[float], scope: LexicalFilter, n: int,
               store: str) -> tuple[str, dict[str, Any]]:
    """SQL and parameters of a scoped BM25 query (the permission filter is in the query).

    Two stages: every match is ranked by IDF-weighted ``ts_rank`` (computed in C, fast), and
    only the best pool of them gets exact BM25, whose term frequencies need each chunk's
    lexemes unnested row by row.
    """
    params: dict[str, Any] = {"store": store, "terms": terms, "weights": weights, "n": int(n), "k1": K1, "b": B,
                              "match": " | ".join(_quote(t) for t in terms),
                              "pool": max(int(n) * POOL_FACTOR, MIN_POOL)}
    rough = []
    for i, (term, weight) in enumerate(zip(terms, weights)):
        params[f"q{i}"], params[f"w{i}"] = _quote(term), weight
        rough.append(f"%(w{i})s * ts_rank('{{1,1,1,1}}', c.terms, %(q{i})s::tsquery, 1)")
    clauses = ["c.store = %(store)s", "c.terms @@ %(match)s::tsquery"]
    if scope.departments is not None:
        clauses.append("c.department = ANY(%(departments)s)")
        params["departments"] = list(scope.departments)
    if scope.max_rank is not None:
        clauses.append("c.access_rank <= %(max_rank)s")
        params["max_rank"] = int(scope.max_rank)
    sql = f"""
    WITH stats AS MATERIALIZED (
        SELECT greatest(total_length::float8 / greatest(chunks, 1), 1e-9) AS avgdl
        FROM opsgraph_lexical_state WHERE store = %(store)s),
    matched AS MATERIALIZED (
        SELECT c.chunk_id, c.length, c.terms FROM opsgraph_lexical_chunks c WHERE {' AND '.join(clauses)}
        ORDER BY {' + '.join(rough)} DESC LIMIT %(pool)s),
    scored AS (
        SELECT m.chunk_id, sum(q.weight * t.tf * (%(k1)s + 1)
                               / (t.tf + %(k1)s * (1 - %(b)s + %(b)s * m.length / stats.avgdl))) AS score
        FROM matched m CROSS JOIN stats
        CROSS JOIN LATERAL (SELECT u.lexeme, coalesce(array_length(u.positions, 1), 1) AS tf
                            FROM unnest(m.terms) u) t
        JOIN unnest(%(terms)s::text[], %(weights)s::float8[]) AS q(term, weight) ON q.term = t.lexeme
        GROUP BY m.chunk_id
        ORDER BY score DESC, m.chunk_id LIMIT %(n)s)
    SELECT s.chunk_id, s.score, c.text, c.meta FROM scored s
    JOIN opsgraph_lexical_chunks c ON c.store = %(store)s AND c.chunk_id = s.chunk_id
    ORDER BY s.score DESC, s.chunk_id"""
    return sql, params
