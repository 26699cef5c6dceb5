"""``opsgraph graphs`` and ``opsgraph graph show``: what each workflow looks like.

The structure comes from LangGraph itself (``compiled.get_graph()``: nodes, and edges
flagged conditional when a node routes with ``Command``/a router). Pictures are drawn
offline: Mermaid text, or a PNG drawn with matplotlib from a layered layout — no web
service and no Graphviz binary.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import typer
from rich.markup import escape
from rich.table import Table

from opsgraph.cli.app import _print_json, app, console, user_errors
from opsgraph.errors import UserError

graph_app = typer.Typer(
    help="Look at a workflow's structure: nodes, edges, Mermaid text or a PNG picture.\n\n"
    "Examples:\n\n"
    "  opsgraph graph show supply_chain_exception\n\n"
    "  opsgraph graph show supply_chain_exception --png graph.png --mermaid graph.mmd",
    no_args_is_help=True,
)
app.add_typer(graph_app, name="graph")
START, END = "__start__", "__end__"


@dataclass(frozen=True)
class Structure:
    """Nodes and edges of a compiled graph, as LangGraph reports them."""

    graph_id: str
    topology: str
    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str, bool], ...]  # (source, target, conditional)
    mermaid: str
    # Nodes that run once per LangGraph Send, with the branches a run sends: (node, (branch, ...)).
    fan_out: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def as_dict(self) -> dict:
        """Plain data for ``--json``."""
        return {"graph_id": self.graph_id, "topology": self.topology, "nodes": list(self.nodes),
                "edges": [{"source": s, "target": t, "conditional": c} for s, t, c in self.edges],
                "fan_out": {node: list(branches) for node, branches in self.fan_out}}


def graph_structure(graph_id: str, xray: bool = False) -> Structure:
    """Compile ``graph_id`` (no checkpointer) and read its drawable structure."""
    from opsgraph.registry import get_entry
    from opsgraph.runner import compile_graph

    entry = get_entry(graph_id)
    drawable = compile_graph(graph_id).get_graph(xray=xray)
    edges = tuple((e.source, e.target, bool(e.conditional)) for e in drawable.edges)
    fan_out = tuple((name, tuple(node.metadata["fan_out"])) for name, node in drawable.nodes.items()
                    if (node.metadata or {}).get("fan_out"))
    return Structure(graph_id, entry.topology, tuple(drawable.nodes), edges, drawable.draw_mermaid(), fan_out)


def print_structure(structure: Structure) -> None:
    """Nodes, then each node's edges: → always taken, ⇢ conditional (the node chooses)."""
    inner = [n for n in structure.nodes if n not in (START, END)]
    console.print(f"[bold]{structure.graph_id}[/bold] ({structure.topology}) — {len(inner)} nodes: {', '.join(inner)}")
    always: dict[str, list[str]] = defaultdict(list)
    maybe: dict[str, list[str]] = defaultdict(list)
    for source, target, conditional in structure.edges:
        (maybe if conditional else always)[source].append(target)
    width = max((len(n) for n in structure.nodes), default=10)
    for node in structure.nodes:
        if always[node]:
            console.print(f"  {node:<{width}} → {', '.join(always[node])}", highlight=False)
        if maybe[node]:
            console.print(f"  {node:<{width}} ⇢ {' | '.join(maybe[node])}  [dim](conditional)[/dim]", highlight=False)
    for node, branches in structure.fan_out:
        console.print(f"  {node:<{width}} ×{len(branches)} in parallel (Send): {', '.join(branches)}", highlight=False)
    console.print("[dim]→ always taken · ⇢ conditional: the node decides at run time[/dim]")


@app.command("graphs")
@user_errors
def graphs_cmd(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List the registered workflows: graph id, topology, description.

    Examples:

      opsgraph graphs

      opsgraph graphs --json
    """
    from opsgraph.registry import graph_entries

    entries = list(graph_entries().values())
    if as_json:
        _print_json([{"graph_id": e.graph_id, "topology": e.topology, "description": e.description,
                      "chat": e.chat_input is not None} for e in entries])
        return
    table = Table()
    # Ids whole (they are typed into other commands); the description wraps.
    table.add_column("graph", no_wrap=True, min_width=max(len(e.graph_id) for e in entries))
    table.add_column("topology", overflow="fold")
    table.add_column("description", overflow="fold")
    for entry in entries:
        table.add_row(entry.graph_id, entry.topology, escape(entry.description))
    console.print(table)


@graph_app.command("show")
@user_errors
def graph_show(
    graph_id: str = typer.Argument(..., help="Workflow id, e.g. supply_chain_exception (see: opsgraph graphs)."),
    mermaid: Optional[Path] = typer.Option(None, "--mermaid", help="Write Mermaid text to this file."),
    png: Optional[Path] = typer.Option(None, "--png", help="Draw a PNG picture to this file (offline)."),
    xray: bool = typer.Option(False, "--xray", help="Expand subgraphs (hierarchical workflows)."),
    as_json: bool = typer.Option(False, "--json", help="Print nodes and edges as JSON."),
) -> None:
    """Print a workflow's structure: nodes, edges, and which edges are conditional.

    Examples:

      opsgraph graph show supply_chain_exception

      opsgraph graph show supply_chain_exception --png graph.png

      opsgraph graph show supply_chain_exception --mermaid graph.mmd --json
    """
    structure = graph_structure(graph_id, xray=xray)
    if mermaid is not None:
        _write(mermaid, lambda path: path.write_text(structure.mermaid))
    if png is not None:
        from opsgraph.cli.graph_png import draw_png

        _write(png, lambda path: draw_png(structure, path))
    if as_json:
        _print_json(structure.as_dict())
        return
    print_structure(structure)
    for label, path in (("Mermaid", mermaid), ("PNG", png)):
        if path is not None:
            console.print(f"{label} written to {escape(str(path))}", highlight=False)


def _write(path: Path, write: Callable[[Path], object]) -> None:
    if path.parent and not path.parent.exists():
        raise UserError(f"cannot write {path}: directory {path.parent} does not exist")
    try:
        write(path)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
