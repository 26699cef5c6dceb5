"""``contract_review``: a sequential chain with a validation gate after every step.

    START -> intake -> extract <-> tools -> validate_terms -> check <-> tools -> validate_compliance
          -> summarize -> validate_summary -> report -> END
    validate_* -> report    when a step's output fails validation: the chain stops with the reason

Each step is an agent that may use tools, then states its output as a typed structured
answer. The gate after it validates that answer (pydantic schema, then sanity rules from
policy.yaml) before the next step sees it, so bad data stops the chain instead of spreading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel, ValidationError

from opsgraph.agents.base import AgentSpec
from opsgraph.agents.contract_compliance import CONTRACT_COMPLIANCE
from opsgraph.agents.contract_extractor import CONTRACT_EXTRACTOR
from opsgraph.agents.contract_summarizer import CONTRACT_SUMMARIZER
from opsgraph.graphs.binding import bind_last
from opsgraph.graphs.components import agent_turn, audit_model_call, execute_tool_calls, guard_step, thread_id
from opsgraph.graphs.contract_checks import (ComplianceFindings, ContractSummary, ContractTerms, error_lines,
                                    finding_errors, schema_errors, summary_errors, term_errors)
from opsgraph.graphs.history import history_view
from opsgraph.graphs.incident import cost_summary
from opsgraph.graphs.state import ContractReport, ContractReviewInput, ContractReviewOutput, ContractReviewState
from opsgraph.context import OpsContext, resolve_context
from opsgraph.models.gateway import StructuredOutputError
from opsgraph.prompts import load_prompt
from opsgraph.tools.contract_terms import ContractStandards

GRAPH_ID = "contract_review"
INTAKE, EXTRACT, CHECK, SUMMARIZE, TOOLS, REPORT = "intake", "extract", "check", "summarize", "tools", "report"
VALIDATE_TERMS, VALIDATE_COMPLIANCE, VALIDATE_SUMMARY = "validate_terms", "validate_compliance", "validate_summary"


@dataclass(frozen=True)
class ReviewChain:
    """The agents of the three steps: the default chain, or one a workflow spec declares."""

    extractor: AgentSpec = CONTRACT_EXTRACTOR
    compliance: AgentSpec = CONTRACT_COMPLIANCE
    summarizer: AgentSpec = CONTRACT_SUMMARIZER

    def step_node(self, agent: str) -> str:
        """The step node a tool-using agent returns to after its tools ran."""
        return {self.extractor.name: EXTRACT, self.compliance.name: CHECK}[agent]


DEFAULT_CHAIN = ReviewChain()


def review_request(contract_id: str) -> HumanMessage:
    """The human turn that opens a review."""
    return HumanMessage(content=f"Review supplier contract {contract_id} against our standard contract terms.",
                        name="request")


def intake(state: ContractReviewState) -> dict:
    """Open the thread with the review request unless the caller supplied messages."""
    if state.get("messages"):
        return {"steps": 0}
    return {"messages": [review_request(state["contract_id"])], "steps": 0}


def _draft(spec: AgentSpec, schema: type[BaseModel], ctx: OpsContext, state: dict, extra: list) -> tuple[dict, list]:
    """Ask ``spec`` for its step output as ``schema``; a malformed answer becomes the draft's errors."""
    messages = [*state["messages"], *extra]
    system = SystemMessage(load_prompt(spec.prompt, contract_id=state["contract_id"]))
    view = history_view(messages, spec.name, spec.history)
    try:
        parsed, record = ctx.gateway.structured(spec.name, [system, *view], schema, state=state)
    except ValidationError as exc:
        return {"step": spec.name, "output": None, "errors": error_lines(exc)}, []
    except StructuredOutputError as exc:
        return {"step": spec.name, "output": None, "errors": [str(exc)]}, []
    output = parsed.model_dump(mode="json")
    audit_model_call(ctx, spec.name, len(messages), record, AIMessage(content=json.dumps(output)[:2000]))
    return {"step": spec.name, "output": output, "errors": []}, [record]


def _step_turn(spec: AgentSpec, schema: type[BaseModel], gate: str, state: ContractReviewState,
               runtime: Runtime[OpsContext]) -> Command:
    """One round of a tool-using step; when the agent is done, its structured output goes to ``gate``."""
    ctx = resolve_context(runtime.context)
    if not state.get("agent_rounds"):
        stop = guard_step(state, ctx)
        if stop:
            return Command(goto=REPORT, update={"stop_reason": stop})
    update = agent_turn(spec, ctx, state, {"contract_id": state["contract_id"]})
    message = update["messages"][0]
    if message.tool_calls:
        return Command(goto=TOOLS, update=update)
    draft, records = _draft(spec, schema, ctx, state, [message])
    update |= {"draft": draft, "calls": update["calls"] + records, "visited": [spec.name],
               "steps": int(state.get("steps") or 0) + 1}
    return Command(goto=gate, update=update)


def extract(state: ContractReviewState, runtime: Runtime[OpsContext], chain: ReviewChain = DEFAULT_CHAIN
            ) -> Command[Literal["tools", "validate_terms", "report"]]:
    """Step 1: read the contract and extract its terms."""
    return _step_turn(chain.extractor, ContractTerms, VALIDATE_TERMS, state, runtime)


def check(state: ContractReviewState, runtime: Runtime[OpsContext], chain: ReviewChain = DEFAULT_CHAIN
          ) -> Command[Literal["tools", "validate_compliance", "report"]]:
    """Step 2: compare the validated terms with our standard contract terms."""
    return _step_turn(chain.compliance, ComplianceFindings, VALIDATE_COMPLIANCE, state, runtime)


def summarize(state: ContractReviewState, runtime: Runtime[OpsContext], chain: ReviewChain = DEFAULT_CHAIN
              ) -> Command[Literal["validate_summary", "report"]]:
    """Step 3: the approvers' summary with the flagged risks (no tools: it works from the findings)."""
    ctx = resolve_context(runtime.context)
    summarizer = chain.summarizer
    stop = guard_step(state, ctx)
    if stop:
        return Command(goto=REPORT, update={"stop_reason": stop})
    draft, records = _draft(summarizer, ContractSummary, ctx, state, [])
    output = draft["output"] or {}
    note = AIMessage(content=f"Recommendation: {output.get('recommendation', '-')}. {output.get('rationale', '')}".strip(),
                     name=summarizer.name)
    return Command(goto=VALIDATE_SUMMARY, update={"draft": draft, "calls": records, "messages": [note],
                                                  "visited": [summarizer.name],
                                                  "steps": int(state.get("steps") or 0) + 1})


def tools(state: ContractReviewState, runtime: Runtime[OpsContext], chain: ReviewChain = DEFAULT_CHAIN
          ) -> Command[Literal["extract", "check"]]:
    """Execute the active step's tool calls and hand control back to it."""
    update = execute_tool_calls(state, resolve_context(runtime.context))
    return Command(goto=chain.step_node(state["active_agent"]), update=update)


def _validated(schema: type[BaseModel], draft: dict | None) -> tuple[BaseModel | None, list[str]]:
    draft = draft or {}
    if draft.get("errors"):
        return None, [f"malformed output: {e}" for e in draft["errors"]]
    return schema_errors(schema, draft.get("output"))


def _gate(ctx: OpsContext, state: ContractReviewState, step: str, errors: list[str], goto: str,
          accepted: dict[str, Any]) -> Command:
    """Record the check; stop the chain with the reason, or hand the validated output on."""
    draft = state.get("draft") or {}
    record = {"step": step, "agent": draft.get("step", ""), "ok": not errors, "errors": errors}
    ctx.audit.record(thread_id(), f"validation:{step}", "validation", agent=record["agent"], name=step,
                     args=draft.get("output"), result=record, ok=not errors)
    if errors:
        reason = f"{step} failed validation, review stopped: " + "; ".join(errors)
        return Command(goto=REPORT, update={"validation": [record], "stop_reason": reason, "draft": None})
    # Later steps read the validated values, not the draft: the note says so in the thread.
    note = AIMessage(content=f"Validated {step}: " + json.dumps(next(iter(accepted.values()))), name="validator")
    return Command(goto=goto, update={"validation": [record], "draft": None, "agent_rounds": 0, "messages": [note],
                                      **accepted})


def validate_terms(state: ContractReviewState, runtime: Runtime[OpsContext]) -> Command[Literal["check", "report"]]:
    """Gate 1: extracted terms are well-formed, complete and plausible."""
    ctx = resolve_context(runtime.context)
    terms, errors = _validated(ContractTerms, state.get("draft"))
    if terms is not None:
        errors = term_errors(terms, state["contract_id"], ctx.policy)
    accepted = {"terms": terms.model_dump(mode="json") if terms else None}
    return _gate(ctx, state, "terms", errors, CHECK, accepted)


def validate_compliance(state: ContractReviewState, runtime: Runtime[OpsContext]) -> Command[Literal["summarize", "report"]]:
    """Gate 2: findings are consistent and keep every deviation the rules find in the validated terms."""
    ctx = resolve_context(runtime.context)
    findings, errors = _validated(ComplianceFindings, state.get("draft"))
    if findings is not None:
        errors = finding_errors(findings, state["terms"], ContractStandards.from_policy(ctx.policy))
    accepted = {"compliance": findings.model_dump(mode="json") if findings else None}
    return _gate(ctx, state, "compliance", errors, SUMMARIZE, accepted)


def validate_summary(state: ContractReviewState, runtime: Runtime[OpsContext]) -> Command[Literal["report"]]:
    """Gate 3: the summary flags every material risk, invents none and does not soften the verdict."""
    ctx = resolve_context(runtime.context)
    summary, errors = _validated(ContractSummary, state.get("draft"))
    if summary is not None:
        errors = summary_errors(summary, state["compliance"])
    accepted = {"summary": summary.model_dump(mode="json") if summary else None}
    return _gate(ctx, state, "summary", errors, REPORT, accepted)


def _route(state: ContractReviewState) -> list[str]:
    route = []
    for index, agent in enumerate(state.get("visited") or []):
        route.append(agent)
        checks = state.get("validation") or []
        if index < len(checks):
            route.append(f"validate:{checks[index]['step']}:{'ok' if checks[index]['ok'] else 'failed'}")
    return route


def report(state: ContractReviewState) -> dict:
    """The review report from the validated outputs (never from a draft that failed its check)."""
    terms, findings, summary = state.get("terms") or {}, state.get("compliance") or {}, state.get("summary") or {}
    stop = state.get("stop_reason")
    return {"report": ContractReport(
        title=f"Review of contract {state['contract_id']}", outcome="stopped" if stop else "completed",
        stop_reason=stop, contract_id=state["contract_id"], supplier=terms.get("supplier_name"),
        recommendation=None if stop else summary.get("recommendation"),
        highest_risk=findings.get("highest_risk"), flagged_risks=[] if stop else summary.get("deviations", []),
        rationale=summary.get("rationale"), terms=terms or None, validation=list(state.get("validation") or []),
        steps=_route(state), policies_cited=list(state.get("citations") or []),
        cost=cost_summary(state.get("calls") or []),
    )}



def build_contract_review_graph(chain: ReviewChain = DEFAULT_CHAIN) -> StateGraph:
    """The uncompiled ``contract_review`` graph; the caller picks the checkpointer.

    ``chain`` replaces the agents of the three steps (a workflow spec declares its own).
    """
    graph = StateGraph(ContractReviewState, context_schema=OpsContext, input_schema=ContractReviewInput,
                       output_schema=ContractReviewOutput)
    graph.add_node(INTAKE, intake)
    bound = {name: bind_last(node, chain, DEFAULT_CHAIN) for name, node in ((EXTRACT, extract), (CHECK, check),
                                                          (SUMMARIZE, summarize), (TOOLS, tools))}
    for name, node in ((EXTRACT, bound[EXTRACT]), (CHECK, bound[CHECK]), (SUMMARIZE, bound[SUMMARIZE]), (TOOLS, bound[TOOLS]),
                       (VALIDATE_TERMS, validate_terms), (VALIDATE_COMPLIANCE, validate_compliance),
                       (VALIDATE_SUMMARY, validate_summary), (REPORT, report)):
        graph.add_node(name, node)
    graph.add_edge(START, INTAKE)
    graph.add_edge(INTAKE, EXTRACT)
    graph.set_finish_point(REPORT)
    return graph
