"""Shadow runs: a workflow on live inputs whose writes are proposed and simulated, never committed.

A shadow run starts from the live world as it is (the same input checks, the same records)
but works on a private scratch copy of it, taken when the run starts and kept under
``<data home>/shadow/``. At the tool boundary every write is recorded as a ``shadow_action``
audit event (tool, arguments, idempotency key, the simulated result) and carried out on the
scratch copy only, so later steps see what the run proposed, as they would live. Ids the
scratch copy creates are labelled ``SIM-``. Approvals are not asked: each is recorded as a
``shadow_approval`` (would ask) and the run carries on as if approved, so the whole proposed
course of action is on record. The connectors' hard limits still refuse on the scratch copy.

``shadow_report`` compares each shadow run with the live runs of the same graph started on
the same input: per action category, the writes both did, and those only one of them did.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from opsgraph.governance.autonomy import CATEGORIES, TOOL_CATEGORIES

SIM_PREFIX = "SIM-"
# Result fields that name a record the write created (as opposed to one it was given).
CREATED_IDS = frozenset({"po_id", "refund_id", "outbox_id", "transfer_id", "ticket_id"})
# The arguments that say what a write does; free text (justification, reason, note, body) is left out.
KEY_ARGS: dict[str, tuple[str, ...]] = {
    "create_purchase_order": ("supplier_id", "dc_id", "lines"),
    "issue_refund": ("invoice_id", "amount_usd"),
    "transfer_stock": ("transfers",),
    "notify_customers": ("order_ids", "new_eta"),
    "send_message": ("customer_id",),
    "change_plan": ("customer_id", "plan"),
    "report_shipment_delay": ("shipment_id", "delay_days"),
    "book_reroute": ("shipment_id", "carrier_id", "mode"),
    "create_ticket": ("customer_id", "category"),
    "update_ticket": ("ticket_id", "status"),
}
_SIMULATED_ID = re.compile(r"^SIM-[A-Z]+-\d+$", re.IGNORECASE)
UNSUPPORTED_GRAPHS = frozenset({"retail_support"})  # its tools write to the retail database, not the world


def simulated(result: Any, args: dict[str, Any]) -> Any:
    """``result`` with every id the write created labelled ``SIM-`` (ids the call was given stay as they are)."""
    given = {str(v).upper() for v in _strings(args)}

    def label(node: Any, key: str | None = None) -> Any:
        if isinstance(node, dict):
            return {k: label(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [label(v, key) for v in node]
        if key in CREATED_IDS and isinstance(node, str) and node.upper() not in given:
            return node if node.startswith(SIM_PREFIX) else SIM_PREFIX + node
        return node
    return label(result)


def unsimulated(payload: Any) -> Any:
    """``payload`` with ``SIM-`` labels removed, so an agent that passes a simulated id back finds the record."""
    if isinstance(payload, dict):
        return {k: unsimulated(v) for k, v in payload.items()}
    if isinstance(payload, list):
        return [unsimulated(v) for v in payload]
    if isinstance(payload, str) and _SIMULATED_ID.match(payload.strip()):
        return payload.strip()[len(SIM_PREFIX):]
    return payload


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def scratch_path(data_home: Path, thread_id: str) -> Path:
    """Where the scratch copy of the world for shadow thread ``thread_id`` lives."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", thread_id)[:60]
    digest = hashlib.sha256(thread_id.encode()).hexdigest()[:10]
    return Path(data_home) / "shadow" / f"{slug}-{digest}.db"


def open_scratch(live_world: Any, path: Path) -> Any:
    """The scratch world at ``path``: copied from ``live_world`` on first use, reopened after that."""
    from opsgraph.tools.world import World

    if path.exists():
        return World(path, latency_ms=getattr(live_world, "latency_ms", 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    return live_world.clone_to(path)


def shadow_context(context: Any, scratch_world: Any) -> Any:
    """``context`` for a shadow run: the scratch world, tools over it, and ``shadow`` set."""
    from opsgraph.tools.catalog import build_tools

    return replace(context, world=scratch_world, tools=build_tools(scratch_world, context.policy), shadow=True)


# --- the report ------------------------------------------------------------------------


@dataclass
class CategoryAgreement:
    """Writes of one action category over all compared pairs of runs."""

    category: str
    agreed: int = 0
    shadow_only: int = 0
    live_only: int = 0

    @property
    def compared(self) -> int:
        """Every distinct write either side made."""
        return self.agreed + self.shadow_only + self.live_only

    @property
    def rate(self) -> float | None:
        """Agreed writes / all writes either side made (None when neither wrote)."""
        return round(self.agreed / self.compared, 4) if self.compared else None


@dataclass
class ShadowReport:
    """Shadow runs against what was actually done on the same input."""

    pairs: list[dict[str, Any]] = field(default_factory=list)
    categories: list[CategoryAgreement] = field(default_factory=list)
    differences: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {"pairs": self.pairs, "unmatched": self.unmatched, "differences": self.differences,
                "categories": [{**asdict(c), "compared": c.compared, "rate": c.rate} for c in self.categories]}


def action_key(tool: str, args: dict[str, Any]) -> str:
    """What a write does, in a comparable form: its key arguments, ids upper-cased, lists in order."""
    names = KEY_ARGS.get(tool) or tuple(sorted(args))
    parts = [f"{name}={_canon(args.get(name))}" for name in names if name in args]
    return f"{tool}({', '.join(parts)})"


def _canon(value: Any) -> str:
    if isinstance(value, str):
        return value.strip().upper()
    if isinstance(value, list):
        items = [_canon(v) for v in value]
        return "[" + ", ".join(sorted(items)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}:{_canon(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, default=str)


def proposed_writes(audit: Any, thread_id: str) -> list[tuple[str, str]]:
    """(category, action key) of every write a shadow run would have made (the ones that went through)."""
    return [(TOOL_CATEGORIES.get(e.name or "", "uncategorised"), action_key(e.name or "", e.args or {}))
            for e in audit.events(thread_id, "shadow_action") if e.ok]


def done_writes(audit: Any, thread_id: str) -> list[tuple[str, str]]:
    """(category, action key) of every write a live run made."""
    return [(TOOL_CATEGORIES[e.name], action_key(e.name, e.args or {}))
            for e in audit.events(thread_id, "tool_call") if e.ok and e.name in TOOL_CATEGORIES]


def shadow_report(audit: Any, limit: int = 100_000) -> ShadowReport:
    """Compare every shadow run with the live run of the same graph and input started nearest to it."""
    runs = audit.runs(limit)
    inputs = {r.thread_id: _input_of(audit, r.thread_id) for r in runs}
    report = ShadowReport()
    tallies = {c: CategoryAgreement(c) for c in CATEGORIES}
    for run in sorted((r for r in runs if r.shadow), key=lambda r: r.created_at):
        live = _nearest_live(run, runs, inputs)
        if live is None:
            report.unmatched.append(run.thread_id)
            continue
        report.pairs.append(_compare(audit, run, live, tallies, report.differences))
    report.categories = [t for t in tallies.values() if t.compared]
    return report


def _input_of(audit: Any, thread_id: str) -> str | None:
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    recorded = audit.start_input(thread_id)
    if recorded is None:
        return None
    try:
        saved = JsonPlusSerializer().loads_typed(recorded)
    except Exception:  # noqa: BLE001 - an input this release cannot read matches nothing
        return None
    return json.dumps(saved.get("input"), sort_keys=True, default=str)


def _nearest_live(run: Any, runs: list[Any], inputs: dict[str, str | None]) -> Any:
    wanted = inputs.get(run.thread_id)
    if wanted is None:
        return None
    same = [r for r in runs if not r.shadow and r.graph_id == run.graph_id and inputs.get(r.thread_id) == wanted]
    return min(same, key=lambda r: abs(_seconds(r.created_at) - _seconds(run.created_at)), default=None)


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()


def write_agreement(proposed: list[tuple[str, str]], done: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Pair proposed writes with done ones: ``agreed``, ``shadow_only`` and ``live_only`` (category, key) lists."""
    left = list(done)
    agreed, shadow_only = [], []
    for item in proposed:
        if item in left:
            left.remove(item)
            agreed.append(item)
        else:
            shadow_only.append(item)
    return {"agreed": agreed, "shadow_only": shadow_only, "live_only": left}


def _compare(audit: Any, shadow: Any, live: Any, tallies: dict[str, CategoryAgreement],
             differences: list[dict[str, Any]]) -> dict[str, Any]:
    proposed, done = proposed_writes(audit, shadow.thread_id), done_writes(audit, live.thread_id)
    paired = write_agreement(proposed, done)
    for category, _ in paired["agreed"]:
        tallies.setdefault(category, CategoryAgreement(category)).agreed += 1
    for item in paired["shadow_only"]:
        _differ(tallies, differences, item, "shadow only", shadow, live)
    for item in paired["live_only"]:
        _differ(tallies, differences, item, "live only", shadow, live)
    return {"shadow": shadow.thread_id, "live": live.thread_id, "graph_id": shadow.graph_id,
            "agreed": len(paired["agreed"]), "shadow_writes": len(proposed), "live_writes": len(done)}


def _differ(tallies: dict[str, CategoryAgreement], differences: list[dict[str, Any]], item: tuple[str, str],
            side: str, shadow: Any, live: Any) -> None:
    category, key = item
    tally = tallies.setdefault(category, CategoryAgreement(category))
    if side == "shadow only":
        tally.shadow_only += 1
    else:
        tally.live_only += 1
    differences.append({"category": category, "side": side, "action": key, "shadow": shadow.thread_id,
                        "live": live.thread_id})
