"""The KPI page's charts, drawn server-side with matplotlib as inline SVG (no script, nothing fetched).

Each chart is its own ``Figure`` (no pyplot state), so pages can be drawn from several request
threads at once.
"""

from __future__ import annotations

import io
from typing import Any

from opsgraph.console.kpis import Kpis

STATUS_COLOURS = {"completed": "#3a9d5d", "failed": "#d0473b", "awaiting_approval": "#e0a526",
                  "stopped": "#7d7d7d", "budget_exhausted": "#a05cc9", "interrupted": "#4c9be8", "running": "#9ec5ef"}
BAR = "#4c78a8"


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _svg(fig: Any, label: str) -> str:
    """The figure as an SVG element (the XML prologue dropped) labelled for screen readers and tests."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "opsgraph-console", "svg.fonttype": "none"}):
        # No metadata block: it only names the creator and a date, and links RDF vocabularies.
        fig.savefig(buffer, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):].replace("<svg ", f'<svg class="chart" role="img" aria-label="{label}" ', 1)


def _empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_axis_off()


def runs_chart(kpis: Kpis) -> str:
    """Stacked horizontal bars: runs per workflow, one colour per outcome."""
    fig = _figure(6.4, 0.45 * max(3, len(kpis.runs_by_workflow)) + 1.2)
    ax = fig.add_subplot()
    graphs = list(kpis.runs_by_workflow)
    if not graphs:
        _empty(ax, "no runs in this period")
        return _svg(fig, "Runs by workflow and outcome")
    statuses = sorted({s for counts in kpis.runs_by_workflow.values() for s in counts})
    left = [0] * len(graphs)
    for status in statuses:
        values = [kpis.runs_by_workflow[g].get(status, 0) for g in graphs]
        ax.barh(graphs, values, left=left, label=status, color=STATUS_COLOURS.get(status, "#bbbbbb"))
        left = [a + b for a, b in zip(left, values)]
    ax.invert_yaxis()
    ax.set_xlabel("runs")
    ax.legend(fontsize=8, loc="lower right")
    return _svg(fig, "Runs by workflow and outcome")


def approvals_chart(kpis: Kpis) -> str:
    """Approval rate per decision category against the graduation bar."""
    fig = _figure(6.4, 3.2)
    ax = fig.add_subplot()
    names = list(kpis.decisions)
    if not names:
        _empty(ax, "no decisions in this period")
        return _svg(fig, "Approval rate by category")
    rates = [kpis.decisions[n]["rate"] for n in names]
    colours = ["#3a9d5d" if r >= kpis.graduation_rate else "#e0a526" for r in rates]
    ax.bar(names, rates, color=colours)
    ax.axhline(kpis.graduation_rate, color="#d0473b", linestyle="--", label=f"graduation bar {kpis.graduation_rate:.0%}")
    for i, name in enumerate(names):
        ax.annotate(f"{kpis.decisions[name]['approved']}/{kpis.decisions[name]['decided']}", (i, rates[i]),
                    ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("approved unchanged / decided")
    ax.legend(fontsize=8, loc="lower right")
    return _svg(fig, "Approval rate by category")


def cost_chart(kpis: Kpis) -> str:
    """Model cost per run of each workflow (tokens per run when nothing was priced)."""
    fig = _figure(6.4, 3.2)
    ax = fig.add_subplot()
    rows = kpis.cost.get("per_workflow") or {}
    if not rows:
        _empty(ax, "no model calls in this period")
        return _svg(fig, "Cost per run by workflow")
    priced = kpis.cost["total_usd"] > 0
    metric = "usd_per_run" if priced else "tokens_per_run"
    ax.barh(list(rows), [rows[g][metric] for g in rows], color=BAR)
    ax.invert_yaxis()
    ax.set_xlabel("USD per run" if priced else "tokens per run (no priced calls)")
    return _svg(fig, "Cost per run by workflow")


def errors_chart(kpis: Kpis) -> str:
    """Error rate per agent."""
    rows = kpis.errors_by_agent
    fig = _figure(6.4, 0.3 * max(4, len(rows)) + 1.0)
    ax = fig.add_subplot()
    if not rows:
        _empty(ax, "no agent activity in this period")
        return _svg(fig, "Error rate by agent")
    ax.barh(list(rows), [rows[a]["rate"] for a in rows], color=["#d0473b" if rows[a]["errors"] else BAR for a in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    if not any(row["errors"] for row in rows.values()):
        ax.text(0.5, 0.5, "no errors in this period", ha="center", va="center", transform=ax.transAxes, color="#3a9d5d")
    ax.set_xlabel("failed / attempted (tool and model calls)")
    return _svg(fig, "Error rate by agent")


def latency_chart(kpis: Kpis) -> str:
    """Histogram of run latencies with the p50 and p95 marked."""
    fig = _figure(6.4, 3.0)
    ax = fig.add_subplot()
    samples = kpis.latency.get("samples") or []
    if not samples:
        _empty(ax, "no finished runs without a human step")
        return _svg(fig, "Run latency")
    ax.hist(samples, bins=min(20, max(5, len(samples))), color=BAR)
    for key, style in (("p50_s", "-"), ("p95_s", "--")):
        ax.axvline(kpis.latency[key], color="#d0473b", linestyle=style, label=f"{key[:3]} {kpis.latency[key]:.1f} s")
    ax.set_xlabel("seconds from start to last event")
    ax.set_ylabel("runs")
    ax.legend(fontsize=8)
    return _svg(fig, "Run latency")


def all_charts(kpis: Kpis) -> dict[str, str]:
    """Every chart of the KPI page by name."""
    return {"runs": runs_chart(kpis), "approvals": approvals_chart(kpis), "cost": cost_chart(kpis),
            "errors": errors_chart(kpis), "latency": latency_chart(kpis)}
