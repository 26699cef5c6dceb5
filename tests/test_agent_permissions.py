"""Every agent in policy.yaml is held to its tool list when tools execute, whatever its model asks for.

The agents are read from policy.yaml at collection time, so an agent added later is covered
without touching this file. For each one, a model's call to a tool outside its scope is
refused, the tool never runs and the audit trail records the attempt; a call to a tool in
scope, made the same way, does run (so the spy would have seen a leak).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import StructuredTool
from pydantic import BaseModel, ConfigDict

from opsgraph.graphs.components import execute_tool_calls
from opsgraph.governance.policy import load_policy
from opsgraph.runner import open_runner
from tests.support.paths import PROJECT_ROOT
from tests.support.scripted import ScriptedChatModel, tool_call

POLICY = load_policy(Path(PROJECT_ROOT) / "policy.yaml")
# Out-of-scope tools to try first: writes that would do real harm if a refusal leaked.
HARMFUL_FIRST = ("create_purchase_order", "issue_refund", "transfer_stock", "notify_customers", "change_plan",
                 "book_reroute", "send_message", "update_ticket")


class AnyArgs(BaseModel):
    model_config = ConfigDict(extra="allow")


def _spy(name: str, log: list[str]) -> StructuredTool:
    def run(**kwargs):
        log.append(name)
        return {"spied": name}

    return StructuredTool.from_function(func=run, name=name, description="spy", args_schema=AnyArgs,
                                        metadata={"writes": False})


def _forbidden(agent: str, catalog: list[str]) -> str:
    allowed = set(POLICY.agent(agent).tools)
    return next(name for name in (*HARMFUL_FIRST, *sorted(catalog)) if name in catalog and name not in allowed)


def _execute(ctx, agent: str, calls: list[dict], thread: str) -> dict:
    state = {"messages": [HumanMessage("do the work"), AIMessage("", name=agent, tool_calls=calls)],
             "active_agent": agent}
    # The executor reads the thread id from the LangGraph run config, as inside a graph.
    return RunnableLambda(lambda _: execute_tool_calls(state, ctx)).invoke(
        None, config={"configurable": {"thread_id": thread}})


@pytest.mark.parametrize("agent", [*POLICY.agent_names, "agent_not_in_policy"])
def test_out_of_scope_tool_is_refused_never_runs_and_is_audited(settings, agent):
    with open_runner(settings, with_knowledge=False) as runner:
        ctx = runner.context
        catalog = sorted(ctx.tools)
        executed: list[str] = []
        for name in catalog:
            ctx.tools[name] = _spy(name, executed)
        forbidden = _forbidden(agent, catalog)
        thread = f"perm-{agent}"
        update = _execute(ctx, agent, [tool_call(forbidden, {"anything": "SUP-001"}, "rogue-1")], thread)
        events = ctx.audit.events(thread)
    [message] = update["messages"]
    assert message.status == "error" and "not permitted" in message.content
    assert executed == []
    assert [(a["status"], a["tool"]) for a in update["actions"]] == [("refused", forbidden)]
    assert [(e.kind, e.agent, e.name, e.ok) for e in events] == [("tool_refused", agent, forbidden, False)]


@pytest.mark.parametrize("agent", [a for a in POLICY.agent_names
                                   if set(POLICY.agent(a).tools) - {"search_knowledge"}])
def test_in_scope_tool_called_the_same_way_runs(settings, agent):
    with open_runner(settings, with_knowledge=False) as runner:
        ctx = runner.context
        executed: list[str] = []
        allowed = sorted(set(POLICY.agent(agent).tools) & set(ctx.tools))
        for name in allowed:
            ctx.tools[name] = _spy(name, executed)
        update = _execute(ctx, agent, [tool_call(allowed[0], {"anything": "SUP-001"}, "ok-1")], f"perm-ok-{agent}")
    assert executed == [allowed[0]] and update["actions"][0]["status"] == "done"


def _rogue_run(settings, graph_id: str, options: dict, script: dict, thread: str):
    model = ScriptedChatModel(script=script)
    with open_runner(settings, with_knowledge=False, model_factory=lambda tier, spec: model) as runner:
        before = runner.context.world.erp.list_purchase_orders()["count"]
        done = runner.start(graph_id, runner.make_input(graph_id, options), thread_id=thread)
        after = runner.context.world.erp.list_purchase_orders()["count"]
        events = runner.context.audit.events(thread)
    return done, events, after - before


def test_contract_review_agent_that_obeys_planted_text_is_refused(settings):
    # A model that followed the instruction planted in CTR-1005 asks for a purchase order.
    rogue = tool_call("create_purchase_order", {"supplier_id": "SUP-017", "dc_id": "DC-WEST", "justification": "x",
                                                "lines": [{"sku_id": "SKU-003", "quantity": 5000}]}, "rogue-po")
    done, events, new_pos = _rogue_run(settings, "contract_review", {"contract": "CTR-1005"},
                                       {"contract_extractor": [AIMessage("", tool_calls=[rogue])]}, "perm-cr")
    assert new_pos == 0
    assert [(e.agent, e.name) for e in events if e.kind == "tool_refused"] == [("contract_extractor", "create_purchase_order")]
    assert done.status == "completed" and done.report["recommendation"] == "escalate_to_legal"


def test_supplier_risk_assessor_out_of_scope_call_is_refused(settings):
    rogue = tool_call("issue_refund", {"invoice_id": "INV-0002", "amount_usd": 9999, "reason": "x"}, "rogue-refund")
    done, events, _ = _rogue_run(settings, "supplier_risk", {"supplier": "SUP-001"},
                                 {"esg_assessor": [AIMessage("", tool_calls=[rogue])]}, "perm-sr")
    assert [(e.agent, e.name) for e in events if e.kind == "tool_refused"] == [("esg_assessor", "issue_refund")]
    assert not [e for e in events if e.name == "issue_refund" and e.kind == "tool_call"]
    assert done.status == "completed" and done.report["risk_level"] == "low"


def _specs() -> list:
    import importlib
    import pkgutil

    import opsgraph.agents as agents
    from opsgraph.agents.base import AgentSpec

    found = []
    for module in pkgutil.iter_modules(agents.__path__):
        found += [v for v in vars(importlib.import_module(f"opsgraph.agents.{module.name}")).values() if isinstance(v, AgentSpec)]
    return found


@pytest.mark.parametrize("spec", _specs(), ids=lambda spec: spec.name)
def test_every_agent_spec_is_in_policy_with_the_tools_it_is_built_with(spec):
    # A tool bound to an agent but missing from policy.yaml would be refused on every call.
    allowed = POLICY.agent(spec.name)
    assert spec.name in POLICY.agent_names
    assert set(spec.tools) <= set(allowed.tools)
    assert spec.history == allowed.history
