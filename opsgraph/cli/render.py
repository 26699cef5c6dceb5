"""Rendering of steps, reports, approvals and audit trails for the terminal."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

# Below this width a table with a free-text column would have to cut cells (ids included), so
# list views print each record as a headline plus indented lines instead.
NARROW_BELOW = 100
DETAIL_INDENT = 4


def shorten(value: Any, limit: int = 90) -> str:
    """One line of at most ``limit`` characters: whitespace folded, non-text shown as JSON."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def whole_words(value: Any, limit: int) -> str:
    """Like :func:`shorten`, but cut between words, so an id is either shown whole or not at all."""
    text = shorten(value, 10 * limit)
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return (text[:cut] if cut > 0 else text[: limit - 1]).rstrip(",;:") + "…"


def is_narrow(console: Console) -> bool:
    """True when the console is too narrow for the wide table layouts (a default terminal is 80 columns)."""
    return console.width < NARROW_BELOW


def print_record(console: Console, headline: str, details: list[str]) -> None:
    """One record: a bold headline, then indented detail lines that wrap at the console width.

    Nothing is cut: a word longer than a line (an id, a URL) folds onto the next line whole.
    """
    console.print(Text(headline, style="bold", overflow="fold"))
    for detail in details:
        if detail:
            console.print(Padding(Text(detail, overflow="fold"), (0, 0, 0, DETAIL_INDENT)))


def pairs(value: Any, limit: int = 240) -> str:
    """A dict as ``key=value, ...`` on at most ``limit`` characters, cut between pairs, never inside a value.

    Each value is shortened on its own (ids are short, so they stay whole); the pairs that do not
    fit are counted, so the reader knows to ask ``--json`` for the rest.
    """
    if not isinstance(value, dict):
        return shorten("" if value is None else value, limit)
    shown: list[str] = []
    for key, item in value.items():
        text = f"{key}={whole_words(item, 60)}"
        if shown and sum(len(s) + 2 for s in shown) + len(text) > limit:
            return ", ".join(shown) + f" (+{len(value) - len(shown)} more; --json shows all)"
        shown.append(text)
    return ", ".join(shown)


def call_summary(name: str, args: dict[str, Any]) -> str:
    """One-line summary of a tool call."""
    inner = ", ".join(f"{k}={shorten(v, 40)}" for k, v in args.items())
    return f"{name}({inner})"


def step_printer(console: Console):
    """A callback for Runner that prints one line per agent step."""

    def on_step(node: str, update: dict[str, Any]) -> None:
        if node == "__interrupt__":
            values = [getattr(i, "value", i) for i in update.get("value", ())] if "value" in update else []
            budget = any(isinstance(v, dict) and v.get("type") == "budget" for v in values)
            console.print("[yellow]⏸  budget spent; run paused[/yellow]" if budget
                          else "[yellow]⏸  waiting for human approval[/yellow]")
            return
        for message in update.get("messages", []) or []:
            _print_message(console, node, message)

    return on_step


def _print_message(console: Console, node: str, message: Any) -> None:
    kind = getattr(message, "type", "")
    if kind == "ai" and message.tool_calls:
        for call in message.tool_calls:
            console.print(f"  [cyan]{message.name or node}[/cyan] → {escape(call_summary(call['name'], call['args']))}")
    elif kind == "ai":
        label = message.name or node
        first = str(message.content).splitlines()[0] if message.content else ""
        style = "magenta" if label == "supervisor" else "green"
        console.print(f"[{style}]{label}[/{style}] {escape(shorten(first, 110))}")
    elif kind == "tool":
        mark = "[red]✗[/red]" if message.status == "error" else "[green]✓[/green]"
        console.print(f"    {mark} {message.name}: {escape(shorten(message.content, 100))}")


def _report_value(value: Any) -> list[str]:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return ["  - " + shorten(", ".join(f"{k}={v}" for k, v in item.items()), 150) for item in value]
    if isinstance(value, list):
        return [shorten(", ".join(str(v) for v in value), 150) or "none"]
    return [shorten(value, 150) if isinstance(value, (dict, list)) else str(value)]


def print_generic_report(console: Console, report: dict[str, Any]) -> None:
    """Any graph's report as a panel: headline, stop reason, each field on its own lines, cost."""
    from rich.markup import escape

    lines = [f"[bold]{escape(str(report.get('title', 'Report')))}[/bold] — outcome: {report.get('outcome', '-')}"]
    if report.get("stop_reason"):
        lines.append(f"[red]stopped:[/red] {escape(str(report['stop_reason']))}")
    for key, value in report.items():
        if key in ("title", "outcome", "stop_reason", "cost") or value in (None, "", [], {}):
            continue
        if isinstance(report.get("summary"), list):  # the graph wrote its own readable summary: show only that
            lines += [escape(str(line)) for line in report["summary"]]
            break
        rendered = _report_value(value)
        label = key.replace("_", " ").capitalize()
        lines += [f"{label}: {escape(rendered[0])}"] if len(rendered) == 1 and not rendered[0].startswith("  - ") \
            else [f"{label}:"] + [escape(line) for line in rendered]
    cost = report.get("cost") or {}
    if cost:
        lines.append(f"Cost: ${cost.get('total_usd', 0):.4f} over {cost.get('model_calls', 0)} model calls"
                     + (f"; {cost['pricing']}" if cost.get("pricing") else ""))
    console.print(Panel("\n".join(lines), title="Report", expand=False))


def print_report(console: Console, report: dict[str, Any]) -> None:
    """The incident report as a panel (other graphs' reports in the generic layout)."""
    if "what_happened" not in report:
        print_generic_report(console, report)
        return
    lines = [f"[bold]{report['title']}[/bold] — outcome: {report['outcome']}"]
    if report.get("stop_reason"):
        lines.append(f"[red]stopped:[/red] {report['stop_reason']}")
    lines.append(report["what_happened"])
    lines.append(f"Orders affected: {', '.join(report['orders_affected']) or 'none'}")
    lines.append(f"Customers notified: {', '.join(report['customers_notified']) or 'none'}")
    for t in report["transfers"]:
        lines.append(f"Transfer: {t.get('quantity')} × {t.get('sku_id')} {t.get('from_dc_id')} → {t.get('to_dc_id')}")
    for po in report["purchase_orders"]:
        total = f"${po['total_usd']:,.2f}" if po.get("total_usd") is not None else "-"
        lines.append(f"Purchase order: {po.get('po_id') or '(none)'} {po.get('supplier_id')} {total} [{po['status']}]")
    for a in report["approvals"]:
        lines.append(f"Approval: {a['kind']} {a['decision']} by {a['by']}" + (f" — {a['reason']}" if a["reason"] else ""))
    lines.append("Actions: " + ("; ".join(report["actions_taken"]) or "none"))
    if report["policies_cited"]:
        # Citations look like "[source § heading]": escaped, or Rich would take them for markup.
        lines.append("Policies: " + "; ".join(escape(str(p)) for p in report["policies_cited"]))
    cost = report["cost"]
    lines.append(f"Cost: ${cost['total_usd']:.4f} over {cost['model_calls']} model calls "
                 f"({cost['input_tokens']} in / {cost['output_tokens']} out tokens)"
                 + (f"; {cost['pricing']}" if cost.get("pricing") else ""))
    console.print(Panel("\n".join(lines), title="Incident report", expand=False))


def print_pending(console: Console, thread_id: str, pending: list[dict[str, Any]]) -> None:
    """What is waiting for a human, and how to answer."""
    if any(item.get("type") == "budget" for item in pending):
        print_budget_pause(console, thread_id, [i for i in pending if i.get("type") == "budget"])
        pending = [i for i in pending if i.get("type") != "budget"]
        if not pending:
            return
    for item in pending:
        proposal = item.get("proposal", {})
        if item.get("type") == "escalation":
            print_escalation(console, item)
            continue
        console.print(Panel(
            f"[bold]{item.get('kind', 'approval')}[/bold] proposed by {item.get('agent')}: "
            f"{call_summary(item.get('tool', ''), item.get('args', {}))}\n"
            f"Amount: ${item.get('amount_usd', 0):,.2f} — {item.get('why') or 'above ' + str(item.get('policy'))}\n"
            f"Supplier: {proposal.get('supplier_name', proposal.get('supplier_id', '-'))}",
            title="Approval required", expand=False,
        ))
    console.print(f"Resume with: opsgraph runs resume {thread_id} --approve | --reject --reason '…' | "
                  "--edit '{\"quantity\": 100}'")


def print_escalation(console: Console, item: dict[str, Any]) -> None:
    """A review handed to a human: why, what is proposed, and the last verdicts."""
    from rich.markup import escape

    last = max((v["round"] for v in item.get("verdicts", [])), default=0)
    said = [f"  {v['reviewer']}: {v['verdict']} ({v['confidence']:.2f}) {'; '.join(v['reasons'])}"
            for v in item.get("verdicts", []) if v["round"] == last]
    console.print(Panel(
        f"[bold]{escape(item.get('reason', 'escalated'))}[/bold] ({escape(str(item.get('policy')))})\n"
        f"Proposed: {escape(call_summary(item.get('tool', ''), item.get('args', {})))}\n"
        f"Amount: ${item.get('amount_usd', 0):,.2f}\nLast verdicts:\n" + escape("\n".join(said) or "  none")
        + f"\nThe full thread ({len(item.get('thread', []))} messages) is in the interrupt payload.",
        title="Escalated to a human", expand=False,
    ))


def print_budget_pause(console: Console, thread_id: str, paused: list[dict[str, Any]]) -> None:
    """Which budget ran out, and how to continue the paused run."""
    for item in paused:
        console.print(Panel(
            f"[bold]{item['message']}[/bold]\n"
            f"The run stopped at a step boundary after {item.get('model_calls', 0)} model calls; "
            "its state is checkpointed.",
            title="Budget exhausted", expand=False,
        ))
        options = " ".join(item.get("options", []))
        console.print(f"Resume with a raised cap: opsgraph runs resume {thread_id} {options}", markup=False,
                      highlight=False)


def cost_table(cost: dict[str, Any]) -> Table:
    """Per-agent and per-tier cost breakdown."""
    table = Table(title="Cost by agent and tier")
    for column in ("group", "name", "calls", "tokens", "cost (USD)"):
        table.add_column(column)
    for group in ("by_agent", "by_tier"):
        for name, row in cost.get(group, {}).items():
            table.add_row(group[3:], name, str(row["calls"]), str(row["tokens"]), f"{row['cost_usd']:.6f}")
    table.add_row("total", "", str(cost.get("model_calls", 0)),
                  str(cost.get("input_tokens", 0) + cost.get("output_tokens", 0)), f"{cost.get('total_usd', 0):.6f}")
    return table
