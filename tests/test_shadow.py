"""Shadow mode: workflows on live inputs whose writes are recorded and simulated, never committed.

The world is compared as a full dump of every table before and after; the proposed writes
are read back from the audit store; the report is checked on runs whose outcomes are known.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from opsgraph.errors import UserError
from opsgraph.governance.shadow import action_key, shadow_report, simulated, unsimulated
from tests.support.adversary import DESK, SUPPLY, done, events, hostile_runner, refund, says, to_billing

DUPLICATE = "I was charged twice for invoice INV-0001; please refund the duplicate charge."
DISPUTE = "Please refund the damaged boxes on invoice INV-0002. Ticket TCK-0004."
WRITES = {"report_shipment_delay", "transfer_stock", "create_purchase_order", "notify_customers", "issue_refund",
          "update_ticket", "send_message"}


def dump(path: Path) -> list[str]:
    """Every table of the world file, schema and rows, as SQL text (what a backup would hold)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_simulated_ids_are_labelled_and_ids_given_are_kept():
    result = {"po_id": "PO-00031", "supplier_id": "SUP-001", "notified": [{"outbox_id": "MSG-0007"}],
              "ticket_id": "TCK-0004"}
    labelled = simulated(result, {"supplier_id": "SUP-001", "ticket_id": "tck-0004"})
    assert labelled == {"po_id": "SIM-PO-00031", "supplier_id": "SUP-001", "notified": [{"outbox_id": "SIM-MSG-0007"}],
                        "ticket_id": "TCK-0004"}
    assert unsimulated({"po_id": "SIM-PO-00031", "note": "SIM-card swap, see SIM-PO-00031"}) == {
        "po_id": "PO-00031", "note": "SIM-card swap, see SIM-PO-00031"}


def test_action_key_ignores_free_text_and_order():
    one = action_key("create_purchase_order", {"supplier_id": "sup-001", "dc_id": "DC-EAST", "justification": "a",
                                               "lines": [{"sku_id": "SKU-2", "quantity": 5}, {"sku_id": "SKU-1", "quantity": 3}]})
    two = action_key("create_purchase_order", {"supplier_id": "SUP-001", "dc_id": "dc-east", "justification": "b",
                                               "lines": [{"sku_id": "SKU-1", "quantity": 3}, {"sku_id": "SKU-2", "quantity": 5}]})
    assert one == two
    assert action_key("issue_refund", {"invoice_id": "INV-1", "amount_usd": 100.0, "reason": "x"}) == \
        action_key("issue_refund", {"invoice_id": "inv-1", "amount_usd": 100, "reason": "y"})


def test_supply_chain_and_support_desk_in_shadow_leave_the_world_byte_identical(runner, settings):
    before, raw = dump(settings.world_path), settings.world_path.read_bytes()
    counts = runner.context.world.counts()
    supply = runner.start(SUPPLY, runner.make_input(SUPPLY, {"shipment": "SH-0001", "delay_days": 5}),
                          thread_id="shadow-supply", shadow=True)
    desk = runner.start(DESK, runner.make_input(DESK, {"message": DUPLICATE, "customer": "CUST-005"}),
                        thread_id="shadow-desk", shadow=True)
    assert dump(settings.world_path) == before
    assert settings.world_path.read_bytes() == raw
    assert runner.context.world.counts() == counts
    audit = runner.context.audit
    # The $42,380 order is above the threshold: recorded as "would ask", and the run carried on.
    assert supply.status == "completed" and supply.pending == []
    [asked] = events(runner, "shadow-supply", "shadow_approval")
    assert (asked.result["would_ask"]["total_usd"], asked.result["assumed"]) == (42380.0, "approve")
    proposed = {e.name: e for e in events(runner, "shadow-supply", "shadow_action")}
    assert {"report_shipment_delay", "create_purchase_order", "notify_customers"} <= set(proposed)
    order = proposed["create_purchase_order"]
    assert order.ok and order.result["result"]["po_id"].startswith("SIM-PO-")
    assert order.result["category"] == "purchase_order" and len(order.result["idempotency_key"]) == 32
    assert order.result["result"]["total_usd"] == 42380.0
    assert all(o["outbox_id"].startswith("SIM-MSG-") for o in proposed["notify_customers"].result["result"]["notified"])
    [refunded] = [e for e in events(runner, "shadow-desk", "shadow_action") if e.name == "issue_refund"]
    assert refunded.ok and refunded.result["result"]["refund_id"].startswith("SIM-REF-")
    for thread in ("shadow-supply", "shadow-desk"):
        assert audit.run(thread).shadow
        assert not [e for e in audit.events(thread, "tool_call") if e.name in WRITES]  # no write really ran
    assert desk.status == "completed"


def test_a_shadow_run_sees_its_own_proposals(runner):
    """Later steps read the scratch copy: the orders found short are those of the delayed ETA the run proposed."""
    runner.start(SUPPLY, runner.make_input(SUPPLY, {"shipment": "SH-0001", "delay_days": 5}), thread_id="sh-own",
                 shadow=True)
    [delay] = [e for e in events(runner, "sh-own", "shadow_action") if e.name == "report_shipment_delay"]
    found = [e for e in events(runner, "sh-own", "tool_call") if e.name == "find_affected_orders"]
    assert found and found[0].result["new_eta"] == delay.result["result"]["new_eta"]
    assert runner.context.world.tms.get_shipment("SH-0001")["eta"] != delay.result["result"]["new_eta"]


def test_retail_support_cannot_run_in_shadow(runner):
    with pytest.raises(UserError, match="retail_support cannot run in shadow mode"):
        runner.start("retail_support", {"messages": []}, thread_id="sh-retail", shadow=True)
    assert runner.context.audit.run("sh-retail") is None


def test_shadow_report_on_agreeing_and_disagreeing_runs(settings):
    """Three inputs: a $738 refund (shadow would ask; live, a human rejects it), a $100 refund (both do it),
    and a shadow run with no live counterpart."""
    big, small = refund("INV-0002", 738.0, "damaged boxes"), refund("INV-0002", 100.0, "one damaged box")
    other = refund("INV-0002", 50.0, "dent")
    billing = [says(big), done(), says(dict(big, id="b2")), done(), says(small), done(), says(dict(small, id="s2")),
               done(), says(other), done()]
    script = {"triage": [to_billing() for _ in range(5)], "billing": billing}
    with hostile_runner(settings, script) as runner:
        def start(thread: str, message: str, shadow: bool):
            graph_input = runner.make_input(DESK, {"message": message, "customer": "CUST-008"})
            return runner.start(DESK, graph_input, thread_id=thread, shadow=shadow)

        assert start("big-shadow", DISPUTE, True).status == "completed"
        assert start("big-live", DISPUTE, False).status == "awaiting_approval"
        runner.resume("big-live", {"decision": "reject", "by": "billing.manager", "reason": "photos first"})
        start("small-shadow", "One box was damaged on INV-0002, refund $100 please.", True)
        start("small-live", "One box was damaged on INV-0002, refund $100 please.", False)
        start("alone-shadow", "A dent on INV-0002.", True)
        refunds = runner.context.world.billing.get_invoice("INV-0002")["refunds"]
        report = shadow_report(runner.context.audit)
    assert [(r["amount_usd"], r["approved_by"]) for r in refunds] == [(100.0, None)]  # only the live $100 refund
    assert sorted((p["shadow"], p["live"], p["agreed"], p["shadow_writes"], p["live_writes"]) for p in report.pairs) == [
        ("big-shadow", "big-live", 0, 1, 0), ("small-shadow", "small-live", 1, 1, 1)]
    assert report.unmatched == ["alone-shadow"]
    [refund_row] = report.categories
    assert (refund_row.category, refund_row.agreed, refund_row.shadow_only, refund_row.live_only, refund_row.rate) == (
        "refund", 1, 1, 0, 0.5)
    [difference] = report.differences
    assert difference == {"category": "refund", "side": "shadow only", "shadow": "big-shadow", "live": "big-live",
                          "action": "issue_refund(invoice_id=INV-0002, amount_usd=738)"}


@pytest.mark.slow
def test_cli_run_shadow_and_report(tmp_path):
    """End to end through the CLI (the first run embeds the knowledge base, hence slow)."""
    from typer.testing import CliRunner

    from tests.support.cli import isolated_env
    from tests.support.cli_app import cli_app

    app, cli, env = cli_app(), CliRunner(), isolated_env(tmp_path / "home", COLUMNS="80")
    args = ["run", DESK, "--message", DUPLICATE, "--customer", "CUST-005"]
    shadow = cli.invoke(app, [*args, "--shadow", "--thread", "cli-shadow"], env=env)
    assert shadow.exit_code == 0, shadow.output
    assert "shadow run: nothing was committed to the world" in shadow.output
    listed = cli.invoke(app, ["runs", "list"], env=env)
    assert "completed (shadow)" in listed.output
    live = cli.invoke(app, [*args, "--thread", "cli-live"], env=env)
    assert live.exit_code == 0, live.output
    page = tmp_path / "shadow.html"
    report = cli.invoke(app, ["shadow", "report", "--html", str(page)], env=env)
    assert report.exit_code == 0, report.output
    assert "<td>cli-shadow</td><td>cli-live</td><td>support_desk</td>" in page.read_text()
    assert "<td>refund</td><td>1</td><td>0</td><td>0</td><td>100%</td>" in page.read_text()
    assert max(len(line) for line in report.output.splitlines()) <= 80
    assert "1 shadow run(s) compared with a live run of the same input; 0 without one" in report.output
    data = cli.invoke(app, ["shadow", "report", "--json"], env=env)
    import json

    parsed = json.loads(data.output)
    assert [(p["shadow"], p["live"]) for p in parsed["pairs"]] == [("cli-shadow", "cli-live")]
    assert {c["category"]: c["rate"] for c in parsed["categories"]}["refund"] == 1.0


def test_a_paused_shadow_run_resumed_by_another_process_stays_shadow(settings):
    """A budget pause, then a new runner (as another process would open) resumes it: still on the scratch copy."""
    from opsgraph.runner import open_runner

    graph_input = {"event": {"shipment_id": "SH-0001", "delay_days": 5,
                             "description": "Inbound shipment SH-0001 is delayed by 5 days."}}
    with open_runner(settings, with_knowledge=False) as first:
        before = dump(settings.world_path)
        result = first.start(SUPPLY, graph_input, thread_id="sh-paused", shadow=True, budget={"max_tokens": 3000})
        assert result.status == "budget_exhausted"
    with open_runner(settings, with_knowledge=False) as second:
        while result.status == "budget_exhausted":
            result = second.resume("sh-paused", budget={"max_tokens": int(result.pending[0]["spent"]) + 200000})
        proposed = [e.name for e in second.context.audit.events("sh-paused", "shadow_action")]
        live_writes = [e for e in second.context.audit.events("sh-paused", "tool_call") if e.name in WRITES]
    assert result.status == "completed"
    assert "create_purchase_order" in proposed and live_writes == []
    assert dump(settings.world_path) == before
