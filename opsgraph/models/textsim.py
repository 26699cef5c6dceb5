"""Small lexical similarity used by the offline engine to relate text to tools and options.

Deliberately dependency-free and fast: the offline engine calls it many times per step.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

_WORD = re.compile(r"[a-z][a-z0-9]+")
# Contractions ("don't", "won't", "isn’t") negate as much as "not" does.
_NEGATION = re.compile(r"\b(no|not|none|nothing|without|zero|never|n/a)\b|n['’]t\b|:\s*0\b|\b0 (items|orders|units)\b")
# A comma before "but", "just", "only" or "instead" starts a clause of its own: in "we don't want
# a refund, just explain the charge" the negation stops at the comma.
_CONTRAST = r",\s+(?=(?:but|just|only|instead|rather)\b)"

STOPWORDS = frozenset(
    """a an the and or of to in on for with by at from as is are was were be been it its this that these those
    you your we our they their he she his her i me my use using used when where which who what how if then than
    so such can may must should will would do does did any all each every per into onto over under up down out
    about after before also only other same new one two via get gets given give""".split()
)

# Domain-neutral equivalences so that "notify" matches "notification" and the like.
_SYNONYMS = {
    "po": "purchase", "pos": "purchase", "buy": "purchase", "order": "order",
    "eta": "arrival", "late": "delay", "delayed": "delay", "delays": "delay",
    "notif": "notify", "message": "notify", "inform": "notify", "email": "notify",
    "stock": "inventory", "warehouse": "dc", "centre": "dc", "center": "dc",
    "refund": "refund", "reimburse": "refund", "invoice": "bill", "billing": "bill",
    "charge": "bill", "vendor": "supplier", "supplier": "supplier", "shortage": "shortfall",
}


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """Crude suffix-stripping stemmer; good enough to match 'orders' with 'order'."""
    word = _SYNONYMS.get(word, word)
    for suffix in ("ations", "ation", "ments", "ment", "ings", "ing", "ies", "ied", "ers", "er", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    return _SYNONYMS.get(word, word)


def tokens(text: str) -> list[str]:
    """Content tokens of ``text``: lower-cased, split on non-letters and underscores, stemmed."""
    words = _WORD.findall(text.lower().replace("_", " "))
    return [stem(w) for w in words if w not in STOPWORDS]


def token_set(text: str) -> frozenset[str]:
    """Distinct content tokens of ``text``."""
    return frozenset(tokens(text))


def coverage(query: str, text: str) -> float:
    """Share of the content tokens of ``query`` that also occur in ``text`` (0..1)."""
    q = token_set(query)
    if not q:
        return 0.0
    return len(q & token_set(text)) / len(q)


def cosine(a: str, b: str) -> float:
    """Cosine similarity of the token sets of two texts (0..1)."""
    sa, sb = token_set(a), token_set(b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / math.sqrt(len(sa) * len(sb))


def is_negated(sentence: str) -> bool:
    """True when a sentence states an absence ("no orders affected", "purchase_orders: none")."""
    return bool(_NEGATION.search(sentence.lower()))


def sentences(text: str) -> list[str]:
    """Split text into sentences and bullet lines."""
    parts = re.split(r"(?<=[.!?])\s+|\n+|;\s*|" + _CONTRAST, text)
    return [p.strip(" -*\t") for p in parts if p.strip(" -*\t")]


def affirmed_text(text: str) -> str:
    """The sentences of ``text`` that do not state an absence, joined."""
    return "\n".join(s for s in sentences(text) if not is_negated(s))


def evidence_sentences(text: str) -> list[str]:
    """Sentences that state facts about the case.

    Headers ("find_affected_orders:"), statements of absence and citations of reference
    documents ("Sources: [...]") are left out: none of them says something is so.
    """
    return [s for s in sentences(text)
            if not is_negated(s) and not s.endswith(":") and not s.startswith(("Sources:", "["))]
