"""``supplier_risk``: finance, operations and ESG assessors score one supplier in parallel.

    START -> intake -> Send x3 -> assess (subgraph: agent <-> tools -> finding) -> reconcile -> report -> END

``intake`` fans out with LangGraph ``Send``: each assessor runs in its own branch with its
own conversation (``transcript``), so the three never see or wait for each other. Each
returns a scored finding (score 0-100, risk level, confidence 0-1, evidence, citations),
validated before it may vote. ``reconcile`` merges the findings by confidence-weighted vote,
logs disagreements beyond the policy threshold to the audit trail and flags them for review.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, Send
from pydantic import ValidationError

from opsgraph.agents.base import AgentSpec
from opsgraph.agents.esg_assessor import ESG_ASSESSOR
from opsgraph.agents.finance_assessor import FINANCE_ASSESSOR
from opsgraph.agents.operations_assessor import OPERATIONS_ASSESSOR
from opsgraph.graphs.binding import bind_last
from opsgraph.graphs.components import (agent_turn, audit_model_call, branch_thread, execute_tool_calls, guard_step,
                                        last_ai, thread_id, to_transcript)
from opsgraph.graphs.contract_checks import error_lines
from opsgraph.graphs.history import history_view
from opsgraph.graphs.incident import cost_summary
from opsgraph.graphs.reconcile import ACTIONS, Finding, finding_problems, reconcile_findings
from opsgraph.graphs.state import (AssessorOutput, AssessorState, RiskFinding, RiskReport, SupplierRiskInput,
                          SupplierRiskOutput, SupplierRiskState)
from opsgraph.context import OpsContext, resolve_context
from opsgraph.models.gateway import StructuredOutputError
from opsgraph.prompts import load_prompt
from opsgraph.tools.risk_scoring import RiskStandards

GRAPH_ID = "supplier_risk"
INTAKE, ASSESS, RECONCILE, REPORT = "intake", "assess", "reconcile", "report"
AGENT, TOOLS, FINDING = "agent", "tools", "finding"
RECONCILER = "reconciler"
# Assessor agent -> the risk dimension it scores.
ASSESSORS = {FINANCE_ASSESSOR.name: (FINANCE_ASSESSOR, "financial"),
             OPERATIONS_ASSESSOR.name: (OPERATIONS_ASSESSOR, "operational"),
             ESG_ASSESSOR.name: (ESG_ASSESSOR, "esg")}
# Assessor name -> (agent, dimension): the default panel, or one a workflow spec declares.
Assessors = dict[str, tuple[AgentSpec, str]]


def assessment_request(supplier_id: str) -> HumanMessage:
    """The human turn that opens an assessment."""
    return HumanMessage(content=f"Assess the risk of supplier {supplier_id}.", name="request")


def intake(state: SupplierRiskState, runtime: Runtime[OpsContext], assessors: Assessors = ASSESSORS
           ) -> Command[Literal["assess", "report"]]:
    """Open the thread and send the request to every assessor at once."""
    ctx = resolve_context(runtime.context)
    stop = guard_step(state, ctx)
    if stop:
        return Command(goto=REPORT, update={"stop_reason": stop})
    opened = [] if state.get("messages") else [assessment_request(state["supplier_id"])]
    request = (state.get("messages") or opened)[-1]
    # Parent calls and budget travel along so each branch's budget check sees the whole run.
    shared = {"supplier_id": state["supplier_id"], "transcript": [request], "calls": list(state.get("calls") or []),
              "budget": dict(state.get("budget") or {})}
    sends = [Send(ASSESS, {**shared, "assessor": name}) for name in assessors]
    return Command(goto=sends, update={"messages": opened, "steps": int(state.get("steps") or 0) + 1})


def assessor_agent(state: AssessorState, runtime: Runtime[OpsContext], assessors: Assessors = ASSESSORS
                   ) -> Command[Literal["tools", "finding"]]:
    """One model round of this branch's assessor."""
    ctx = resolve_context(runtime.context)
    spec, _dimension = assessors[state["assessor"]]
    update = agent_turn(spec, ctx, branch_thread(state), {"supplier_id": state["supplier_id"]})
    goto = TOOLS if update["messages"][0].tool_calls else FINDING
    return Command(goto=goto, update=to_transcript(update))


def assessor_tools(state: AssessorState, runtime: Runtime[OpsContext]) -> Command[Literal["agent"]]:
    """Execute the assessor's tool calls (permission checks and audit as everywhere)."""
    update = execute_tool_calls(branch_thread(state), resolve_context(runtime.context))
    return Command(goto=AGENT, update=to_transcript(update))


def _ask_finding(spec: Any, ctx: OpsContext, state: AssessorState) -> tuple[Finding | None, list[dict], list[str]]:
    system = SystemMessage(load_prompt(spec.prompt, supplier_id=state["supplier_id"]))
    view = history_view(state["transcript"], spec.name, spec.history)
    try:
        parsed, record = ctx.gateway.structured(spec.name, [system, *view], Finding, state=branch_thread(state))
    except ValidationError as exc:
        return None, [], [f"malformed finding: {line}" for line in error_lines(exc)]
    except StructuredOutputError as exc:
        return None, [], [f"malformed finding: {exc}"]
    audit_model_call(ctx, spec.name, len(state["transcript"]) + 1, record,
                     AIMessage(content=parsed.model_dump_json()[:2000]))
    return parsed, [record], []


def assessor_finding(state: AssessorState, runtime: Runtime[OpsContext], assessors: Assessors = ASSESSORS) -> dict:
    """The assessor's structured finding, validated; an invalid one is kept but will not vote."""
    ctx = resolve_context(runtime.context)
    spec, dimension = assessors[state["assessor"]]
    parsed, records, errors = _ask_finding(spec, ctx, state)
    if parsed is not None:
        errors = finding_problems(parsed, state["supplier_id"], RiskStandards.from_policy(ctx.policy))
    data = parsed.model_dump() if parsed else {}
    finding = RiskFinding(
        assessor=spec.name, dimension=dimension, supplier_id=state["supplier_id"], score=float(data.get("score", 0.0)),
        risk_level=data.get("risk_level", "unknown"), confidence=float(data.get("confidence", 0.0)),
        evidence=list(data.get("evidence", [])),
        citations=list(dict.fromkeys([*data.get("citations", []), *(state.get("citations") or [])])),
        valid=not errors, errors=errors,
    )
    report = last_ai(state["transcript"]) or AIMessage(content="")
    return {"findings": [finding], "visited": [spec.name], "calls": records,
            "messages": [AIMessage(content=report.content, name=spec.name)]}


def build_assessor_graph(assessors: Assessors = ASSESSORS) -> StateGraph:
    """One assessor branch: model rounds with tools, then the structured finding."""
    graph = StateGraph(AssessorState, context_schema=OpsContext, output_schema=AssessorOutput)
    graph.add_node(AGENT, bind_last(assessor_agent, assessors, ASSESSORS))
    graph.add_node(TOOLS, assessor_tools)
    graph.add_node(FINDING, bind_last(assessor_finding, assessors, ASSESSORS))
    graph.add_edge(START, AGENT)
    graph.set_finish_point(FINDING)
    return graph


def _note(result: dict[str, Any]) -> str:
    if result["risk_level"] is None:
        return "No finding could vote; the supplier needs a manual assessment."
    text = f"Overall risk {result['risk_level']} (score {result['score']:g}), votes {result['votes']}."
    return text + (" Flagged for review: " + "; ".join(result["review_reasons"]) if result["needs_review"] else "")


def reconcile(state: SupplierRiskState, runtime: Runtime[OpsContext]) -> Command[Literal["report"]]:
    """Merge the findings; log a disagreement beyond the threshold to the audit trail."""
    ctx = resolve_context(runtime.context)
    result = reconcile_findings(list(state.get("findings") or []), ctx.policy)
    thread = thread_id()
    ctx.audit.record(thread, "reconcile", "reconcile", agent=RECONCILER, name=state["supplier_id"],
                     args={"findings": state.get("findings") or []}, result=result)
    if result["disagreement"]:
        ctx.audit.record(thread, "reconcile:disagreement", "disagreement", agent=RECONCILER, name=state["supplier_id"],
                         args=result["disagreement"]["scores"], result=result["disagreement"], ok=False)
    note = AIMessage(content=_note(result), name=RECONCILER)
    return Command(goto=REPORT, update={"reconciled": result, "messages": [note], "visited": [RECONCILER]})


def _supplier_name(actions: list[dict]) -> str | None:
    for action in actions:
        if action["tool"] == "get_supplier" and action["ok"] and isinstance(action["result"], dict):
            return action["result"].get("supplier_name")
    return None


def report(state: SupplierRiskState) -> dict:
    """The risk report: rating, method, votes, every finding, disagreement and what to do."""
    result, stop = state.get("reconciled") or {}, state.get("stop_reason")
    level = result.get("risk_level")
    return {"report": RiskReport(
        title=f"Risk assessment of supplier {state['supplier_id']}", outcome="stopped" if stop else "completed",
        stop_reason=stop, supplier_id=state["supplier_id"], supplier_name=_supplier_name(state.get("actions") or []),
        risk_level=level, score=result.get("score"), method=result.get("method", ""), votes=result.get("votes", {}),
        findings=list(state.get("findings") or []), disagreement=result.get("disagreement"),
        needs_review=bool(result.get("needs_review")), review_reasons=list(result.get("review_reasons", [])),
        actions=ACTIONS.get(level) if level else None, policies_cited=list(state.get("citations") or []),
        cost=cost_summary(state.get("calls") or []),
    )}



def build_supplier_risk_graph(assessors: Assessors = ASSESSORS) -> StateGraph:
    """The uncompiled ``supplier_risk`` graph; the caller picks the checkpointer.

    ``assessors`` replaces the default panel (a workflow spec declares its own agents).
    """
    graph = StateGraph(SupplierRiskState, context_schema=OpsContext, input_schema=SupplierRiskInput,
                       output_schema=SupplierRiskOutput)
    graph.add_node(INTAKE, bind_last(intake, assessors, ASSESSORS))
    # LangGraph's drawing cannot see how many Sends intake makes: the metadata tells the pictures.
    graph.add_node(ASSESS, build_assessor_graph(assessors).compile(), metadata={"fan_out": list(assessors)})
    graph.add_node(RECONCILE, reconcile)
    graph.add_node(REPORT, report)
    graph.add_edge(START, INTAKE)
    graph.add_edge(ASSESS, RECONCILE)
    graph.set_finish_point(REPORT)
    return graph
