"""Add and delete knowledge documents from Python, without files.

    from opsgraph.knowledge.documents import add_documents, delete_documents

    report = add_documents([{"id": "abs-1", "text": "...", "title": "Graphene"}],
                           department="research", access="public")
    delete_documents(["abs-1"])

Each document is a mapping with ``text`` and optionally ``id`` (default: a hash of the text),
``title``, ``department``, ``access``, ``owner`` and ``effective_date``. What a document does
not state comes from the keyword arguments of the call, then from :class:`DocumentDefaults`.
Placeholders render as in files. A document that fails validation is reported in
``report.failures`` and the others are stored (``strict=True`` raises at the first).
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable, Mapping

from opsgraph.governance.policy import Policy, load_policy
from opsgraph.knowledge.corpus import DocumentDefaults, Failure, Scan, make_document, with_defaults
from opsgraph.knowledge.errors import CorpusError
from opsgraph.knowledge.ingest import IngestReport, ProgressCallback, delete_sources, write_documents
from opsgraph.settings import Settings, load_settings


def add_documents(
    documents: Iterable[Mapping[str, Any]],
    settings: Settings | None = None,
    *,
    department: str | None = None,
    access: str | None = None,
    owner: str | None = None,
    effective_date: str | None = None,
    policy: Policy | None = None,
    embedding_function: Any = None,
    strict: bool = False,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Store ``documents`` (new or changed ones are embedded; unchanged ones cost nothing)."""
    settings = settings or load_settings()
    policy = policy or load_policy(settings.policy_path)
    defaults = with_defaults(DocumentDefaults(), department=department, access=access, owner=owner,
                             effective_date=effective_date)
    scan = build_documents(documents, policy, defaults, strict=strict)
    report = write_documents(scan.documents, settings, progress, embedding_function=embedding_function)
    report.add_failures(scan.failures)
    return report


def build_documents(documents: Iterable[Mapping[str, Any]], policy: Policy, defaults: DocumentDefaults, *,
                    strict: bool = False) -> Scan:
    """Validate and render ``documents``; bad ones become failures (``strict`` raises)."""
    scan = Scan()
    for number, item in enumerate(documents, start=1):
        try:
            scan.documents.append(_document(item, number, policy, defaults))
        except CorpusError as exc:
            if strict:
                raise
            scan.failures.append(Failure(_label(item, number), str(exc)))
    return scan


def _document(item: Mapping[str, Any], number: int, policy: Policy, defaults: DocumentDefaults) -> Any:
    if not isinstance(item, Mapping) or not isinstance(item.get("text"), str):
        raise CorpusError(f"document {number}: expected a mapping with a 'text' string")
    return make_document(_label(item, number), item["text"], policy, dict(item), defaults)


def _label(item: Any, number: int) -> str:
    """The document id: the caller's, or a stable hash of the text."""
    if isinstance(item, Mapping) and str(item.get("id") or "").strip():
        return str(item["id"]).strip()
    text = item.get("text") if isinstance(item, Mapping) else None
    if isinstance(text, str):
        return "doc-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return f"document {number}"


def delete_documents(ids: Iterable[str], settings: Settings | None = None, *,
                     embedding_function: Any = None) -> IngestReport:
    """Remove documents by id (a file's path relative to its folder, or the id given when added)."""
    return delete_sources([str(i) for i in ids], settings or load_settings(), embedding_function=embedding_function)
