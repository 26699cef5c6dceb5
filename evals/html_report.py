"""A self-contained HTML eval report: inline CSS, plots as base64 PNG, no script, no network.

Plots are drawn with matplotlib's Agg canvas on ``Figure`` objects (no pyplot, so no global
backend state and no display needed): pass rate per suite against its threshold, pass rate
per suite and evaluator, cost and tokens per run, latency per run.
"""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

GREEN, RED, GREY, BLUE = "#2e7d32", "#c62828", "#9e9e9e", "#1565c0"
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1180px;
color:#212121;padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#616161;font-size:13px}.pass{color:#2e7d32;font-weight:600}.fail{color:#c62828;font-weight:600}
table{border-collapse:collapse;font-size:13px;margin:8px 0;width:100%}th,td{border:1px solid #e0e0e0;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f5f5f5}td.num{text-align:right}
img{max-width:100%;border:1px solid #eee;margin:8px 0}.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}
code{font-size:12px;background:#f5f5f5;padding:1px 3px}.why{color:#b71c1c}details{margin:6px 0}
"""


def render_html(data: dict[str, Any]) -> str:
    """The whole report as one HTML document."""
    suites = data["suites"]
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>opsgraph eval report</title>"
             f"<style>{CSS}</style></head><body>", _header(data), _suite_table(suites), _shadow_table(suites)]
    if suites:
        parts.append("<h2>Plots</h2><div class='grid'>")
        parts += [_img(fig, alt) for fig, alt in (
            (pass_rate_figure(suites), "Pass rate per suite against its threshold"),
            (evaluator_figure(suites), "Pass rate per suite and evaluator"),
            (cost_figure(suites), "Cost and tokens per run"),
            (latency_figure(suites), "Latency per run"))]
        parts.append("</div>")
    parts += [_failures(suites), _all_cases(suites), "</body></html>"]
    return "\n".join(parts)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _header(data: dict[str, Any]) -> str:
    gate = data["gate"]
    verdict = "<span class='pass'>gate passed</span>" if gate["passed"] else (
        "<span class='fail'>gate failed</span>: " + _e("; ".join(gate["failures"])))
    opts, env = data.get("options", {}), data.get("environment", {})
    setup = f" (set-up {data['setup_s']:.1f}s)" if "setup_s" in data else ""
    meta = (f"{_e(data['created'])} · wall time {data['wall_time_s']:.1f}s{setup} · routing {_e(opts.get('routing'))} · "
            f"repeat {_e(opts.get('repeat'))} · concurrency {_e(opts.get('concurrency'))} · "
            f"{'smoke subset' if opts.get('smoke') else 'all cases'} · models {_e(env.get('small_model'))} / "
            f"{_e(env.get('large_model'))} · world seed {_e(env.get('world_seed'))}")
    extra = "".join(f"<p class='meta'>skipped {_e(s['suite'])}: {_e(s['reason'])}</p>" for s in data.get("skipped", []))
    if data.get("graphs_without_suite"):
        extra += f"<p class='meta'>no eval suite yet for: {_e(', '.join(data['graphs_without_suite']))}</p>"
    return f"<h1>opsgraph eval report</h1><p class='meta'>{meta}</p><p>{verdict}</p>{extra}"


def _suite_table(suites: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{_e(s['name'])}</td><td class='num'>{s['cases']}</td><td class='num'>{s['runs']}</td>"
        f"<td class='num'>{s['pass_rate']:.0%}</td><td class='num'>{s['threshold']:.0%}</td>"
        f"<td>{'<span class=pass>pass</span>' if s['gate_passed'] else '<span class=fail>FAIL</span>'}</td>"
        f"<td class='num'>{s['cost_usd']['total']:.4f}</td><td class='num'>{s['tokens']['p50']:,.0f}</td>"
        f"<td class='num'>{s['latency_s']['p50']:.2f}s</td><td class='num'>{s['latency_s']['p95']:.2f}s</td></tr>"
        for s in suites)
    head = "".join(f"<th>{h}</th>" for h in ("suite", "cases", "runs", "pass rate", "threshold", "gate", "cost (USD)",
                                              "tokens p50", "latency p50", "latency p95"))
    return f"<h2>Suites</h2><table><tr>{head}</tr>{rows}</table>"


def _shadow_table(suites: list[dict[str, Any]]) -> str:
    """Shadow agreement per suite and action category (eval --shadow); nothing otherwise."""
    rows = "".join(
        f"<tr><td>{_e(s['name'])}</td><td>{_e(category)}</td><td class='num'>{t['agreed']}</td>"
        f"<td class='num'>{t['shadow_only']}</td><td class='num'>{t['live_only']}</td><td class='num'>{t['rate']:.0%}</td>"
        f"<td class='num'>{s['shadow']['live_world_untouched']}/{s['shadow']['runs']}</td></tr>"
        for s in suites if s.get("shadow") for category, t in s["shadow"]["categories"].items())
    if not rows:
        return ""
    head = "".join(f"<th>{h}</th>" for h in ("suite", "action category", "agreed", "shadow only", "live only",
                                              "agreement", "live world untouched"))
    return f"<h2>Shadow runs against live runs</h2><table><tr>{head}</tr>{rows}</table>"


def _trajectory_html(r: dict[str, Any]) -> str:
    agents = " → ".join(r.get("trajectory") or []) or "(no agent acted)"
    calls = "".join(f"<li><code>{_e(c['agent'])}: {_e(c['tool'])}({_e(json.dumps(c['args'], sort_keys=True)[:200])})"
                    f" → {_e(c['status'])}</code></li>" for c in r.get("tool_calls") or [])
    return f"<div>{_e(agents)}</div>" + (f"<details><summary>{len(r['tool_calls'])} tool calls</summary><ol>{calls}"
                                         f"</ol></details>" if calls else "")


def _failures(suites: list[dict[str, Any]]) -> str:
    rows = []
    for s in suites:
        for r in [r for r in s["results"] if not r["passed"]]:
            why = "".join(f"<div class='why'><b>{_e(n)}</b>: {_e(r['scores'][n]['explanation'])}</div>" for n in r["failed"])
            rows.append(f"<tr><td>{_e(s['name'])}</td><td>{_e(r['case_id'])}<br><span class='meta'>"
                        f"{_e(r['description'])}</span></td><td class='num'>{r['repetition']}</td><td>{_e(r['status'])}"
                        f"</td><td>{why}</td><td>{_trajectory_html(r)}</td></tr>")
    if not rows:
        return "<h2>Failures</h2><p class='pass'>No failed case.</p>"
    head = "".join(f"<th>{h}</th>" for h in ("suite", "case", "run", "status", "failed expectations", "trajectory"))
    return f"<h2>Failures</h2><table><tr>{head}</tr>{''.join(rows)}</table>"


def _all_cases(suites: list[dict[str, Any]]) -> str:
    parts = ["<h2>All cases</h2>"]
    for s in suites:
        names = list(s["evaluators"])
        head = "".join(f"<th>{h}</th>" for h in ("case", "run", "result", *names, "cost", "latency", "trajectory"))
        rows = "".join(
            f"<tr><td>{_e(r['case_id'])}</td><td class='num'>{r['repetition']}</td>"
            f"<td>{'<span class=pass>pass</span>' if r['passed'] else '<span class=fail>fail</span>'}</td>"
            + "".join(f"<td class='num' title='{_e(r['scores'].get(n, {}).get('explanation', ''))}'>"
                      f"{_score(r['scores'].get(n, {}).get('score'))}</td>" for n in names)
            + f"<td class='num'>{float(r.get('cost_usd') or 0):.4f}</td>"
              f"<td class='num'>{float(r.get('latency_s') or 0):.2f}s</td>"
              f"<td>{_e(' → '.join(r.get('trajectory') or []))}</td></tr>"
            for r in s["results"])
        parts.append(f"<details><summary>{_e(s['name'])}: {s['passed']}/{s['runs']} runs passed "
                     f"({_e(s['dataset'])})</summary><table><tr>{head}</tr>{rows}</table></details>")
    return "".join(parts)


def _score(value: Any) -> str:
    return "–" if value is None else f"{float(value):.2f}"


# -- plots ----------------------------------------------------------------------------------------
def _img(fig: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<figure><img alt='{_e(alt)}' src='data:image/png;base64,{encoded}'><figcaption class='meta'>{_e(alt)}" \
           f"</figcaption></figure>"


def pass_rate_figure(suites: list[dict[str, Any]]) -> Figure:
    """Horizontal bars of pass rate per suite, the threshold as a black tick."""
    fig = Figure(figsize=(6, 0.6 + 0.5 * len(suites)), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    names = [s["name"] for s in suites]
    rates = [s["pass_rate"] for s in suites]
    ax.barh(names, rates, color=[GREEN if s["gate_passed"] else RED for s in suites])
    for y, s in enumerate(suites):
        ax.plot([s["threshold"]] * 2, [y - 0.4, y + 0.4], color="black", linewidth=2)
        ax.text(min(s["pass_rate"], 0.98), y, f" {s['pass_rate']:.0%}", va="center", ha="right", color="white",
                fontsize=9, fontweight="bold")
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("pass rate (black tick: threshold)")
    ax.set_title("Pass rate per suite")
    return fig


def evaluator_figure(suites: list[dict[str, Any]]) -> Figure:
    """Heat map: rows are suites, columns evaluators, cells the evaluator's pass rate (grey: not applicable)."""
    names = list(dict.fromkeys(n for s in suites for n in s["evaluators"]))
    fig = Figure(figsize=(6, 0.9 + 0.45 * len(suites)), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    grid = [[s["evaluators"].get(n, {}).get("pass_rate") for n in names] for s in suites]
    values = [[float("nan") if v is None else v for v in row] for row in grid]
    ax.imshow(values, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for y, row in enumerate(grid):
        for x, v in enumerate(row):
            # Dark cells at both ends of the colour map need light text to stay readable.
            color = GREY if v is None else ("white" if v >= 0.85 or v <= 0.15 else "black")
            ax.text(x, y, "n/a" if v is None else f"{v:.0%}", ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(suites)), [s["name"] for s in suites], fontsize=8)
    ax.set_title("Pass rate per evaluator")
    return fig


def _box(ax: Any, suites: list[dict[str, Any]], key: str, label: str) -> None:
    data = [[float(r.get(key) or 0) for r in s["results"]] or [0.0] for s in suites]
    ax.boxplot(data, orientation="horizontal", tick_labels=[s["name"] for s in suites], patch_artist=True,
               boxprops={"facecolor": "#bbdefb"}, medianprops={"color": BLUE})
    ax.invert_yaxis()
    ax.set_xlabel(label)
    ax.tick_params(axis="y", labelsize=8)
    if not any(v for values in data for v in values):
        # The offline engine is free: say so instead of drawing an axis around zero.
        ax.set_xlim(0, 1)
        ax.text(0.5, 0.5, "0 for every run (offline engine)", transform=ax.transAxes, ha="center", va="center",
                color=GREY)


def cost_figure(suites: list[dict[str, Any]]) -> Figure:
    """Distributions of cost (USD) and tokens per run, one box per suite."""
    fig = Figure(figsize=(6, 1.2 + 0.9 * len(suites)), dpi=100, layout="constrained")
    top, bottom = fig.subplots(2, 1)
    _box(top, suites, "cost_usd", "cost per run (USD)")
    _box(bottom, suites, "tokens", "tokens per run")
    top.set_title("Cost per run")
    return fig


def latency_figure(suites: list[dict[str, Any]]) -> Figure:
    """Distribution of wall time per run, one box per suite."""
    fig = Figure(figsize=(6, 0.9 + 0.5 * len(suites)), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    _box(ax, suites, "latency_s", "latency per run (s)")
    ax.set_title("Latency per run")
    return fig
