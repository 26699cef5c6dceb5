"""The web console's handlers through Starlette's TestClient, on real offline runs.

A data home is seeded once per module with real runs (supply-chain runs stopped at a
purchase-order approval, and finished runs of other workflows); each test gets a private
copy. Decisions are asserted where they land: the run registry, the audit trail and the
purchase orders of the mock enterprise.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the console extra is not installed: pip install -e '.[console]'")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx (test extra)")

from starlette.testclient import TestClient  # noqa: E402

from opsgraph.console.app import create_app  # noqa: E402
from opsgraph.governance.audit import AuditStore  # noqa: E402
from opsgraph.resources import default_policy_path  # noqa: E402
from tests.support.console import USERS, console_settings, copy_home, policy_with_users, seed_history  # noqa: E402

PENDING = 2


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, Path, dict[str, list[str]]]:
    root = tmp_path_factory.mktemp("console")
    policy = policy_with_users(default_policy_path(), root / "policy.yaml")
    home = root / "home"
    threads = seed_history(console_settings(home, policy), pending=PENDING, refund=True,
                           escalation=True)
    return home, policy, threads


@pytest.fixture
def site(seeded, tmp_path):
    """(TestClient, settings, threads) on a private copy of the seeded data home."""
    from opsgraph.runner import open_runner

    template, policy, threads = seeded
    private_policy = tmp_path / "policy.yaml"  # a test may change the users
    private_policy.write_text(policy.read_text())
    settings = console_settings(copy_home(template, tmp_path / "home"), private_policy)
    app = create_app(settings, runner_factory=lambda: open_runner(settings, with_knowledge=False))
    with TestClient(app) as client:
        yield client, settings, threads


def login(client: TestClient, name: str) -> str:
    """Log in as ``name``; returns the CSRF token of the session (the decision forms carry the same)."""
    response = client.post("/login", data={"name": name, "password": USERS[name][1], "next": "/inbox"})
    assert response.status_code == 200 and response.url.path == "/inbox", response.text[:300]
    token = csrf_of(client)
    if USERS[name][0] == "approver" and 'name="csrf"' in response.text:
        assert f'name="csrf" value="{token}"' in response.text
    return token


def csrf_of(client: TestClient) -> str:
    """The CSRF token in the signed session cookie (a viewer's pages have no form that carries it)."""
    import base64

    cookie = client.cookies.get("opsgraph_console")
    return json.loads(base64.b64decode(cookie.split(".")[0] + "==="))["csrf"]


def audit(settings, thread: str, kind: str | None = None) -> list:
    store = AuditStore(settings.audit_path)
    try:
        return store.events(thread, kind)
    finally:
        store.close()


def status(settings, thread: str) -> str:
    store = AuditStore(settings.audit_path)
    try:
        return store.run(thread).status
    finally:
        store.close()


# -- login and roles ------------------------------------------------------------------------------

def test_every_page_needs_a_login(site):
    client, _, threads = site
    for path in ("/kpis", "/runs", f"/runs/{threads['pending'][0]}", "/inbox"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next="), path
    response = client.post(f"/inbox/{threads['pending'][0]}/decide", data={"decision": "approve"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_wrong_password_and_unknown_user_are_refused_alike(site):
    client, _, _ = site
    for name, password in (("dana", "not-her-password"), ("nobody", "whatever-123")):
        response = client.post("/login", data={"name": name, "password": password})
        assert response.status_code == 401 and "wrong name or password" in response.text
    assert client.get("/kpis", follow_redirects=False).status_code == 303


def test_repeated_failed_logins_lock_the_name_even_with_the_right_password(site):
    client, _, _ = site
    for _ in range(5):
        assert client.post("/login", data={"name": "dana", "password": "guess-123"}).status_code == 401
    locked = client.post("/login", data={"name": "dana", "password": USERS["dana"][1]})
    assert locked.status_code == 429 and "too many failed logins for dana; try again in 5 min" in locked.text
    assert client.get("/kpis", follow_redirects=False).status_code == 303
    login(client, "vic")  # another name is not locked


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(site):
    client, _, _ = site
    response = client.post("/login", data={"name": "vic", "password": USERS["vic"][1], "next": "//evil.example/x"})
    assert response.url.path == "/kpis"
    assert 'id="who">vic' in response.text and "viewer" in response.text


def test_logout_ends_the_session(site):
    client, _, _ = site
    login(client, "vic")
    client.post("/logout")
    assert client.get("/inbox", follow_redirects=False).status_code == 303


def test_a_user_removed_from_policy_is_logged_out(site):
    client, settings, _ = site
    login(client, "vic")
    policy_with_users(default_policy_path(), settings.policy_path, {"dana": USERS["dana"]})
    assert client.get("/kpis", follow_redirects=False).status_code == 303


# -- decisions ------------------------------------------------------------------------------------

def test_a_viewer_is_refused_on_the_post_itself_and_the_attempt_is_audited(site):
    client, settings, threads = site
    thread = threads["pending"][0]
    page = client.post("/login", data={"name": "vic", "password": USERS["vic"][1], "next": "/inbox"})
    assert "Only an approver can decide" in page.text and 'value="approve"' not in page.text
    response = client.post(f"/inbox/{thread}/decide", data={"decision": "approve", "csrf": csrf_of(client)})
    assert response.status_code == 403
    assert "vic is a viewer: only an approver may approve, reject or edit" in response.text
    assert status(settings, thread) == "awaiting_approval"
    assert audit(settings, thread, "approval") == []
    refused = audit(settings, thread, "decision_refused")
    assert [(e.agent, e.args["decision"], e.result["reason"]) for e in refused] == \
        [("vic", "approve", "role viewer may not decide approvals")]


def test_a_post_without_the_form_token_is_refused(site):
    client, settings, threads = site
    login(client, "dana")
    response = client.post(f"/inbox/{threads['pending'][0]}/decide", data={"decision": "approve"})
    assert response.status_code == 403 and "form has expired" in response.text
    assert status(settings, threads["pending"][0]) == "awaiting_approval"


def test_the_inbox_shows_what_is_approved_and_why(site):
    client, _, threads = site
    login(client, "dana")
    page = client.get("/inbox").text
    assert f"{PENDING + 2} pending" in page
    card = page[page.index(f'id="approval-{threads["pending"][0]}"'):]
    card = card[:card.index("</article>")]
    for expected in ("purchase order", "create_purchase_order", "procurement", "approvals.purchase_order.threshold_usd",
                     "$25,000.00", "Justification:", "SKU-", 'name="line:SKU-', 'value="approve"', 'value="reject"',
                     'value="edit"'):
        assert expected in card, expected
    amount = re.search(r'class="amount">\$([\d,.]+)<', card).group(1)
    assert float(amount.replace(",", "")) > 25_000


def test_approving_continues_the_run_to_completion_and_audits_the_user(site):
    client, settings, threads = site
    thread = threads["pending"][0]
    csrf = login(client, "dana")
    response = client.post(f"/inbox/{thread}/decide", data={"decision": "approve", "reason": "stock-out risk",
                                                            "csrf": csrf})
    assert response.status_code == 200 and response.url.path == f"/runs/{thread}"
    assert f"approved by dana; run {thread} is now completed" in response.text
    assert 'id="run-status">completed' in response.text
    assert status(settings, thread) == "completed"
    [approval] = audit(settings, thread, "approval")
    assert approval.agent == "dana" and approval.result["decision"] == "approve"
    assert approval.result["by"] == "dana" and approval.result["reason"] == "stock-out risk"
    orders = [e for e in audit(settings, thread, "tool_call") if e.name == "create_purchase_order"]
    assert orders and orders[-1].ok and orders[-1].result["approved_by"] == "dana"
    assert f"{PENDING + 1} pending" in client.get("/inbox").text


def test_a_second_decision_on_the_same_approval_is_refused_with_the_winner(site):
    client, settings, threads = site
    thread = threads["pending"][1]
    csrf = login(client, "dana")
    client.post(f"/inbox/{thread}/decide", data={"decision": "reject", "reason": "no budget", "csrf": csrf})
    again = client.post(f"/inbox/{thread}/decide", data={"decision": "approve", "csrf": csrf})
    assert again.status_code == 409
    assert re.search(rf"thread {thread} has no pending approval: already decided by dana at \d{{4}}-", again.text)
    assert [e.result["decision"] for e in audit(settings, thread, "approval")] == ["reject"]


def test_rejecting_runs_nothing_and_records_the_reason(site):
    client, settings, threads = site
    thread = threads["pending"][0]
    csrf = login(client, "dana")
    response = client.post(f"/inbox/{thread}/decide", data={"decision": "reject", "reason": "over budget", "csrf": csrf})
    assert "rejected by dana" in response.text
    [approval] = audit(settings, thread, "approval")
    assert (approval.agent, approval.result["decision"], approval.result["reason"]) == ("dana", "reject", "over budget")
    assert not [e for e in audit(settings, thread, "tool_call") if e.name == "create_purchase_order"]
    assert [e.name for e in audit(settings, thread, "tool_rejected")] == ["create_purchase_order"]


def test_editing_a_line_on_the_form_orders_the_edited_quantity(site):
    client, settings, threads = site
    thread = threads["pending"][0]
    csrf = login(client, "dana")
    card = client.get("/inbox").text
    sku, quantity = re.search(r'name="line:(SKU-\d+)" value="(\d+)"', card).groups()
    response = client.post(f"/inbox/{thread}/decide",
                           data={"decision": "edit", "csrf": csrf, f"line:{sku}": str(int(quantity) - 10),
                                 "supplier_id": re.search(r'name="supplier_id" value="([^"]+)"', card).group(1)})
    assert "edited and approved by dana" in response.text
    [approval] = audit(settings, thread, "approval")
    assert approval.result["decision"] == "edit" and approval.agent == "dana"
    assert [line["quantity"] for line in approval.result["final_args"]["lines"] if line["sku_id"] == sku] == \
        [int(quantity) - 10]
    orders = [e for e in audit(settings, thread, "tool_call") if e.name == "create_purchase_order" and e.ok]
    assert [line["quantity"] for line in orders[-1].result["lines"] if line["sku_id"] == sku] == [int(quantity) - 10]


def refunds(settings) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(settings.world_path) as conn:
        return conn.execute("SELECT amount_usd, approved_by FROM refunds WHERE invoice_id = 'INV-0002'").fetchall()


def test_a_refund_is_shown_with_its_limit_and_edited_down_on_the_form(site):
    client, settings, threads = site
    [thread] = threads["refund"]
    csrf = login(client, "dana")
    page = client.get("/inbox").text
    card = page[page.index(f'id="approval-{thread}"'):]
    card = card[:card.index("</article>")]
    for expected in ("Approval required:\n      refund", "issue_refund", "approvals.refund.auto_limit_usd = 500.00",
                     'class="amount">$738.00<', 'name="amount_usd" value="738.0"'):
        assert expected in card, expected
    raised = client.post(f"/inbox/{thread}/decide", data={"decision": "edit", "amount_usd": "5000", "csrf": csrf})
    assert raised.status_code == 409 and "an edit may lower a refund, not raise it" in raised.text
    assert refunds(settings) == [] and status(settings, thread) == "awaiting_approval"
    done = client.post(f"/inbox/{thread}/decide", data={"decision": "edit", "amount_usd": "400", "csrf": csrf})
    assert f"edited and approved by dana; run {thread} is now completed" in done.text
    assert refunds(settings) == [(400.0, "dana")]
    refused, approved = audit(settings, thread, "approval_edit_refused"), audit(settings, thread, "approval")
    assert [e.agent for e in refused] == ["dana"] and "may lower a refund" in refused[0].result["reason"]
    assert [(e.agent, e.result["decision"], e.result["approved_usd"]) for e in approved] == [("dana", "edit", 400.0)]


def test_an_escalated_review_shows_the_verdicts_and_an_edited_order_is_raised(site):
    client, settings, threads = site
    [thread] = threads["escalation"]
    csrf = login(client, "dana")
    page = client.get("/inbox").text
    card = page[page.index(f'id="approval-{thread}"'):]
    card = card[:card.index("</article>")]
    for expected in ("Escalated to a human", "no agreement after 3 review rounds", "procurement.review_max_rounds = 3",
                     'class="verdicts"', "compliance: ", "finance: ", 'name="line:SKU-003" value="1200"'):
        assert expected in card, expected
    done = client.post(f"/inbox/{thread}/decide", data={"decision": "edit", "line:SKU-003": "100", "csrf": csrf,
                                                         "reason": "a tenth now"})
    assert f"edited and approved by dana; run {thread} is now completed" in done.text
    [decided] = audit(settings, thread, "approval")
    assert decided.agent == "dana" and decided.result["edits"] == {"lines": {"SKU-003": 100}}
    orders = [e for e in audit(settings, thread, "tool_call") if e.name == "create_purchase_order" and e.ok]
    assert [line["quantity"] for line in orders[-1].result["lines"]] == [100]


@pytest.mark.parametrize("edit, message", [
    ('{"amount_usd": 5}', "cannot edit amount_usd on a purchase order; editable: quantity, supplier_id, lines, dc_id "
                          "(thread {thread} still awaits a decision)"),
    ('{"supplier_id": "SUP-999"}', "edit refused: "),
    ('{"quantity": ', "is not valid JSON"),
    ('{"colour": "red"}', "cannot edit colour; editable fields:"),
])
def test_an_invalid_edit_is_refused_with_a_clear_message_and_stays_pending(site, edit, message):
    client, settings, threads = site
    thread = threads["pending"][0]
    csrf = login(client, "dana")
    response = client.post(f"/inbox/{thread}/decide", data={"decision": "edit", "edits_json": edit, "csrf": csrf})
    assert response.status_code == 409
    shown = re.search(r'id="error" role="alert">([^<]+)<', response.text).group(1)
    assert message.format(thread=thread) in shown.replace("&#39;", "'").replace("&#34;", '"')
    assert "Traceback" not in response.text
    assert status(settings, thread) == "awaiting_approval"
    assert audit(settings, thread, "approval") == []
    approve = client.post(f"/inbox/{thread}/decide", data={"decision": "approve", "csrf": csrf})
    assert "approved by dana" in approve.text and status(settings, thread) == "completed"


def test_an_edit_with_nothing_changed_asks_for_a_change(site):
    client, settings, threads = site
    csrf = login(client, "dana")
    response = client.post(f"/inbox/{threads['pending'][0]}/decide", data={"decision": "edit", "csrf": csrf})
    assert response.status_code == 409 and "nothing was edited" in response.text


# -- pages ----------------------------------------------------------------------------------------

def test_the_kpi_page_counts_the_seeded_runs_and_draws_its_charts(site):
    client, _, threads = site
    login(client, "vic")
    page = client.get("/kpis").text
    runs = sum(len(ids) for ids in threads.values())
    assert re.search(rf'id="kpi-runs">{runs}<', page)
    assert page.count('<svg class="chart"') == 5
    for label in ("Runs by workflow and outcome", "Approval rate by category", "Cost per run by workflow",
                  "Error rate by agent", "Run latency"):
        assert f'aria-label="{label}"' in page
    rows = re.findall(r"<tr><td>supply_chain_exception</td><td>(\w+)</td><td class=\"n\">(\d+)</td></tr>", page)
    assert ("awaiting_approval", str(PENDING)) in rows
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing is loaded from another site
    assert "<script" not in page and "<metadata" not in page


def test_the_kpi_page_refuses_a_malformed_period_in_one_line(site):
    client, _, _ = site
    login(client, "vic")
    response = client.get("/kpis?from=2026-13-01")
    assert response.status_code == 400 and "&#39;from&#39; must be a date such as 2026-11-30" in response.text
    empty = client.get("/kpis?from=2020-01-01&to=2020-01-31")
    assert re.search(r'id="kpi-runs">0<', empty.text) and "no runs in this period" in empty.text


def test_the_run_page_shows_steps_tool_calls_citations_and_cost_as_runs_show(site):
    from opsgraph.run_views import run_summary
    from opsgraph.runner import open_runner

    client, settings, threads = site
    login(client, "vic")
    thread = threads["finished"][-1]
    page = client.get(f"/runs/{thread}").text
    with open_runner(settings, with_knowledge=False) as runner:
        expected = run_summary(runner.status(thread))
    assert f'id="run-status">{expected["status"]}<' in page
    assert " → ".join(expected["visited"]) in page.replace("&gt;", ">")
    for action in expected["actions"]:
        assert f"<code>{action['tool']}</code>" in page
    assert f'id="cost-total">${expected["cost"]["total_usd"]:,.6f}<' in page
    assert all(c in page for c in expected["citations"])
    assert page.count("<tr class=") >= len(audit(settings, thread))


def test_an_unknown_run_is_a_404_with_a_message(site):
    client, _, _ = site
    login(client, "vic")
    response = client.get("/runs/no-such-thread")
    assert response.status_code == 404 and "no run with thread id &#39;no-such-thread&#39;" in response.text


# -- Postgres checkpoints ---------------------------------------------------------------------------

@pytest.fixture
def postgres_checkpoints(postgres_url):
    """A Postgres database of this test's own for checkpoints, decisions and leases; dropped after."""
    from tests.support.pg import fresh_database

    with fresh_database(postgres_url, "opsgraph_console") as url:
        yield url


def test_the_inbox_decides_runs_checkpointed_in_postgres(tmp_path, postgres_checkpoints):
    from opsgraph.runner import open_runner

    policy = policy_with_users(default_policy_path(), tmp_path / "policy.yaml")
    settings = console_settings(tmp_path / "home", policy, OPSGRAPH_CHECKPOINT_URL=postgres_checkpoints)
    threads = seed_history(settings, pending=1)
    app = create_app(settings, runner_factory=lambda: open_runner(settings, with_knowledge=False))
    with TestClient(app) as client:
        csrf = login(client, "dana")
        thread = threads["pending"][0]
        assert f'id="approval-{thread}"' in client.get("/inbox").text
        done = client.post(f"/inbox/{thread}/decide", data={"decision": "approve", "csrf": csrf})
        assert f"approved by dana; run {thread} is now completed" in done.text
        again = client.post(f"/inbox/{thread}/decide", data={"decision": "reject", "csrf": csrf})
    assert again.status_code == 409 and "already decided by dana" in again.text
    assert [e.agent for e in audit(settings, thread, "approval")] == ["dana"]
