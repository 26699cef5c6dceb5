"""BM25 over the chunks of the collection: the lexical half of hybrid retrieval.

Vectors are good at paraphrase but weak at exact identifiers ("error 401", "429",
"CC-OPS"); BM25 is the opposite.

The index is persisted and kept up to date by ingestion (:class:`SqliteLexicalIndex`, SQLite
FTS5 with its built-in ``bm25()``, k1 = 1.2, b = 0.75), so a fresh process searches at once
instead of re-reading and re-tokenising every chunk. Text is tokenised here (stemming, stop
words) and FTS5 only sees the resulting terms, so any backend behind :class:`LexicalIndex`
ranks the same terms. Rows carry the permission fields and the scope filter is part of the
query, which returns the chunk's text and metadata stored beside its terms: a lexical hit
needs no second (filtered, and at 10k chunks 30 times slower) read from Chroma.

:class:`BM25Index` is the same ranking in memory, for callers without a store.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import threading
from collections import Counter, defaultdict
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol, Sequence

import numpy as np

_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
STOPWORDS = frozenset(
    """a an and are as at be been but by can could do does for from has have how i if in into is it its
    me my no not of on or our should so such than that the their them then there these they this to
    up was we were what when where which who whom why will with would you your""".split()
)
_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ies", "ied", "ed", "es", "s")


def stem(word: str) -> str:
    """Strip one common English suffix so 'approvals', 'approved' and 'approve' meet."""
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed content tokens; numbers and codes like 'cc-ops' are kept whole."""
    return [stem(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


class BM25Index:
    """Okapi BM25 with an inverted index; scoring is vectorised with numpy."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        """Index ``texts`` under ``ids`` (the texts are tokenised here and not kept)."""
        self.ids = list(ids)
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        lengths = np.zeros(len(self.ids), dtype=np.float64)
        for row, text in enumerate(texts):
            counts = Counter(tokenize(text))
            lengths[row] = sum(counts.values())
            for term, tf in counts.items():
                postings[term].append((row, tf))
        avg = float(lengths.mean()) if len(self.ids) else 1.0
        self._norm = k1 * (1 - b + b * lengths / max(avg, 1e-9))
        self._k1 = k1
        self._postings = {t: (np.array([r for r, _ in p]), np.array([f for _, f in p], dtype=np.float64))
                          for t, p in postings.items()}
        n = len(self.ids)
        self._idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in postings.items()}

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every indexed chunk for ``query``."""
        out = np.zeros(len(self.ids), dtype=np.float64)
        for term in set(tokenize(query)):
            if term not in self._postings:
                continue
            rows, tf = self._postings[term]
            out[rows] += self._idf[term] * tf * (self._k1 + 1) / (tf + self._norm[rows])
        return out

    def top(self, query: str, n: int) -> list[tuple[str, float]]:
        """Best ``n`` (id, score) pairs with a positive score, best first."""
        scores = self.scores(query)
        candidates = np.flatnonzero(scores > 0)
        best = candidates[np.argsort(-scores[candidates], kind="stable")[:n]]
        return [(self.ids[i], float(scores[i])) for i in best]


@dataclass(frozen=True)
class LexicalRow:
    """One chunk as the lexical index stores it: terms plus the fields scopes filter on."""

    chunk_id: str
    source: str
    department: str
    access_rank: int
    text: str  # what was embedded (title, heading, chunk); tokenised on write
    chunk_text: str = ""  # the chunk as stored in Chroma, returned with a match
    meta: dict[str, Any] = field(default_factory=dict)  # the chunk's Chroma metadata


@dataclass(frozen=True)
class LexicalMatch:
    """A ranked chunk with the text and metadata stored beside its terms."""

    chunk_id: str
    score: float
    text: str
    meta: dict[str, Any]


@dataclass(frozen=True)
class LexicalFilter:
    """The permission part of a scope: ``None`` means unrestricted."""

    departments: tuple[str, ...] | None = None
    max_rank: int | None = None


class LexicalIndex(Protocol):
    """What the retriever and ingestion need from a persisted lexical index.

    Two backends: :class:`SqliteLexicalIndex` in the data home, and
    :class:`~opsgraph.knowledge.lexical_pg.PgLexicalIndex` in the shared Postgres database.
    """

    def state(self) -> str | None:
        """The collection state (id and revision) the index was last synced to."""

    def set_state(self, state: str) -> None:
        """Record that the index now mirrors collection state ``state``."""

    def upsert(self, rows: Sequence[LexicalRow]) -> None:
        """Add or replace chunks (by id)."""

    def delete_sources(self, sources: Iterable[str]) -> None:
        """Remove every chunk of the given documents."""

    def clear(self) -> None:
        """Remove everything."""

    def top(self, query: str, scope: LexicalFilter, n: int) -> list[LexicalMatch]:
        """Best ``n`` chunks inside ``scope``, best first."""

    def close(self) -> None:
        """Release the file or connection (it reopens on next use where the backend can)."""

    def writing(self, wait: bool = True) -> AbstractContextManager[bool]:
        """Hold the right to change the index against the collection (a whole ingest, a rebuild).

        Yields True when held; with ``wait=False`` yields False at once when another writer has it.
        """


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS lexical_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS lexical_chunks (id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, "
    "source TEXT NOT NULL, department TEXT NOT NULL, access_rank INTEGER NOT NULL, "
    "text TEXT NOT NULL, meta TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS lexical_chunks_source ON lexical_chunks(source)",
    # Terms arrive already stemmed; tokenchars keeps codes such as cc-ops and don't whole.
    """CREATE VIRTUAL TABLE IF NOT EXISTS lexical_terms USING fts5(terms, tokenize = "unicode61 tokenchars '''-'")""",
)


class SqliteLexicalIndex:
    """BM25 over chunk terms in a SQLite file (FTS5); safe to share between threads."""

    def __init__(self, path: Path) -> None:
        """Open (and create) the index file at ``path``."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        with self._lock, self._db:
            for statement in _SCHEMA:
                self._db.execute(statement)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    @contextmanager
    def writing(self, wait: bool = True) -> Iterator[bool]:
        """Always held: the file belongs to one data home, whose ingests the caller already orders."""
        yield True

    def state(self) -> str | None:
        """The collection state the index mirrors, or None for a new index."""
        with self._lock:
            row = self._db.execute("SELECT value FROM lexical_state WHERE key = 'collection'").fetchone()
        return row[0] if row else None

    def set_state(self, state: str) -> None:
        """Record the collection state the index now mirrors."""
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO lexical_state VALUES ('collection', ?)", (state,))

    def upsert(self, rows: Sequence[LexicalRow]) -> None:
        """Add or replace chunks by id, in one transaction."""
        with self._lock, self._db:
            _delete(self._db, "chunk_id", [r.chunk_id for r in rows])
            for row in rows:
                cur = self._db.execute(
                    "INSERT INTO lexical_chunks (chunk_id, source, department, access_rank, text, meta) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (row.chunk_id, row.source, row.department, int(row.access_rank),
                                                  row.chunk_text, json.dumps(row.meta)))
                self._db.execute("INSERT INTO lexical_terms (rowid, terms) VALUES (?, ?)",
                                 (cur.lastrowid, " ".join(tokenize(row.text))))

    def delete_sources(self, sources: Iterable[str]) -> None:
        """Remove every chunk of ``sources``."""
        with self._lock, self._db:
            _delete(self._db, "source", list(sources))

    def clear(self) -> None:
        """Remove every chunk and the recorded state."""
        with self._lock, self._db:
            for table in ("lexical_terms", "lexical_chunks", "lexical_state"):
                self._db.execute(f"DELETE FROM {table}")

    def count(self) -> int:
        """Chunks indexed."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM lexical_chunks").fetchone()[0])

    def top(self, query: str, scope: LexicalFilter, n: int) -> list[LexicalMatch]:
        """Best ``n`` chunks for ``query`` inside ``scope``; scores are BM25 (higher is better)."""
        terms = sorted(set(tokenize(query)))
        if not terms or n <= 0:
            return []
        sql, params = _top_query(terms, scope, n)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [LexicalMatch(chunk_id, -float(score), text, json.loads(meta)) for chunk_id, score, text, meta in rows]


def _delete(db: sqlite3.Connection, column: str, values: list[str]) -> None:
    """Delete the chunks whose ``column`` is in ``values`` (from both tables)."""
    for start in range(0, len(values), 500):
        part = values[start : start + 500]
        where = f"FROM lexical_chunks WHERE {column} IN ({','.join('?' * len(part))})"
        db.execute(f"DELETE FROM lexical_terms WHERE rowid IN (SELECT id {where})", part)
        db.execute(f"DELETE {where}", part)


def _top_query(terms: list[str], scope: LexicalFilter, n: int) -> tuple[str, list]:
    """SQL and parameters of a scoped BM25 query (the permission filter is in the query)."""
    match = " OR ".join(f'"{t}"' for t in terms)  # terms hold only [a-z0-9'-], never a double quote
    clauses, params = ["lexical_terms MATCH ?"], [match]
    if scope.departments is not None:
        clauses.append(f"c.department IN ({','.join('?' * len(scope.departments))})")
        params.extend(scope.departments)
    if scope.max_rank is not None:
        clauses.append("c.access_rank <= ?")
        params.append(scope.max_rank)
    sql = ("SELECT c.chunk_id, bm25(lexical_terms) AS s, c.text, c.meta FROM lexical_terms "
           f"JOIN lexical_chunks c ON c.id = lexical_terms.rowid WHERE {' AND '.join(clauses)} ORDER BY s LIMIT ?")
    return sql, [*params, int(n)]
