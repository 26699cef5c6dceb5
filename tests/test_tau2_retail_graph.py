"""``retail_support`` through the runner: registry input, the data home's retail database, human transfer."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage

from opsgraph.errors import UserError
from opsgraph.runner import open_runner
from tests.conftest import make_settings
from tests.support.retail_db import retail_db
from tests.support.scripted import ScriptedChatModel, tool_call

GRAPH = "retail_support"


@pytest.fixture
def settings(tmp_path):
    data = tmp_path / "tau2"
    data.mkdir()
    (data / "db.json").write_text(json.dumps(retail_db()))
    return make_settings(tmp_path / "home", OPSGRAPH_TAU2_DATA=str(data))


def _runner(settings, script):
    model = ScriptedChatModel(script=script)
    return open_runner(settings, with_knowledge=False, model_factory=lambda tier, spec: model)


def test_transfer_to_human_pauses_for_a_human_whose_reply_reaches_the_customer(settings):
    script = {"retail_triage": [AIMessage("", tool_calls=[tool_call("transfer_to_human_agents",
                                                                    {"summary": "email change"}, "t1")])]}
    with _runner(settings, script) as runner:
        started = runner.start(GRAPH, runner.make_input(GRAPH, {"message": "Change my email please"}), thread_id="rt-1")
        assert started.status == "awaiting_approval"
        [pending] = started.pending
        assert pending["type"] == "escalation" and "email change" in pending["reason"]
        done = runner.resume("rt-1", {"decision": "approve", "reason": "A colleague will email you today."})
        events = runner.context.audit.events("rt-1", "escalation")
    assert done.status == "completed" and done.report["outcome"] == "escalated"
    assert done.report["reply"] == "A colleague will email you today."
    assert len(events) == 1 and events[0].agent == "retail_triage"


def test_retail_tools_use_the_data_homes_database_created_on_first_use(settings):
    script = {"retail_triage": [
        AIMessage("", tool_calls=[tool_call("find_user_id_by_email", {"email": "bob@example.com"}, "f1")]),
        AIMessage("", tool_calls=[tool_call("transfer_to_retail_account", {"reason": "address"}, "h1")])],
        "retail_account": [
            AIMessage("", tool_calls=[tool_call("modify_user_address", {
                "user_id": "bob_roe_2", "address1": "2 Bay St", "address2": "", "city": "Boston", "state": "MA",
                "country": "USA", "zip": "02101"}, "m1")]),
            AIMessage("Your default address is now 2 Bay St, Boston.")]}
    assert not (settings.data_home / "retail.db").exists()
    with _runner(settings, script) as runner:
        done = runner.start(GRAPH, runner.make_input(GRAPH, {"message": "new address, I am bob@example.com"}),
                            thread_id="rt-2")
        user = runner.context.tools["get_user_details"].invoke({"user_id": "bob_roe_2"})
    assert done.status == "completed" and done.values["customer_id"] == "bob_roe_2"
    assert done.report["actions_taken"] == ["retail_account: modify_user_address"]
    assert user["address"]["city"] == "Boston" and (settings.data_home / "retail.db").exists()


def test_empty_message_is_a_user_error(settings):
    with _runner(settings, {}) as runner:
        with pytest.raises(UserError, match="write the customer's message"):
            runner.make_input(GRAPH, {"message": "  "})
