"""What the console's pages show, read from the run registry, the audit trail and the checkpoints.

A run's details come from :func:`opsgraph.run_views.run_summary` (the same as ``opsgraph runs
show``); a pending approval is shown from its interrupt payload plus the message in which the
agent proposed the action (its justification).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opsgraph.governance.approvals import EDITABLE

MAX_RUNS_LISTED = 500


@dataclass
class ApprovalView:
    """One pending approval as a person reads it before deciding."""

    thread_id: str
    graph_id: str
    title: str
    type: str
    kind: str
    agent: str
    tool: str
    args: dict[str, Any]
    amount_usd: float | None
    prior_usd: float | None
    total_usd: float | None
    threshold_usd: float | None
    policy: str
    reason: str
    justification: str
    message: str
    doubt: str | None = None
    refused_edit: str | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)
    supplier: str | None = None
    options: list[str] = field(default_factory=list)
    fields: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def decidable(self) -> bool:
        """Budget pauses need a raised cap, not a decision: the console shows them without buttons."""
        return self.type != "budget"


def approval_view(info: Any, payload: dict[str, Any], values: dict[str, Any]) -> ApprovalView:
    """The approval ``payload`` of run ``info``, with the agent's justification from the run's messages."""
    proposal = payload.get("proposal") or {}
    kind = str(payload.get("kind") or payload.get("type") or "approval")
    return ApprovalView(
        thread_id=info.thread_id, graph_id=info.graph_id, title=info.title or "", type=str(payload.get("type") or ""),
        kind=kind, agent=str(payload.get("agent") or ""), tool=str(payload.get("tool") or ""),
        args=dict(payload.get("args") or {}), amount_usd=_number(payload.get("amount_usd")),
        prior_usd=_number(payload.get("prior_usd")), total_usd=_number(payload.get("total_usd")),
        threshold_usd=_number(payload.get("threshold_usd")), policy=str(payload.get("policy") or ""),
        reason=str(payload.get("reason") or payload.get("message") or _over_limit(payload)),
        justification=str((payload.get("args") or {}).get("justification") or payload.get("reason") or ""),
        message=agent_message(values.get("messages") or [], payload),
        doubt=payload.get("doubt"), refused_edit=payload.get("refused_edit"),
        lines=list(proposal.get("lines") or payload.get("args", {}).get("lines") or []),
        supplier=proposal.get("supplier_name") or proposal.get("supplier_id") or payload.get("args", {}).get("supplier_id"),
        options=[str(o) for o in payload.get("options") or []],
        fields=editable_fields(kind, payload), verdicts=_last_verdicts(payload.get("verdicts") or []),
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _over_limit(payload: dict[str, Any]) -> str:
    total, limit = _number(payload.get("total_usd")), _number(payload.get("threshold_usd"))
    if payload.get("doubt"):
        return f"could not be priced for certain: {payload['doubt']}"
    if total is not None and limit is not None:
        return f"${total:,.2f} in all is above the ${limit:,.2f} an agent may commit alone"
    return "needs a human decision"


def agent_message(messages: list[Any], payload: dict[str, Any]) -> str:
    """What the agent wrote in the message that proposed the call, or the end of an escalated thread."""
    call_id = payload.get("tool_call_id")
    for message in reversed(messages):
        calls = getattr(message, "tool_calls", None) or []
        if call_id and any(c.get("id") == call_id for c in calls):
            return str(getattr(message, "content", "") or "").strip()
    thread = payload.get("thread") or []
    return "\n".join(str(line) for line in thread[-4:]) if thread else ""


def _last_verdicts(verdicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    last = max((v.get("round", 0) for v in verdicts), default=0)
    return [v for v in verdicts if v.get("round", 0) == last]


def editable_fields(kind: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The form fields a person may change for this approval kind, with the proposed values."""
    if "edit" not in (payload.get("options") or []) or kind not in EDITABLE:
        return []
    args = payload.get("args") or {}
    if kind == "refund":
        return [{"name": "amount_usd", "label": "Refund amount (USD, at most the proposed)", "type": "number",
                 "value": args.get("amount_usd")}]
    lines = list(args.get("lines") or [])
    fields = [{"name": "supplier_id", "label": "Supplier", "type": "text", "value": args.get("supplier_id")},
              {"name": "dc_id", "label": "Deliver to DC", "type": "text", "value": args.get("dc_id")}]
    for line in lines:
        sku = str(line.get("sku_id"))
        fields.append({"name": f"line:{sku}", "label": f"Quantity of {sku}", "type": "integer",
                       "value": line.get("quantity")})
    return fields


def edits_from_form(fields: list[dict[str, Any]], form: dict[str, str]) -> dict[str, Any]:
    """The edit JSON for the fields a person changed on the form (unchanged fields are left out).

    Numbers are converted as typed; text that is not a number stays text, so the edit's own
    validation (the same as ``runs resume --edit``) explains what is wrong with it.
    """
    edits: dict[str, Any] = {}
    for item in fields:
        raw = str(form.get(item["name"], "")).strip()
        if raw == "" or raw == _shown(item["value"]):
            continue
        value: Any = _as_number(raw, item["type"])
        if item["name"].startswith("line:"):
            edits.setdefault("lines", {})[item["name"][5:]] = value
        else:
            edits[item["name"]] = value
    return edits


def _shown(value: Any) -> str:
    return "" if value is None else str(value)


def _as_number(raw: str, kind: str) -> Any:
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        return raw
    return raw
