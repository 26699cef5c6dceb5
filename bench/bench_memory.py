"""Benchmark: does memory raise the approval rate when an approver applies a consistent preference?

The same 30 procurement_review requests (varied SKUs, quantities, DCs and preferred
suppliers, all above the $25,000 approval gate) run twice, in the same order, with the same
scripted approver: once with memory off, once with memory on. The approver

* trims every purchase order for SKU-003 above 250 units to 250, with the reason
  "over-ordering: 60 days of cover is enough";
* rejects every purchase order for SKU-002 from SUP-001, with the reason
  "SUP-001 keeps shipping SKU-002 late; order it from SUP-004";
* approves everything else unchanged.

Approval rate = approved unchanged / decided, per block of 10 runs. Every run gets a fresh
copy of the seeded world (so budgets never run out and runs are comparable); with memory on,
the memory store is shared by all runs, as in a deployment. Offline engine, no knowledge
layer. Usage: ``python bench/bench_memory.py [--runs 30] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opsgraph.governance.audit import AuditStore  # noqa: E402
from opsgraph.governance.policy import load_policy  # noqa: E402
from opsgraph.memory import Memory, open_memory_store  # noqa: E402
from opsgraph.runner import open_runner  # noqa: E402
from opsgraph.settings import load_settings  # noqa: E402
from opsgraph.tools.world import World  # noqa: E402

TRIM_SKU, TRIM_TO = "SKU-003", 250
TRIM_REASON = "over-ordering: 60 days of cover is enough"
REJECT_SKU, REJECT_SUPPLIER = "SKU-002", "SUP-001"
REJECT_REASON = "SUP-001 keeps shipping SKU-002 late; order it from SUP-004"
# (sku, preferred supplier, smallest quantity above the gate, largest quantity)
CATALOG = [("SKU-003", "SUP-006", 260, 400), ("SKU-001", "SUP-001", 150, 260), ("SKU-002", "SUP-001", 180, 300),
           ("SKU-005", "SUP-003", 120, 200)]
DCS = ["DC-WEST", "DC-EAST", "DC-CENTRAL"]


def requests(count: int, seed: int = 11) -> list[dict[str, Any]]:
    """``count`` varied purchase requests; the first of each SKU comes early, the rest are shuffled."""
    rng = random.Random(seed)
    picked = [CATALOG[i % len(CATALOG)] for i in range(count)]
    rng.shuffle(picked)
    out = []
    for sku, supplier, low, high in picked:
        request = {"sku_id": sku, "quantity": rng.randint(low, high), "dc_id": rng.choice(DCS)}
        if rng.random() < 0.8:
            request["preferred_supplier_id"] = supplier
        out.append(request)
    return out


def approver(pending: dict[str, Any]) -> dict[str, Any]:
    """The scripted approver's decision on one pending purchase order."""
    args = pending.get("args") or {}
    lines = args.get("lines") or []
    skus = {line.get("sku_id"): line.get("quantity") for line in lines}
    if args.get("supplier_id") == REJECT_SUPPLIER and REJECT_SKU in skus:
        return {"decision": "reject", "by": "ops-manager", "reason": REJECT_REASON}
    if (skus.get(TRIM_SKU) or 0) > TRIM_TO:
        return {"decision": "edit", "by": "ops-manager", "edits": {"lines": {TRIM_SKU: TRIM_TO}}, "reason": TRIM_REASON}
    return {"decision": "approve", "by": "ops-manager"}


def run_series(root: Path, reqs: list[dict[str, Any]], memory_on: bool, embed: Any) -> list[dict[str, Any]]:
    """Every request once, in order; returns one record per run."""
    base = load_settings(env={"OPSGRAPH_HOME": str(root / "shared")}, cwd=root)
    template = World.open(root / "template" / "world.db", seed=base.world_seed)
    records = []
    try:
        for index, request in enumerate(reqs):
            records.append(one_run(root, base, template, index, request, memory_on, embed))
    finally:
        template.close()
    return records


def one_run(root: Path, base: Any, template: World, index: int, request: dict[str, Any], memory_on: bool,
            embed: Any) -> dict[str, Any]:
    """One request in a fresh world and data home; the memory store (if on) is the shared one."""
    home = root / f"run-{index:02d}-{'on' if memory_on else 'off'}"
    settings = base.with_overrides(data_home=home, memory_enabled=False)
    world = template.clone_to(settings.world_path)
    audit = AuditStore(settings.audit_path)
    memory = None
    if memory_on:
        memory = Memory(open_memory_store(base, embed=embed), load_policy(settings.policy_path), audit=audit, world=world)
    started = time.perf_counter()
    with open_runner(settings, with_knowledge=False, world=world, audit=audit, memory=memory) as runner:
        result = runner.start("procurement_review", {"request": request}, thread_id=f"bench-{index}")
        decisions = []
        while result.status == "awaiting_approval":
            decision = approver(result.pending[0])
            decisions.append(decision["decision"])
            result = runner.resume(result.thread_id, decision)
        drafted = [a["args"]["request"]["quantity"] for a in result.values["actions"]
                   if a["tool"] == "draft_purchase_order"]
        cited = [c for c in result.values.get("citations") or [] if c.startswith("memory:")]
    shutil.rmtree(home, ignore_errors=True)
    return {"index": index, "request": request, "status": result.status, "decisions": decisions,
            "drafted_quantity": drafted[-1] if drafted else None, "memory_cited": bool(cited),
            "wall_s": round(time.perf_counter() - started, 2)}


def blocks(records: list[dict[str, Any]], size: int = 10) -> list[dict[str, Any]]:
    """Approval rate (approved unchanged / decided) per block of ``size`` runs."""
    out = []
    for start in range(0, len(records), size):
        chunk = [d for r in records[start:start + size] for d in r["decisions"]]
        approved = sum(1 for d in chunk if d == "approve")
        out.append({"runs": f"{start + 1}-{start + len(records[start:start + size])}", "decided": len(chunk),
                    "approved_unchanged": approved, "edited": chunk.count("edit"), "rejected": chunk.count("reject"),
                    "rate": round(approved / len(chunk), 3) if chunk else None})
    return out


def main() -> None:
    """Run both series and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", type=Path, help="also write the full results here")
    args = parser.parse_args()
    from opsgraph.knowledge.embeddings import MiniLMOnnxEmbedding

    embed = MiniLMOnnxEmbedding()  # one model for every run's memory store
    reqs = requests(args.runs)
    results: dict[str, Any] = {"date": str(date.today()), "machine": platform.platform(), "runs": args.runs}
    for label, memory_on in (("memory_off", False), ("memory_on", True)):
        root = Path(tempfile.mkdtemp(prefix=f"opsgraph-bench-memory-{label}-"))
        try:
            started = time.perf_counter()
            records = run_series(root, reqs, memory_on, embed)
            results[label] = {"blocks": blocks(records), "wall_s": round(time.perf_counter() - started, 1),
                              "records": records}
        finally:
            shutil.rmtree(root, ignore_errors=True)
    summary = {k: v if not isinstance(v, dict) else {"blocks": v["blocks"], "wall_s": v["wall_s"]}
               for k, v in results.items()}
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
