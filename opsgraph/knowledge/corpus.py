"""Read documents: front matter, defaults, validation, and ``{{policy:...}}`` rendering.

Documents never state a policy number themselves. They write a placeholder such as
``{{policy:approvals.purchase_order.threshold_usd}}`` and this module fills it in from
policy.yaml at ingestion time, so the knowledge base and the agents' guards always agree.

Placeholder syntax: ``{{policy:<dotted.path>}}`` or ``{{policy:<dotted.path>|<format>}}``
with format one of ``usd`` ($25,000), ``pct`` (15 -> 15%), ``percent`` (0.92 -> 92%),
``int``, ``capitalize``, ``plain``. Without a format, keys ending in ``_usd`` render as
money and keys ending in ``_pct`` as a percentage. Only that exact syntax is rendered: any
other ``{{`` (LaTeX, templates) is kept as written, ``\\{{`` writes a literal ``{{``, and
only a near miss that starts like a placeholder (``{{policy ...``) is an error.

A folder may hold markdown (front matter optional), plain text and JSONL (one document per
line). Metadata a document does not state comes from :class:`DocumentDefaults`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

from opsgraph.governance.policy import Policy, PolicyError
from opsgraph.knowledge.errors import CorpusError

METADATA_FIELDS = ("title", "department", "access", "owner", "effective_date")
REQUIRED_FIELDS = METADATA_FIELDS  # every document carries all five (from its file or the defaults)
# Bump when chunking or rendering changes so every document is re-ingested once.
PIPELINE_VERSION = "2"
PLACEHOLDER = re.compile(r"\{\{\s*policy:([A-Za-z0-9_.]+)\s*(?:\|\s*([a-z]+)\s*)?\}\}")
# An escaped brace pair, or an exact placeholder; anything else between braces is plain text.
_TOKEN = re.compile(r"\\\{\{|" + PLACEHOLDER.pattern)
_NEAR_MISS = re.compile(r"\{\{\s*policy\b")
_DEPARTMENT = re.compile(r"^[a-z][a-z0-9_]*$")
TEXT_SUFFIXES = (".md", ".markdown", ".txt")
JSONL_SUFFIX = ".jsonl"


@dataclass(frozen=True)
class DocumentDefaults:
    """Metadata for documents that do not state it themselves (plain text, JSONL, bare markdown)."""

    department: str = "general"
    access: str = "internal"
    owner: str = "unassigned"
    # A fixed default rather than today's date: the date is part of the content hash.
    effective_date: str = "unspecified"


@dataclass(frozen=True)
class Document:
    """One rendered knowledge document."""

    source: str  # the document id: path relative to the corpus root, or the id given by the caller
    title: str
    department: str
    access: str
    access_rank: int
    owner: str
    effective_date: str
    body: str  # text after front matter, placeholders rendered
    doc_hash: str


@dataclass(frozen=True)
class Failure:
    """A document that could not be read, and why (ingestion goes on without it)."""

    source: str
    reason: str


@dataclass
class Scan:
    """What reading a folder produced: good documents and failures, in file order."""

    documents: list[Document] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def _money(value: Any) -> str:
    amount = float(value)
    return f"${amount:,.0f}" if amount == int(amount) else f"${amount:,.2f}"


def _ratio_percent(value: Any) -> str:
    pct = float(value) * 100
    return f"{pct:.0f}%" if abs(pct - round(pct)) < 1e-9 else f"{pct:.1f}%"


def _plain(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


FORMATS: dict[str, Callable[[Any], str]] = {
    "usd": _money,
    "pct": lambda v: f"{_plain(v)}%",
    "percent": _ratio_percent,
    "int": lambda v: f"{int(v):,}",
    "capitalize": lambda v: _plain(v)[:1].upper() + _plain(v)[1:],
    "plain": _plain,
}


def format_policy_value(path: str, value: Any, fmt: str | None = None) -> str:
    """Render one policy value for a document (explicit ``fmt`` or inferred from the key)."""
    if fmt is None:
        key = path.rsplit(".", 1)[-1]
        fmt = "usd" if key.endswith("_usd") else "pct" if key.endswith("_pct") else "plain"
    if fmt not in FORMATS:
        raise CorpusError(f"unknown placeholder format {fmt!r}; use one of {', '.join(FORMATS)}")
    if isinstance(value, dict):
        raise CorpusError(f"policy value at {path!r} is a section, not a single value")
    return FORMATS[fmt](value)


def render_placeholders(text: str, policy: Policy, source: str = "<text>") -> str:
    """Render every exact ``{{policy:...}}`` in ``text`` and unescape ``\\{{``; other braces stay."""

    def replace_token(match: re.Match[str]) -> str:
        if match.group(1) is None:  # the escape
            return "{{"
        return _render_one(match, text, policy, source)

    out: list[str] = []
    last = 0
    for match in _TOKEN.finditer(text):
        _check_near_misses(text, last, match.start(), source)
        out.append(text[last : match.start()])
        out.append(replace_token(match))
        last = match.end()
    _check_near_misses(text, last, len(text), source)
    out.append(text[last:])
    return "".join(out)


def _render_one(match: re.Match[str], text: str, policy: Policy, source: str) -> str:
    path, fmt = match.group(1), match.group(2)
    try:
        value = policy.get(path)
    except PolicyError:
        line = text.count("\n", 0, match.start()) + 1
        raise CorpusError(f"{source}:{line}: placeholder {match.group(0)} does not resolve; "
                          f"policy.yaml has no value at {path!r}") from None
    try:
        return format_policy_value(path, value, fmt)
    except (CorpusError, TypeError, ValueError) as exc:
        raise CorpusError(f"{source}: placeholder {match.group(0)}: {exc}") from None


def _check_near_misses(text: str, start: int, end: int, source: str) -> None:
    """A ``{{policy`` that is not an exact placeholder is a typo worth stopping for."""
    miss = _NEAR_MISS.search(text, start, end)
    if miss is not None:
        line = text.count("\n", 0, miss.start()) + 1
        raise CorpusError(f"{source}:{line}: malformed placeholder; expected {{{{policy:dotted.path}}}} "
                          "(write \\{{ for a literal brace pair)")


def split_front_matter(raw: str, source: str) -> tuple[dict[str, Any], str]:
    """Separate the YAML front matter (between ``---`` lines) from the body; none gives ``{}``."""
    if not raw.startswith("---"):
        return {}, raw
    parts = raw.split("\n---", 1)
    if len(parts) != 2:
        raise CorpusError(f"{source}: front matter is not closed by a '---' line")
    try:
        meta = yaml.safe_load(parts[0][3:]) or {}
    except yaml.YAMLError as exc:
        reason = str(exc).splitlines()[0]
        raise CorpusError(f"{source}: front matter is not valid YAML: {reason}") from None
    if not isinstance(meta, dict):
        raise CorpusError(f"{source}: front matter must be a mapping")
    return meta, parts[1].split("\n", 1)[1] if "\n" in parts[1] else ""


def _validate(fields: dict[str, str], policy: Policy, source: str) -> None:
    empty = [name for name in METADATA_FIELDS if not fields[name]]
    if empty:
        raise CorpusError(f"{source}: empty {', '.join(empty)}")
    if not _DEPARTMENT.match(fields["department"]):
        raise CorpusError(f"{source}: department {fields['department']!r} must be a snake_case name")
    if fields["access"] not in policy.access_levels:
        raise CorpusError(f"{source}: access {fields['access']!r} is not one of {', '.join(policy.access_levels)}")


def _text(value: Any) -> str:
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return "" if value is None else str(value).strip()


def make_document(source: str, body: str, policy: Policy, meta: dict[str, Any] | None = None,
                  defaults: DocumentDefaults | None = None) -> Document:
    """Validate ``meta`` (missing fields from ``defaults``), render ``body`` and hash the result."""
    meta, defaults = meta or {}, defaults or DocumentDefaults()
    fallback = {"title": _title_of(body, source), **{k: getattr(defaults, k) for k in METADATA_FIELDS[1:]}}
    fields = {name: _text(meta.get(name)) or _text(fallback[name]) for name in METADATA_FIELDS}
    _validate(fields, policy, source)
    rendered = render_placeholders(body, policy, source)
    rank = policy.access_rank(fields["access"])
    # Metadata is part of the hash: changing a document's access level must re-ingest it.
    digest = hashlib.sha256(
        "\x1f".join([PIPELINE_VERSION, source, *fields.values(), str(rank), rendered]).encode("utf-8")
    ).hexdigest()
    return Document(source=source, access_rank=rank, body=rendered, doc_hash=digest, **fields)


def _title_of(body: str, source: str) -> str:
    """The first markdown heading, else the file or id name."""
    for line in body.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    stem = source.rsplit("/", 1)[-1].split("#", 1)[0]
    return stem.rsplit(".", 1)[0].replace("-", " ").replace("_", " ").strip() or source


def read_document(path: Path, root: Path, policy: Policy, defaults: DocumentDefaults | None = None) -> Document:
    """Read, validate and render the markdown or text file at ``path`` (``root`` names it)."""
    source = path.relative_to(root).as_posix()
    raw = _read_text(path, source)
    meta, body = split_front_matter(raw, source) if path.suffix != ".txt" else ({}, raw)
    return make_document(source, body, policy, meta, defaults)


def _read_text(path: Path, source: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CorpusError(f"{source}: not UTF-8 text") from None


def read_jsonl(path: Path, root: Path, policy: Policy, defaults: DocumentDefaults | None = None) -> Iterator[
        Document | Failure]:
    """One document per non-empty line: ``{"text": ..., "id"?, "title"?, "department"?, ...}``."""
    name = path.relative_to(root).as_posix()
    for number, line in enumerate(_read_text(path, name).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise CorpusError(f"{where}: each line must be a JSON object with a \"text\" string")
            source = f"{name}#{row.get('id', number)}"
            yield make_document(source, row["text"], policy, row, defaults)
        except json.JSONDecodeError as exc:
            yield Failure(where, f"{where}: not valid JSON: {exc.msg}")
        except CorpusError as exc:
            yield Failure(where, str(exc))


def corpus_files(root: Path) -> list[Path]:
    """Markdown, text and JSONL files under ``root`` in a stable order (hidden files skipped)."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"knowledge path {root} is not a directory")
    suffixes = (*TEXT_SUFFIXES, JSONL_SUFFIX)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def scan_corpus(root: Path, policy: Policy, defaults: DocumentDefaults | None = None, *,
                strict: bool = False) -> Scan:
    """Every readable document under ``root``; unreadable ones become failures (``strict`` raises)."""
    scan = Scan()
    for path in corpus_files(root):
        for item in _read_any(path, Path(root), policy, defaults):
            if isinstance(item, Failure):
                if strict:
                    raise CorpusError(item.reason)
                scan.failures.append(item)
            else:
                scan.documents.append(item)
    return scan


def _read_any(path: Path, root: Path, policy: Policy, defaults: DocumentDefaults | None) -> Iterator[
        Document | Failure]:
    if path.suffix.lower() == JSONL_SUFFIX:
        yield from read_jsonl(path, root, policy, defaults)
        return
    try:
        yield read_document(path, root, policy, defaults)
    except CorpusError as exc:
        yield Failure(path.relative_to(root).as_posix(), str(exc))


def load_corpus(root: Path, policy: Policy, defaults: DocumentDefaults | None = None) -> list[Document]:
    """Every document under ``root``, rendered and validated; the first bad one raises."""
    return scan_corpus(root, policy, defaults, strict=True).documents


def with_defaults(defaults: DocumentDefaults | None, **overrides: Any) -> DocumentDefaults:
    """``defaults`` with the given non-empty fields replaced."""
    base = defaults or DocumentDefaults()
    return replace(base, **{k: v for k, v in overrides.items() if v})
