"""Tool execution with scripted models: permissions, bad arguments, unknown ids, audit."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, ToolMessage

from opsgraph.runner import open_runner
from tests.support.scripted import ScriptedChatModel, tool_call

EVENT = {"event": {"shipment_id": "SH-0004", "delay_days": 2, "description": "Inbound shipment SH-0004 is delayed by 2 days."}}


def _run(settings, script: dict, thread: str):
    model = ScriptedChatModel(script=script)
    with open_runner(settings, with_knowledge=False, model_factory=lambda tier, spec: model) as runner:
        before = runner.context.world.erp.list_purchase_orders()["count"]
        result = runner.start("supply_chain_exception", EVENT, thread_id=thread)
        after = runner.context.world.erp.list_purchase_orders()["count"]
        events = runner.context.audit.events(thread)
    return result, model, events, after - before


def _tool_messages(result, call_id: str) -> list[ToolMessage]:
    return [m for m in result.values["messages"] if isinstance(m, ToolMessage) and m.tool_call_id == call_id]


def test_out_of_scope_tool_is_refused_never_executed_and_audited(settings):
    rogue = tool_call("create_purchase_order", {"supplier_id": "SUP-001", "dc_id": "DC-EAST",
                                                "lines": [{"sku_id": "SKU-001", "quantity": 5}], "justification": "x"}, "rogue-1")
    result, _model, events, new_pos = _run(settings, {"logistics": [AIMessage("", tool_calls=[rogue])]}, "t-rogue")
    assert new_pos == 0
    [message] = _tool_messages(result, "rogue-1")
    assert message.status == "error" and "not permitted" in message.content
    refusals = [e for e in events if e.kind == "tool_refused"]
    assert [(e.agent, e.name) for e in refusals] == [("logistics", "create_purchase_order")]
    assert result.status == "completed"  # the run recovered and finished


def test_unknown_id_and_bad_types_come_back_as_tool_errors(settings):
    calls = [tool_call("get_shipment", {"shipment_id": "SH-9999"}, "bad-1"),
             tool_call("report_shipment_delay", {"shipment_id": "SH-0004", "delay_days": "soon", "reason": "x"}, "bad-2")]
    # Asked again with the schema error fed back, the model repeats itself: then the executor answers.
    again = [AIMessage("", tool_calls=calls), AIMessage("", tool_calls=calls)]
    result, _model, events, _ = _run(settings, {"logistics": again}, "t-bad")
    [unknown] = _tool_messages(result, "bad-1")
    [invalid] = _tool_messages(result, "bad-2")
    assert unknown.status == "error" and "SH-9999" in unknown.content
    assert invalid.status == "error" and "delay_days" in invalid.content
    assert result.status == "completed"
    assert [e.ok for e in events if e.kind == "tool_call"][:2] == [False, False]


def test_unknown_tool_name_is_an_error_not_a_crash(settings):
    call = tool_call("launch_rocket", {}, "bad-3")
    result, *_ = _run(settings, {"logistics": [AIMessage("", tool_calls=[call])]}, "t-unknown-tool")
    [message] = _tool_messages(result, "bad-3")
    assert message.status == "error"
    assert result.status == "completed"


def test_each_agent_receives_only_its_own_tools(settings):
    _result, model, _events, _ = _run(settings, {}, "t-tools")
    seen = {r["agent"]: set(r["tools"]) for r in model.received if r["tools"]}
    assert "create_purchase_order" not in seen["logistics"]
    assert {"get_shipment", "report_shipment_delay"} <= seen["logistics"]
    assert "get_shipment" not in seen["inventory"]


def test_round_limit_drops_dangling_calls(settings):
    loop = [AIMessage("", tool_calls=[tool_call("get_shipment", {"shipment_id": "SH-0004"}, f"loop-{i}")]) for i in range(20)]
    result, *_ = _run(settings, {"logistics": loop}, "t-loop")
    ai = [m for m in result.values["messages"] if isinstance(m, AIMessage) and m.name == "logistics"]
    assert "stopped after" in ai[-1].content and not ai[-1].tool_calls
    called = {c["id"] for m in result.values["messages"] if isinstance(m, AIMessage) for c in m.tool_calls}
    answered = {m.tool_call_id for m in result.values["messages"] if isinstance(m, ToolMessage)}
    assert called == answered
