"""Benchmark: cost and success of all-small, all-large and routed model tiers, and router overhead.

Every sample input of every registered graph runs under each policy against the fake
OpenAI-compatible server (tests/support/fake_openai.py) serving two model names priced
like gpt-4o-mini and gpt-4o. Both names are answered by the offline engine, so to make
the comparison mean something the *small* name is made weaker, deterministically: with a
probability that grows with the request's context size it writes its tool call as JSON
text (recoverable), drops a required argument (caught by validation), gets a quantity
wrong (not caught by validation) or answers a structured request with broken JSON. The
large name makes no mistakes. This is a simulation of a model pair, not a measurement of
real models.

A run succeeds when it completes and makes the same writes as a reference run (offline
engine, no faults). Each run gets a fresh seeded world. Router overhead is measured
in-process on the offline engine: the router's decision time per call (signals, budget,
score, rule) against the model call itself.

Usage: ``python bench/bench_routing.py [--md FILE] [--png FILE]``

Results go to ``reports/routing/`` (git-ignored) by default, so a run never rewrites tracked
files; the published table and chart in ``docs/`` change only when you name them explicitly
(``--md docs/routing-bench.md --png docs/img/routing.png``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opsgraph.routing_eval import offline_settings, run_samples, summarize  # noqa: E402
from opsgraph.settings import load_settings  # noqa: E402
from tests.support.fake_openai import FakeOpenAIServer, completion  # noqa: E402

SMALL, LARGE = "bench-small", "bench-large"
PRICES = {SMALL: (0.15, 0.60), LARGE: (2.50, 10.00)}  # USD per million tokens: gpt-4o-mini and gpt-4o list prices
POLICIES = ("small", "large", "routed")


def _uniform(*parts: str) -> float:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def fault_probability(body: dict[str, Any]) -> float:
    """Chance that the simulated small model gets a request wrong: more context, more mistakes."""
    tokens = len(json.dumps(body["messages"])) / 4
    return min(0.6, 0.04 + 0.3 * tokens / 4000)


def _as_text(message: dict[str, Any]) -> None:
    calls = [{"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
             for c in message.pop("tool_calls")]
    message["content"] = json.dumps(calls[0] if len(calls) == 1 else calls)


def _wrong_quantity(args: dict[str, Any]) -> bool:
    changed = False
    for line in args.get("lines") or args.get("transfers") or []:
        if isinstance(line, dict) and isinstance(line.get("quantity"), int):
            line["quantity"] = max(1, line["quantity"] // 2)
            changed = True
    return changed


def _inject(out: dict[str, Any], body: dict[str, Any], kind: float) -> dict[str, Any]:
    choice = out["choices"][0]
    message = choice["message"]
    if not message.get("tool_calls"):
        return out  # a prose answer: nothing the benchmark can check
    function = message["tool_calls"][0]["function"]
    if isinstance(body.get("tool_choice"), dict):
        function["arguments"] = function["arguments"][: len(function["arguments"]) // 2]  # truncated JSON
        return out
    args = json.loads(function["arguments"])
    if kind < 0.5:
        _as_text(message)
        choice["finish_reason"] = "stop"
    elif kind < 0.75 and _wrong_quantity(args):
        function["arguments"] = json.dumps(args)
    else:
        args.pop(next(iter(args), None), None)  # a required argument goes missing
        function["arguments"] = json.dumps(args)
    return out


def weak_small(respond: Callable[[dict], dict] = completion) -> Callable[[dict], dict]:
    """The fake server's responder with deterministic mistakes on the small model name."""

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        out = respond(body)
        if body.get("model") != SMALL:
            return out
        key = json.dumps(body["messages"], sort_keys=True)
        roll = _uniform(SMALL, key)
        chance = fault_probability(body)
        return _inject(out, body, _uniform("kind", key)) if roll < chance else out

    return answer


def server_settings(base: Path, url: str) -> Any:
    """Settings pointing both tiers at the fake server, with the benchmark's price table."""
    prices = base / "prices.yaml"
    prices.write_text("models:\n" + "".join(f"  openai:{name}: {{input: {i}, output: {o}}}\n"
                                             for name, (i, o) in PRICES.items()))
    env = {"OPSGRAPH_HOME": str(base / "home"), "OPENAI_BASE_URL": url, "OPSGRAPH_PRICING": str(prices),
           "OPSGRAPH_SMALL_MODEL": f"openai:{SMALL}", "OPSGRAPH_LARGE_MODEL": f"openai:{LARGE}",
           # The simulated faults of structured answers are made on forced function calls.
           "OPSGRAPH_SMALL_STRUCTURED_METHODS": "function_calling"}
    return load_settings(env=env, cwd=base)


def compare(base: Path) -> list[dict[str, Any]]:
    """One summary row per policy, success judged against the fault-free reference runs."""
    reference = run_samples(offline_settings(load_settings(env={}, cwd=base)), "large", base / "reference")
    rows = []
    with FakeOpenAIServer(respond=weak_small()) as server:
        settings = server_settings(base, server.base_url)
        for policy in POLICIES:
            runs = run_samples(settings, policy, base / policy)
            rows.append({"policy": policy, **summarize(runs, reference)})
    large_cost = next(r["cost_usd"] for r in rows if r["policy"] == "large")
    large_success = next(r["success_rate"] for r in rows if r["policy"] == "large")
    for row in rows:
        row["cost_vs_large"] = round(row["cost_usd"] / large_cost, 4) if large_cost else None
        row["success_vs_large"] = round(row["success_rate"] / large_success, 4) if large_success else None
    return rows


def router_overhead(base: Path) -> dict[str, Any]:
    """Router decision time per call against the offline model call, over every routed sample run."""
    settings = offline_settings(load_settings(env={}, cwd=base))
    run_samples(settings, "routed", base / "warm")  # imports and caches out of the measurement
    calls = [c for r in run_samples(settings, "routed", base / "overhead") for c in r.calls
             if not c["rule"].startswith("cascade")]
    router = sorted(c["router_ms"] for c in calls)
    model = sorted(c["latency_ms"] for c in calls)
    return {
        "calls": len(calls),
        "router_ms_median": round(statistics.median(router), 4),
        "router_ms_p95": round(router[int(0.95 * (len(router) - 1))], 4),
        "router_ms_p99": round(router[int(0.99 * (len(router) - 1))], 4),
        "router_ms_max": round(router[-1], 4),
        "calls_over_1ms": sum(1 for t in router if t > 1.0),
        "model_ms_median": round(statistics.median(model), 4),
        "ratio_median": round(statistics.median(router) / statistics.median(model), 4),
    }


def validation_overhead(base: Path, repeat: int = 2000) -> dict[str, float]:
    """Time to validate one answer against the procurement agent's bound tools (the cascade's check)."""
    import time

    from langchain_core.messages import AIMessage

    from opsgraph.agents.procurement import PROCUREMENT
    from opsgraph.models.validation import check_tool_message
    from opsgraph.runner import open_runner

    args = {"supplier_id": "SUP-001", "dc_id": "DC-EAST", "lines": [{"sku_id": "SKU-001", "quantity": 170}],
            "justification": "Expedite 170 x SKU-001", "expedite": True}
    answers = {"tool_call": AIMessage("", tool_calls=[{"name": "create_purchase_order", "args": args, "id": "c1"}]),
               "json_text": AIMessage(json.dumps({"name": "create_purchase_order", "arguments": args}))}
    settings = offline_settings(load_settings(env={"OPSGRAPH_HOME": str(base / "validation")}, cwd=base))
    with open_runner(settings, with_knowledge=False) as runner:
        tools = runner.context.tools_for(PROCUREMENT)
    out = {}
    for name, answer in answers.items():
        started = time.perf_counter()
        for _ in range(repeat):
            check_tool_message(answer, tools, 3)
        out[f"{name}_ms"] = round((time.perf_counter() - started) * 1000 / repeat, 4)
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    """The comparison as a markdown table."""
    lines = ["| policy | runs | success | cost (USD) | cost vs all-large | success vs all-large | large share "
             "| escalations | recovered text tool calls |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['policy']} | {r['runs']} | {r['succeeded']}/{r['runs']} ({r['success_rate']:.0%}) "
                     f"| {r['cost_usd']:.4f} | {r['cost_vs_large']:.0%} | {r['success_vs_large']:.0%} "
                     f"| {r['large_share']:.0%} | {r['escalations']} | {r['recovered']} |")
    return "\n".join(lines) + "\n"


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    """Cost and success per policy, side by side, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["policy"] for r in rows]
    fig, (cost_ax, ok_ax) = plt.subplots(1, 2, figsize=(8, 3.4))
    colours = ["#4c9be8", "#e8794c", "#5bb56a"]
    bars = cost_ax.bar(names, [r["cost_usd"] for r in rows], color=colours)
    cost_ax.bar_label(bars, labels=[f"${r['cost_usd']:.3f}" for r in rows], fontsize=8)
    cost_ax.set_ylim(0, 1.15 * max(r["cost_usd"] for r in rows))
    cost_ax.set_title("model cost (USD), all samples")
    bars = ok_ax.bar(names, [100 * r["success_rate"] for r in rows], color=colours)
    ok_ax.bar_label(bars, labels=[f"{r['succeeded']}/{r['runs']}" for r in rows], fontsize=8)
    ok_ax.set_ylim(0, 112)
    ok_ax.set_title("success (%)")
    fig.suptitle("Routing policies on a simulated small/large pair (fake OpenAI server)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    """Run the comparison and the overhead measurement; write the table and chart; print JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--md", type=Path, default=ROOT / "reports" / "routing" / "routing-bench.md",
                        help="markdown table output")
    parser.add_argument("--png", type=Path, default=ROOT / "reports" / "routing" / "routing.png", help="chart output")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-routing-") as tmp:
        rows = compare(Path(tmp))
        overhead = router_overhead(Path(tmp)) | {"validation": validation_overhead(Path(tmp))}
    table = markdown(rows)
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.md.write_text(f"Routing benchmark ({date.today().isoformat()}, `python bench/bench_routing.py`)\n\n{table}")
    chart(rows, args.png)
    print(table)
    print(json.dumps({"date": date.today().isoformat(), "python": platform.python_version(),
                      "policies": rows, "router_overhead": overhead}, indent=2))


if __name__ == "__main__":
    main()
