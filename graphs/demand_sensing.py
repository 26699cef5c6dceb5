"""``demand_sensing``: agents react to changed sections of a versioned demand board (blackboard).

    START -> intake -> controller -> Send x N -> board_agent (turn <-> tools, approval) -> controller ... -> report

The controller runs every agent whose input sections someone else changed (or whose last write
was rejected), in parallel with ``Send``; an agent whose inputs a running agent is about to
rewrite waits for the next cycle. Agents compute with tools and write whole sections; each
write names the version it was based on and the board's reducer rejects a stale one
(``graphs/board.py``). The run ends when the board is quiescent, or says so when the policy's
cycle limit stops it first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, Send

from opsgraph.agents.base import AgentSpec
from opsgraph.agents.demand_sensor import DEMAND_SENSOR
from opsgraph.agents.inventory_optimizer import INVENTORY_OPTIMIZER
from opsgraph.agents.promotion_planner import PROMOTION_PLANNER
from opsgraph.agents.replenishment_planner import REPLENISHMENT_PLANNER
from opsgraph.context import OpsContext, resolve_context
from opsgraph.graphs.binding import bind_last
from opsgraph.graphs.board import SECTIONS, Board, BoardWrite, changed_by_others, empty_board, versions
from opsgraph.graphs.demand_report import summary_lines
from opsgraph.graphs.components import (APPROVAL, TOOLS, after_turn, agent_turn, approval_gate, execute_tool_calls,
                                        branch_thread, guard_step, last_ai, thread_id, to_transcript)
from opsgraph.graphs.incident import cost_summary
from opsgraph.graphs.state import (BoardAgentOutput, BoardAgentState, DemandReport, DemandSensingInput,
                                   DemandSensingOutput, DemandSensingState)

GRAPH_ID = "demand_sensing"
INTAKE, CONTROLLER, BOARD_AGENT, REPORT = "intake", "controller", "board_agent", "report"
TURN, POST = "turn", "post"
FEEDS = "feeds"  # the world's feeds: read by the agents that start the board
DEFAULT_MAX_CYCLES = 6
MAX_CYCLES_KEY = "demand_sensing.max_cycles"


@dataclass(frozen=True)
class BoardRole:
    """An agent on the board: the sections it subscribes to and the sections it writes, each from a tool."""

    spec: AgentSpec
    reads: tuple[str, ...]
    writes: dict[str, tuple[str, str | None]]  # section -> (tool whose result it is, key in that result)


ROLES = {role.spec.name: role for role in (
    BoardRole(DEMAND_SENSOR, (FEEDS,), {"signals": ("detect_demand_signals", None),
                                        "forecast": ("forecast_demand", None)}),
    BoardRole(PROMOTION_PLANNER, (FEEDS, "forecast"), {"promotions": ("plan_promotion_uplift", None),
                                                       "forecast": ("plan_promotion_uplift", "forecast")}),
    BoardRole(INVENTORY_OPTIMIZER, ("forecast",), {"safety_stock": ("compute_safety_stock", None)}),
    BoardRole(REPLENISHMENT_PLANNER, ("safety_stock",), {"replenishment": ("plan_purchase_orders", None)}),
)}


@dataclass(frozen=True)
class BoardTeam:
    """The agents on the board (each with what it reads and writes), the board's sections and the policy.yaml
    key of the controller's cycle limit: the default team, or one a workflow spec declares."""

    roles: dict[str, BoardRole] = field(default_factory=lambda: dict(ROLES))
    sections: tuple[str, ...] = SECTIONS
    max_cycles: str = MAX_CYCLES_KEY


DEFAULT_TEAM = BoardTeam()


def max_cycles(ctx: OpsContext, key: str = MAX_CYCLES_KEY) -> int:
    """The policy's cycle limit (``demand_sensing.max_cycles``, or the team's key)."""
    try:
        return int(ctx.policy.get(key))
    except Exception:  # noqa: BLE001 - a policy file without the section gets the documented default
        return DEFAULT_MAX_CYCLES


def intake(state: DemandSensingState, team: BoardTeam = DEFAULT_TEAM) -> dict:
    """Open the run on an empty board (a resumed thread keeps its board)."""
    if state.get("board"):
        return {}
    opened = [HumanMessage(content=f"Sense demand and replenish SKU {state['sku_id']}.", name="request")]
    return {"board": empty_board(team.sections), "messages": opened, "cycle": 0, "steps": 0, "audited": {}}


def due_agents(board: Board, seen: dict[str, dict[str, int]], ran: dict[str, int],
               roles: dict[str, BoardRole] = ROLES) -> list[str]:
    """Agents to run next: inputs changed by someone else, feeds never read, or a write rejected."""
    due = []
    for name, role in roles.items():
        fresh = FEEDS in role.reads and name not in ran
        changed = changed_by_others(board, name, seen.get(name, {}), role.reads)
        rejected = any(r["author"] == name and r["cycle"] == ran.get(name) for r in board["rejections"])
        if fresh or changed or rejected:
            due.append(name)
    # Readers wait while a due agent is about to rewrite what they read; co-writers race.
    return [name for name in due if not any(
        other != name and (set(roles[other].writes) & set(roles[name].reads)) - set(roles[name].writes)
        for other in due)]


def audit_board(state: DemandSensingState, ctx: OpsContext) -> dict[str, int]:
    """Audit every board write and rejection not audited yet; returns the new counts."""
    board, done = state["board"], dict(state.get("audited") or {})
    for index, entry in enumerate(board["history"][done.get("history", 0):], start=done.get("history", 0)):
        ctx.audit.record(thread_id(), f"board:write:{index}", "board_write", agent=entry["author"],
                         name=entry["section"], args={"based_on": entry["based_on"], "cycle": entry["cycle"]},
                         result={"version": entry["version"], "why": entry["why"]})
    for index, entry in enumerate(board["rejections"][done.get("rejections", 0):], start=done.get("rejections", 0)):
        ctx.audit.record(thread_id(), f"board:reject:{index}", "board_write_rejected", agent=entry["author"],
                         name=entry["section"], args={"based_on": entry["based_on"], "cycle": entry["cycle"]},
                         result={"current": entry["current"], "reason": entry["reason"]}, ok=False)
    return {"history": len(board["history"]), "rejections": len(board["rejections"])}


def controller(state: DemandSensingState, runtime: Runtime[OpsContext], team: BoardTeam = DEFAULT_TEAM
               ) -> Command[Literal["board_agent", "report"]]:
    """Run the agents whose inputs changed, in parallel; stop when quiescent or at the cycle limit."""
    ctx = resolve_context(runtime.context)
    audited = audit_board(state, ctx)
    stop = guard_step(state, ctx)
    due = due_agents(state["board"], state.get("seen") or {}, state.get("ran") or {}, team.roles)
    cycle, limit = int(state.get("cycle") or 0), max_cycles(ctx, team.max_cycles)
    if not stop and due and cycle >= limit:
        stop = f"cycle limit of {limit} reached with {', '.join(due)} still due: the board is not quiescent"
    if stop or not due:
        return Command(goto=REPORT, update={"audited": audited, "stop_reason": stop})
    sends = [Send(BOARD_AGENT, branch_input(state, name, cycle + 1, team.roles)) for name in due]
    return Command(goto=sends, update={"audited": audited, "cycle": cycle + 1,
                                       "steps": int(state.get("steps") or 0) + 1})


def board_view(board: Board, sku_id: str, role: BoardRole) -> dict[str, Any]:
    """What an agent reads: the SKU and, for each section it subscribes to, the version and rows."""
    view: dict[str, Any] = {"sku_id": sku_id}
    for name in role.reads:
        if name in board["sections"]:
            section = board["sections"][name]
            view[f"{name}_version"] = section["version"]
            view[name] = section["data"].get(name, section["data"])
    return view


def branch_input(state: DemandSensingState, name: str, cycle: int,
                 roles: dict[str, BoardRole] = ROLES) -> dict[str, Any]:
    """The branch state of one agent in ``cycle``: the board snapshot it reads, shown as JSON."""
    view = board_view(state["board"], state["sku_id"], roles[name])
    text = f"Demand board of {state['sku_id']}, cycle {cycle}. You read:\n{json.dumps(view, sort_keys=True)}"
    return {"agent": name, "sku_id": state["sku_id"], "cycle": cycle, "snapshot": state["board"],
            "transcript": [HumanMessage(content=text, name="board")], "calls": list(state.get("calls") or []),
            "budget": dict(state.get("budget") or {})}


def agent_node(state: BoardAgentState, runtime: Runtime[OpsContext], roles: dict[str, BoardRole] = ROLES
               ) -> Command[Literal["tools", "approval", "post"]]:
    """One model round of the branch's agent."""
    ctx = resolve_context(runtime.context)
    update = agent_turn(roles[state["agent"]].spec, ctx, branch_thread(state), {"sku_id": state["sku_id"]})
    return Command(goto=after_turn(update["messages"][0], ctx, POST), update=to_transcript(update))


def approval(state: BoardAgentState, runtime: Runtime[OpsContext]) -> Command[Literal["tools"]]:
    """Purchase orders above the policy threshold wait here for a human (procurement's gate).

    A call the tool executor will refuse (not an order the plan proposed from the board) is never
    put to a human: the gate sees only the calls that may run.
    """
    thread = branch_thread(state)
    message, guard = last_ai(thread["messages"]), order_guard(state)
    allowed = [c for c in message.tool_calls if guard(c, []) is None] if message else []
    view = {**thread, "messages": [*thread["messages"][:-1], message.model_copy(update={"tool_calls": allowed})]} \
        if message else thread
    return Command(goto=TOOLS, update={"approvals": approval_gate(view, resolve_context(runtime.context))})


def tools(state: BoardAgentState, runtime: Runtime[OpsContext]) -> Command[Literal["turn"]]:
    """Execute the agent's tool calls; a purchase order must be one the plan tool proposed from the board."""
    ctx = resolve_context(runtime.context)
    update = execute_tool_calls(branch_thread(state), ctx, guard=order_guard(state))
    return Command(goto=TURN, update=to_transcript(update))


def _done(actions: list[dict], tool: str) -> list[dict]:
    return [a for a in actions if a["tool"] == tool and a["ok"] and isinstance(a["result"], dict)]


def _rows(rows: list[dict], keys: tuple[str, ...]) -> list[tuple]:
    return sorted(tuple(row.get(k) for k in keys) for row in rows or [])


FORECAST_KEYS, TARGET_KEYS = ("dc_id", "daily", "sigma_daily"), ("dc_id", "reorder_point", "order_up_to")


def input_problem(state: BoardAgentState, action: dict) -> str | None:
    """Why a computation was not made from the board the agent read (numbers changed on the way), or None."""
    sections = state["snapshot"]["sections"]
    if action["tool"] == "compute_safety_stock":
        board = _section_rows(sections, "forecast")
        if _rows(action["args"].get("forecast"), FORECAST_KEYS) != _rows(board, FORECAST_KEYS):
            return "compute_safety_stock was not given the board's forecast rows"
    if action["tool"] == "plan_purchase_orders":
        board = _section_rows(sections, "safety_stock")
        if _rows(action["args"].get("safety_stock"), TARGET_KEYS) != _rows(board, TARGET_KEYS):
            return "plan_purchase_orders was not given the board's safety stock rows"
    return None


def _section_rows(sections: dict[str, Any], name: str) -> list[dict]:
    """The rows of section ``name`` (none when the board has no such section)."""
    return (sections.get(name) or {}).get("data", {}).get(name) or []


def order_guard(state: BoardAgentState) -> Callable[[dict, list], str | None]:
    """Refuse a purchase order that is not exactly one the plan tool proposed from the board's numbers."""

    def guard(call: dict, batch: list[dict]) -> str | None:
        if call["name"] != "create_purchase_order":
            return None
        plans = [a for a in _done([*(state.get("actions") or []), *batch], "plan_purchase_orders")
                 if input_problem(state, a) is None]
        wanted = _order_key(call["args"])
        if any(_order_key(po) == wanted for plan in plans for po in plan["result"]["purchase_orders"]):
            return None
        return "the purchase order is not one plan_purchase_orders proposed from the board's safety stock"

    return guard


def _order_key(order: dict) -> tuple:
    lines = sorted((str(l.get("sku_id", "")).upper(), int(l.get("quantity", 0))) for l in order.get("lines") or [])
    return str(order.get("supplier_id", "")).upper(), str(order.get("dc_id", "")).upper(), tuple(lines)


def section_data(name: str, section: str, state: BoardAgentState,
                 roles: dict[str, BoardRole] = ROLES) -> dict[str, Any] | None:
    """The new data of ``section`` from the agent's latest tool result for it, or None when there is none."""
    tool, key = roles[name].writes[section]
    found = _done(state.get("actions") or [], tool)
    if not found or input_problem(state, found[-1]):
        return None
    result = {k: v for k, v in found[-1]["result"].items() if k != "replayed"}
    if key is not None:
        rows = result.get(key)
        return None if rows is None else {"sku_id": result["sku_id"], "method": "trend+promotion",
                                          "campaign": (result.get("campaign") or {}).get("promo_id"),
                                          "uplift_pct": result.get("uplift_pct"), key: rows}
    # Keys another section of this agent takes from the same result are that section's, not this one's.
    for other_tool, other_key in roles[name].writes.values():
        if other_tool == tool and other_key is not None:
            result.pop(other_key, None)
    if tool == "plan_purchase_orders":
        result["orders_raised"] = [_po(a) for a in state.get("actions") or [] if a["tool"] == "create_purchase_order"]
    return result


def _po(action: dict) -> dict[str, Any]:
    result = action["result"] if isinstance(action["result"], dict) else {"detail": str(action["result"])[:200]}
    return {"status": action["status"], "dc_id": action["args"].get("dc_id"), "po_id": result.get("po_id"),
            "total_usd": result.get("total_usd"), "approved_by": result.get("approved_by"),
            "detail": result.get("detail")}


def post(state: BoardAgentState, runtime: Runtime[OpsContext], roles: dict[str, BoardRole] = ROLES) -> dict:
    """Turn the agent's tool results into board writes, each based on the version the agent read."""
    ctx, name = resolve_context(runtime.context), state["agent"]
    sections = state["snapshot"]["sections"]
    why = str((last_ai(state["transcript"]) or AIMessage(content="")).content)[:600]
    writes: list[BoardWrite] = []
    for section in roles[name].writes:
        data = section_data(name, section, state, roles)
        if data is not None and data != sections[section]["data"]:
            writes.append(BoardWrite(section=section, based_on=sections[section]["version"], data=data, author=name,
                                     why=why, cycle=state["cycle"]))
    for action in state.get("actions") or []:
        problem = input_problem(state, action) if action["ok"] else None
        if problem:
            ctx.audit.record(thread_id(), f"board:refused:{name}:{action['tool_call_id']}", "board_write_refused",
                             agent=name, name=action["tool"], args=action["args"], result=problem, ok=False)
    return {"board": writes, "seen": {name: versions(state["snapshot"])}, "ran": {name: state["cycle"]},
            "visited": [name], "messages": [AIMessage(content=why or f"{name}: nothing to change.", name=name)]}


def build_board_agent_graph(roles: dict[str, BoardRole] = ROLES) -> StateGraph:
    """One agent's branch: model rounds with tools (and the approval gate), then its board writes."""
    graph = StateGraph(BoardAgentState, context_schema=OpsContext, output_schema=BoardAgentOutput)
    graph.add_node(TURN, bind_last(agent_node, roles, ROLES), destinations=(TOOLS, APPROVAL, POST))
    graph.add_node(APPROVAL, approval)
    graph.add_node(TOOLS, tools)
    graph.add_node(POST, bind_last(post, roles, ROLES))
    graph.add_edge(START, TURN)
    graph.set_finish_point(POST)
    return graph


def _section_report(board: Board, name: str) -> dict[str, Any]:
    section = board["sections"][name]
    history = [{k: h[k] for k in ("version", "based_on", "author", "cycle", "why", "data")}
               for h in board["history"] if h["section"] == name]
    return {"version": section["version"], "author": section["author"], "data": section["data"], "history": history}


def report(state: DemandSensingState) -> dict:
    """What changed on the board and why, per section, with the rejected writes and the orders raised."""
    board, stop = state["board"], state.get("stop_reason")
    orders = [_po(a) | {"quantity": sum(l["quantity"] for l in a["args"].get("lines", []))}
              for a in state.get("actions") or [] if a["tool"] == "create_purchase_order"]
    outcome, cycles = ("stopped" if stop else "completed"), int(state.get("cycle") or 0)
    return {"report": DemandReport(
        title=f"Demand board of {state['sku_id']}", outcome=outcome, stop_reason=stop,
        sku_id=state["sku_id"], cycles=cycles, quiescent=not stop, summary=summary_lines(board, outcome, cycles, stop),
        sections={name: _section_report(board, name) for name in board["sections"]},
        rejections=[{k: r[k] for k in ("section", "author", "based_on", "current", "cycle", "reason")}
                    for r in board["rejections"]],
        purchase_orders=orders, approvals=list(state.get("approvals") or []),
        cost=cost_summary(state.get("calls") or []),
    )}


def build_demand_sensing_graph(team: BoardTeam = DEFAULT_TEAM) -> StateGraph:
    """The uncompiled ``demand_sensing`` graph; the caller picks the checkpointer.

    ``team`` replaces the board's agents, its sections and the cycle limit's policy key (a workflow spec
    declares its own).
    """
    graph = StateGraph(DemandSensingState, context_schema=OpsContext, input_schema=DemandSensingInput,
                       output_schema=DemandSensingOutput)
    graph.add_node(INTAKE, bind_last(intake, team, DEFAULT_TEAM))
    graph.add_node(CONTROLLER, bind_last(controller, team, DEFAULT_TEAM), destinations=(BOARD_AGENT, REPORT))
    graph.add_node(BOARD_AGENT, build_board_agent_graph(team.roles).compile(), metadata={"fan_out": list(team.roles)})
    graph.add_node(REPORT, report)
    graph.add_edge(START, INTAKE)
    graph.add_edge(INTAKE, CONTROLLER)
    graph.add_edge(BOARD_AGENT, CONTROLLER)
    graph.set_finish_point(REPORT)
    return graph
