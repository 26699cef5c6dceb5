"""Cost-aware routing: router decisions, the small->large cascade, budgets, the kill switch, accounting.

Graph-level tests use one scripted model per tier, so each assertion can say which tier
received what; offline (no network) except the fake OpenAI-compatible server on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from opsgraph.graphs.incident import cost_summary
from opsgraph.graphs.state import add_calls
from opsgraph.errors import UserError
from opsgraph.governance.budgets import budget_overrides, exhausted, load_budgets
from opsgraph.governance.policy import load_policy
from opsgraph.models.gateway import ModelGateway
from opsgraph.models.pricing import load_pricing
from opsgraph.models.router import Router, calibrate_threshold, score
from opsgraph.models.validation import check_tool_message
from opsgraph.runner import open_runner
from opsgraph.settings import SettingsError, load_settings
from tests.conftest import make_settings
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.scripted import ScriptedChatModel, tool_call

QUIET = {"event": {"shipment_id": "SH-0004", "delay_days": 2, "description": "Inbound shipment SH-0004 is delayed by 2 days."}}
BUSY = {"event": {"shipment_id": "SH-0002", "delay_days": 4, "description": "Inbound shipment SH-0002 is delayed by 4 days."}}
SIGNAL_KEYS = {"agent_default", "context_tokens", "tools_bound", "structured_output", "money_at_stake_usd",
               "earlier_failures", "score", "threshold"}


def _pricing_file(tmp_path: Path, small: float = 10.0, large: float = 100.0) -> Path:
    path = tmp_path / "prices.yaml"
    path.write_text(f"models:\n  offline:small: {{input: {small}, output: {small * 4}}}\n"
                    f"  offline:large: {{input: {large}, output: {large * 4}}}\n")
    return path


def _tiered(settings, small: ScriptedChatModel, large: ScriptedChatModel, **options):
    models = {"small": small, "large": large}
    return open_runner(settings, with_knowledge=False, model_factory=lambda tier, spec: models[tier], **options)


def _logistics_requests(model: ScriptedChatModel) -> list[dict]:
    return [r for r in model.received if r["agent"] == "logistics"]


# --- router ---------------------------------------------------------------------------------


def test_router_scores_signals_and_explains_the_rule(settings):
    router = Router(load_policy(settings.policy_path))
    quiet = {"agent_default": "small", "context_tokens": 500, "tools_bound": 2, "structured_output": False,
             "money_at_stake_usd": 0, "earlier_failures": 0}
    risky = {**quiet, "money_at_stake_usd": 50000, "earlier_failures": 2}
    low, high = router.choose("logistics", quiet), router.choose("logistics", risky)
    assert low.tier == "small" and high.tier == "large"
    assert high.rule.startswith("score") and "money_at_stake" in high.rule and "earlier_failures" in high.rule
    assert high.signals["score"] == score(risky, router.routing)[0] >= high.signals["threshold"]
    assert router.choose("procurement", {**quiet, "agent_default": "large"}).tier == "large"
    assert router.choose("logistics", risky, "small").rule == "routing mode 'small' forces every call to small"
    assert router.choose("logistics", quiet, "large").tier == "large"


def test_budget_near_cap_downgrades_to_small(settings):
    router = Router(load_policy(settings.policy_path))
    state = {"messages": [], "calls": [{"agent": "procurement", "cost_usd": 0.9, "input_tokens": 10, "output_tokens": 0}]}
    signals = router.signals("procurement", [], tools=4, structured=False, state=state)
    assert signals["budget_used"] == 0.9 and signals["budget_cap"] == "agent 'procurement' cost budget"
    choice = router.choose("procurement", signals)
    assert choice.tier == "small" and choice.rule.startswith("budget: agent 'procurement' cost budget at 90%")
    raised = router.signals("procurement", [], tools=4, structured=False,
                            state={**state, "budget": {"agents": {"procurement": {"max_usd": 10}}}})
    assert router.choose("procurement", raised).tier == "large"


def test_money_and_failures_come_from_the_run(settings):
    router = Router(load_policy(settings.policy_path))
    messages = [HumanMessage("SH-0001 is late", id="h1"),
                AIMessage("", tool_calls=[tool_call("get_reroute_options", {"shipment_id": "SH-0001"}, "c1")], id="a1"),
                ToolMessage('{"options": [{"cost_usd": 14898.0}]}', tool_call_id="c1", id="t1"),
                ToolMessage("invalid arguments: delay_days", tool_call_id="c2", status="error", id="t2")]
    signals = router.signals("inventory", messages[:1], tools=5, structured=False, state={"messages": messages})
    assert signals["money_at_stake_usd"] == 14898.0 and signals["earlier_failures"] == 1
    assert signals["context_tokens"] < 10  # only what this call sends counts as its context


def test_calibrate_threshold_picks_the_score_quantile():
    scores = [0.1] * 6 + [0.3] * 2 + [1.2] * 2
    threshold, share = calibrate_threshold(scores, 0.2)
    assert share == 0.2 and 0.3 < threshold <= 1.2
    assert calibrate_threshold(scores, 0.4)[1] == 0.4
    assert calibrate_threshold(scores, 0.0)[1] == 0.0 and calibrate_threshold(scores, 1.0)[1] == 1.0


# --- validation and the cascade -----------------------------------------------------------------


@tool
def get_shipment(shipment_id: str) -> dict:
    """Read a shipment."""
    return {}


@tool
def report_shipment_delay(shipment_id: str, delay_days: int, reason: str) -> dict:
    """Record a delay."""
    return {}


@pytest.mark.parametrize("text", [
    '{"name": "get_shipment", "arguments": {"shipment_id": "SH-0004"}}',
    '```json\n{"tool": "get_shipment", "args": {"shipment_id": "SH-0004"}}\n```',
    'Calling it now: {"function": {"name": "get_shipment", "arguments": "{\\"shipment_id\\": \\"SH-0004\\"}"}}',
])
def test_tool_call_written_as_text_is_recovered(text):
    message, problem, note = check_tool_message(AIMessage(text), [get_shipment, report_shipment_delay])
    assert problem is None and note.startswith("recovered 1")
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("get_shipment", {"shipment_id": "SH-0004"})]


@pytest.mark.parametrize("message, reason", [
    (AIMessage('{"name": "launch_rocket", "arguments": {}}'), "not bound"),
    (AIMessage('{"name": "report_shipment_delay", "arguments": {"shipment_id": "SH-1", "delay_days": "soon"}}'), "schema"),
    (AIMessage("", tool_calls=[tool_call("report_shipment_delay", {"shipment_id": "SH-1"}, "x")]), "schema"),
    (AIMessage("", invalid_tool_calls=[{"name": "get_shipment", "args": "{oops", "id": "y", "error": "bad JSON",
                                        "type": "invalid_tool_call"}]), "unparseable"),
])
def test_unusable_tool_calls_are_validation_failures(message, reason):
    _, problem, _ = check_tool_message(message, [get_shipment, report_shipment_delay])
    assert problem and reason in problem


def test_plain_answers_are_not_tool_calls():
    message = AIMessage('Delay recorded. Summary: {"orders": 0}')
    assert check_tool_message(message, [get_shipment]) == (message, None, None)


def test_small_failure_is_retried_with_feedback_then_escalated_to_large_once(settings):
    bad = tool_call("report_shipment_delay", {"shipment_id": "SH-0004", "delay_days": "soon", "reason": "x"}, "bad-1")
    again = tool_call("report_shipment_delay", {"shipment_id": "SH-0004", "delay_days": "soon", "reason": "x"}, "bad-2")
    small = ScriptedChatModel(script={"logistics": [AIMessage("", tool_calls=[bad]), AIMessage("", tool_calls=[again])]},
                              model_name="offline:small")
    large = ScriptedChatModel(model_name="offline:large")
    with _tiered(settings, small, large) as runner:
        result = runner.start("supply_chain_exception", QUIET, thread_id="t-escalate")
        events = runner.context.audit.events("t-escalate", kind="model_call")
    assert result.status == "completed" and result.values["visited"] == ["logistics", "inventory"]
    calls = result.values["calls"]
    superseded = [i for i, c in enumerate(calls) if c.get("escalated")]
    assert len(superseded) == 2 and superseded[1] == superseded[0] + 1
    first, retry, large_call = calls[superseded[0]], calls[superseded[1]], calls[superseded[1] + 1]
    assert [(c["tier"], c["agent"]) for c in (first, retry, large_call)] == [
        ("small", "logistics"), ("small", "logistics"), ("large", "logistics")]
    assert "delay_days" in first["escalation_reason"] and retry["rule"].startswith("retry with feedback")
    assert large_call["rule"].startswith("cascade: small-tier answer failed")
    feedback = _logistics_requests(small)[1]["messages"][-1]
    assert "could not be used" in feedback.content and "delay_days" in feedback.content
    # The escalation carries the feedback too (later rounds may go large: two failures raise the router score).
    assert "could not be used" in _logistics_requests(large)[0]["messages"][-1].content
    assert not any(a["tool_call_id"] in ("bad-1", "bad-2") for a in result.values["actions"])  # never ran
    # Both superseded attempts are audited, so `opsgraph costs` (read from the audit) bills all three.
    audited = [e.result["usage"]["call_id"] for e in events if e.result.get("escalated")]
    assert sorted(audited) == sorted([first["call_id"], retry["call_id"]])


def test_valid_small_output_does_not_escalate(settings):
    good = tool_call("get_shipment", {"shipment_id": "SH-0004"}, "good-1")
    small = ScriptedChatModel(script={"logistics": [AIMessage("", tool_calls=[good])]}, model_name="offline:small")
    large = ScriptedChatModel(model_name="offline:large")
    with _tiered(settings, small, large) as runner:
        result = runner.start("supply_chain_exception", QUIET, thread_id="t-valid")
    assert result.status == "completed"
    assert not any(c.get("escalated") for c in result.values["calls"])
    assert _logistics_requests(large) == [] and large.received == []
    assert any(a["tool_call_id"] == "good-1" and a["ok"] for a in result.values["actions"])


def test_json_in_text_tool_call_is_recovered_without_escalation(settings):
    text = AIMessage('{"name": "get_shipment", "arguments": {"shipment_id": "SH-0004"}}')
    small = ScriptedChatModel(script={"logistics": [text]}, model_name="offline:small")
    large = ScriptedChatModel(model_name="offline:large")
    with _tiered(settings, small, large) as runner:
        result = runner.start("supply_chain_exception", QUIET, thread_id="t-recover")
    assert result.status == "completed" and large.received == []
    first = next(c for c in result.values["calls"] if c["agent"] == "logistics")
    assert first["validation"] == "recovered 1 tool call(s) written as text" and not first["escalated"]
    assert result.values["actions"][0]["tool"] == "get_shipment" and result.values["actions"][0]["ok"]


class _BrokenStructured(ScriptedChatModel):
    """A small model whose first structured answer is prose, as small local models do."""

    broken: int = 1

    def with_structured_output(self, schema, **kwargs):
        if self.broken <= 0:
            return super().with_structured_output(schema, **kwargs)
        self.broken -= 1
        raw = AIMessage("I would send this to logistics next.", usage_metadata={"input_tokens": 50, "output_tokens": 9,
                                                                                 "total_tokens": 59})
        return RunnableLambda(lambda _: {"raw": raw, "parsed": None, "parsing_error": ValueError("no tool call")})


def test_unparseable_structured_output_escalates(settings):
    small = _BrokenStructured(model_name="offline:small", broken=2)  # the retry with feedback fails too
    large = ScriptedChatModel(model_name="offline:large")
    with _tiered(settings, small, large) as runner:
        result = runner.start("supply_chain_exception", QUIET, thread_id="t-structured")
    assert result.status == "completed"
    first, retry, escalation = result.values["calls"][:3]
    assert first["agent"] == retry["agent"] == escalation["agent"] == "supervisor"
    assert first["escalated"] and "did not match Route" in first["escalation_reason"]
    assert retry["tier"] == "small" and retry["rule"].startswith("retry with feedback") and retry["escalated"]
    assert escalation["tier"] == "large" and not escalation["escalated"]


def test_structured_output_fixed_by_the_retry_with_feedback_stays_small(settings):
    small = _BrokenStructured(model_name="offline:small", broken=1)
    large = ScriptedChatModel(model_name="offline:large")
    with _tiered(settings, small, large) as runner:
        result = runner.start("supply_chain_exception", QUIET, thread_id="t-structured-retry")
    first, retry = result.values["calls"][:2]
    assert first["escalated"] and retry["tier"] == "small" and retry["rule"].startswith("retry with feedback")
    assert result.status == "completed" and large.received == []


class Verdict(BaseModel):
    """A verdict with a self-reported confidence."""

    approved: bool
    confidence: float = Field(ge=0, le=1)


def _structured_model(confidence: float):
    model = ScriptedChatModel()
    answer = Verdict(approved=True, confidence=confidence)
    raw = AIMessage("", usage_metadata={"input_tokens": 20, "output_tokens": 5, "total_tokens": 25})
    object.__setattr__(model, "with_structured_output",
                       lambda schema, **kw: RunnableLambda(lambda _: {"raw": raw, "parsed": answer, "parsing_error": None}))
    return model


def test_low_self_reported_confidence_escalates(settings):
    models = {"small": _structured_model(0.2), "large": _structured_model(0.9)}
    gateway = ModelGateway(settings, load_policy(settings.policy_path), factory=lambda tier, spec: models[tier])
    verdict, record = gateway.structured("compliance", [SystemMessage("check")], Verdict)
    assert verdict.confidence == 0.9 and record["tier"] == "large"
    assert record["escalated_from"]["escalation_reason"] == "self-reported confidence 0.20 is below 0.50"


def test_checker_rejection_sends_the_retry_to_large_and_marks_the_first_call(settings):
    models = {"small": ScriptedChatModel(model_name="offline:small"), "large": ScriptedChatModel(model_name="offline:large")}
    gateway = ModelGateway(settings, load_policy(settings.policy_path), factory=lambda tier, spec: models[tier])
    system = SystemMessage("You are the buyer agent. Propose a purchase order.")
    _, first = gateway.invoke("buyer", [system, HumanMessage("need 10 units")], state={"messages": []})
    assert first["tier"] == "small"
    state = {"messages": [], "calls": [first],
             "reviews": [{"agent": "buyer", "reviewer": "compliance", "approved": False, "reason": "supplier not approved"}]}
    _, retry = gateway.invoke("buyer", [system, HumanMessage("revise")], state=state)
    assert retry["tier"] == "large" and retry["rule"].startswith("cascade: checker compliance rejected")
    calls = add_calls(add_calls([], [first]), [retry])
    assert [c["tier"] for c in calls] == ["small", "large"] and calls[0]["escalated"]
    _, third = gateway.invoke("buyer", [system, HumanMessage("again")], state={**state, "calls": calls})
    assert third["tier"] == "small"  # one rejection buys one retry on large


def test_same_model_on_both_tiers_never_escalates(settings):
    nope = AIMessage('{"name": "nope", "arguments": {}}')
    model = ScriptedChatModel(script={"logistics": [nope, nope]})
    gateway = ModelGateway(settings, load_policy(settings.policy_path), factory=lambda tier, spec: model)
    message, record = gateway.invoke("logistics", [SystemMessage("You are the logistics agent.")], [get_shipment])
    assert "escalated_from" not in record and "not bound" in record["validation"] and record["tier"] == "small"
    # A call to a tool the agent lacks is not retried: the executor refuses it and audits the attempt.
    assert [c["name"] for c in message.tool_calls] == ["nope"]  # the executor answers it: unknown tool


# --- accounting -----------------------------------------------------------------------------------


def test_every_call_records_signals_rule_and_cost(settings):
    with open_runner(settings, with_knowledge=False) as runner:
        result = runner.start("supply_chain_exception", BUSY, thread_id="t-explain")
        audited = [e.result["usage"] for e in runner.context.audit.events("t-explain", kind="model_call")]
    assert result.status == "completed"
    for call in result.values["calls"]:
        assert SIGNAL_KEYS <= set(call["signals"]) and call["rule"]
        assert {"agent", "tier", "model", "input_tokens", "output_tokens", "cost_usd", "latency_ms"} <= set(call)
        assert call["tier"] in call["rule"]
    assert [c["call_id"] for c in audited] == [c["call_id"] for c in result.values["calls"]]
    assert any(c["agent"] == "procurement" and c["tier"] == "large" for c in result.values["calls"])


def test_add_calls_flattens_escalations_and_replaces_by_id():
    first = {"call_id": "a", "tier": "small", "escalated": True}
    final = {"call_id": "b", "tier": "large", "escalated_from": first}
    merged = add_calls([{"call_id": "z"}], [final])
    assert [c["call_id"] for c in merged] == ["z", "a", "b"] and "escalated_from" not in merged[2]
    assert add_calls(merged, [{"call_id": "a", "tier": "small", "escalated": False}])[1]["escalated"] is False


def test_pricing_file_extends_the_shipped_table(tmp_path):
    pricing = load_pricing(_pricing_file(tmp_path))
    assert pricing.price("offline:small").cost(1_000_000, 0) == 10.0
    assert pricing.price("openai:gpt-4o-mini").input == 0.15  # shipped entries remain
    settings = load_settings(env={"OPSGRAPH_PRICING": str(tmp_path / "prices.yaml")}, cwd=tmp_path)
    assert settings.pricing_file == tmp_path / "prices.yaml"
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(env={"OPSGRAPH_PRICING": str(tmp_path / "missing.yaml")}, cwd=tmp_path)
    (tmp_path / "bad.yaml").write_text("models:\n  x:y: {input: cheap}\n")
    with pytest.raises(SettingsError, match="numeric"):
        load_pricing(tmp_path / "bad.yaml")


# --- budgets ---------------------------------------------------------------------------------------


def test_budget_overrides_and_exhaustion(settings):
    policy = load_policy(settings.policy_path)
    overrides = budget_overrides(0.5, None, ["procurement=0.2"], [])
    budgets = load_budgets(policy, overrides)
    assert budgets.run.usd == 0.5 and budgets.agent("procurement").usd == 0.2
    calls = [{"agent": "procurement", "cost_usd": 0.25, "input_tokens": 5, "output_tokens": 5}]
    [spent] = exhausted(budgets, calls)
    assert spent.describe() == "agent 'procurement' cost budget of $0.2000 exhausted (spent $0.2500)"
    with pytest.raises(UserError, match="AGENT=VALUE"):
        budget_overrides(None, None, ["procurement"], [])
    with pytest.raises(UserError, match="positive"):
        budget_overrides(-1, None)


def test_budget_exhaustion_pauses_and_a_raised_budget_resumes_to_completion(tmp_path):
    settings = make_settings(tmp_path / "home", OPSGRAPH_PRICING=str(_pricing_file(tmp_path)))
    with open_runner(settings, with_knowledge=False) as runner:
        paused = runner.start("supply_chain_exception", BUSY, thread_id="t-budget", budget={"max_usd": 0.02})
        assert paused.status == "budget_exhausted"
        [request] = paused.pending
        assert request["type"] == "budget" and request["budget"] == "run cost budget"
        assert request["message"].startswith("run cost budget of $0.0200 exhausted")
        assert request["spent"] >= 0.02 and paused.values["budget"] == {"max_usd": 0.02}
        calls_at_pause = len(paused.values["calls"])
        with pytest.raises(UserError, match="--budget-usd <USD> above"):
            runner.resume("t-budget")
        with pytest.raises(UserError, match="above"):
            runner.resume("t-budget", budget={"max_usd": 0.01})
        done = runner.resume("t-budget", budget={"max_usd": 5.0})
        kinds = [e.kind for e in runner.context.audit.events("t-budget")]
    assert done.status == "completed" and done.report["outcome"] == "completed"
    assert done.values["budget"] == {"max_usd": 5.0} and len(done.values["calls"]) > calls_at_pause
    assert done.report["customers_notified"] and "budget_exhausted" in kinds and "budget_raised" in kinds


def test_agent_token_budget_names_the_agent_and_resumes(settings):
    with open_runner(settings, with_knowledge=False) as runner:
        paused = runner.start("supply_chain_exception", BUSY, thread_id="t-agent-budget",
                              budget={"agents": {"inventory": {"max_tokens": 1500}}})
        assert paused.status == "budget_exhausted" and paused.pending[0]["budget"] == "agent 'inventory' token budget"
        assert paused.pending[0]["options"] == ["--agent-max-tokens inventory=<N>"]
        with pytest.raises(UserError, match="--agent-max-tokens inventory"):
            runner.resume("t-agent-budget", budget={"max_tokens": 10**6})
        done = runner.resume("t-agent-budget", budget={"agents": {"inventory": {"max_tokens": 100000}}})
    assert done.status == "completed"


def test_near_the_token_cap_the_router_downgrades_and_the_run_finishes(tmp_path):
    with open_runner(make_settings(tmp_path / "a"), with_knowledge=False) as runner:
        normal = runner.start("supply_chain_exception", BUSY, thread_id="t-normal")
    used = sum(c["input_tokens"] + c["output_tokens"] for c in normal.values["calls"])
    with open_runner(make_settings(tmp_path / "b"), with_knowledge=False) as runner:
        capped = runner.start("supply_chain_exception", BUSY, thread_id="t-capped", budget={"max_tokens": int(used / 0.9)})
    assert capped.status == "completed"
    late = [c for c in capped.values["calls"] if c["rule"].startswith("budget: run token budget at")]
    assert late and all(c["tier"] == "small" for c in late)
    assert all(c["signals"]["budget_used"] >= 0.8 for c in late)
    assert [c["agent"] for c in capped.values["calls"]] == [c["agent"] for c in normal.values["calls"]]


# --- kill switch -----------------------------------------------------------------------------------


def test_kill_switch_stops_at_next_step_with_state_intact_then_resumes(runner):
    def stop_after_logistics(node: str, _update: dict) -> None:
        if node == "logistics":
            runner.context.audit.request_stop("t-kill-resume")

    stopped = runner.start("supply_chain_exception", BUSY, thread_id="t-kill-resume", on_step=stop_after_logistics)
    assert stopped.status == "stopped" and stopped.report["stop_reason"] == "stopped by operator (kill switch)"
    assert stopped.values["visited"] == ["logistics"]
    graph, config = runner.graph("supply_chain_exception"), runner.config("t-kill-resume")
    before_stop = next(s for s in graph.get_state_history(config) if s.next == ("supervisor",))
    for key in ("messages", "actions", "calls"):
        assert stopped.values[key] == before_stop.values[key]  # the stop changed nothing but the report
    writes_before = [a["tool_call_id"] for a in stopped.values["actions"] if a["writes"]]

    done = runner.resume("t-kill-resume")
    assert done.status == "completed" and not done.values.get("stop_reason") and done.report["outcome"] == "completed"
    assert done.values["visited"] == ["logistics", "inventory", "procurement", "customer_comms"]
    assert done.values["messages"][:len(stopped.values["messages"])] == stopped.values["messages"]
    assert [a["tool_call_id"] for a in done.values["actions"] if a["writes"]][:len(writes_before)] == writes_before
    assert sum(1 for a in done.values["actions"] if a["tool"] == "report_shipment_delay") == 1


# --- tiers and prices over HTTP ---------------------------------------------------------------------


def test_two_priced_models_over_http_use_both_tiers_and_costs_add_up(tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text("models:\n  openai:mini-model: {input: 0.15, output: 0.60}\n"
                      "  openai:big-model: {input: 2.50, output: 10.00}\n")
    with FakeOpenAIServer() as server:
        settings = make_settings(tmp_path / "home", OPENAI_BASE_URL=server.base_url, OPSGRAPH_PRICING=str(prices),
                                 OPSGRAPH_SMALL_MODEL="openai:mini-model", OPSGRAPH_LARGE_MODEL="openai:big-model")
        with open_runner(settings, with_knowledge=False) as runner:
            first = runner.start("supply_chain_exception", {"event": {"shipment_id": "SH-0001", "delay_days": 5,
                                                                        "description": "SH-0001 is 5 days late"}})
            done = runner.resume(first.thread_id, {"decision": "approve"})
    assert done.status == "completed"
    assert {r["model"] for r in server.requests} == {"mini-model", "big-model"}
    calls = done.values["calls"]
    assert {c["tier"] for c in calls} == {"small", "large"}
    cost = cost_summary(calls)
    assert cost["total_usd"] > 0 and cost == done.report["cost"]
    for group in ("by_agent", "by_tier"):
        assert sum(row["cost_usd"] for row in cost[group].values()) == pytest.approx(cost["total_usd"], abs=1e-9)
        assert sum(row["calls"] for row in cost[group].values()) == cost["model_calls"] == len(calls)
    small_price, large_price = 0.15, 2.50
    for call in calls:
        per_input = small_price if call["tier"] == "small" else large_price
        expected = (call["input_tokens"] * per_input + call["output_tokens"] * per_input * 4) / 1e6
        assert call["cost_usd"] == pytest.approx(expected, abs=1e-8)


def test_each_tier_has_its_own_endpoint_and_key(tmp_path):
    with FakeOpenAIServer() as small_server, FakeOpenAIServer() as large_server:
        settings = make_settings(tmp_path / "home",
                                 OPSGRAPH_SMALL_BASE_URL=small_server.base_url, OPSGRAPH_SMALL_API_KEY="key-small-123",
                                 OPSGRAPH_LARGE_BASE_URL=large_server.base_url, OPSGRAPH_LARGE_API_KEY="key-large-456",
                                 OPSGRAPH_SMALL_MODEL="openai:tiny", OPSGRAPH_LARGE_MODEL="openai:huge")
        with open_runner(settings, with_knowledge=False) as runner:
            done = runner.start("supply_chain_exception", BUSY)
    assert done.status == "completed"
    assert small_server.requests and {(r["model"], r["auth"]) for r in small_server.requests} == {("tiny", "Bearer key-small-123")}
    assert large_server.requests and {(r["model"], r["auth"]) for r in large_server.requests} == {("huge", "Bearer key-large-456")}
    assert {c["model"] for c in done.values["calls"]} == {"openai:tiny", "openai:huge"}
