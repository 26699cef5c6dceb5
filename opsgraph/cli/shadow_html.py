"""The shadow report as one self-contained HTML page, styled like the eval report (no script, no network)."""

from __future__ import annotations

import html
from typing import Any


def render_shadow_html(report: Any) -> str:
    """``report`` (a :class:`opsgraph.governance.shadow.ShadowReport`) as an HTML document."""
    from opsgraph.evals.html_report import CSS

    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>opsgraph shadow report</title>"
             f"<style>{CSS}</style></head><body><h1>opsgraph shadow report</h1>",
             f"<p class='meta'>{len(report.pairs)} shadow run(s) compared with a live run of the same input; "
             f"{len(report.unmatched)} without one</p>",
             _table("Agreement per action category", ("category", "agreed", "shadow only", "live only", "agreement"),
                    [(c.category, c.agreed, c.shadow_only, c.live_only, f"{c.rate:.0%}") for c in report.categories]),
             _table("Runs compared", ("shadow run", "live run", "graph", "agreed", "shadow writes", "live writes"),
                    [(p["shadow"], p["live"], p["graph_id"], p["agreed"], p["shadow_writes"], p["live_writes"])
                     for p in report.pairs]),
             _table("Differences", ("category", "side", "action", "shadow run", "live run"),
                    [(d["category"], d["side"], d["action"], d["shadow"], d["live"]) for d in report.differences]),
             _table("Shadow runs without a live run", ("shadow run",), [(t,) for t in report.unmatched]),
             "</body></html>"]
    return "\n".join(parts)


def _table(title: str, head: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    if not rows:
        return f"<h2>{_e(title)}</h2><p class='meta'>none</p>"
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<h2>{_e(title)}</h2><table><tr>{header}</tr>{body}</table>"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
