"""``production_planning``: a plant event puts jobs up for bids; work centres bid; the orchestrator awards by policy.

    START -> intake -> announce -> Send x work centres -> bid (subgraph: agent <-> tools -> bids)
          -> award -> [commitment_approval] -> apply -> announce (leftovers, bounded rounds) | materials
          -> [procurement <-> approval/tools] -> report -> END

A market topology. ``intake`` applies the event to the MES/TMS (downtime, a shipment delay, or
a named rush job) and finds the jobs it displaces. ``announce`` sends one call for bids to every
work centre (except one that broke down) with ``Send``; each work centre's agent prices the jobs
on its own calendar with a tool and decides what to bid on. ``award`` ranks the bids by
``production.award`` in policy.yaml; an award that finishes after the job's due date moves a
customer commitment and is put to a human (``commitment_approval``, a LangGraph interrupt) before
``apply`` writes it: the MES refuses such a write without a recorded approval. Jobs without an
award (no bids, only ineligible bids, the rest of a split job) are announced again until
``production.award.max_rounds``. Component shortfalls of the awarded jobs go to the existing
procurement agent and its purchase-order approval gate. Every call for bids, bid, no-bid, award
and rejected bid is an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, Send, interrupt

from opsgraph.agents.base import AgentSpec
from opsgraph.agents.procurement import PROCUREMENT
from opsgraph.agents.production_planner import PRODUCTION_PLANNER
from opsgraph.agents.work_centre import WORK_CENTRE
from opsgraph.context import OpsContext, resolve_context
from opsgraph.governance.approvals import DecisionError, parse_decision
from opsgraph.graphs.components import (APPROVAL, SHADOW_APPROVER, TOOLS, after_turn, agent_turn, approval_node, execute_tool_calls,
                                        branch_thread, guard_step, last_ai, thread_id, to_transcript)
from opsgraph.graphs.binding import bind_last
from opsgraph.graphs.production_award import AWARD_KEY, PER_ROUND_KEY, AwardRules, award_round
from opsgraph.graphs.production_report import build_production_report
from opsgraph.graphs.state import BidderOutput, BidderState, ProductionInput, ProductionOutput, ProductionState

GRAPH_ID = "production_planning"
INTAKE, ANNOUNCE, BID, AWARD, CONFIRM, APPLY = "intake", "announce", "bid", "award", "commitment_approval", "apply"
MATERIALS, REPORT = "materials", "report"
PROCURE = PROCUREMENT.name
AGENT, BIDDER_TOOLS, BIDS = "agent", "tools", "bids"
PLANNER = PRODUCTION_PLANNER.name
COMMITMENT_KIND = "commitment_change"
EVENT_WORDS = {"breakdown": "breakdown of", "late_material": "late material on", "rush": "rush order for"}


@dataclass(frozen=True)
class Market:
    """The bidding agent (one branch per work centre), the agent that raises purchase orders for shortfalls and
    the policy.yaml keys of the award rules: the default market, or one a workflow spec declares."""

    bidder: AgentSpec = WORK_CENTRE
    shortfalls: AgentSpec = PROCUREMENT
    award: str = AWARD_KEY
    max_awards_per_round: str = PER_ROUND_KEY

    def rules(self, ctx: OpsContext) -> AwardRules:
        """The award rules from the policy at this market's keys."""
        return AwardRules.from_policy(ctx.policy, self.award, self.max_awards_per_round)


DEFAULT_MARKET = Market()


def event_request(event: dict[str, Any]) -> HumanMessage:
    """The human turn that opens a run: the event as reported (its note is data)."""
    subject = event.get("work_centre_id") or event.get("shipment_id") or event.get("job_id")
    days = f" for {event['days']} days" if event.get("days") else ""
    note = f" Note: {event['note']}" if event.get("note") else ""
    return HumanMessage(content=f"Production event: {EVENT_WORDS[event['kind']]} {subject}{days}.{note}", name="event")


def _event_calls(event: dict[str, Any]) -> list[dict[str, Any]]:
    reason = event.get("note") or f"{event['kind'].replace('_', ' ')} reported"
    calls: list[tuple[str, dict[str, Any]]] = []
    if event["kind"] == "breakdown":
        calls = [("record_downtime", {"work_centre_id": event["work_centre_id"], "days": event["days"],
                                      "reason": reason[:500]}),
                 ("find_affected_jobs", {"work_centre_id": event["work_centre_id"]})]
    elif event["kind"] == "late_material":
        calls = [("report_shipment_delay", {"shipment_id": event["shipment_id"], "delay_days": event["days"],
                                            "reason": reason[:500]}),
                 ("find_affected_jobs", {"shipment_id": event["shipment_id"]})]
    else:
        calls = [("find_affected_jobs", {"job_id": event["job_id"]})]
    return [{"name": name, "args": args, "id": f"event-{i}", "type": "tool_call"} for i, (name, args) in enumerate(calls)]


def planner_calls(state: dict, ctx: OpsContext, calls: list[dict], content: str) -> dict[str, Any]:
    """Run the orchestrator's own tool calls through the executor (permissions, approvals, audit)."""
    message = AIMessage(name=PLANNER, content=content, tool_calls=calls)
    update = execute_tool_calls({**state, "messages": [*state.get("messages", []), message], "active_agent": PLANNER}, ctx)
    return {"messages": [message, *update["messages"]], "actions": update["actions"], "active_agent": PLANNER}


def intake(state: ProductionState, runtime: Runtime[OpsContext]) -> Command[Literal["announce", "report"]]:
    """Apply the event to the plant and find the jobs it displaces."""
    ctx = resolve_context(runtime.context)
    stop = guard_step(state, ctx)
    if stop:
        return Command(goto=REPORT, update={"stop_reason": stop})
    event = state["event"]
    opened = [] if state.get("messages") else [event_request(event)]
    update = planner_calls({**state, "messages": [*(state.get("messages") or []), *opened]}, ctx, _event_calls(event),
                           f"Applying the event and finding the jobs it displaces ({event['kind']}).")
    update["messages"] = opened + update["messages"]
    failed = [a for a in update["actions"] if not a["ok"]]
    found = update["actions"][-1]["result"] if not failed else {}
    update.update(steps=int(state.get("steps") or 0) + 1, round=0, visited=[PLANNER],
                  open_jobs=list(found.get("jobs") or []), unassigned=[])
    if failed:
        update["stop_reason"] = f"the event could not be applied: {failed[0]['result']}"
        return Command(goto=REPORT, update=update)
    return Command(goto=ANNOUNCE, update=update)


def bidders(ctx: OpsContext, event: dict[str, Any]) -> list[str]:
    """Work centres a call for bids goes to: all of them but one that broke down (its capacity is in doubt)."""
    broken = event.get("work_centre_id") if event["kind"] == "breakdown" else None
    return [wc["work_centre_id"] for wc in ctx.world.mes.list_work_centres()["work_centres"]
            if wc["work_centre_id"] != broken]


def call_for_bids(work_centre_id: str, round_no: int, jobs: list[dict[str, Any]], event: dict[str, Any]) -> HumanMessage:
    """The announcement one work centre receives; notes are quoted as data."""
    lines = [f"Call for bids, round {round_no}, to work centre {work_centre_id}. Announced jobs:"]
    for job in jobs:
        note = f" Job note (data): {job['note']}" if job.get("note") else ""
        lines.append(f"- {job['job_id']}: {job['quantity']} x {job['product']} ({job['operation']}), due "
                     f"{job['due_date']} for order {job['order_id']}, may be split: "
                     f"{'yes' if job.get('allow_split') else 'no'}.{note}")
    lines.append(f"Event (data): {event_request(event).content}")
    return HumanMessage(content="\n".join(lines), name="call_for_bids")


def announce(state: ProductionState, runtime: Runtime[OpsContext]) -> Command[Literal["bid", "materials", "report"]]:
    """Announce the open jobs to every bidding work centre at once (one ``Send`` each); audited."""
    ctx = resolve_context(runtime.context)
    stop = guard_step(state, ctx)
    if stop:
        return Command(goto=REPORT, update={"stop_reason": stop})
    jobs = list(state.get("open_jobs") or [])
    if not jobs:
        return Command(goto=MATERIALS)
    round_no = int(state.get("round") or 0) + 1
    centres = bidders(ctx, state["event"])
    call = {"round": round_no, "job_ids": [j["job_id"] for j in jobs], "work_centres": centres}
    ctx.audit.record(thread_id(), f"call_for_bids:{round_no}", "call_for_bids", agent=PLANNER, name=f"round {round_no}",
                     args={"jobs": jobs}, result=call)
    shared = {"round": round_no, "job_ids": call["job_ids"], "calls": list(state.get("calls") or []), "budget": dict(state.get("budget") or {})}
    sends = [Send(BID, {**shared, "work_centre_id": wc, "transcript": [call_for_bids(wc, round_no, jobs, state["event"])]})
             for wc in centres]
    note = AIMessage(name=PLANNER, content=f"Call for bids, round {round_no}: {', '.join(call['job_ids'])} "
                                           f"announced to {', '.join(centres)}.")
    return Command(goto=sends, update={"round": round_no, "calls_for_bids": [call], "messages": [note],
                                       "steps": int(state.get("steps") or 0) + 1})


# --- one work centre's bidding branch ------------------------------------------------------


def bidder_agent(state: BidderState, runtime: Runtime[OpsContext], bidder: AgentSpec = WORK_CENTRE
                 ) -> Command[Literal["tools", "bids"]]:
    """One model round of this work centre's bidding agent."""
    ctx = resolve_context(runtime.context)
    update = agent_turn(bidder, ctx, branch_thread(state), {"work_centre_id": state["work_centre_id"]})
    goto = BIDDER_TOOLS if update["messages"][0].tool_calls else BIDS
    return Command(goto=goto, update=to_transcript(update))


def bidder_tools(state: BidderState, runtime: Runtime[OpsContext]) -> Command[Literal["agent"]]:
    """Execute the bidder's calls; a call about another work centre's calendar is refused."""
    ctx = resolve_context(runtime.context)
    own = state["work_centre_id"]

    def own_calendar_only(call: dict, _actions: list) -> str | None:
        named = str((call.get("args") or {}).get("work_centre_id") or own).strip().upper()
        return None if named == own else f"work centre {own} bids only from its own calendar, not {named}'s"

    update = execute_tool_calls(branch_thread(state), ctx, guard=own_calendar_only)
    return Command(goto=AGENT, update=to_transcript(update))


def _submitted(state: BidderState) -> dict[str, Any] | None:
    for action in reversed(state.get("actions") or []):
        if action["tool"] == "submit_bids" and action["ok"] and isinstance(action["result"], dict):
            return action["result"]
    return None


def _quoted_reasons(state: BidderState) -> dict[str, str]:
    """Why the calendar said no, per job, from the branch's quotes (a job left out after a quote)."""
    reasons: dict[str, str] = {}
    for action in state.get("actions") or []:
        if action["tool"] == "quote_bids" and action["ok"] and isinstance(action["result"], dict):
            reasons.update({b["job_id"]: f"no bid: {b['reason']}" for b in action["result"]["bids"] if not b["can_bid"]})
    return reasons


def bidder_bids(state: BidderState, runtime: Runtime[OpsContext], bidder: AgentSpec = WORK_CENTRE) -> dict:
    """The branch's bids (numbers from the calendar tool) and no-bids, each an audit event."""
    ctx = resolve_context(runtime.context)
    wc, round_no = state["work_centre_id"], state["round"]
    announced = list(state["job_ids"])
    submitted = _submitted(state) or {"bids": [], "justification": "no bids submitted"}
    bids = [{**{k: v for k, v in b.items() if k != "submitted"}, "round": round_no,
             "justification": submitted["justification"]}
            for b in submitted["bids"] if b["submitted"] and b["job_id"] in announced]
    bid_jobs = {b["job_id"] for b in bids}
    declined = {b["job_id"]: f"no bid: {b['reason']}" for b in submitted["bids"] if not b["submitted"]}
    reasons = {**_quoted_reasons(state), **declined}
    no_bids = [{"job_id": job, "work_centre_id": wc, "round": round_no, "reason": reasons.get(job, "did not bid")}
               for job in announced if job not in bid_jobs]
    for bid in bids:
        ctx.audit.record(thread_id(), f"bid:{round_no}:{wc}:{bid['job_id']}", "bid", agent=bidder.name,
                         name=bid["job_id"], args={"work_centre_id": wc, "round": round_no}, result=bid)
    for no_bid in no_bids:
        ctx.audit.record(thread_id(), f"no_bid:{round_no}:{wc}:{no_bid['job_id']}", "no_bid", agent=bidder.name,
                         name=no_bid["job_id"], args={"work_centre_id": wc, "round": round_no}, result=no_bid)
    reply = last_ai(state["transcript"]) or AIMessage(content="")
    summary = f"{wc} (round {round_no}): bids on {', '.join(sorted(bid_jobs)) or 'nothing'}. {reply.content}"
    return {"bids": bids, "no_bids": no_bids, "visited": [bidder.name],
            "messages": [AIMessage(content=summary.strip(), name=bidder.name)]}


def build_bidder_graph(bidder: AgentSpec = WORK_CENTRE) -> StateGraph:
    """One work centre's branch: model rounds with its calendar tools, then its bids."""
    graph = StateGraph(BidderState, context_schema=OpsContext, output_schema=BidderOutput)
    graph.add_node(AGENT, bind_last(bidder_agent, bidder, WORK_CENTRE), destinations=(BIDDER_TOOLS, BIDS))
    graph.add_node(BIDDER_TOOLS, bidder_tools)
    graph.add_node(BIDS, bind_last(bidder_bids, bidder, WORK_CENTRE))
    graph.add_edge(START, AGENT)
    graph.set_finish_point(BIDS)
    return graph


# --- the orchestrator: award, approve, apply, re-announce --------------------------------


def award(state: ProductionState, runtime: Runtime[OpsContext], market: Market = DEFAULT_MARKET
          ) -> Command[Literal["commitment_approval", "apply"]]:
    """Rank this round's bids by policy; audit each award, rejected bid and job left without an award."""
    ctx = resolve_context(runtime.context)
    rules = market.rules(ctx)
    round_no = int(state["round"])
    bids = [b for b in state.get("bids") or [] if b["round"] == round_no]
    result = award_round(list(state.get("open_jobs") or []), bids, rules, round_no)
    thread = thread_id()
    for item in result.awards:
        ctx.audit.record(thread, f"award:{round_no}:{item['job_id']}", "award", agent=PLANNER, name=item["job_id"],
                         args={"rules": list(rules.order)}, result=item)
    for item in result.rejections:
        ctx.audit.record(thread, f"bid_rejected:{round_no}:{item['work_centre_id']}:{item['job_id']}", "bid_rejected",
                         agent=PLANNER, name=item["job_id"], args={"work_centre_id": item["work_centre_id"]},
                         result=item, ok=False)
    for item in result.leftover:
        ctx.audit.record(thread, f"no_award:{round_no}:{item['job_id']}", "no_award", agent=PLANNER,
                         name=item["job_id"], result=item, ok=False)
    left = {item["job_id"]: item["reason"] for item in result.leftover}
    open_jobs = [{**job, "left_because": left[job["job_id"]]} for job in state["open_jobs"] if job["job_id"] in left]
    text = "; ".join(f"{a['job_id']} -> {a['work_centre_id']} ({a['quantity']} units, finish {a['finish_date']}, "
                     f"decided by {a['decided_by']})" for a in result.awards) or "no awards"
    update = {"awards": result.awards, "rejected_bids": result.rejections, "pending_awards": result.awards,
              "open_jobs": open_jobs, "messages": [AIMessage(name=PLANNER, content=f"Round {round_no} awards: {text}.")]}
    moved = any(a["commitment_moved"] for a in result.awards)
    return Command(goto=CONFIRM if moved else APPLY, update=update)


def assign_args(item: dict[str, Any]) -> dict[str, Any]:
    """The ``assign_job`` arguments of an award."""
    return {"job_id": item["job_id"], "work_centre_id": item["work_centre_id"], "quantity": item["quantity"]}


def commitment_request(item: dict[str, Any]) -> dict[str, Any]:
    """The approval request for an award that finishes after its job's due date."""
    return {"type": "approval", "kind": COMMITMENT_KIND, "agent": PLANNER, "tool": "assign_job",
            "tool_call_id": item["call_id"], "args": assign_args(item), "proposal": item, "amount_usd": None,
            "policy": "a job finishing after its due date moves a customer commitment: a human approves",
            "why": f"{item['job_id']} would finish on {item['finish_date']}, after its due date {item['due_date']} "
                   f"(order {item['order_id']})", "options": ["approve", "reject"]}


def _decide_commitment(item: dict[str, Any], ctx: OpsContext) -> dict[str, Any]:
    if ctx.shadow:
        return _would_ask(item, ctx)
    request, attempt = commitment_request(item), 0
    while True:
        raw = interrupt(request)
        try:
            decision = parse_decision(raw)
            if decision["decision"] == "edit":
                raise DecisionError("a commitment change is approved or rejected; to change it, reject it with a reason")
            break
        except DecisionError as exc:
            attempt += 1
            ctx.audit.record(thread_id(), f"approval:{item['call_id']}:refused-edit:{attempt}", "approval_edit_refused",
                             agent=PLANNER, name="assign_job", args=assign_args(item),
                             result={"reason": str(exc)}, ok=False)
            request = {**request, "refused_edit": str(exc)}
    record = {"kind": COMMITMENT_KIND, "tool_call_id": item["call_id"], "decision": decision["decision"],
              "reason": decision["reason"], "by": decision["by"], "proposal": item, "final_args": assign_args(item),
              "approval_id": f"approval:{item['call_id']}", "category": "production_schedule", "mode": "commitment"}
    ctx.audit.record(thread_id(), f"approval:{item['call_id']}", "approval", agent=decision["by"], name="assign_job",
                     args=assign_args(item), result=record)
    return record


def _would_ask(item: dict[str, Any], ctx: OpsContext) -> dict[str, Any]:
    """A shadow run asks nobody: the request is audited and the write goes ahead without a human approval,
    so the MES refuses it on the scratch world exactly as it would refuse it for real."""
    ctx.audit.record(thread_id(), f"approval:{item['call_id']}", "shadow_approval", agent=PLANNER, name="assign_job",
                     args=assign_args(item), result={"would_ask": commitment_request(item)})
    return {"kind": COMMITMENT_KIND, "tool_call_id": item["call_id"], "decision": "approve", "reason": "shadow run",
            "by": SHADOW_APPROVER, "proposal": item, "final_args": assign_args(item),
            "approval_id": f"shadow:{item['call_id']}", "category": "production_schedule", "mode": "commitment"}


def commitment_approval(state: ProductionState, runtime: Runtime[OpsContext]) -> Command[Literal["apply"]]:
    """Ask a human about every award that moves a customer commitment (one interrupt each)."""
    ctx = resolve_context(runtime.context)
    records = [_decide_commitment(item, ctx) for item in state.get("pending_awards") or [] if item["commitment_moved"]]
    return Command(goto=APPLY, update={"approvals": records})


def _remainders(actions: list[dict[str, Any]], ctx: OpsContext) -> list[dict[str, Any]]:
    found = []
    for action in actions:
        result = action["result"] if action["ok"] and isinstance(action["result"], dict) else {}
        if result.get("remainder_job_id"):
            found.append({**ctx.world.mes.get_job(result["remainder_job_id"]), "left_because": "rest of a split job"})
    return found


def _not_applied(actions: list[dict[str, Any]], pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {a["call_id"]: a for a in pending}
    return [{"job_id": by_id[x["tool_call_id"]]["job_id"], "round": by_id[x["tool_call_id"]]["round"],
             "reason": f"award to {by_id[x['tool_call_id']]['work_centre_id']} not applied: {str(x['result'])[:200]}"}
            for x in actions if not x["ok"] and x["tool_call_id"] in by_id]


def apply(state: ProductionState, runtime: Runtime[OpsContext], market: Market = DEFAULT_MARKET
          ) -> Command[Literal["announce", "materials"]]:
    """Write the round's awards to the MES; re-announce what is left while rounds remain."""
    ctx = resolve_context(runtime.context)
    pending = list(state.get("pending_awards") or [])
    calls = [{"name": "assign_job", "args": assign_args(a), "id": a["call_id"], "type": "tool_call"} for a in pending]
    update: dict[str, Any] = planner_calls(state, ctx, calls, "Writing the awards to the schedule.") if calls else {}
    actions = update.get("actions") or []
    open_jobs = [*(state.get("open_jobs") or []), *_remainders(actions, ctx)]
    unassigned = [*(state.get("unassigned") or []), *_not_applied(actions, pending)]
    update["pending_awards"] = []
    if open_jobs and int(state["round"]) < market.rules(ctx).max_rounds:
        return Command(goto=ANNOUNCE, update={**update, "open_jobs": open_jobs, "unassigned": unassigned})
    unassigned += [{"job_id": j["job_id"], "round": state["round"],
                    "reason": f"{j.get('left_because', 'no award')} after {state['round']} rounds: a planner decides"}
                   for j in open_jobs]
    return Command(goto=MATERIALS, update={**update, "open_jobs": [], "unassigned": unassigned})


def applied_jobs(actions: list[dict[str, Any]]) -> list[str]:
    """Jobs the run scheduled (successful ``assign_job`` writes), in order."""
    return list(dict.fromkeys(a["result"]["job_id"] for a in actions
                              if a["tool"] == "assign_job" and a["ok"] and isinstance(a["result"], dict)))


def materials(state: ProductionState, runtime: Runtime[OpsContext]) -> Command[Literal["procurement", "report"]]:
    """Check the components of every scheduled job; shortfalls go to procurement."""
    ctx = resolve_context(runtime.context)
    jobs = applied_jobs(state.get("actions") or [])
    if not jobs:
        return Command(goto=REPORT)
    call = {"name": "check_materials", "args": {"job_ids": jobs}, "id": "materials-check", "type": "tool_call"}
    update = planner_calls(state, ctx, [call], "Checking the components of the rescheduled jobs.")
    result = update["actions"][0]["result"] if update["actions"][0]["ok"] else {}
    goto = PROCURE if result.get("proposed_purchase_orders") else REPORT
    return Command(goto=goto, update=update)


def procurement(state: ProductionState, runtime: Runtime[OpsContext], market: Market = DEFAULT_MARKET
                ) -> Command[Literal["approval", "tools", "report"]]:
    """The existing procurement agent raises purchase orders for the shortfalls (its approval gate applies)."""
    ctx = resolve_context(runtime.context)
    stop = guard_step(state, ctx)
    if stop:
        return Command(goto=REPORT, update={"stop_reason": stop})
    update = agent_turn(market.shortfalls, ctx, state, {})
    goto = after_turn(update["messages"][0], ctx, REPORT)
    return Command(goto=goto, update={**update, "visited": [market.shortfalls.name], "steps": int(state.get("steps") or 0) + 1})


def procurement_tools(state: ProductionState, runtime: Runtime[OpsContext]) -> Command[Literal["procurement"]]:
    """Execute procurement's calls (permissions, approval decisions and audit as everywhere)."""
    return Command(goto=PROCURE, update=execute_tool_calls(state, resolve_context(runtime.context)))


def report(state: ProductionState, runtime: Runtime[OpsContext]) -> dict:
    """The run's report: new schedule, awards with scores, moves and why, approvals, purchase orders."""
    return {"report": build_production_report(state, resolve_context(runtime.context))}


def build_production_planning_graph(market: Market = DEFAULT_MARKET) -> StateGraph:
    """The uncompiled ``production_planning`` graph; the caller picks the checkpointer.

    ``market`` replaces the bidding agent, the shortfalls agent and the award rules' policy keys (a workflow
    spec declares its own); the node names stay those of the Python graph.
    """
    graph = StateGraph(ProductionState, context_schema=OpsContext, input_schema=ProductionInput,
                       output_schema=ProductionOutput)
    graph.add_node(INTAKE, intake)
    graph.add_node(ANNOUNCE, announce)
    # LangGraph's drawing cannot see how many Sends announce makes: the metadata tells the pictures.
    graph.add_node(BID, build_bidder_graph(market.bidder).compile(), metadata={"fan_out": ["work_centre x N"]})
    graph.add_node(AWARD, bind_last(award, market, DEFAULT_MARKET), destinations=(CONFIRM, APPLY))
    graph.add_node(CONFIRM, commitment_approval)
    graph.add_node(APPLY, bind_last(apply, market, DEFAULT_MARKET), destinations=(ANNOUNCE, MATERIALS))
    graph.add_node(MATERIALS, materials)
    graph.add_node(PROCURE, bind_last(procurement, market, DEFAULT_MARKET),
                   destinations=(APPROVAL, TOOLS, REPORT))
    graph.add_node(APPROVAL, approval_node)
    graph.add_node(TOOLS, procurement_tools)
    graph.add_node(REPORT, report)
    graph.add_edge(START, INTAKE)
    graph.add_edge(BID, AWARD)
    graph.set_finish_point(REPORT)
    return graph
