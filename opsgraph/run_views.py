"""What one run shows a person: route, tool calls, citations, pending approvals and cost.

``opsgraph runs show`` and the web console both read a run through :func:`run_summary`, so the
two never disagree on what a run did or cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsgraph.citations import collect_citations

if TYPE_CHECKING:
    from opsgraph.runner import RunResult


def run_summary(result: RunResult) -> dict[str, Any]:
    """The run's status, route, actions, citations, pending approvals, cost breakdown and report."""
    from opsgraph.graphs.incident import cost_summary

    values = result.values
    actions = list(values.get("actions") or [])
    return {
        "thread_id": result.thread_id, "graph_id": result.graph_id, "status": result.status, "reason": result.reason,
        "visited": list(values.get("visited") or []), "actions": actions, "citations": run_citations(values),
        "pending": result.pending, "cost": cost_summary(list(values.get("calls") or [])), "report": result.report,
    }


def run_citations(values: dict[str, Any]) -> list[str]:
    """Knowledge citations the run's successful tool calls returned, each once, in order."""
    cited = values.get("citations")
    if not cited:
        cited = [c for a in values.get("actions") or [] if a.get("ok") for c in collect_citations(a.get("result"))]
    return list(dict.fromkeys(str(c) for c in cited))
