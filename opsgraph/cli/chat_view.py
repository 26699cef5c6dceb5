"""What the chat REPL shows about a thread: approvals, history, tool traces, state, reports."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from opsgraph.cli.chat_stream import message_text
from opsgraph.cli.render import call_summary, print_report, shorten

REPORT_KEYS = {"title", "outcome", "what_happened", "orders_affected", "customers_notified", "transfers",
               "purchase_orders", "approvals", "actions_taken", "policies_cited", "cost"}
REPORT_SKIP = {"title", "outcome", "stop_reason", "reply", "summary", "policies_cited", "cost"}
TRACE_RESULT_CHARS = 1500




def print_approval(console: Console, item: dict[str, Any]) -> None:
    """A pending approval as a panel, with the chat commands that answer it."""
    if item.get("type") == "budget":
        print_budget(console, item)
        return
    if item.get("type") != "approval":
        console.print(Panel(escape(json.dumps(item, indent=2, default=str)), title="The workflow asks", expand=False))
        console.print("Answer by typing a line; it is sent back to the workflow.")
        return
    proposal = item.get("proposal") or {}
    lines = [f"[bold]{escape(str(item.get('kind', 'action')))}[/bold] proposed by {escape(str(item.get('agent') or '-'))}",
             escape(call_summary(str(item.get("tool", "")), item.get("args") or {}))]
    if item.get("amount_usd") is not None:
        lines.append(f"Amount: [bold]${float(item['amount_usd']):,.2f}[/bold]"
                     f" (threshold ${float(item.get('threshold_usd') or 0):,.2f})")
    if item.get("policy"):
        lines.append(f"Policy: {escape(str(item['policy']))}")
    if proposal.get("supplier_id") or proposal.get("supplier_name"):
        lines.append(f"Supplier: {escape(str(proposal.get('supplier_name') or '-'))} ({escape(str(proposal.get('supplier_id') or '-'))})")
    for line in proposal.get("lines") or []:
        if isinstance(line, dict) and "sku_id" in line:
            price = f" @ ${line['unit_price']:,.2f}" if isinstance(line.get("unit_price"), (int, float)) else ""
            lines.append(f"  {line.get('quantity')} × {escape(str(line['sku_id']))}{price}")
    if proposal.get("expected_date"):
        lines.append(f"Expected: {escape(str(proposal['expected_date']))}")
    console.print(Panel("\n".join(lines), title="Approval required", border_style="yellow", expand=False))
    console.print(r'Answer with [bold]/approve[/bold] \[note] · [bold]/reject[/bold] <reason> · '
                  '[bold]/edit[/bold] {"quantity": 100}', highlight=False)


def print_budget(console: Console, item: dict[str, Any]) -> None:
    """A run paused because a budget ran out, and how to raise the cap from the chat."""
    console.print(Panel(f"[bold]{escape(str(item.get('budget', 'budget')))}[/bold] ran out: "
                        f"{escape(str(item.get('message', '')))}\n"
                        f"The run paused after {item.get('model_calls', 0)} model calls; its state is saved.",
                        title="Budget exhausted", border_style="yellow", expand=False))
    options = " ".join(str(o) for o in item.get("options") or ["--budget-usd <USD>"])
    console.print(f"Raise it with: /budget {escape(options)}", highlight=False)


def print_any_report(console: Console, report: dict[str, Any], brief: bool = False) -> None:
    """A graph's report: one line (``brief``), the incident panel, or a compact panel of its fields."""
    head = f"[bold]{escape(str(report.get('title', 'Report')))}[/bold] — {escape(str(report.get('outcome', '-')))}"
    if report.get("stop_reason"):
        head += f" ({escape(str(report['stop_reason']))})"
    if brief:
        console.print(f"[dim]report:[/dim] {head}", highlight=False)
    elif REPORT_KEYS <= set(report):
        print_report(console, report)
    else:
        lines = [head] + [f"{escape(key)}: {escape(text)}" for key, text in _report_fields(report)]
        cost = report.get("cost") if isinstance(report.get("cost"), dict) else {}
        if cost:
            lines.append(f"cost: ${float(cost.get('total_usd', 0)):.4f} over {cost.get('model_calls', 0)} model calls")
        console.print(Panel("\n".join(lines), title="Report", expand=False), highlight=False)


def _report_fields(report: dict[str, Any]) -> list[tuple[str, str]]:
    """Short ``key: value`` lines for a report's fields (the answer and citations are shown elsewhere)."""
    rows = []
    for key, value in report.items():
        if key in REPORT_SKIP or value in (None, "", [], {}):
            continue
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            text = "; ".join(value)
        elif isinstance(value, list):
            text = f"{len(value)} item{'s' if len(value) != 1 else ''}"
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
        rows.append((key, shorten(text, 140)))
    return rows


def print_citations(console: Console, citations: list[str]) -> None:
    """Knowledge citations under an answer."""
    if citations:
        console.print("[dim]Sources:[/dim]")
        for citation in citations:
            console.print(f"  [dim]{escape(citation)}[/dim]")


def print_history(console: Console, messages: list[Any]) -> None:
    """Every message of the thread, numbered (the numbers are what /trace takes)."""
    if not messages:
        console.print("no messages yet on this thread")
        return
    for index, message in enumerate(messages):
        kind = getattr(message, "type", "?")
        who = getattr(message, "name", None) or {"human": "you", "ai": "assistant"}.get(kind, kind)
        calls = getattr(message, "tool_calls", None) or []
        body = message_text(message) or (", ".join(c["name"] for c in calls))
        suffix = f"  [dim]({len(calls)} tool call{'s' if len(calls) != 1 else ''}: /trace {index})[/dim]" if calls else ""
        console.print(f"[dim]{index:>3}[/dim] [bold]{escape(str(who))}[/bold] [dim]{kind}[/dim]: "
                      f"{escape(shorten(body, 100))}{suffix}", highlight=False)


def print_trace(console: Console, messages: list[Any], index: int) -> None:
    """Tool calls of message ``index`` with their full arguments and results (else its full text)."""
    message = messages[index]
    calls = getattr(message, "tool_calls", None) or []
    if not calls:  # nothing to expand: show the whole message instead
        console.print(escape(message_text(message)) or f"message {index} is empty", highlight=False)
        return
    results = {getattr(m, "tool_call_id", None): m for m in messages[index + 1:] if getattr(m, "type", "") == "tool"}
    for call in calls:
        result = results.get(call.get("id"))
        status = "pending" if result is None else getattr(result, "status", "success")
        mark = {"success": "[green]✓[/green]", "error": "[red]✗[/red]"}.get(status, "[yellow]…[/yellow]")
        console.print(f"{mark} [bold]{escape(call['name'])}[/bold]  [dim]{escape(str(call.get('id')))}[/dim]")
        console.print(escape(json.dumps(call.get("args") or {}, indent=2, default=str)), highlight=False)
        if result is not None:
            console.print("[dim]→[/dim] " + escape(_pretty(message_text(result))[:TRACE_RESULT_CHARS]), highlight=False)


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2)
    except (ValueError, TypeError):
        return text


def print_state(console: Console, graph_id: str, thread_id: str, status: str, snapshot: Any) -> None:
    """A summary of the thread's checkpointed state."""
    values = dict(snapshot.values or {})
    table = Table(show_header=False, box=None)
    rows = [("graph", graph_id), ("thread", thread_id), ("status", status),
            ("active agent", values.get("active_agent") or "-"),
            ("next", ", ".join(snapshot.next) or "-"),
            ("checkpoint", str((snapshot.config or {}).get("configurable", {}).get("checkpoint_id", "-"))),
            ("saved at", str(snapshot.created_at or "-"))]
    for key, value in sorted(values.items()):
        if key in ("active_agent",):
            continue
        shown = f"{len(value)} item(s)" if isinstance(value, list) else shorten(json.dumps(value, default=str), 90)
        rows.append((key, shown))
    for key, value in rows:
        table.add_row(f"[bold]{escape(key)}[/bold]", escape(str(value)))
    console.print(table)
