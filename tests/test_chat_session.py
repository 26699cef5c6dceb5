"""Turn logic of the chat REPL for any registered graph, in-process with a small handoff graph.

The graph needs no model: ``triage`` hands a new conversation to ``billing`` (which answers
with a citation); later turns go straight to the agent that has control, as a handoff
graph does. It is registered for the test by replacing ``graph_entries``.
"""

from __future__ import annotations

import io
from typing import Annotated, Literal, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, interrupt
from rich.console import Console

from opsgraph.graphs.state import merge_unique
from opsgraph import registry
from opsgraph.cli.chat_commands import dispatch
from opsgraph.cli.chat_session import ChatSession, accepts_messages
from opsgraph.errors import UserError

CITATION = "[customer_support/refunds.md § Duplicate charges]"


class DeskInput(TypedDict):
    messages: list[AnyMessage]


class DeskState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    active_agent: str
    citations: Annotated[list[str], merge_unique]


def entry_node(state: DeskState) -> Command[Literal["triage", "billing"]]:
    return Command(goto=state.get("active_agent") or "triage")  # follow-ups go to the agent in control


def triage(state: DeskState) -> Command[Literal["billing"]]:
    note = AIMessage("this is a billing question", name="triage")
    return Command(goto="billing", update={"messages": [note], "active_agent": "billing"})


def billing(state: DeskState) -> dict:
    question = next(str(m.content) for m in reversed(state["messages"]) if m.type == "human")
    if "refund" in question and "approve" not in question:
        answer = interrupt({"type": "question", "text": "Refund to the original card?"})
        return {"messages": [AIMessage(f"Refund noted: {answer}", name="billing")]}
    return {"messages": [AIMessage(f"Answering: {question}", name="billing")], "citations": [CITATION]}


def build_desk() -> StateGraph:
    graph = StateGraph(DeskState, input_schema=DeskInput)
    graph.add_node("entry", entry_node)
    graph.add_node("triage", triage)
    graph.add_node("billing", billing)
    graph.add_edge(START, "entry")
    return graph


@pytest.fixture
def desk(monkeypatch):
    real = registry.graph_entries()
    test_entry = registry.GraphEntry("test_desk", "handoff", "Test help desk.", build_desk,
                                     lambda options, world: {}, lambda inp: "desk conversation")
    monkeypatch.setattr(registry, "graph_entries", lambda: {**real, "test_desk": test_entry})


def _session(settings, thread: str | None = None, graph: str = "test_desk") -> tuple[ChatSession, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, width=160, color_system=None)
    return ChatSession(settings, console, graph, thread, "dana", with_knowledge=False), out


def test_first_line_hands_off_and_cites_then_reopened_thread_continues_with_the_same_agent(desk, settings):
    session, out = _session(settings, "desk-1")
    try:
        session.send("I was charged twice for INV-0001")
        text = out.getvalue()
        assert "── handoff: triage → billing ──" in text
        assert "billing: Answering: I was charged twice" in text
        assert "Sources:" in text and CITATION in text.split("Sources:")[1]
        assert "thread desk-1 · completed" in text
    finally:
        session.close()

    again, out = _session(settings, "desk-1")
    try:
        again.recap()
        assert "active agent: billing" in out.getvalue()
        again.send("When will it arrive?")
        turn = out.getvalue().split("active agent: billing")[1]
        assert "handoff" not in turn and "── billing ──\nbilling: Answering: When will it arrive?" in turn
        messages = again.snapshot().values["messages"]
        assert [m.type for m in messages] == ["human", "ai", "ai", "human", "ai"]
        assert again.snapshot().values["active_agent"] == "billing"
    finally:
        again.close()


def test_a_question_interrupt_takes_the_next_line_as_its_answer(desk, settings):
    session, out = _session(settings, "desk-2")
    try:
        session.send("please refund the duplicate")
        assert "The workflow asks" in out.getvalue() and "Refund to the original card?" in out.getvalue()
        with pytest.raises(UserError, match="nothing is waiting for approval"):
            dispatch(session, "/approve")
        session.send("yes, the original card")
        assert "billing: Refund noted: yes, the original card" in out.getvalue()
    finally:
        session.close()


def test_commands_on_a_message_graph(desk, settings):
    session, out = _session(settings)
    try:
        with pytest.raises(UserError, match="no conversation"):
            dispatch(session, "/history")
        session.send("hello there")
        thread = session.thread_id
        assert thread and thread.startswith("test-")
        dispatch(session, "/history")
        assert "0 you human: hello there" in " ".join(out.getvalue().split())
        dispatch(session, "/trace 1")  # a message without tool calls: its full text
        assert dispatch(session, "/new") and session.thread_id is None
        dispatch(session, f"/thread {thread}")
        assert session.thread_id == thread and "switched to thread" in out.getvalue()
        with pytest.raises(UserError, match="did you mean /history"):
            dispatch(session, "/histroy")
        assert dispatch(session, "/exit") is False
    finally:
        session.close()


def test_only_graphs_whose_input_is_messages_continue_a_thread(desk, runner):
    assert accepts_messages(runner.graph("test_desk"))
    assert not accepts_messages(runner.graph("supply_chain_exception"))


def test_a_finished_one_shot_thread_starts_a_new_thread(settings):
    session, out = _session(settings, "sc-1", graph="supply_chain_exception")
    try:
        session.send("SH-0002 is 4 days late")
        assert session.thread_id == "sc-1" and "thread sc-1 · completed" in out.getvalue()
        with pytest.raises(UserError, match="name the late shipment"):
            session.send("and what about the other one?")
        assert session.thread_id == "sc-1"  # a line that is not a valid event changes nothing
        session.send("SH-0004 is 3 days late")
        assert session.thread_id != "sc-1" and "starting a new thread" in out.getvalue()
    finally:
        session.close()


def test_approval_commands_edit_and_reject_in_process(settings):
    session, out = _session(settings, "po-1", graph="supply_chain_exception")
    try:
        session.send("SH-0001 is 5 days late")
        assert "Approval required" in out.getvalue() and "thread po-1 · awaiting_approval" in out.getvalue()
        with pytest.raises(UserError, match="waiting for approval"):
            session.send("what now?")
        with pytest.raises(UserError, match="cannot edit colour"):
            dispatch(session, '/edit {"colour": "red"}')
        assert session.snapshot().interrupts  # a malformed edit changes nothing
        dispatch(session, '/edit {"lines": {"SKU-001": 100, "SKU-002": 100}}')  # per line on a two-line order
        approval = session.snapshot().values["approvals"][0]
        assert approval["decision"] == "edit" and approval["by"] == "dana"
        assert all(line["quantity"] == 100 for line in approval["final_args"]["lines"])
        assert "thread po-1 · completed" in out.getvalue()

        session.thread_id = "po-2"
        session.send("SH-0001 is 5 days late")
        dispatch(session, "/reject expedite premium is not justified")
        approval = session.snapshot().values["approvals"][0]
        assert approval["decision"] == "reject" and approval["reason"] == "expedite premium is not justified"
    finally:
        session.close()
