"""``opsgraph kb``: ingest the knowledge corpus, search it as an agent, show what is stored.

Mounted by the main CLI as ``opsgraph kb``; heavy imports (Chroma, onnxruntime) happen
inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from opsgraph.cli.render import shorten

kb_app = typer.Typer(
    help="Knowledge base: ingest the policy/SOP corpus into Chroma, search it as an agent, show stats.\n\n"
    "Examples:\n\n"
    "  opsgraph kb ingest\n\n"
    '  opsgraph kb search "who must approve a large purchase order" --as procurement\n\n'
    "  opsgraph kb ingest ./my-corpus --department research\n\n"
    "  opsgraph kb stats",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console()
err = Console(stderr=True)


def _user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Print errors a user can fix as one line and exit 1, without a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from opsgraph.errors import UserError
        from opsgraph.governance.policy import PolicyError
        from opsgraph.settings import SettingsError

        try:
            return fn(*args, **kwargs)
        except (UserError, PolicyError, SettingsError) as exc:
            err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("interrupted; run the command again to finish (ingestion is idempotent)")
            raise typer.Exit(130) from None

    return wrapper


def _settings() -> Any:
    from opsgraph.settings import load_settings

    return load_settings()


@kb_app.command("ingest")
@_user_errors
def ingest_cmd(
    path: Optional[Path] = typer.Argument(None, help="Folder of .md, .txt and .jsonl documents "
                                                     "(default: the shipped knowledge/)."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Empty the store first and embed everything again "
                                                          "(needed after changing the embedding)."),
    prune: bool = typer.Option(False, "--prune", help="Also remove stored documents that are not in this folder."),
    strict: bool = typer.Option(False, "--strict", help="Stop at the first document that cannot be read."),
    department: Optional[str] = typer.Option(None, "--department", help="Department of documents that state "
                                                                         "none (default: general)."),
    access: Optional[str] = typer.Option(None, "--access", help="Access level of documents that state none "
                                                                "(default: internal)."),
    owner: Optional[str] = typer.Option(None, "--owner", help="Owner of documents that state none."),
    effective_date: Optional[str] = typer.Option(None, "--effective-date", help="Effective date of documents "
                                                                                 "that state none."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Add the documents of a folder to the store: new and changed ones are embedded, the rest cost nothing.

    Documents already in the store stay unless --prune or --rebuild says otherwise. A document
    that cannot be read is reported with its path and reason; the others are ingested.

    Example: opsgraph kb ingest ./my-corpus --department research --access public
    """
    from opsgraph.knowledge.corpus import with_defaults
    from opsgraph.knowledge.ingest import ingest

    settings = _settings()
    defaults = with_defaults(None, department=department, access=access, owner=owner, effective_date=effective_date)
    with _progress_bar(disabled=as_json) as on_progress:
        report = ingest(path, settings, on_progress, rebuild=rebuild, prune=prune, strict=strict, defaults=defaults)
    if as_json:
        console.print_json(json.dumps(report.as_dict()))
        return
    _print_report(report)


@contextlib.contextmanager
def _progress_bar(*, disabled: bool) -> Iterator[Callable[[Any], None]]:
    """A progress callback drawing a transient bar on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True, disable=disabled) as bar:
        task = bar.add_task("ingesting", total=None)

        def on_progress(step: Any) -> None:
            bar.update(task, total=step.total, completed=step.done, description=f"{step.action:9} {step.source}")

        yield on_progress


def _print_report(report: Any) -> None:
    table = Table("", "documents", "chunks", title=f"ingested into {report.store}", title_justify="left")
    table.add_row("added", str(report.files_added), "")
    table.add_row("changed", str(report.files_changed), "")
    table.add_row("deleted", str(report.files_deleted), str(report.chunks_deleted))
    table.add_row("unchanged", str(report.files_unchanged), "")
    table.add_row("failed", str(report.files_failed), "")
    table.add_row("embedded", "", str(report.chunks_embedded))
    table.add_row("in store", "", str(report.chunks_total))
    console.print(table)
    console.print(f"embedding: {report.embedding}   time: {report.seconds:.2f} s", markup=False)
    for failure in report.failures:
        err.print(f"skipped: {failure['reason']}", markup=False, highlight=False,
                  soft_wrap=True)
    if report.failures:
        err.print(f"{len(report.failures)} document(s) skipped; fix them and run the command again "
                  "(--strict stops at the first)", markup=False)


@kb_app.command("delete")
@_user_errors
def delete_cmd(
    ids: list[str] = typer.Argument(..., help="Document ids: a path relative to its folder "
                                              "(procurement/po-approval.md) or the id given when added."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Remove documents and their chunks from the store.

    Example: opsgraph kb delete notes/old-policy.md
    """
    from opsgraph.knowledge.ingest import delete_sources

    report = delete_sources(ids, _settings())
    if as_json:
        console.print_json(json.dumps(report.as_dict()))
        return
    missing = len(set(ids)) - report.files_deleted
    console.print(f"deleted {report.files_deleted} document(s), {report.chunks_deleted} chunk(s); "
                  f"{report.chunks_total} chunk(s) left" + (f"; {missing} id(s) not found" if missing else ""),
                  markup=False)


@kb_app.command("search")
@_user_errors
def search_cmd(
    query: str = typer.Argument(..., help='What to look for, e.g. "refund approval limit".'),
    agent: Optional[str] = typer.Option(None, "--as", help="Search with this agent's permissions "
                                                           "(default: operator, full access)."),
    k: int = typer.Option(5, "-k", "--k", min=1, help="How many results to show (up to the store's size)."),
    mode: Optional[str] = typer.Option(None, "--mode", help="Ranking: hybrid (default), vector or lexical."),
    group_by: str = typer.Option("chunk", "--group-by", help="chunk (default) or document: each document "
                                                             "once, by its best chunk."),
    as_json: bool = typer.Option(False, "--json", help="Print the hits as JSON."),
) -> None:
    """Rank knowledge chunks (or documents) for a question, with scores and citations.

    Example: opsgraph kb search "who must approve a large purchase order" --as procurement
    """
    from opsgraph.governance.policy import load_policy
    from opsgraph.knowledge.progress import ConsoleProgress
    from opsgraph.knowledge.retrieval import Retriever

    settings = _settings()
    retriever = Retriever(settings, load_policy(settings.policy_path),
                          progress=ConsoleProgress("embedding the shipped knowledge base", console=err))
    retriever.scope(agent)  # unknown agent: fail before loading anything
    hits = retriever.search(query, agent=agent, k=k, mode=mode, group_by=group_by)
    if as_json:
        console.print_json(json.dumps([h.as_dict() for h in hits]))
        return
    who = f"as {agent}" if agent else "as operator (full access)"
    # Rows in rank order; "score" is the ranking score, "similarity" the cosine to the query.
    table = Table(title=Text(f"{query!r} {who}"))
    for name in ("#", "score", "similarity", "citation", "access", "text"):
        table.add_column(name, overflow="fold", ratio=3 if name in ("citation", "text") else None)
    for rank, hit in enumerate(hits, start=1):
        similarity = "-" if hit.similarity is None else f"{hit.similarity:.3f}"
        table.add_row(str(rank), f"{hit.score:.3f}", similarity, Text(hit.citation), hit.access,
                      Text(shorten(hit.text, 240)))
    console.print(table if hits else Text(f"no results {who}"))


@kb_app.command("stats")
@_user_errors
def stats_cmd(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Documents and chunks per department, the embedding that built the store, and where it is.

    Example: opsgraph kb stats
    """
    stats = collect_stats(_settings())
    if as_json:
        console.print_json(json.dumps(stats))
        return
    console.print(f"store: {stats['store']}", markup=False)
    console.print(f"embedding: {stats['embedding'] or '-'} (settings select {stats['configured_embedding']})",
                  markup=False)
    if stats["embedding"] and stats["embedding"] != stats["configured_embedding"]:
        err.print("warning: the store was built with another embedding; searches fail until you run "
                  "'opsgraph kb ingest --rebuild' or select that embedding again", markup=False)
    if not stats["chunks"]:
        console.print("the collection is empty; run 'opsgraph kb ingest'")
        return
    table = Table("department", "documents", "chunks", "access levels",
                  title=f"{stats['documents']} documents, {stats['chunks']} chunks")
    for name, row in sorted(stats["departments"].items()):
        table.add_row(name, str(row["documents"]), str(row["chunks"]), ", ".join(row["access"]))
    console.print(table)


def _access_order(level: str) -> tuple[int, str]:
    order = ("public", "internal", "confidential", "restricted")
    return (order.index(level) if level in order else len(order), level)


def collect_stats(settings: Any) -> dict[str, Any]:
    """What ``kb stats`` shows, as plain data (reads metadata only; loads no model)."""
    from opsgraph.knowledge.embeddings import parse_spec
    from opsgraph.knowledge.store import KnowledgeStore, iter_records

    store = KnowledgeStore(settings)
    raw = store.peek()
    meta = dict(raw.metadata or {}) if raw is not None else {}
    records = list(iter_records(raw, include=["metadatas"])) if raw is not None else []
    sources: dict[str, set[str]] = defaultdict(set)
    chunks: Counter[str] = Counter()
    access: dict[str, set[str]] = defaultdict(set)
    for record in records:
        m = record["metadatas"] or {}
        dept = str(m.get("department"))
        sources[dept].add(str(m.get("source")))
        chunks[dept] += 1
        access[dept].add(str(m.get("access")))
    return {
        "store": store.location,
        "collection": raw.name if raw is not None else None,
        "embedding": meta.get("embedding"),
        "embedding_dim": meta.get("embedding_dim"),
        "configured_embedding": ":".join(parse_spec(settings.embedding)),
        "revision": meta.get("revision"),
        "documents": sum(len(s) for s in sources.values()),
        "chunks": len(records),
        "departments": {d: {"documents": len(sources[d]), "chunks": chunks[d],
                            "access": sorted(access[d], key=_access_order)}
                        for d in sources},
    }
