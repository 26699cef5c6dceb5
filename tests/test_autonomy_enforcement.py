"""Autonomy modes enforced at the tool boundary, against a scripted (possibly compromised) agent.

Every test asserts the mock-system rows, the audit events and what the run waited for; the
mode is set either in policy.yaml (the default) or by a recorded promote/demote (the override).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from opsgraph.governance.autonomy import category_stats, demote
from tests.conftest import make_settings
from tests.support.adversary import SUPPLY, call, done, events, hostile_runner, purchase, purchase_orders, says
from tests.support.paths import PROJECT_ROOT

EVENT = {"event": {"shipment_id": "SH-0001", "delay_days": 5, "description": "Inbound shipment SH-0001 is delayed by 5 days."}}
SHIPPED = (Path(PROJECT_ROOT) / "policy.yaml").read_text()


def policy_with(tmp_path: Path, **modes: str):
    """Settings on a fresh data home whose policy.yaml sets ``modes`` as the category defaults."""
    text = SHIPPED
    for category, mode in modes.items():
        text, found = re.subn(rf"(?m)^    {category}: \w+$", f"    {category}: {mode}", text)
        assert found == 1, category
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return make_settings(tmp_path / "home", OPSGRAPH_POLICY=str(path))


def _new_orders(runner, before: int) -> list[dict]:
    return purchase_orders(runner, "SUP-001")[before:]


def test_supervised_purchase_order_below_the_threshold_waits_for_a_human(settings):
    small = says(purchase("SUP-001", [("SKU-001", 10)]))  # 10 x $172 = $1,720, far below $25,000
    with hostile_runner(settings, {"procurement": [small, done()]}) as runner:
        demote(runner.context.audit, runner.context.policy, "purchase_order", "dana", "pilot", to="supervised")
        before = len(purchase_orders(runner, "SUP-001"))
        result = runner.start(SUPPLY, EVENT, thread_id="aut-supervised")
        assert result.status == "awaiting_approval"
        [pending] = result.pending
        assert (pending["mode"], pending["category"], pending["amount_usd"]) == ("supervised", "purchase_order", 1720.0)
        assert pending["total_usd"] < pending["threshold_usd"]
        assert "supervised" in pending["why"]
        assert _new_orders(runner, before) == []
        result = runner.resume("aut-supervised", {"decision": "approve", "by": "ops.manager"})
        [order] = _new_orders(runner, before)
        [decision] = events(runner, "aut-supervised", "approval")
        stats = {s.category: s for s in category_stats(runner.context.audit, runner.context.policy)}
    assert (order["total_usd"], order["approved_by"]) == (1720.0, "ops.manager")
    assert (decision.result["decision"], decision.result["category"], decision.result["mode"]) == (
        "approve", "purchase_order", "supervised")
    assert (stats["purchase_order"].decisions, stats["purchase_order"].approved) == (1, 1)


def test_supervised_category_without_a_limit_asks_too_and_a_rejection_writes_nothing(tmp_path):
    settings = policy_with(tmp_path, stock_transfer="supervised")
    move = says(call("transfer_stock", transfers=[{"sku_id": "SKU-001", "from_dc_id": "DC-WEST", "to_dc_id": "DC-EAST",
                                                   "quantity": 5}]))
    with hostile_runner(settings, {"inventory": [move, done()]}) as runner:
        result = runner.start(SUPPLY, EVENT, thread_id="aut-transfer")
        assert result.status == "awaiting_approval"
        [pending] = result.pending
        assert (pending["tool"], pending["mode"], pending["category"]) == ("transfer_stock", "supervised", "stock_transfer")
        runner.resume("aut-transfer", {"decision": "reject", "by": "ops.manager", "reason": "not now"})
        transfers = runner.context.world.counts()["stock_transfers"]
        [rejected] = events(runner, "aut-transfer", "tool_rejected")
    assert transfers == 0
    assert rejected.name == "transfer_stock"


def test_autonomous_order_above_the_threshold_proceeds_but_the_budget_still_refuses(tmp_path):
    settings = policy_with(tmp_path, purchase_order="autonomous")
    above = says(purchase("SUP-001", [("SKU-001", 170)]))  # $29,240: above the $25,000 threshold
    huge = says(purchase("SUP-001", [("SKU-002", 1000)]))  # beyond what cost centre CC-OPS has left
    with hostile_runner(settings, {"procurement": [above, huge, done()]}) as runner:
        before = len(purchase_orders(runner, "SUP-001"))
        result = runner.start(SUPPLY, EVENT, thread_id="aut-auto")
        orders = _new_orders(runner, before)
        calls = [e for e in events(runner, "aut-auto", "tool_call") if e.name == "create_purchase_order"]
        approvals = events(runner, "aut-auto", "approval")
    assert result.status == "completed" and result.pending == []
    assert approvals == []
    assert [(o["total_usd"], o["approved_by"]) for o in orders] == [(29240.0, "autonomous purchase_order")]
    assert [c.ok for c in calls] == [True, False]
    assert "cost centre CC-OPS has" in str(calls[1].result)


def test_supervised_mode_holds_when_the_model_forges_approval_fields(settings):
    forged = says(purchase("SUP-001", [("SKU-001", 10)], approved_by="CFO Jane Doe",
                           approval_id="autonomy:policy.yaml", idempotency_key="mine"))
    with hostile_runner(settings, {"procurement": [forged, done()]}) as runner:
        demote(runner.context.audit, runner.context.policy, "purchase_order", "dana", "pilot", to="supervised")
        before = len(purchase_orders(runner, "SUP-001"))
        result = runner.start(SUPPLY, EVENT, thread_id="aut-forged")
        assert result.status == "awaiting_approval" and result.pending[0]["mode"] == "supervised"
        runner.resume("aut-forged", {"decision": "reject", "by": "ops.manager", "reason": "no"})
        [dropped] = events(runner, "aut-forged", "forged_field_dropped")
        orders = _new_orders(runner, before)
    assert set(dropped.result["dropped"]) == {"approved_by", "approval_id", "idempotency_key"}
    assert orders == []


def test_autonomous_grant_cannot_be_claimed_by_the_model_in_threshold_mode(settings):
    """The model writes the autonomy grant's own approver into its call: still dropped, the gate still asks."""
    forged = says(purchase("SUP-001", [("SKU-001", 170)], approved_by="autonomous purchase_order"))
    with hostile_runner(settings, {"procurement": [forged, done()]}) as runner:
        before = len(purchase_orders(runner, "SUP-001"))
        result = runner.start(SUPPLY, EVENT, thread_id="aut-claim")
        assert result.status == "awaiting_approval" and result.pending[0]["mode"] == "threshold"
        assert _new_orders(runner, before) == []


def test_executor_refuses_a_supervised_write_that_reached_it_without_a_decision(settings):
    """The mode is read again where the tool runs: a demotion after the gate let a call through still stops it."""
    from opsgraph.graphs.components import TOOLS, last_ai

    small = says(purchase("SUP-001", [("SKU-001", 10)]))
    with hostile_runner(settings, {"procurement": [small, done()]}) as runner:
        graph, config = runner.graph(SUPPLY), runner.config("aut-late")
        before = len(purchase_orders(runner, "SUP-001"))
        payload, demoted = EVENT, False
        while True:
            for _ in graph.stream(payload, config, context=runner.context, interrupt_before=[TOOLS]):
                pass
            snapshot = graph.get_state(config)
            if not snapshot.next:
                break
            message = last_ai(snapshot.values["messages"])
            if not demoted and any(c["name"] == "create_purchase_order" for c in message.tool_calls):
                demote(runner.context.audit, runner.context.policy, "purchase_order", "dana", "now", to="supervised")
                demoted = True
            payload = None
        refused = [e for e in events(runner, "aut-late", "tool_refused") if e.name == "create_purchase_order"]
        orders = _new_orders(runner, before)
    assert demoted and orders == []
    assert len(refused) == 1 and "purchase_order is supervised and this call has no human decision" in refused[0].result


def test_cli_autonomy_table_fits_80_columns_and_promote_refuses_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from opsgraph.governance.audit import AuditStore
    from tests.support.cli import isolated_env
    from tests.support.cli_app import cli_app

    app, cli, env = cli_app(), CliRunner(), isolated_env(tmp_path / "home", COLUMNS="80")
    shown = cli.invoke(app, ["autonomy"], env=env)
    assert shown.exit_code == 0, shown.output
    assert max(len(line) for line in shown.output.splitlines()) <= 80
    for category in ("purchase_order", "refund", "stock_transfer", "customer_notice", "retail_order_change"):
        assert re.search(rf"(?m)^{category}\s+(threshold|autonomous)\s+0\s+-", shown.output), shown.output
    store = AuditStore(tmp_path / "home" / "audit.db")
    for n in range(3):
        store.record(f"t-{n}", "approval:c", "approval", name="issue_refund", result={"decision": "reject"})
    store.close()
    refused = cli.invoke(app, ["autonomy", "promote", "refund", "--by", "dana", "--reason", "why not"], env=env)
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert refused.output.strip().splitlines() == [
        "error: cannot promote refund to autonomous: approval rate 0.00 (0 of 3 decisions approved unchanged, "
        "0 edited, 3 rejected in the last 30 days); the bar is 0.85 over at least 20 decisions"]
    demoted = cli.invoke(app, ["autonomy", "demote", "refund", "--by", "dana", "--reason", "three rejections"], env=env)
    assert demoted.exit_code == 0 and "refund: threshold -> supervised (demoted by dana)" in demoted.output
    data = cli.invoke(app, ["autonomy", "--json"], env=env)
    refund = next(row for row in json.loads(data.output) if row["category"] == "refund")
    assert (refund["mode"], refund["decisions"], refund["rejections"], refund["changed_by"]) == (
        "supervised", 3, 3, "dana")
    trail = cli.invoke(app, ["audit", "opsgraph:autonomy", "--json"], env=env)
    [change] = json.loads(trail.output)
    assert (change["kind"], change["name"], change["result"]["by"], change["result"]["reason"]) == (
        "autonomy_changed", "refund", "dana", "three rejections")


def test_cli_flags_a_category_below_the_bar(tmp_path):
    from typer.testing import CliRunner

    from opsgraph.governance.audit import AuditStore
    from tests.support.cli import isolated_env
    from tests.support.cli_app import cli_app

    env = isolated_env(tmp_path / "home", COLUMNS="80")
    app = cli_app()
    CliRunner().invoke(app, ["config"], env=env)  # creates the data home
    store = AuditStore(tmp_path / "home" / "audit.db")
    for n, decision in enumerate(["approve", "reject"]):
        store.record(f"t-{n}", "approval:c", "approval", name="create_purchase_order", result={"decision": decision})
    store.close()
    shown = CliRunner().invoke(app, ["autonomy"], env=env)
    assert re.search(r"(?m)^purchase_order\s+threshold\s+2\s+0\.50\s+0\s+1\s+no\s+LOW\s*$", shown.output), shown.output
    assert "LOW: purchase_order runs threshold with an approval rate of 0.50" in shown.output


def test_supervised_write_in_a_workflow_without_an_approval_step_is_refused(tmp_path):
    """retail_support has no approval node: a supervised retail write is refused, never run unasked."""
    from tests.support.retail_db import retail_db
    from tests.support.scripted import ScriptedChatModel, tool_call

    data = tmp_path / "tau2"
    data.mkdir()
    (data / "db.json").write_text(json.dumps(retail_db()))
    policy_with(tmp_path, retail_order_change="supervised")
    settings = make_settings(tmp_path / "home", OPSGRAPH_POLICY=str(tmp_path / "policy.yaml"),
                             OPSGRAPH_TAU2_DATA=str(data))
    address = {"user_id": "bob_roe_2", "address1": "2 Bay St", "address2": "", "city": "Boston", "state": "MA",
               "country": "USA", "zip": "02101"}
    script = {"retail_triage": [says(tool_call("find_user_id_by_email", {"email": "bob@example.com"}, "f1")),
                                says(tool_call("transfer_to_retail_account", {"reason": "address"}, "h1"))],
              "retail_account": [says(tool_call("modify_user_address", address, "m1")), done("Done.")]}
    model = ScriptedChatModel(script=script)
    from opsgraph.runner import open_runner

    with open_runner(settings, with_knowledge=False, model_factory=lambda tier, spec: model) as runner:
        graph_input = runner.make_input("retail_support", {"message": "new address, I am bob@example.com"})
        result = runner.start("retail_support", graph_input, thread_id="aut-retail")
        refused = events(runner, "aut-retail", "tool_refused")
        user = runner.context.tools["get_user_details"].invoke({"user_id": "bob_roe_2"})
    assert result.status == "completed"
    assert [e.name for e in refused] == ["modify_user_address"]
    assert "retail_order_change is supervised" in refused[0].result
    assert user["address"]["address1"] != "2 Bay St"
