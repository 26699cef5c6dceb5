"""``opsgraph memory``: list, show, search and forget episodes and lessons."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Optional

import typer
from rich.table import Table

from opsgraph.cli.app import _print_json, _settings, app, console, user_errors
from opsgraph.cli.render import is_narrow, print_record, shorten
from opsgraph.errors import UserError

memory_app = typer.Typer(
    help="Episodic memory and lessons from human feedback: list, show, search, forget.\n\n"
    "Examples:\n\n"
    "  opsgraph memory list --subject SKU-003\n\n"
    '  opsgraph memory search "approver trims purchase order quantities"\n\n'
    "  opsgraph memory forget le_3f2a9c1d04 --by dana",
    no_args_is_help=True,
)
app.add_typer(memory_app, name="memory")
MAX_LIST = 1000
ID_WIDTH = len("le_0123456789")


@contextmanager
def _memory() -> Iterator[Any]:
    """The memory layer of the data home (audited), without the world or the knowledge layer."""
    from opsgraph.governance.audit import open_audit_store
    from opsgraph.governance.policy import load_policy
    from opsgraph.memory import Memory, close_store, open_memory_store

    settings = _settings()
    audit = open_audit_store(settings)
    store = open_memory_store(settings)
    try:
        yield Memory(store, load_policy(settings.policy_path), audit=audit)
    finally:
        close_store(store)
        audit.close()


@memory_app.command("list")
@user_errors
def memory_list(
    subject: Optional[str] = typer.Option(None, "--subject", help="Only memories about this id (SUP-006, SKU-003, "
                                                                  "CUST-001, CAR-002, SH-0001)."),
    kind: Optional[str] = typer.Option(None, "--kind", help="episode or lesson."),
    limit: int = typer.Option(50, "--limit", help="How many to show (newest first)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List episodes and lessons, newest first.

    Example: opsgraph memory list --subject SUP-006 --kind lesson
    """
    if kind not in (None, "episode", "lesson"):
        raise UserError(f"--kind must be episode or lesson, got {kind!r}")
    if not 1 <= limit <= MAX_LIST:
        raise UserError(f"--limit must be between 1 and {MAX_LIST:,}, got {limit}")
    with _memory() as memory:
        found = memory.items(subject=subject, kind=kind)[:limit]
    _print_items(found, as_json, empty="no memories yet" + (f" about {subject}" if subject else ""))


@memory_app.command("search")
@user_errors
def memory_search(
    query: str = typer.Argument(..., help="What to look for, in plain words."),
    subject: Optional[str] = typer.Option(None, "--subject", help="Only memories about this id."),
    limit: int = typer.Option(10, "--limit", help="How many to show (closest first)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Search memories by meaning (offline embedding), closest first.

    Example: opsgraph memory search "quantity trimmed by the approver" --subject SKU-003
    """
    if not query.strip():
        raise UserError("the query is empty; say what to look for, e.g. 'rejected supplier'")
    if not 1 <= limit <= MAX_LIST:
        raise UserError(f"--limit must be between 1 and {MAX_LIST:,}, got {limit}")
    with _memory() as memory:
        found = memory.search(query, limit=limit, subject=subject)
    _print_items(found, as_json, empty="no memories yet")


@memory_app.command("show")
@user_errors
def memory_show(
    memory_id: str = typer.Argument(..., help="A memory id from 'opsgraph memory list'."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Show one episode or lesson in full.

    Example: opsgraph memory show le_3f2a9c1d04
    """
    with _memory() as memory:
        value = memory.get(memory_id.strip())
    if value is None:
        raise UserError(f"no memory with id {memory_id!r}; see 'opsgraph memory list'")
    if as_json:
        _print_json(value)
        return
    print_record(console, f"{value['id']} ({value.get('kind')}, {str(value.get('created_at', ''))[:16]})",
                 [value.get("text", ""), *_detail_lines(value)])


@memory_app.command("forget")
@user_errors
def memory_forget(
    memory_id: str = typer.Argument(..., help="A memory id from 'opsgraph memory list'."),
    by: str = typer.Option("operator", "--by", help="Who asks to forget it (recorded in the audit trail)."),
) -> None:
    """Delete an episode or lesson everywhere it is stored (audited as memory_forget).

    Example: opsgraph memory forget le_3f2a9c1d04 --by dana
    """
    with _memory() as memory:
        value = memory.forget(memory_id.strip(), by=by)
    console.print(f"forgot {value['id']} ({value.get('kind')}): {shorten(value.get('text', ''), 60)}",
                  markup=False, highlight=False, soft_wrap=True)


def _print_items(found: list[dict[str, Any]], as_json: bool, empty: str) -> None:
    if as_json:
        _print_json(found)
        return
    if not found:
        console.print(empty, markup=False, highlight=False)
        return
    if is_narrow(console):
        for value in found:
            print_record(console, value["id"], [_headline(value), value.get("text", "")])
        return
    console.print(_table(found))


def _headline(value: dict[str, Any]) -> str:
    subjects = ", ".join(sid for ids in (value.get("subjects") or {}).values() for sid in ids)
    score = f" · score {value['score']:.2f}" if value.get("score") is not None else ""
    return f"{value.get('kind')} · {str(value.get('created_at', ''))[:10]} · {subjects or '-'}{score}"


def _table(found: list[dict[str, Any]]) -> Table:
    # The id is what 'show' and 'forget' take: its column never wraps or shrinks.
    table = Table()
    table.add_column("id", no_wrap=True, min_width=ID_WIDTH)
    table.add_column("kind", no_wrap=True)
    table.add_column("date", no_wrap=True)
    table.add_column("text", overflow="fold", ratio=1)
    for value in found:
        table.add_row(value["id"], str(value.get("kind")), str(value.get("created_at", ""))[:10],
                      shorten(value.get("text", ""), 240))
    return table


def _detail_lines(value: dict[str, Any]) -> list[str]:
    keys = ("category", "subjects", "decision", "by", "reason", "changes", "stated_values", "graph", "thread_id",
            "event_type", "event", "decisions", "outcome", "cost")
    return [f"{key}: {shorten(value[key], 300)}" for key in keys if value.get(key) not in (None, "", [], {})]
