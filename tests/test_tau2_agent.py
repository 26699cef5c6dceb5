"""tau2-retail agent mode offline: the conversation loop, scoring, pass^k, the graph as the agent."""

from __future__ import annotations

import json

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from opsgraph.evals.tau2.agent import GREETING, TRANSFER_NOTICE, Conversation, Turn, converse
from opsgraph.evals.tau2.data import Task
from opsgraph.evals.tau2.replay import gold_hash
from opsgraph.evals.tau2.scoring import communicated, pass_hat_k, pass_hat_table, score_trial
from opsgraph.evals.tau2.trials import Bench
from opsgraph.models.pricing import load_pricing
from opsgraph.tools.connectors.retail_store import encode, normalise
from tests.conftest import make_settings
from tests.support.retail_db import retail_db
from tests.support.scripted import ScriptedChatModel, tool_call

CANCEL_TASK = Task(
    task_id="cancel-w1",
    scenario={"instructions": {"reason_for_call": "Cancel order #W1, you no longer need it.",
                               "known_info": "Your email is ann.lee@example.com."}},
    actions=({"action_id": "a0", "name": "find_user_id_by_email", "arguments": {"email": "ann.lee@example.com"}},
             {"action_id": "a1", "name": "cancel_pending_order",
              "arguments": {"order_id": "#W1", "reason": "no longer needed"}}),
    communicate_info=("130.0",), reward_basis=("DB",))


class ScriptedUser:
    """Replies in order; records what the agent said to it."""

    def __init__(self, *lines: str) -> None:
        self.lines, self.heard = list(lines), []

    def reply(self, text: str) -> Turn:
        self.heard.append(text)
        line = self.lines.pop(0) if self.lines else "still there?"
        return Turn(line, "###STOP###" in line, {"input_tokens": 7, "output_tokens": 3})


class ScriptedAgent:
    def __init__(self, *answers: Turn) -> None:
        self.answers, self.heard = list(answers), []

    def respond(self, text: str) -> Turn:
        self.heard.append(text)
        return self.answers.pop(0) if self.answers else Turn("ok")


# -- the loop ----------------------------------------------------------------------------------

def test_turns_alternate_from_the_greeting_and_the_simulator_ends_it():
    user = ScriptedUser("cancel #W1 please", "yes", "thanks ###STOP###")
    agent = ScriptedAgent(Turn("confirm?"), Turn("done"))
    conversation = converse(agent, user, max_turns=10)
    assert conversation.termination == "user_stop"
    assert user.heard == [GREETING, "confirm?", "done"] and agent.heard == ["cancel #W1 please", "yes"]
    assert [m["role"] for m in conversation.messages] == ["assistant", "user", "assistant", "user", "assistant", "user"]
    assert conversation.user_usage == {"input_tokens": 21, "output_tokens": 9}


def test_turn_limit_ends_a_conversation_nobody_closes():
    conversation = converse(ScriptedAgent(), ScriptedUser(), max_turns=3)
    assert conversation.termination == "max_turns"
    assert sum(1 for m in conversation.messages if m["role"] == "user") == 3


def test_a_transfer_ends_the_conversation():
    conversation = converse(ScriptedAgent(Turn(TRANSFER_NOTICE, True)), ScriptedUser("a human please"), max_turns=5)
    assert conversation.termination == "transfer" and conversation.messages[-1]["content"] == TRANSFER_NOTICE


# -- scoring -----------------------------------------------------------------------------------

def test_scoring_needs_the_gold_database_and_every_required_output():
    passed = score_trial("h1", "h1", ["$1,234.5"], ["refund of 1234.5 is on its way"])
    assert all(s["score"] == 1.0 for s in passed.values()) is False  # tau2 strips commas from the message only
    passed = score_trial("h1", "h1", ["1234.5"], ["Refund of $1,234.5 is on its way"])
    assert {k: v["score"] for k, v in passed.items()} == {"db": 1.0, "communicate": 1.0}
    failed = score_trial("h1", "h2", ["1234.5"], ["nothing"])
    assert {k: v["score"] for k, v in failed.items()} == {"db": 0.0, "communicate": 0.0}
    assert communicated("W1", ["order #w1 is cancelled"])


def test_pass_hat_k_arithmetic():
    trials = {"a": [True, True, False], "b": [True, False, False], "c": [True, True, True]}
    assert pass_hat_k(trials, 1) == pytest.approx((2 / 3 + 1 / 3 + 1) / 3)
    assert pass_hat_k(trials, 2) == pytest.approx((1 / 3 + 0 + 1) / 3)
    assert pass_hat_k(trials, 3) == pytest.approx(1 / 3)
    assert pass_hat_table(trials) == {"1": 0.6667, "2": 0.4444, "3": 0.3333}
    with pytest.raises(ValueError):
        pass_hat_k({"a": [True]}, 2)


# -- the graph as the agent --------------------------------------------------------------------

def _bench(tmp_path, agent_model, user_lines, max_turns=10) -> Bench:
    rows = encode(normalise(retail_db()))
    settings = make_settings(tmp_path / "home")

    def user_model():
        return GenericFakeChatModel(messages=iter([AIMessage(line) for line in user_lines]))

    return Bench(settings, rows, {CANCEL_TASK.task_id: gold_hash(CANCEL_TASK, rows)}, user_model, "offline:small",
                 load_pricing(None), model_factory=lambda tier, spec: agent_model, max_turns=max_turns)


def _ai(*calls, text=""):
    return AIMessage(content=text, tool_calls=[tool_call(name, args, f"c{n}-{name}") for n, (name, args) in
                                               enumerate(calls)])


def _cancel_script(cancel: bool) -> dict:
    orders = [_ai(("get_order_details", {"order_id": "#W1"})),
              _ai(text="Order #W1 ($130.0) can be cancelled as 'no longer needed'. Confirm (yes)?")]
    if cancel:
        orders += [_ai(("cancel_pending_order", {"order_id": "#W1", "reason": "no longer needed"})),
                   _ai(text="Order #W1 is cancelled; 130.0 goes back to your credit card.")]
    else:
        orders += [_ai(text="Sorry, I cannot do that today.")]
    return {"retail_triage": [_ai(("find_user_id_by_email", {"email": "ann.lee@example.com"})),
                              _ai(("transfer_to_retail_orders", {"reason": "cancel #W1 for ann_lee_1"}))],
            "retail_orders": orders}


USER_LINES = ["Please cancel order #W1, my email is ann.lee@example.com.", "yes, no longer needed", "###STOP###"]


def test_trial_that_does_the_job_passes_with_the_gold_database(tmp_path):
    model = ScriptedChatModel(script=_cancel_script(cancel=True))
    row = _bench(tmp_path, model, USER_LINES).run_trial(CANCEL_TASK, 1)
    assert row["status"] == "user_stop" and row["turns"] == 3, row
    assert row["passed"] and row["final_hash"] == row["gold_hash"]
    assert row["trajectory"] == ["retail_triage", "retail_orders", "retail_orders"]
    assert [c["tool"] for c in row["tool_calls"]] == ["find_user_id_by_email", "transfer_to_retail_orders",
                                                      "get_order_details", "cancel_pending_order"]
    assert row["agent_tokens"] > 0 and row["user_tokens"] == 0 and row["tokens"] == row["agent_tokens"]
    orders_saw = [r for r in model.received if r["agent"] == "retail_orders"][0]
    assert "cancel_pending_order" in orders_saw["tools"] and "return_delivered_order_items" not in orders_saw["tools"]
    assert "Retail agent policy" in str(orders_saw["messages"][0].content)  # the policy from the knowledge corpus


def test_trial_that_leaves_the_database_wrong_fails(tmp_path):
    model = ScriptedChatModel(script=_cancel_script(cancel=False))
    row = _bench(tmp_path, model, USER_LINES).run_trial(CANCEL_TASK, 1)
    assert not row["passed"] and row["failed"] == ["db"]  # it did quote the amount
    assert row["final_hash"] != row["gold_hash"]


def test_writes_need_an_authenticated_customer_and_stay_in_their_records(tmp_path):
    # Triage may not cancel at all (policy.yaml); a specialist is refused in code without an authenticated
    # customer, and on another customer's order (#W6 is Bob's) once Ann is authenticated.
    script = {"retail_triage": [_ai(("cancel_pending_order", {"order_id": "#W1", "reason": "no longer needed"})),
                                _ai(("transfer_to_retail_orders", {"reason": "cancel"}))]}
    script["retail_orders"] = [
        _ai(("cancel_pending_order", {"order_id": "#W1", "reason": "no longer needed"})),
        _ai(("find_user_id_by_email", {"email": "ann.lee@example.com"})),
        _ai(("cancel_pending_order", {"order_id": "#W6", "reason": "no longer needed"})),
        _ai(text="I could not do that.")]
    model = ScriptedChatModel(script=script)
    row = _bench(tmp_path, model, ["cancel #W1 and #W6", "###STOP###"]).run_trial(CANCEL_TASK, 1)
    statuses = [(c["tool"], c["status"]) for c in row["tool_calls"]]
    assert statuses == [("cancel_pending_order", "refused"), ("transfer_to_retail_orders", "done"),
                        ("cancel_pending_order", "refused"),
                        ("find_user_id_by_email", "done"), ("cancel_pending_order", "refused")]
    assert row["final_hash"] == gold_hash(Task("none", {}, (), (), ()), encode(normalise(retail_db())))


def test_human_transfer_pauses_for_a_human_and_ends_the_conversation(tmp_path):
    script = {"retail_triage": [_ai(("transfer_to_human_agents", {"summary": "wants a manager"}))]}
    row = _bench(tmp_path, ScriptedChatModel(script=script), ["I want a human", "###STOP###"]).run_trial(
        CANCEL_TASK, 1)
    assert row["status"] == "transfer" and row["messages"][-1]["content"] == TRANSFER_NOTICE
    assert [(c["tool"], c["status"]) for c in row["tool_calls"]] == [("transfer_to_human_agents", "done")]


def test_a_crashing_trial_is_a_failed_row_not_an_exception(tmp_path):
    bench = _bench(tmp_path, ScriptedChatModel(script={}), USER_LINES)
    bench.user_model = lambda: (_ for _ in ()).throw(RuntimeError("no simulator"))
    row = bench.run_trial(CANCEL_TASK, 1)
    assert row["status"] == "error" and "no simulator" in row["error"] and not row["passed"]
    assert isinstance(Conversation([], "error", {}).agent_texts(), list)
    json.dumps(row)  # a report row is plain JSON


def test_a_side_that_raises_ends_the_conversation_keeping_the_transcript():
    class Broken:
        def respond(self, text: str) -> Turn:
            raise TimeoutError("model timed out")

    conversation = converse(Broken(), ScriptedUser("hello"), max_turns=5)
    assert conversation.termination == "error" and "model timed out" in conversation.error
    assert [m["content"] for m in conversation.messages] == [GREETING, "hello"]
