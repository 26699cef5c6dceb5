"""BM25 over the chunks of the collection: the lexical half of hybrid retrieval.

Vectors are good at paraphrase but weak at exact identifiers ("error 401", "429",
"CC-OPS"); BM25 is the opposite. The retriever builds one index per permission scope from
the chunks Chroma returns for that scope's ``where`` filter, so lexical matches can only
come from chunks the caller may read.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from typing import Sequence

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
