"""Read the markdown corpus: front matter, validation, and ``{{policy:...}}`` rendering.

Documents never state a policy number themselves. They write a placeholder such as
``{{policy:approvals.purchase_order.threshold_usd}}`` and this module fills it in from
policy.yaml at ingestion time, so the knowledge base and the agents' guards always agree.

Placeholder syntax: ``{{policy:<dotted.path>}}`` or ``{{policy:<dotted.path>|<format>}}``
with format one of ``usd`` ($25,000), ``pct`` (15 -> 15%), ``percent`` (0.92 -> 92%),
``int``, ``capitalize``, ``plain``. Without a format, keys ending in ``_usd`` render as
money and keys ending in ``_pct`` as a percentage.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from opsgraph.governance.policy import Policy, PolicyError
from opsgraph.knowledge.errors import CorpusError

REQUIRED_FIELDS = ("title", "department", "access", "owner", "effective_date")
# Bump when chunking or rendering changes so every document is re-ingested once.
PIPELINE_VERSION = "1"
PLACEHOLDER = re.compile(r"\{\{\s*policy:([A-Za-z0-9_.]+)\s*(?:\|\s*([a-z]+)\s*)?\}\}")
_DEPARTMENT = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Document:
    """One rendered knowledge document."""

    source: str  # path relative to the corpus root, with forward slashes
    title: str
    department: str
    access: str
    access_rank: int
    owner: str
    effective_date: str
    body: str  # markdown after front matter, placeholders rendered
    doc_hash: str


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
    """Replace every ``{{policy:...}}`` in ``text``; unknown paths are an error naming the file."""

    def replace(match: re.Match[str]) -> str:
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

    rendered = PLACEHOLDER.sub(replace, text)
    if "{{" in rendered:
        line = rendered[: rendered.index("{{")].count("\n") + 1
        raise CorpusError(f"{source}:{line}: malformed placeholder; expected {{{{policy:dotted.path}}}}")
    return rendered


def split_front_matter(raw: str, source: str) -> tuple[dict[str, Any], str]:
    """Separate the YAML front matter (between ``---`` lines) from the markdown body."""
    if not raw.startswith("---"):
        raise CorpusError(f"{source}: missing YAML front matter (the file must start with '---')")
    parts = raw.split("\n---", 1)
    if len(parts) != 2:
        raise CorpusError(f"{source}: front matter is not closed by a '---' line")
    try:
        meta = yaml.safe_load(parts[0][3:]) or {}
    except yaml.YAMLError as exc:
        raise CorpusError(f"{source}: front matter is not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise CorpusError(f"{source}: front matter must be a mapping")
    return meta, parts[1].split("\n", 1)[1] if "\n" in parts[1] else ""


def _validate(meta: dict[str, Any], policy: Policy, source: str) -> None:
    missing = [name for name in REQUIRED_FIELDS if not str(meta.get(name) or "").strip()]
    if missing:
        raise CorpusError(f"{source}: front matter lacks {', '.join(missing)}")
    if not _DEPARTMENT.match(str(meta["department"])):
        raise CorpusError(f"{source}: department {meta['department']!r} must be a snake_case name")
    if meta["access"] not in policy.access_levels:
        raise CorpusError(f"{source}: access {meta['access']!r} is not one of {', '.join(policy.access_levels)}")


def read_document(path: Path, root: Path, policy: Policy) -> Document:
    """Read, validate and render the document at ``path`` (``root`` gives its relative name)."""
    source = path.relative_to(root).as_posix()
    meta, body = split_front_matter(path.read_text(encoding="utf-8"), source)
    _validate(meta, policy, source)
    rendered = render_placeholders(body, policy, source)
    fields = {name: str(meta[name]).strip() for name in REQUIRED_FIELDS}
    rank = policy.access_rank(fields["access"])
    # Metadata is part of the hash: changing a document's access level must re-ingest it.
    digest = hashlib.sha256(
        "\x1f".join([PIPELINE_VERSION, source, *fields.values(), str(rank), rendered]).encode("utf-8")
    ).hexdigest()
    return Document(source=source, access_rank=rank, body=rendered, doc_hash=digest, **fields)


def corpus_files(root: Path) -> list[Path]:
    """Markdown files under ``root`` in a stable order."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"knowledge path {root} is not a directory")
    return sorted(p for p in root.rglob("*.md") if p.is_file() and not p.name.startswith("."))


def load_corpus(root: Path, policy: Policy) -> list[Document]:
    """Every document under ``root``, rendered and validated."""
    return [read_document(path, Path(root), policy) for path in corpus_files(root)]
