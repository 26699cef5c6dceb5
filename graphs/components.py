"""Nodes shared by every topology: a specialist agent turn, the tool executor, the approval gate.

Tool execution is where governance happens: permission checks (whatever the model asked
for), human decisions, idempotency keys derived from the thread, clear tool errors, and
one audit event per call.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Literal, Sequence

from langchain_core.messages import AIMessage, AnyMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.config import get_config
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt
from pydantic import ValidationError

from opsgraph.agents.base import AgentSpec
from opsgraph.graphs.history import context_policy, history_view
from opsgraph.citations import collect_citations
from opsgraph.context import OpsContext, resolve_context
from opsgraph.errors import RunFailed
from opsgraph.governance.approvals import (DecisionError, GateCheck, apply_edits, check_gate, gate_kind,
                                           parse_decision, validate_edited)
from opsgraph.governance.autonomy import autonomy_grant, category_of, effective_mode
from opsgraph.governance.shadow import simulated, unsimulated
from opsgraph.governance.budgets import budget_request, exhausted, load_budgets, merge_budget
from opsgraph.governance.ownership import IDENTITY_HELP, identity_refusal, scope_violation
from opsgraph.prompts import load_prompt
from opsgraph.tools.connectors.base import is_database_fault

MAX_TOOL_RESULT_CHARS = 6000
TOOLS, APPROVAL = "tools", "approval"  # node names of the tool executor and the approval gate


def branch_thread(state: dict) -> dict[str, Any]:
    """A parallel branch's state as the shared components read it: its ``transcript`` is its thread."""
    return {**state, "messages": state["transcript"]}


def to_transcript(update: dict[str, Any]) -> dict[str, Any]:
    """A shared component's update for a parallel branch: its ``messages`` go to the ``transcript``."""
    if "messages" in update:
        update["transcript"] = update.pop("messages")
    return update


def thread_id() -> str:
    """Thread id of the run being executed."""
    return str(get_config().get("configurable", {}).get("thread_id", "no-thread"))


def last_ai(messages: list[AnyMessage]) -> AIMessage | None:
    """The most recent assistant message, if any."""
    return next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)


def idempotency_key(thread: str, name: str, args: dict[str, Any]) -> str:
    """Key for a write: the same request in the same thread is the same write, even after a crash."""
    canonical = json.dumps(args, sort_keys=True, default=str)
    return hashlib.sha256(f"{thread}|{name}|{canonical}".encode()).hexdigest()[:32]


def superseded_attempts(record: dict) -> list[dict]:
    """The attempts a call record superseded (retry with feedback, escalation), latest first, unnested."""
    chain, earlier = [], record.get("escalated_from")
    while earlier:
        chain.append({k: v for k, v in earlier.items() if k != "escalated_from"})
        earlier = earlier.get("escalated_from")
    return chain


def audit_model_call(ctx: OpsContext, agent: str, position: int, record: dict, message: AIMessage) -> None:
    """Write one model call (and the decision it made) to the audit store; an escalated first attempt too."""
    decision = {"tool_calls": [{"name": c["name"], "args": c["args"]} for c in message.tool_calls]}
    if not message.tool_calls:
        decision["answer"] = str(message.content)[:2000]
    for depth, first in enumerate(superseded_attempts(record)):
        suffix = f":{depth}" if depth else ""  # the direct predecessor keeps the key it always had
        ctx.audit.record(thread_id(), f"model:{agent}:{position}:escalated{suffix}", "model_call", agent=agent,
                         name=first["model"], args={k: first[k] for k in ("tier", "rule", "signals")},
                         result={"escalated": first["escalation_reason"], "usage": first}, ok=False)
    usage = {k: v for k, v in record.items() if k != "escalated_from"}
    ctx.audit.record(thread_id(), f"model:{agent}:{position}", "model_call", agent=agent, name=record["model"],
                     args={k: record[k] for k in ("tier", "rule", "signals")}, result={**decision, "usage": usage})


def agent_turn(spec: AgentSpec, ctx: OpsContext, state: dict, prompt_values: dict[str, Any],
               extra_tools: Sequence[BaseTool] = ()) -> dict[str, Any]:
    """Run one model round for ``spec``; returns the state update (message, call record, rounds).

    The agent sees the thread through its context policy (``agents.<name>.history`` in
    policy.yaml, else ``spec.history``). ``extra_tools`` are bound besides the catalog tools
    of ``spec``: tools a topology makes itself, such as handoffs.
    """
    rounds = int(state.get("agent_rounds") or 0) + 1
    enforce_budget(state, ctx, agent=spec.name)
    system = SystemMessage(load_prompt(spec.prompt, **prompt_values))
    view = history_view(state["messages"], spec.name, context_policy(spec.name, ctx.policy, spec.history))
    tools = [*ctx.tools_for(spec), *extra_tools]
    message, record = ctx.gateway.invoke(spec.name, [system, *view], tools, state=state)
    message.name = spec.name
    if message.tool_calls and rounds >= ctx.limit("max_agent_rounds"):
        # Dropping the calls keeps the thread valid: no tool call is left without a result.
        message = AIMessage(content=f"{spec.name} stopped after {rounds} rounds (limit).", name=spec.name, id=message.id)
    audit_model_call(ctx, spec.name, len(state["messages"]), record, message)
    return {"messages": [message], "calls": [record], "agent_rounds": rounds, "active_agent": spec.name}


def guard_step(state: dict, ctx: OpsContext, counter: str = "steps") -> str | None:
    """Check the run's limits at a step boundary; returns why the run must stop, or None.

    Every topology calls this before each routing decision, so the kill switch, the step
    limit and the budgets behave the same in every graph. A spent budget does not end the
    run: it pauses it with a ``{"type": "budget"}`` interrupt until someone raises the cap.
    """
    if ctx.audit.stop_requested(thread_id()):
        return "stopped by operator (kill switch)"
    limit = ctx.limit("max_steps")
    if int(state.get(counter) or 0) >= limit:
        return f"step limit of {limit} supervisor turns reached before the work was finished"
    enforce_budget(state, ctx)
    return None


def enforce_budget(state: dict, ctx: OpsContext, agent: str | None = None) -> None:
    """Pause the run (LangGraph interrupt, state checkpointed) while a cap that applies is spent.

    Checks the run's caps and every agent's, or only ``agent``'s before that agent's call.
    The resume value (new caps, also written to state ``budget`` by the runner) is applied
    at once; if the raised caps are still spent the run pauses again.
    """
    calls = list(state.get("calls") or [])
    # Caps raised on resume are written to the top graph's state; a team subgraph's own state
    # never sees them, so the raises recorded in the audit trail are applied on top.
    overrides = merge_budget(state.get("budget"), ctx.audit.budget_raises(thread_id()))
    while found := exhausted(load_budgets(ctx.policy, overrides), calls, agent):
        request = budget_request(found, len(calls))
        ctx.audit.record(thread_id(), f"budget:{len(calls)}:{request['budget']}", "budget_exhausted",
                         agent=agent, name=request["budget"], result=request, ok=False)
        raised = interrupt(request)
        overrides = merge_budget(overrides, raised if isinstance(raised, dict) else {})


def needs_gate(message: AIMessage, ctx: OpsContext) -> bool:
    """True when any requested call carries an approval rule or is a write of a supervised category
    (the gate decides whether a human is asked)."""
    return any(gate_kind(ctx.tools.get(c["name"])) or write_mode(c["name"], ctx)[1] == "supervised"
               for c in message.tool_calls)


def write_mode(name: str, ctx: OpsContext) -> tuple[str | None, str | None]:
    """(action category, effective autonomy mode) of tool ``name``; (None, None) for a tool that does not write."""
    tool = ctx.tools.get(name)
    if tool is None or not (tool.metadata or {}).get("writes"):
        return None, None
    category = category_of(name)
    return category, effective_mode(category, ctx.policy, ctx.audit)


def after_turn(message: AIMessage, ctx: OpsContext, done: str, *, gated: bool = True) -> str:
    """Where an agent's model round goes: the approval gate or the tools for its calls, ``done`` without calls.

    A topology without an approval node passes ``gated=False``: its calls go to the tools, where
    a write that would need a human (a supervised category) is refused.
    """
    if not message.tool_calls:
        return done
    return APPROVAL if gated and needs_gate(message, ctx) else TOOLS


def approval_node(state: dict, runtime: Runtime[OpsContext]) -> Command[Literal["tools"]]:
    """The approval node: hold gated calls above their thresholds for a human decision, then run the tools."""
    return Command(goto=TOOLS, update={"approvals": approval_gate(state, resolve_context(runtime.context))})


def approval_gate(state: dict, ctx: OpsContext, verify_customer: bool = False) -> list[dict[str, Any]]:
    """Ask a human about each write its category's autonomy mode puts to one.

    ``supervised``: every proposal. ``threshold``: a gated call whose running total is above
    its limit, or that cannot be priced. ``autonomous``: none. Permission, identity, customer
    scope and earlier refusals are checked first: a call the executor will refuse is never put
    to a human. Earlier calls of the same message count against the limit of later ones (five
    refunds of $490 on one invoice add up).
    """
    message = last_ai(state["messages"])
    agent = state.get("active_agent") or (message.name if message else "")
    records: list[dict[str, Any]] = []
    pending: dict[str, float] = {}
    for call in message.tool_calls if message else []:
        tool = ctx.tools.get(call["name"])
        kind = gate_kind(tool)
        category, mode = write_mode(call["name"], ctx)
        if mode is None or mode == "autonomous" or (mode == "threshold" and not kind):
            continue
        if not ctx.policy.agent(agent).may_call(call["name"]):
            continue
        args = _visible_args(tool, call["args"])
        if boundary_refusal(call["name"], args, True, ctx, state, verify_customer):
            continue  # the executor refuses it and audits why; nobody is asked to approve a refused action
        check = check_gate(kind, args, ctx.policy, ctx.world, pending) if kind else _unpriced(category, args)
        if check.invalid:
            continue  # the tool itself refuses a malformed request
        amount = check.amount_usd
        if mode == "supervised" or check.needs_human:
            record = _decide(call, args, check, agent, ctx, category, mode)
            records.append(record)
            if record["decision"] == "reject":
                continue
            amount = record["approved_usd"]
        pending[check.scope_key] = pending.get(check.scope_key, 0.0) + amount
    return records


def _unpriced(category: str, args: dict) -> GateCheck:
    """The proposal of a category without a priced approval rule, put to a human because it is supervised."""
    return GateCheck(category, 0.0, None, dict(args), f"autonomy.categories.{category}")


def _decide(call: dict, args: dict, check: GateCheck, agent: str, ctx: OpsContext, category: str,
            mode: str) -> dict[str, Any]:
    """Interrupt until a valid decision arrives; a refused edit keeps the approval pending with the reason.

    In a shadow run nobody is asked: the request is audited as ``shadow_approval`` (would ask)
    and the run carries on as if approved, so the whole proposed course of action is recorded.
    """
    request = _approval_request(call, args, check, agent)
    why = f"{category} is supervised: every proposal waits for a human" if mode == "supervised" else None
    request.update(category=category, mode=mode, why=why or f"above {request['policy']}")
    if ctx.shadow:
        return _would_ask(call, args, check, request, ctx)
    attempt = 0
    while True:
        raw = interrupt(request)
        try:
            decision = parse_decision(raw)
            final, approved = _final_args(check, args, decision, ctx)
            break
        except DecisionError as exc:
            attempt += 1
            ctx.audit.record(thread_id(), f"approval:{call['id']}:refused-edit:{attempt}", "approval_edit_refused",
                             agent=str(raw.get("by") if isinstance(raw, dict) else "operator"), name=call["name"],
                             args=args, result={"reason": str(exc), "decision": raw}, ok=False)
            request = {**request, "refused_edit": str(exc)}
    record = {"kind": check.kind, "tool_call_id": call["id"], "decision": decision["decision"],
              "reason": decision["reason"], "by": decision["by"], "proposal": check.proposal, "final_args": final,
              "approved_usd": approved, "approval_id": f"approval:{call['id']}", "category": category, "mode": mode}
    ctx.audit.record(thread_id(), f"approval:{call['id']}", "approval", agent=decision["by"], name=call["name"],
                     args=args, result=record)
    return record


SHADOW_APPROVER = "shadow (would ask)"


def _would_ask(call: dict, args: dict, check: GateCheck, request: dict, ctx: OpsContext) -> dict[str, Any]:
    record = {"kind": check.kind, "tool_call_id": call["id"], "decision": "approve", "reason": "shadow run",
              "by": SHADOW_APPROVER, "proposal": check.proposal, "final_args": args, "approved_usd": check.amount_usd,
              "approval_id": f"shadow:{call['id']}", "category": request["category"], "mode": request["mode"]}
    ctx.audit.record(thread_id(), f"approval:{call['id']}", "shadow_approval", agent=request["agent"],
                     name=call["name"], args=args, result={"would_ask": request, "assumed": "approve"})
    return record


def _final_args(check: GateCheck, args: dict, decision: dict, ctx: OpsContext) -> tuple[dict, float]:
    """The arguments the human approved, checked like the connector checks them, and their amount."""
    if decision["decision"] != "edit":
        return args, check.amount_usd
    final = apply_edits(args, decision["edits"], check.kind)
    priced = validate_edited(check.kind, args, final, ctx.world)
    return final, float(priced.get("total_usd", priced.get("amount_usd", 0.0)))


def _approval_request(call: dict, args: dict, check: GateCheck, agent: str) -> dict[str, Any]:
    threshold = f"{check.threshold_usd:,.2f}" if check.threshold_usd is not None else "unreadable"
    return {
        "type": "approval",
        "kind": check.kind,
        "agent": agent,
        "tool": call["name"],
        "tool_call_id": call["id"],
        "args": args,
        "proposal": check.proposal,
        "amount_usd": check.amount_usd,
        "prior_usd": check.prior_usd,
        "total_usd": check.total_usd,
        "threshold_usd": check.threshold_usd,
        "doubt": check.doubt,
        "policy": f"{check.rule} = {threshold}",
        "options": ["approve", "reject", "edit"],
    }


def execute_tool_calls(state: dict, ctx: OpsContext, calls: Sequence[dict] | None = None, *,
                       verify_customer: bool = False, guard: Any = None) -> dict[str, Any]:
    """Run the last assistant message's tool calls (or only ``calls`` of them) for the active agent.

    Returns the state update. A topology that handles some calls itself (handoffs) passes
    the others as ``calls`` and answers the rest, so every call still gets one tool message.
    ``verify_customer``: writes need a customer identity verified by the channel (state
    ``customer_id``). ``guard(call, actions)`` may return why a call must be refused, given
    the actions of this batch so far.
    """
    message = last_ai(state["messages"])
    agent = state.get("active_agent") or (message.name if message else "")
    decisions = {a["tool_call_id"]: a for a in state.get("approvals") or []}
    results, actions = [], []
    for call in calls if calls is not None else (message.tool_calls if message else []):
        seen = {**state, "actions": [*(state.get("actions") or []), *actions]}
        why = guard(call, actions) if guard else None
        if why:
            tool_message, action = _refuse(call, agent, ctx, why)
        else:
            tool_message, action = _run_one(call, agent, ctx, decisions.get(call["id"]), seen, verify_customer)
        results.append(tool_message)
        actions.append(action)
    citations = [c for a in actions if a["ok"] for c in collect_citations(a["result"])]
    return {"messages": results, "actions": actions, "citations": citations}


def _run_one(call: dict, agent: str, ctx: OpsContext, decision: dict | None, state: dict,
             verify_customer: bool = False) -> tuple[ToolMessage, dict]:
    name = call["name"]
    tool = ctx.tool(name, agent)
    if not ctx.policy.agent(agent).may_call(name):
        return _refuse(call, agent, ctx, f"agent '{agent}' is not permitted to call '{name}' (policy.yaml)")
    if tool is None:
        return _finish(call, agent, ctx, "error", f"unknown tool '{name}'", writes=False)
    args = _drop_forged(tool, call, agent, ctx)
    writes = bool((tool.metadata or {}).get("writes"))
    refusal = boundary_refusal(name, args, writes, ctx, state, verify_customer)
    if refusal:
        return _refuse(call, agent, ctx, refusal, args=args)
    if decision and decision["decision"] == "reject":
        text = f"rejected by {decision['by']}: {decision['reason'] or 'no reason given'}. Do not retry this action."
        return _finish(call, agent, ctx, "rejected", text, writes=writes, args=args)
    category, mode = write_mode(name, ctx)
    if mode == "supervised" and not decision:
        # Whatever route the call took here, a supervised write never runs without a human decision.
        return _refuse(call, agent, ctx, f"'{name}' not executed: {category} is supervised and this call has no "
                                         "human decision", args=args)
    if decision:
        args = decision["final_args"]
    return _invoke(tool, call, args, agent, ctx, decision, writes)


def boundary_refusal(name: str, args: dict, writes: bool, ctx: OpsContext, state: dict,
                     verify_customer: bool = False) -> str | None:
    """Why a write must not run whatever the model says: identity, customer scope, an earlier refusal."""
    if not writes:
        return None
    customer = state.get("customer_id")
    why = identity_refusal(customer, writes) if verify_customer else None
    why = why or scope_violation(args, customer, ctx.world)
    if why:
        return f"'{name}' not executed: {why}"
    earlier = refused_before(name, args, state.get("actions") or [])
    if earlier:
        return (f"'{name}' with these arguments was already refused in this conversation ({earlier}); "
                "it is not tried again")
    return None


def refused_before(name: str, args: dict, actions: Sequence[dict]) -> str | None:
    """The refusal of the same call (tool and arguments) earlier in the thread, if any."""
    wanted = _canonical(args)
    for action in actions:
        if IDENTITY_HELP in str(action["result"]):
            continue  # refused for want of a verified identity: once the channel verifies it, the call may run
        if action["tool"] == name and action["status"] in ("refused", "rejected") and _canonical(action["args"]) == wanted:
            return str(action["result"])[:160]
    return None


def _canonical(args: dict) -> str:
    return json.dumps(args, sort_keys=True, default=str)


def _visible_args(tool: BaseTool | None, args: dict) -> dict:
    hidden = _injected(tool) if tool is not None else set()
    return {k: v for k, v in dict(args).items() if k not in hidden}


def _drop_forged(tool: BaseTool, call: dict, agent: str, ctx: OpsContext) -> dict:
    """The call's arguments without the fields only the executor and the approval path may set.

    A model that fills ``approved_by`` (or an idempotency key) is forging: the value is
    dropped and the attempt audited as ``forged_field_dropped``.
    """
    args = _visible_args(tool, call["args"])
    forged = {k: v for k, v in call["args"].items() if k not in args}
    if forged:
        ctx.audit.record(thread_id(), f"forged:{agent}:{call['id']}", "forged_field_dropped", agent=agent,
                         name=call["name"], args=forged, result={"dropped": sorted(forged)}, ok=False)
    return args


def _invoke(tool: BaseTool, call: dict, args: dict, agent: str, ctx: OpsContext, decision: dict | None, writes: bool):
    payload = _payload(tool, call, args, ctx, decision, writes)
    shadow = ctx.shadow and writes
    if ctx.shadow:
        payload = unsimulated(payload)  # a simulated id the agent passes back names the scratch world's record
    started = time.perf_counter()
    status, result = _call_tool(tool, payload)
    elapsed = (time.perf_counter() - started) * 1000
    if not shadow:
        return _finish(call, agent, ctx, status, result, writes=writes, args=args, latency_ms=elapsed)
    result = simulated(result, args)
    proposal = {"status": status, "category": write_mode(call["name"], ctx)[0], "result": result,
                "idempotency_key": payload["idempotency_key"], "approved_by": payload.get("approved_by")}
    return _finish(call, agent, ctx, status, result, writes=writes, args=args, latency_ms=elapsed,
                   kind="shadow_action", recorded=proposal)


def _payload(tool: BaseTool, call: dict, args: dict, ctx: OpsContext, decision: dict | None, writes: bool) -> dict:
    """The tool's input: the arguments plus the fields only the executor sets (idempotency key, approval)."""
    payload = dict(args)
    if writes:
        payload["idempotency_key"] = idempotency_key(thread_id(), call["name"], args)
    hidden = _injected(tool)
    category, mode = write_mode(call["name"], ctx)
    if not decision and mode == "autonomous":
        # The autonomy grant stands in for a person; the connectors' hard limits still apply.
        decision = autonomy_grant(category, ctx.policy, ctx.audit)
    if decision and "approved_by" in hidden:
        payload["approved_by"] = decision["by"]
    if decision and "approval_id" in hidden:
        payload["approval_id"] = decision.get("approval_id") or f"approval:{call['id']}"
    if ctx.privacy is not None:
        # A placeholder the model passed stands for a real value of this thread: the tool acts on that.
        payload = ctx.privacy.unmask(thread_id(), payload)
    return payload


def _call_tool(tool: BaseTool, payload: dict) -> tuple[str, Any]:
    try:
        return "done", tool.invoke(payload)
    except ValidationError as exc:
        return "error", _validation_text(exc)
    except RunFailed:
        raise  # the tool says no agent can fix this (a knowledge store that cannot answer): the run fails
    except Exception as exc:  # noqa: BLE001 - any tool failure goes back to the agent, never crashes the graph
        if is_database_fault(exc):
            raise  # a damaged or unreachable database: no agent can fix that, so the run fails
        return "error", f"{type(exc).__name__}: {exc}"


def _injected(tool: BaseTool) -> set[str]:
    schema = tool.args_schema
    fields = getattr(schema, "model_fields", {}) if schema is not None else {}
    visible = set(tool.tool_call_schema.model_fields) if hasattr(tool.tool_call_schema, "model_fields") else set()
    return set(fields) - visible


def _validation_text(exc: ValidationError) -> str:
    problems = [f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()[:5]]
    return "invalid arguments: " + "; ".join(problems)


def _refuse(call: dict, agent: str, ctx: OpsContext, reason: str, args: dict | None = None) -> tuple[ToolMessage, dict]:
    # A refused write is still recorded as an attempted write, so a report never calls the request done.
    writes = bool((getattr(ctx.tools.get(call["name"]), "metadata", None) or {}).get("writes"))
    return _finish(call, agent, ctx, "refused", f"refused: {reason}", writes=writes, args=args)


def refuse_call(call: dict, agent: str, ctx: OpsContext, reason: str) -> tuple[ToolMessage, dict]:
    """Answer a call the agent may not make: a refusal tool message, an action and a ``tool_refused`` audit event."""
    return _refuse(call, agent, ctx, reason)


def skip_call(call: dict, agent: str, ctx: OpsContext, reason: str) -> tuple[ToolMessage, dict]:
    """Answer a call that is deliberately not executed (a second handoff in one message, say).

    The tool message keeps the thread valid for any chat API; the audit event is ``tool_skipped``.
    """
    return _finish(call, agent, ctx, "skipped", f"not executed: {reason}", writes=False)


def _finish(call: dict, agent: str, ctx: OpsContext, status: str, result: Any, *, writes: bool,
            args: dict | None = None, latency_ms: float = 0.0, kind: str | None = None, recorded: Any = None):
    ok = status == "done"
    if ctx.privacy is not None:
        # Masked before anything keeps it: the tool message (state, checkpoints, the next model), the action, the audit.
        result = ctx.privacy.mask(thread_id(), result)
        args = ctx.privacy.mask(thread_id(), args if args is not None else call["args"])
    text = json.dumps(result, default=str) if not isinstance(result, str) else result
    if len(text) > MAX_TOOL_RESULT_CHARS:
        text = text[:MAX_TOOL_RESULT_CHARS] + " …[truncated]"
    kind = kind or ("tool_call" if status in ("done", "error") else f"tool_{status}")
    # The agent is part of the key: agents running in parallel may issue identical call ids.
    audited = recorded if recorded is not None else result
    ctx.audit.record(thread_id(), f"tool:{agent}:{call['id']}", kind, agent=agent, name=call["name"],
                     args=args if args is not None else call["args"], result=audited, ok=ok)
    message = ToolMessage(content=text, tool_call_id=call["id"], name=call["name"], status="success" if ok else "error")
    action = {"agent": agent, "tool": call["name"], "tool_call_id": call["id"], "args": args or call["args"],
              "writes": writes, "ok": ok, "status": status, "result": result, "latency_ms": round(latency_ms, 3)}
    return message, action
