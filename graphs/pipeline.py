"""A pipeline: specialist agents one after the other, each with its tools behind the approval gate.

    START -> intake -> step 1 <-> (approval ->) tools -> step 2 <-> ... -> report -> END

Each step is an agent that works until it answers without a tool call; the next step then
takes the thread. Writes go through the shared approval gate (``components.approval_node``):
a write above its policy limit waits for a human (LangGraph ``interrupt``). The report is
built from executed tool results and recorded approvals, never from model prose alone.
Workflow specs compile their plain ``sequential`` topology to this builder.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from opsgraph.agents.base import AgentSpec
from opsgraph.context import OpsContext, resolve_context
from opsgraph.graphs.components import (APPROVAL, TOOLS, after_turn, agent_turn, approval_node, execute_tool_calls,
                                        guard_step, last_ai)
from opsgraph.graphs.incident import cost_summary
from opsgraph.graphs.state import PipelineInput, PipelineOutput, PipelineReport, PipelineState

INTAKE, REPORT = "intake", "report"
RESULT_CHARS = 400


def _intake(request: str) -> Callable[[PipelineState], dict]:
    """Open the thread with ``request`` (``$subject_id`` filled in) unless the caller supplied messages."""

    def intake(state: PipelineState) -> dict:
        if state.get("messages"):
            return {"steps": 0}
        text = request.replace("$subject_id", state["subject_id"])
        return {"messages": [HumanMessage(content=text, name="request")], "steps": 0}

    return intake


def _step(spec: AgentSpec, after: str, subject_key: str) -> Callable[..., Command]:
    """Node of one step: a model round, then approval or tools, or on to ``after`` when the agent is done."""

    def step(state: PipelineState, runtime: Runtime[OpsContext]) -> Command:
        ctx = resolve_context(runtime.context)
        if not state.get("agent_rounds"):
            stop = guard_step(state, ctx)
            if stop:
                return Command(goto=REPORT, update={"stop_reason": stop})
        update = agent_turn(spec, ctx, state, {subject_key: state["subject_id"]})
        goto = after_turn(update["messages"][0], ctx, after)
        if goto == after:  # the agent answered: the step is done
            update |= {"visited": [spec.name], "agent_rounds": 0, "steps": int(state.get("steps") or 0) + 1}
        return Command(goto=goto, update=update)

    step.__name__ = spec.name
    return step


def _tools(state: PipelineState, runtime: Runtime[OpsContext]) -> Command:
    """Execute the active step's tool calls (approved ones with their decision) and hand control back to it."""
    update = execute_tool_calls(state, resolve_context(runtime.context))
    return Command(goto=state["active_agent"], update=update)


def _action(action: dict[str, Any]) -> dict[str, Any]:
    result = action.get("result")
    text = result if isinstance(result, str) else str(result)
    return {"agent": action["agent"], "tool": action["tool"], "args": action.get("args"), "ok": action["ok"],
            "result": result if isinstance(result, dict) else text[:RESULT_CHARS]}


def _report(title: str) -> Callable[[PipelineState], dict]:
    def report(state: PipelineState) -> dict:
        """The report from what the run did: executed actions, approvals, the last agent's answer, cost."""
        stop = state.get("stop_reason")
        answer = last_ai(state.get("messages") or [])
        return {"report": PipelineReport(
            title=title.replace("$subject_id", state["subject_id"]), outcome="stopped" if stop else "completed",
            stop_reason=stop, subject_id=state["subject_id"],
            answer=answer.content if isinstance(answer, AIMessage) and not stop else None,
            steps=list(state.get("visited") or []), actions=[_action(a) for a in state.get("actions") or []],
            approvals=[{k: a.get(k) for k in ("kind", "decision", "by", "reason", "proposal")}
                       for a in state.get("approvals") or []],
            policies_cited=list(state.get("citations") or []), cost=cost_summary(state.get("calls") or []),
        )}

    return report


def build_pipeline_graph(steps: Sequence[AgentSpec], *, subject_key: str, request: str, title: str) -> StateGraph:
    """The uncompiled pipeline of ``steps``; the caller picks the checkpointer.

    ``subject_key`` names the subject id in the agents' prompts (``$supplier_invoice_id``);
    ``request`` opens the thread and ``title`` heads the report (both may use ``$subject_id``).
    """
    names = [spec.name for spec in steps]
    graph = StateGraph(PipelineState, context_schema=OpsContext, input_schema=PipelineInput,
                       output_schema=PipelineOutput)
    graph.add_node(INTAKE, _intake(request))
    for index, spec in enumerate(steps):
        after = names[index + 1] if index + 1 < len(names) else REPORT
        graph.add_node(spec.name, _step(spec, after, subject_key), destinations=(TOOLS, APPROVAL, after, REPORT))
    graph.add_node(APPROVAL, approval_node)
    graph.add_node(TOOLS, _tools, destinations=tuple(names))
    graph.add_node(REPORT, _report(title))
    graph.add_edge(START, INTAKE)
    graph.add_edge(INTAKE, names[0])
    graph.set_finish_point(REPORT)
    return graph
