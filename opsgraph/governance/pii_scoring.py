"""Scoring a PII detector on a labelled corpus: precision and recall per type, and what leaked.

A labelled value counts as found when a detected span of the same type covers all of it (a
partial match would still leak the rest). A detected span counts as correct when it overlaps
a labelled value of its type. ``damaged`` lists protected substrings (ids, amounts) that a
detected span touched, which must never happen: the agents need them verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opsgraph.governance.pii import PII_TYPES, PiiDetector, Span


@dataclass
class TypeScore:
    """Counts of one PII type over the corpus."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        """Share of detected spans that were labelled (1.0 when nothing was detected)."""
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        """Share of labelled values fully covered (1.0 when none were labelled)."""
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0


@dataclass
class CorpusScore:
    """The result of one corpus run."""

    types: dict[str, TypeScore] = field(default_factory=lambda: {t: TypeScore() for t in PII_TYPES})
    missed: list[tuple[str, str]] = field(default_factory=list)
    spurious: list[tuple[str, str]] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    cases: int = 0


def load_corpus(path: Path) -> dict[str, Any]:
    """The corpus file: ``known_names`` and ``cases`` (text, pii pairs, protected substrings)."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def corpus_detector(corpus: dict[str, Any]) -> PiiDetector:
    """A detector that knows the corpus's customer names, as a run's detector knows the CRM's."""
    names = list(corpus.get("known_names") or [])
    return PiiDetector(known_names=lambda: names)


def score_corpus(detector: PiiDetector, corpus: dict[str, Any]) -> CorpusScore:
    """Run ``detector`` over every case and count hits, misses and false alarms per type."""
    result = CorpusScore()
    for case in corpus["cases"]:
        text, spans = case["text"], detector.find(case["text"])
        labels = [(kind, _locate(text, value)) for kind, value in case["pii"]]
        for kind, (start, end) in labels:
            covered = any(s.kind == kind and s.start <= start and s.end >= end for s in spans)
            bucket = result.types[kind]
            if covered:
                bucket.true_positives += 1
            else:
                bucket.false_negatives += 1
                result.missed.append((kind, text[start:end]))
        for span in spans:
            if not any(kind == span.kind and span.start < end and start < span.end for kind, (start, end) in labels):
                result.types[span.kind].false_positives += 1
                result.spurious.append((span.kind, span.text))
        result.damaged += [p for p in case.get("protected") or [] if _touched(text, p, spans)]
        result.cases += 1
    return result


def _locate(text: str, value: str) -> tuple[int, int]:
    start = text.index(value)
    return start, start + len(value)


def _touched(text: str, value: str, spans: list[Span]) -> bool:
    start, end = _locate(text, value)
    return any(s.start < end and start < s.end for s in spans)
