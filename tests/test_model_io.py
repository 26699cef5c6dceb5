"""Model I/O against what real open models send: recorded llama.cpp answers replayed over HTTP.

The fixtures in tests/data/real_model_outputs/ are complete chat-completion responses of
Qwen2.5-Coder 0.5B / 1.5B served by llama.cpp (bench/capture_real_outputs.py recorded them).
They are replayed by the fake OpenAI server on 127.0.0.1, so each answer travels through the
real langchain-openai client and the gateway exactly as a live one would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import openai
import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.tools import tool
from pydantic import BaseModel, ValidationError

from opsgraph.errors import ModelDecisionError
from opsgraph.governance.policy import load_policy
from opsgraph.models.gateway import ModelGateway, StructuredOutputError
from tests.conftest import make_settings
from tests.support.fake_openai import FakeHTTPError, FakeOpenAIServer, completion, replay, slow

RECORDED = Path(__file__).parent / "data" / "real_model_outputs"


def recorded(name: str) -> dict[str, Any]:
    """The recorded server response of scenario ``name``."""
    return json.loads((RECORDED / f"{name}.json").read_text())["response"]


def content_of(name: str) -> str:
    return recorded(name)["choices"][0]["message"]["content"]


@tool
def get_shipment(shipment_id: str) -> dict:
    """Look up an inbound shipment by id."""
    return {"shipment_id": shipment_id}


@tool
def create_purchase_order(sku: str, quantity: int, supplier_id: str, justification: str) -> dict:
    """Raise a purchase order with a supplier (like the ERP tool: a justification is required)."""
    return {"sku": sku, "quantity": quantity, "supplier_id": supplier_id, "justification": justification}


class Route(BaseModel):
    """The supervisor's decision (the shape of the supply-chain supervisor's)."""

    next: Literal["logistics", "inventory", "procurement", "customer_comms", "FINISH"]
    reason: str


class Recorder:
    """Wraps a ``respond`` and keeps every request body, to assert what the model was sent."""

    def __init__(self, respond):
        self.respond, self.bodies = respond, []

    def __call__(self, body: dict) -> dict:
        self.bodies.append(body)
        return self.respond(body)


def gateway_for(tmp_path: Path, server: FakeOpenAIServer, routing: str = "routed", **env: str) -> ModelGateway:
    settings = make_settings(tmp_path / "home", OPSGRAPH_SMALL_BASE_URL=server.base_url,
                             OPSGRAPH_LARGE_BASE_URL=server.base_url.replace("127.0.0.1", "localhost"),
                             OPSGRAPH_SMALL_MODEL="openai:small", OPSGRAPH_LARGE_MODEL="openai:large",
                             OPENAI_API_KEY="x", **env)
    return ModelGateway(settings, load_policy(settings.policy_path), routing=routing)


LOGISTICS = [SystemMessage("You are the logistics agent."), HumanMessage("Inbound shipment SH-0002 is delayed.")]


def test_prose_that_only_describes_a_call_stays_an_answer(tmp_path):
    # The 1.5B model said what it would do instead of doing it: nothing to recover, nothing invented.
    with FakeOpenAIServer(replay([recorded("prose_only")])) as server:
        message, record = gateway_for(tmp_path, server, "small").invoke("logistics", LOGISTICS, [get_shipment])
    assert message.tool_calls == [] and "get_shipment" in message.content and record["validation"] is None


@pytest.mark.parametrize("scenario, expected", [
    ("fenced_json", [("get_shipment", {"shipment_id": "SH-0002"})]),
    ("bare_json_then_text", [("get_shipment", {"shipment_id": "SH-0003"})]),
    ("hermes_native", [("get_shipment", {"shipment_id": "SH-0003"})]),
    ("hermes_tool_call", [("get_shipment", {"shipment_id": "SH-0003"})]),
    ("prose_then_json", [("get_shipment", {"shipment_id": "SH-0001"})]),
    ("list_of_calls", [("get_shipment", {"shipment_id": "SH-0001"}), ("get_shipment", {"shipment_id": "SH-0004"})]),
])
def test_recorded_tool_calls_written_as_text_are_recovered(tmp_path, scenario, expected):
    with FakeOpenAIServer(replay([recorded(scenario)])) as server:
        message, record = gateway_for(tmp_path, server, "small").invoke("logistics", LOGISTICS, [get_shipment])
    assert [(c["name"], c["args"]) for c in message.tool_calls] == expected
    assert message.content == ""  # the JSON text never becomes the agent's answer
    assert record["validation"] == f"recovered {len(expected)} tool call(s) written as text"
    assert len(server.requests) == 1 and record["escalated"] is False


def test_recorded_formats_are_what_the_fixtures_claim():
    # Guards the fixtures themselves: each shows the format its test is about.
    assert content_of("fenced_json").startswith("```json")
    assert content_of("hermes_tool_call").startswith("<tool_call>")
    prose = content_of("prose_then_json")
    assert not prose.lstrip().startswith(("{", "`")) and '"name"' in prose
    assert content_of("hermes_native").startswith('{"name"')  # Qwen's own tool prompt: bare JSON, no tags
    assert json.loads(content_of("list_of_calls").strip("`\njson"))[1]["arguments"]["shipment_id"] == "SH-0004"
    assert content_of("empty_content") == ""
    assert "reason" not in json.loads(content_of("structured_missing_fields"))


def test_invalid_arguments_are_retried_with_feedback_then_escalated_then_answered_as_tool_errors(tmp_path):
    bad = recorded("invalid_arguments_po")
    spy = Recorder(replay([bad, bad, bad]))
    asked = [SystemMessage("You are the procurement agent."), HumanMessage("Order 1,500 units of SKU-008.")]
    with FakeOpenAIServer(spy) as server:
        message, record = gateway_for(tmp_path, server).invoke("procurement_clerk", asked, [create_purchase_order])
    assert [b["model"] for b in spy.bodies] == ["small", "small", "large"]
    feedback = spy.bodies[1]["messages"][-1]["content"]
    assert "could not be used" in feedback and "justification" in feedback
    [call] = message.tool_calls  # handed to the executor, which answers with the schema error
    assert call["name"] == "create_purchase_order" and message.content == ""
    with pytest.raises(ValidationError):
        create_purchase_order.invoke(call["args"])
    assert record["validation"].endswith("(answered with tool errors)")
    first = record["escalated_from"]
    assert first["rule"].startswith("retry with feedback") and first["escalated_from"]["tier"] == "small"


def test_empty_answer_from_a_tool_agent_ends_in_a_model_decision_error(tmp_path):
    empty = recorded("empty_content")
    with FakeOpenAIServer(replay([empty, empty, empty])) as server:
        with pytest.raises(ModelDecisionError) as caught:
            gateway_for(tmp_path, server).invoke("logistics", LOGISTICS, [get_shipment])
    assert caught.value.agent == "logistics" and caught.value.resumable
    assert "empty" in caught.value.reason
    assert len(server.requests) == 3  # first try, retry with feedback, large tier


def test_structured_answer_with_missing_fields_recovers_on_the_retry_with_feedback(tmp_path):
    spy = Recorder(replay([recorded("structured_missing_fields"), recorded("structured_json_schema")]))
    with FakeOpenAIServer(spy) as server:
        route, record = gateway_for(tmp_path, server, "small").structured("supervisor", LOGISTICS, Route)
    assert route.next == "customer_comms" and route.reason
    assert "reason" in spy.bodies[1]["messages"][-1]["content"]  # the validation error was fed back
    assert spy.bodies[0]["response_format"]["type"] == "json_schema"  # the first method tried
    assert record["escalated_from"]["validation"].startswith("structured output did not match Route")


@pytest.mark.parametrize("scenario", ["structured_missing_fields", "empty_content"])
def test_structured_answer_never_valid_names_the_agent_and_why(tmp_path, scenario):
    bad = recorded(scenario)
    with FakeOpenAIServer(replay([bad, bad, bad])) as server:
        with pytest.raises(StructuredOutputError) as caught:
            gateway_for(tmp_path, server).structured("supervisor", LOGISTICS, Route)
    assert isinstance(caught.value, ModelDecisionError)
    assert caught.value.agent == "supervisor" and "structured output did not match Route" in caught.value.reason
    assert [r["model"] for r in server.requests] == ["small", "small", "large"]


def test_unreadable_hermes_call_is_a_model_decision_error_not_an_answer(tmp_path):
    broken = json.loads(json.dumps(recorded("hermes_tool_call")))
    text = broken["choices"][0]["message"]["content"]
    broken["choices"][0]["message"]["content"] = text.replace("} }", "}")  # truncated JSON, as streams get cut
    with FakeOpenAIServer(replay([broken, broken])) as server:
        with pytest.raises(ModelDecisionError) as caught:
            gateway_for(tmp_path, server, "small").invoke("logistics", LOGISTICS, [get_shipment])
    assert caught.value.agent == "logistics" and "could not be read" in caught.value.reason


def test_structured_method_the_server_refuses_is_dropped_for_the_next(tmp_path):
    def no_json_schema(body: dict) -> dict:
        if (body.get("response_format") or {}).get("type") == "json_schema":
            raise FakeHTTPError(400, "response_format json_schema is not supported")
        return completion(body)

    spy = Recorder(no_json_schema)
    with FakeOpenAIServer(spy) as server:
        gateway = gateway_for(tmp_path, server, "small")
        first, _ = gateway.structured("supervisor", LOGISTICS, Route)
        second, _ = gateway.structured("supervisor", LOGISTICS, Route)
    assert isinstance(first, Route) and isinstance(second, Route)
    kinds = ["json_schema" if b.get("response_format") else "function_calling" if b.get("tools") else "?"
             for b in spy.bodies]
    assert kinds == ["json_schema", "function_calling", "function_calling"]  # refused once, not asked again


def test_per_tier_timeout_and_retries_over_real_http(tmp_path):
    # Every answer takes 2 s; the small tier waits 0.3 s and retries twice: three requests, then the timeout.
    with FakeOpenAIServer(slow([2.0, 2.0, 2.0])) as server:
        gateway = gateway_for(tmp_path, server, "small", OPSGRAPH_SMALL_TIMEOUT_S="0.3",
                              OPSGRAPH_SMALL_MAX_RETRIES="2", OPSGRAPH_SMALL_BACKOFF_S="0")
        with pytest.raises(openai.APITimeoutError):
            gateway.invoke("logistics", LOGISTICS, [get_shipment])
        assert len(server.requests) == 3


def test_a_slow_first_answer_is_retried_and_the_second_one_used(tmp_path):
    with FakeOpenAIServer(slow([2.0, 0.0])) as server:
        gateway = gateway_for(tmp_path, server, "small", OPSGRAPH_SMALL_TIMEOUT_S="0.3",
                              OPSGRAPH_SMALL_MAX_RETRIES="1", OPSGRAPH_SMALL_BACKOFF_S="0")
        message, record = gateway.invoke("logistics", LOGISTICS, [get_shipment])
    assert len(server.requests) == 2 and message.tool_calls and record["tier"] == "small"


def test_a_tier_without_retries_makes_one_request(tmp_path):
    with FakeOpenAIServer(slow([2.0])) as server:
        gateway = gateway_for(tmp_path, server, "small", OPSGRAPH_SMALL_TIMEOUT_S="0.3",
                              OPSGRAPH_SMALL_MAX_RETRIES="0")
        with pytest.raises(openai.APITimeoutError):
            gateway.invoke("logistics", LOGISTICS, [get_shipment])
        assert len(server.requests) == 1


# --- per-tier call limits: defaults and configuration ---------------------------------------------

def test_local_endpoints_get_longer_timeouts_than_hosted_ones(tmp_path):
    local = make_settings(tmp_path / "a", OPSGRAPH_SMALL_BASE_URL="http://127.0.0.1:8089/v1",
                          OPSGRAPH_LARGE_BASE_URL="http://10.0.0.5:8000/v1")
    hosted = make_settings(tmp_path / "b", OPENAI_API_KEY="sk-test")
    assert (local.small.timeout_s, local.small.max_retries) == (300.0, 1)
    assert local.large.timeout_s == 300.0  # a private network address is self-served too
    assert (hosted.small.timeout_s, hosted.small.max_retries, hosted.large.backoff_s) == (60.0, 2, 1.0)


def test_call_limits_come_from_opsgraph_yaml_and_env_wins(tmp_path):
    (tmp_path / "opsgraph.yaml").write_text("small_base_url: http://127.0.0.1:8089/v1\nsmall_timeout_s: 120\n"
                                            "small_max_retries: 3\nlarge_structured_methods: [function_calling]\n")
    from opsgraph.settings import load_settings
    settings = load_settings(env={"OPSGRAPH_SMALL_MAX_RETRIES": "0"}, cwd=tmp_path)
    assert (settings.small.timeout_s, settings.small.max_retries) == (120.0, 0)
    assert settings.large.structured_methods == ("function_calling",)
    assert "timeout 120s, 0 retries" in settings.describe()["small_call_limits"]


@pytest.mark.parametrize("key, value", [("OPSGRAPH_SMALL_TIMEOUT_S", "soon"), ("OPSGRAPH_LARGE_MAX_RETRIES", "-1"),
                                        ("OPSGRAPH_SMALL_STRUCTURED_METHODS", "xml")])
def test_bad_call_limits_are_one_clear_settings_error(tmp_path, key, value):
    from opsgraph.settings import SettingsError
    with pytest.raises(SettingsError, match=key.removeprefix("OPSGRAPH_").lower()):
        make_settings(tmp_path / "home", **{key: value})


# --- pricing --------------------------------------------------------------------------------------

def test_offline_runs_are_priced_like_the_hosted_models_so_cost_gates_can_fail(runner):
    from opsgraph.evals import evaluators as ev

    event = {"event": {"shipment_id": "SH-0004", "delay_days": 2, "description": "SH-0004 is 2 days late"}}
    done = runner.start("supply_chain_exception", event, thread_id="priced-offline")
    calls = done.values["calls"]
    assert calls and all(c["cost_usd"] > 0 for c in calls)
    assert {c["priced_as"] for c in calls if c["model"] == "offline:small"} == {"priced as openai:gpt-4o-mini"}
    assert "offline:small priced as openai:gpt-4o-mini" in done.report["cost"]["pricing"]
    spent = done.report["cost"]["total_usd"]
    assert not ev.cost_latency({"cost_usd": spent, "tokens": 1, "latency_s": 0}, {"max_cost_usd": spent / 2}).passed


def test_a_model_without_a_price_warns_once_and_still_counts_tokens(tmp_path, caplog):
    name = f"openai:unpriced-{tmp_path.name}"  # unique: the warning is once per process and model
    with FakeOpenAIServer() as server:
        settings = make_settings(tmp_path / "home", OPENAI_BASE_URL=server.base_url, OPSGRAPH_SMALL_MODEL=name,
                                 OPSGRAPH_LARGE_MODEL=name)
        gateway = ModelGateway(settings, load_policy(settings.policy_path), routing="small")
        with caplog.at_level("WARNING", logger="opsgraph.pricing"):
            records = [gateway.invoke("logistics", LOGISTICS, [get_shipment])[1] for _ in range(2)]
    warnings = [r for r in caplog.records if name in r.getMessage()]
    assert len(warnings) == 1 and "no price entry" in warnings[0].getMessage()
    assert all(r["input_tokens"] > 0 and r["cost_usd"] == 0 and r["priced_as"] == "unpriced" for r in records)


def test_priced_as_must_name_a_priced_model(tmp_path):
    from opsgraph.models.pricing import PricingError, load_pricing
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  openai:mine: {priced_as: openai:nothing-like-it}\n")
    with pytest.raises(PricingError, match="priced_as 'openai:nothing-like-it'"):
        load_pricing(path)
    path.write_text("models:\n  openai:mine: {priced_as: openai:gpt-4o}\n")
    assert load_pricing(path).price("openai:mine").label == "priced as openai:gpt-4o"


# --- end to end: a real graph whose router model cannot decide ---------------------------------------

@pytest.mark.parametrize("graph_id, agent", [("supply_chain_exception", "supervisor"),
                                             ("operations_director", "director")])
def test_a_router_that_cannot_decide_fails_the_run_naming_it_and_the_thread_resumes(tmp_path, graph_id, agent):
    from opsgraph.registry import get_entry
    from opsgraph.runner import open_runner

    bad = recorded("structured_missing_fields")
    with FakeOpenAIServer(replay([bad, bad, bad])) as server:
        settings = make_settings(tmp_path / "home", OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="x",
                                 OPSGRAPH_SMALL_MODEL="openai:small", OPSGRAPH_LARGE_MODEL="openai:large")
        with open_runner(settings, with_knowledge=False) as runner:
            graph, config = runner.graph(graph_id), runner.config(f"undecided-{graph_id}")
            graph_input = runner.make_input(graph_id, dict(get_entry(graph_id).samples[0]))
            with pytest.raises(ModelDecisionError) as caught:
                graph.invoke(graph_input, config, context=runner.context)
            assert caught.value.agent == agent and caught.value.resumable
            assert "did not match" in caught.value.reason
            assert [r["model"] for r in server.requests] == ["small", "small", "large"]
            # The thread kept its checkpoint: once the model answers (the recordings are spent and the
            # server's offline engine replies), the same thread carries on from the failed step.
            assert graph.get_state(config).next
            graph.invoke(None, config, context=runner.context)
            resumed = graph.get_state(config)
    assert any(c["agent"] == agent and c["validation"] is None for c in resumed.values["calls"])
    assert len(server.requests) > 3


# --- shapes of text tool calls beyond the recordings (written here, not recorded) -----------------

@pytest.mark.parametrize("text", [
    '{"function": "get_shipment", "arguments": {"shipment_id": "SH-0002"}}',
    '{"type": "function", "function": {"name": "get_shipment", "arguments": "{\\"shipment_id\\": \\"SH-0002\\"}"}}',
    '{"tool_calls": [{"name": "get_shipment", "parameters": {"shipment_id": "SH-0002"}}]}',
    '<tool_call>{"name": "get_shipment", "arguments": {"shipment_id": "SH-0002"}}</tool_call>',
    'Sure.\n<tool_call>\n{"tool": "get_shipment", "args": {"shipment_id": "SH-0002"}}\n</tool_call>\nDone.',
])
def test_other_call_shapes_open_models_use_are_recovered(text):
    from langchain_core.messages import AIMessage
    from opsgraph.models.validation import check_tool_message

    message, problem, note = check_tool_message(AIMessage(text), [get_shipment])
    assert problem is None and note == "recovered 1 tool call(s) written as text"
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("get_shipment", {"shipment_id": "SH-0002"})]


def test_a_json_answer_that_is_not_a_call_is_left_alone():
    from langchain_core.messages import AIMessage
    from opsgraph.models.validation import check_tool_message

    answer = AIMessage('{"name": "Acme Corp", "score": 3, "summary": "reliable"}')
    assert check_tool_message(answer, [get_shipment]) == (answer, None, None)
