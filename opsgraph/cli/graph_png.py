"""Draw a workflow graph to PNG with matplotlib: a layered (Sugiyama-style) layout, offline.

Layers follow the distance from ``__start__``; edges that point back up (loops such as
tools → agent → supervisor) are drawn as curves on the side, so the main flow reads top
to bottom. Solid arrows are always taken, dashed ones are conditional.
"""

from __future__ import annotations

from collections import defaultdict, deque
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsgraph.cli.graphviz import Structure

START, END = "__start__", "__end__"
X_GAP, Y_GAP, BOX_H = 2.6, 1.6, 0.55
SWEEPS = 4
FILL = {"start": "#e0e0e0", "supervisor": "#d9c8f0", "tools": "#fff2b3", "approval": "#ffd0a6", "agent": "#cfe3fa"}


def bfs_depth(nodes: tuple[str, ...], edges: list[tuple[str, str]]) -> tuple[dict[str, int], dict[str, int]]:
    """Distance from ``__start__`` and discovery order of every node (unreached nodes last)."""
    out = defaultdict(list)
    for source, target in edges:
        out[source].append(target)
    depth, order = {}, {}
    queue = deque([START] if START in nodes else nodes[:1])
    for root in queue:
        depth[root] = 0
    while queue:
        node = queue.popleft()
        order.setdefault(node, len(order))
        for nxt in out[node]:
            if nxt not in depth:
                depth[nxt] = depth[node] + 1
                queue.append(nxt)
    for node in nodes:
        depth.setdefault(node, 0)
        order.setdefault(node, len(order))
    return depth, order


def reachable(nodes: tuple[str, ...], edges: list[tuple[str, str]]) -> dict[str, set[str]]:
    """For every node, the nodes it can reach (itself included)."""
    out = defaultdict(list)
    for source, target in edges:
        out[source].append(target)
    found = {}
    for node in nodes:
        seen, stack = {node}, [node]
        while stack:
            for nxt in out[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        found[node] = seen
    return found


def assign_layers(nodes: tuple[str, ...], edges: list[tuple[str, str]]) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Longest-path layers over the forward edges; returns layers and the back edges.

    An edge is drawn as a loop back only when it points up (by distance from the start)
    *and* closes a cycle; an upward edge that closes no cycle is turned forward, so e.g.
    ``escalate -> finish`` puts ``finish`` below ``escalate``. The forward edges are acyclic.
    """
    depth, order = bfs_depth(nodes, edges)
    rank = {n: (depth[n], order[n]) for n in nodes}
    reach = reachable(nodes, edges)
    back = {(s, t) for s, t in edges if rank[t] <= rank[s] and s in reach[t]}
    forward = [(s, t) for s, t in edges if (s, t) not in back]
    indegree = {n: 0 for n in nodes}
    for _, target in forward:
        indegree[target] += 1
    layer = {n: 0 for n in nodes}
    ready = sorted((n for n in nodes if indegree[n] == 0), key=rank.__getitem__)
    while ready:  # Kahn's algorithm: each node is placed after all its forward predecessors
        node = ready.pop(0)
        for source, target in forward:
            if source == node:
                layer[target] = max(layer[target], layer[node] + 1)
                indegree[target] -= 1
                if indegree[target] == 0:
                    ready.append(target)
    if END in layer:  # the end sits alone at the bottom, where every path finishes
        layer[END] = max((v for n, v in layer.items() if n != END), default=0) + 1
    return layer, back


def order_layers(layer: dict[str, int], edges: list[tuple[str, str]], order: dict[str, int]) -> list[list[str]]:
    """Nodes of each layer, ordered by the barycentre of their neighbours to cut crossings."""
    rows: list[list[str]] = [[] for _ in range(max(layer.values()) + 1)]
    for node in sorted(layer, key=order.__getitem__):
        rows[layer[node]].append(node)
    neighbours = defaultdict(set)
    for source, target in edges:
        neighbours[source].add(target)
        neighbours[target].add(source)
    for sweep in range(SWEEPS):
        indices = range(1, len(rows)) if sweep % 2 == 0 else range(len(rows) - 2, -1, -1)
        for i in indices:
            ref = rows[i - 1] if sweep % 2 == 0 else rows[i + 1]
            rows[i].sort(key=lambda n, r=_spread(ref), own=_spread(rows[i]): _barycentre(n, neighbours, r, own))
    return rows


def _spread(row: list[str]) -> dict[str, float]:
    return {n: k / max(len(row) - 1, 1) for k, n in enumerate(row)}


def _barycentre(node: str, neighbours: dict, where: dict[str, float], own: dict[str, float]) -> float:
    # Nodes with no neighbour in the reference layer keep their current place.
    seen = [where[n] for n in neighbours[node] if n in where]
    return sum(seen) / len(seen) if seen else own[node]


def positions(rows: list[list[str]], gap: float = X_GAP) -> dict[str, tuple[float, float]]:
    """Centre of each node: layers top to bottom, each layer centred horizontally, ``gap`` apart."""
    widest = max(len(r) for r in rows)
    pos = {}
    for i, row in enumerate(rows):
        offset = (widest - len(row)) * gap / 2
        for k, node in enumerate(row):
            pos[node] = (offset + k * gap, -i * Y_GAP)
    return pos


def _label(node: str) -> str:
    return {START: "start", END: "end"}.get(node, node)


def box_width(node: str) -> float:
    """Width of a node's box, from its longest label line."""
    return max(1.3, 0.13 * max(len(line) for line in _label(node).split("\n")) + 0.4)


def _kind(node: str) -> str:
    if node in (START, END):
        return "start"
    if "supervisor" in node or "director" in node:
        return "supervisor"
    return node if node in ("tools", "approval") else "agent"


def branch_node(node: str, branch: str) -> str:
    """Name of one parallel branch of a fan-out node in the drawing (two lines: node, branch)."""
    return f"{node}\n{branch}"


def drawn_edges(structure: "Structure") -> tuple[list[str], list[tuple[str, str, bool]]]:
    """Nodes and edges as drawn: a node that runs once per ``Send`` becomes one box per branch.

    LangGraph reports such a node once, which hides that the branches run side by side; each
    edge into or out of it is repeated for every branch.
    """
    fan = dict(structure.fan_out)
    if not fan:
        return list(structure.nodes), list(structure.edges)

    def copies(node: str) -> list[str]:
        return [branch_node(node, b) for b in fan[node]] if node in fan else [node]

    nodes = [copy for node in structure.nodes for copy in copies(node)]
    edges = [(s, t, c) for source, target, c in structure.edges for s in copies(source) for t in copies(target)]
    return nodes, edges


def draw_png(structure: "Structure", path: Path) -> None:
    """Render ``structure`` to a PNG file at ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # no display, no GUI toolkit
    import matplotlib.pyplot as plt

    nodes, drawn = drawn_edges(structure)
    edges = [(s, t) for s, t, _ in drawn]
    layer, back = assign_layers(tuple(nodes), edges)
    rows = order_layers(layer, edges, bfs_depth(tuple(nodes), edges)[1])
    # Long labels (a fan-out branch names its node and branch) widen the spacing so boxes never overlap.
    gap = max(X_GAP, max(box_width(n) for n in nodes) + 0.3)
    pos = positions(rows, gap)
    widest = max(len(r) for r in rows)
    fig, ax = plt.subplots(figsize=(max(6.0, widest * gap * 1.05), max(4.0, len(rows) * Y_GAP * 0.95)), dpi=110)
    boxes = {node: _box(ax, node, pos[node]) for node in nodes}
    for source, target, conditional in drawn:
        _arrow(ax, boxes, pos, source, target, conditional, (source, target) in back)
        if "\n" in target and "\n" not in source:
            _send_label(ax, pos[source], pos[target])
    _legend(ax)
    ax.set_title(f"{structure.graph_id} ({structure.topology})", fontsize=13, fontweight="bold")
    xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - gap * 0.75, max(xs) + gap * 0.75)
    ax.set_ylim(min(ys) - Y_GAP * 0.6, max(ys) + Y_GAP * 0.5)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def _box(ax, node: str, centre: tuple[float, float]):
    from matplotlib.patches import FancyBboxPatch

    label = _label(node)
    width = box_width(node)
    height = BOX_H + 0.28 * label.count("\n")
    x, y = centre
    style = "round,pad=0.02,rounding_size=0.27" if node in (START, END) else "round,pad=0.02,rounding_size=0.1"
    patch = FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle=style,
                           facecolor=FILL[_kind(node)], edgecolor="#333333", linewidth=1.2, zorder=3)
    ax.add_patch(patch)
    ax.text(x, y, label, ha="center", va="center", fontsize=10, zorder=4,
            fontweight="bold" if _kind(node) == "supervisor" else "normal")
    return patch


def _arrow(ax, boxes: dict, pos: dict, source: str, target: str, conditional: bool, is_back: bool) -> None:
    from matplotlib.patches import FancyArrowPatch

    if source == target:
        return  # self-loops are rare and unreadable at this scale; the text view lists them
    (x1, y1), (x2, y2) = pos[source], pos[target]
    long = abs(y1 - y2) > Y_GAP * 1.5  # skips a layer: bend round the boxes in between
    bend = (0.45 if long else 0.35) if is_back else (0.3 if long else 0.0)
    # A loop back bends the same way as its forward edge, but wider, so the pair reads as two lines.
    rad = bend if x2 >= x1 else -bend
    arrow = FancyArrowPatch(
        pos[source], pos[target], patchA=boxes[source], patchB=boxes[target],
        arrowstyle="-|>", mutation_scale=13, connectionstyle=f"arc3,rad={rad}",
        linestyle=(0, (4, 3)) if conditional else "solid", linewidth=1.1,
        color="#7a8fb0" if is_back else "#333333", zorder=2, shrinkA=2, shrinkB=2,
    )
    ax.add_patch(arrow)


def _send_label(ax, start: tuple[float, float], end: tuple[float, float]) -> None:
    # Marks the edges that LangGraph's Send makes at run time: one branch each, all at once.
    x, y = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
    ax.text(x, y, "Send", ha="center", va="center", fontsize=8, style="italic", color="#7a4fb0", zorder=5,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"})


def _legend(ax) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="#333333", lw=1.2, label="always"),
               Line2D([], [], color="#333333", lw=1.2, ls=(0, (4, 3)), label="conditional"),
               Line2D([], [], color="#7a8fb0", lw=1.2, ls=(0, (4, 3)), label="loop back (conditional)")]
    ax.legend(handles=handles, loc="lower right", fontsize=8, frameon=False)
