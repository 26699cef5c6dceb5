"""Handoff tools and their guards, without a graph around them."""

from __future__ import annotations

from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.types import Command

from opsgraph.graphs.handoff import (bounces, create_handoff_tool, handoff_refusal, handoff_target, handoff_tool_name,
                            perform_handoffs)
from tests.support.scripted import tool_call

TOOLS = {handoff_tool_name(a): create_handoff_tool(a, f"{a} things") for a in ("billing", "technical_support")}


def test_names_come_from_one_helper_and_round_trip():
    assert handoff_tool_name("billing") == "transfer_to_billing"
    assert handoff_target("transfer_to_account_management") == "account_management"
    assert handoff_target("issue_refund") is None


def test_the_tool_returns_a_command_and_hides_the_call_id_from_the_model():
    tool = TOOLS["transfer_to_billing"]
    out = tool.invoke({"type": "tool_call", "id": "c-1", "name": tool.name, "args": {"reason": "refund"}})
    assert isinstance(out, Command) and out.goto == "billing" and out.update["active_agent"] == "billing"
    [note] = out.update["messages"]
    assert isinstance(note, ToolMessage) and note.tool_call_id == "c-1" and "refund" in note.content
    assert set(convert_to_openai_tool(tool)["function"]["parameters"]["properties"]) == {"reason"}


def test_bounces_and_refusals():
    assert bounces(["triage", "billing", "technical_support", "billing"]) == 1
    assert bounces(["triage", "billing", "technical_support", "account_management", "billing"]) == 0
    assert handoff_refusal(["triage", "billing", "technical_support"], "billing", 2, 4) is None  # first bounce: fine
    why = handoff_refusal(["triage", "billing", "technical_support", "billing"], "technical_support", 3, 4)
    assert why.startswith("ping-pong")
    assert handoff_refusal(["a", "b", "c", "d", "e"], "f", 4, 4).startswith("handoff limit of 4")


def _perform(runner, agent: str, calls: list[dict], trail: list[str], count: int = 0, thread: str = "t-h"):
    ctx = runner.context
    outcome = RunnableLambda(lambda _: perform_handoffs(calls, agent, ctx, TOOLS, trail, count, 4)).invoke(
        None, config={"configurable": {"thread_id": thread}})
    return outcome, ctx.audit.events(thread)


def test_first_permitted_handoff_wins_the_rest_are_answered_not_run(runner):
    calls = [tool_call("transfer_to_billing", {"reason": "refund"}, "h-1"),
             tool_call("transfer_to_technical_support", {}, "h-2")]
    outcome, events = _perform(runner, "triage", calls, ["triage"])
    assert outcome.target == "billing" and outcome.escalation is None
    assert set(outcome.answers) == {"h-1", "h-2"}
    assert outcome.answers["h-2"][1]["status"] == "skipped" and "only the first handoff" in outcome.answers["h-2"][0].content
    assert [(e.kind, e.name) for e in events] == [("handoff", "transfer_to_billing"), ("tool_skipped", "transfer_to_technical_support")]


def test_a_handoff_outside_the_agents_permissions_is_refused(runner):
    # billing may hand off to technical support or account management, never to itself.
    outcome, events = _perform(runner, "billing", [tool_call("transfer_to_billing", {}, "h-3")], ["triage", "billing"])
    assert outcome.target is None and outcome.answers["h-3"][1]["status"] == "refused"
    assert [(e.kind, e.agent) for e in events] == [("tool_refused", "billing")]


def test_a_guarded_handoff_escalates_instead(runner):
    trail = ["triage", "billing", "technical_support", "billing"]
    outcome, events = _perform(runner, "billing", [tool_call("transfer_to_technical_support", {}, "h-4")], trail, 3)
    assert outcome.target is None and outcome.escalation.startswith("ping-pong")
    assert "a human takes over" in outcome.answers["h-4"][0].content
    assert [e.kind for e in events] == ["tool_skipped"]
