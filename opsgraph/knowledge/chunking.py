"""Split rendered markdown into chunks that follow its headings.

A document is cut at every heading first, so a chunk never mixes two sections and can cite
the section it came from ("Approval limits"). Sections longer than ``size`` characters are
then cut at paragraph, line, sentence and finally word boundaries, with a small overlap so a
sentence that straddles a cut is still found.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from opsgraph.knowledge.corpus import Document

CHUNK_SIZE = 800
CHUNK_OVERLAP = 120
HEADING_SEPARATOR = " > "
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


@dataclass(frozen=True)
class Section:
    """Text under one heading; ``path`` lists the headings above it, outermost first."""

    path: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Chunk:
    """One piece of a document as stored in the collection."""

    source: str
    index: int
    heading: str
    text: str
    content_hash: str

    @property
    def id(self) -> str:
        """Stable id in the collection: source plus position."""
        return f"{self.source}::{self.index:03d}"


def split_sections(markdown: str) -> list[Section]:
    """Cut markdown at its headings (ignoring ``#`` lines inside code fences)."""
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    in_fence = False

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text:
            sections.append(Section(tuple(title for _, title in stack), text))
        lines.clear()

    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match is None:
            lines.append(line)
            continue
        flush()
        level = len(match.group(1))
        stack = [(lvl, title) for lvl, title in stack if lvl < level] + [(level, match.group(2))]
    flush()
    return sections


def _pieces(text: str, size: int) -> list[str]:
    """Break ``text`` into units no longer than ``size``, coarsest boundaries first."""
    if len(text) <= size:
        return [text]
    for pattern in (r"\n\s*\n", r"\n", _SENTENCE_END.pattern, r"\s+"):
        parts = [p.strip() for p in re.split(pattern, text) if p.strip()]
        if len(parts) > 1:
            return [unit for part in parts for unit in _pieces(part, size)]
    # A single unbroken run longer than size: cut it hard.
    return [text[i : i + size] for i in range(0, len(text), size)]


def split_text(text: str, size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP) -> list[str]:
    """Pack the units of ``text`` into chunks of about ``size`` characters with overlap."""
    chunks: list[str] = []
    current: list[str] = []
    for unit in _pieces(text.strip(), size):
        if current and len("\n".join(current + [unit])) > size:
            chunks.append("\n".join(current))
            current = _tail(current, overlap)
            if current and len("\n".join(current + [unit])) > size:
                current = []
        current.append(unit)
    if current:
        chunks.append("\n".join(current))
    return chunks


def _tail(units: list[str], overlap: int) -> list[str]:
    """The last units of a finished chunk that fit in ``overlap`` characters."""
    kept: list[str] = []
    for unit in reversed(units):
        if len(unit) + sum(len(u) + 1 for u in kept) > overlap:
            break
        kept.insert(0, unit)
    return kept


def heading_path(section: Section, title: str) -> str:
    """Headings below the document title, e.g. ``Approval limits > Exceptions``."""
    inner = section.path[1:] if len(section.path) > 1 else section.path
    return HEADING_SEPARATOR.join(inner) or title


def chunk_document(doc: Document, size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP) -> list[Chunk]:
    """All chunks of ``doc`` in reading order."""
    chunks: list[Chunk] = []
    for section in split_sections(doc.body):
        heading = heading_path(section, doc.title)
        for text in split_text(section.text, size, overlap):
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            chunks.append(Chunk(doc.source, len(chunks), heading, text, digest))
    return chunks


def embedding_text(chunk: Chunk, title: str) -> str:
    """What gets embedded and indexed: the chunk with its title and section as context.

    Short chunks such as a bulleted list mean little on their own; the title and heading
    tell the model (and BM25) what they are about.
    """
    return f"{title} — {chunk.heading}\n{chunk.text}" if chunk.heading != title else f"{title}\n{chunk.text}"
