"""Autonomy levels: the policy schema, the approval-rate arithmetic and every mode transition.

Decisions are written as the approval gate writes them (``approval`` audit events in a real
audit store); promote and demote go through the same store, so every check here reads back
what another process would read.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from opsgraph.errors import UserError
from opsgraph.governance.audit import AuditStore
from opsgraph.governance.autonomy import (AUTONOMY_THREAD, CATEGORIES, TOOL_CATEGORIES, category_stats, demote,
                                          effective_mode, promote, tally)
from opsgraph.governance.policy import Policy, PolicyError, load_policy
from tests.support.paths import PROJECT_ROOT

SHIPPED = (Path(PROJECT_ROOT) / "policy.yaml").read_text()
TOOL = {"purchase_order": "create_purchase_order", "refund": "issue_refund", "stock_transfer": "transfer_stock"}


@pytest.fixture
def store(tmp_path):
    audit = AuditStore(tmp_path / "audit.db")
    yield audit
    audit.close()


@pytest.fixture
def policy():
    return load_policy(Path(PROJECT_ROOT) / "policy.yaml")


def decide(store: AuditStore, category: str, approve: int = 0, edit: int = 0, reject: int = 0) -> None:
    """Record human decisions on proposals of ``category`` as the approval gate records them."""
    for n, decision in enumerate(["approve"] * approve + ["edit"] * edit + ["reject"] * reject):
        thread = f"t-{category}-{decision}-{uuid.uuid4().hex[:8]}"
        store.record(thread, f"approval:c{n}", "approval", agent="dana", name=TOOL[category],
                     result={"decision": decision, "by": "dana", "category": category})


def stats_of(store, policy, category, now=None):
    return next(s for s in category_stats(store, policy, now) if s.category == category)


# --- policy ----------------------------------------------------------------------------


def _load(tmp_path, text):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return load_policy(path)


def test_shipped_policy_sets_today_behaviour_for_every_category(policy):
    modes = {c: effective_mode(c, policy, _EmptyAudit()) for c in CATEGORIES}
    assert modes["purchase_order"] == modes["refund"] == modes["invoice_payment"] == "threshold"
    assert {modes[c] for c in CATEGORIES if c not in ("purchase_order", "refund", "invoice_payment")} == {"autonomous"}


@pytest.mark.parametrize("old, new, message", [
    ("    refund: threshold\n", "    refunds: threshold\n",
     r"autonomy.categories.refunds \(line \d+\): no write action category named 'refunds'; categories: purchase_order"),
    ("    stock_transfer: autonomous\n", "    stock_transfer: threshold\n",
     r"autonomy.categories.stock_transfer \(line \d+\): stock_transfer has no approval limit, so it has no threshold "
     r"mode; use supervised or autonomous"),
    ("    refund: threshold\n", "    refund: auto\n",
     r"autonomy.categories.refund \(line \d+\): Input should be 'supervised', 'threshold' or 'autonomous'"),
    ("    min_rate: 0.85\n", "    min_rate: 1.5\n", r"autonomy.graduation.min_rate \(line \d+\)"),
    ("    min_decisions: 20\n", "    min_decisions: 0\n", r"autonomy.graduation.min_decisions \(line \d+\)"),
    ("autonomy:\n  window_days: 30\n", "autonomy:\n  window_days: 30\n  window: 7\n",
     r"autonomy.window \(line \d+\): unknown key"),
])
def test_bad_autonomy_settings_are_refused_naming_key_and_line(tmp_path, old, new, message):
    assert old in SHIPPED
    with pytest.raises(PolicyError, match=message):
        _load(tmp_path, SHIPPED.replace(old, new, 1))


def test_every_write_tool_has_a_category(tmp_path):
    from opsgraph.tools.catalog import build_tools
    from opsgraph.tools.retail.tools import build_retail_tools
    from opsgraph.tools.world import World

    world = World.open(tmp_path / "w.db")
    tools = {**build_tools(world, load_policy(Path(PROJECT_ROOT) / "policy.yaml")), **build_retail_tools(None)}
    writes = {name for name, tool in tools.items() if (tool.metadata or {}).get("writes")}
    assert writes and writes == set(TOOL_CATEGORIES)
    world.close()


# --- the arithmetic --------------------------------------------------------------------


def test_edits_and_rejections_count_against_the_rate(store, policy):
    decide(store, "refund", approve=17, edit=2, reject=1)
    s = stats_of(store, policy, "refund")
    assert (s.decisions, s.approved, s.edits, s.rejections, s.rate) == (20, 17, 2, 1, 0.85)
    assert s.bar_met  # exactly at the bar: 17/20 = 0.85 over 20 decisions
    decide(store, "refund", edit=1)
    s = stats_of(store, policy, "refund")
    assert (s.decisions, s.rate, s.bar_met) == (21, round(17 / 21, 4), False)


def test_min_decisions_is_part_of_the_bar(store, policy):
    decide(store, "purchase_order", approve=19)
    s = stats_of(store, policy, "purchase_order")
    assert (s.rate, s.decisions, s.bar_met) == (1.0, 19, False)
    decide(store, "purchase_order", approve=1)
    assert stats_of(store, policy, "purchase_order").bar_met


def test_window_excludes_old_decisions(store, policy):
    decide(store, "refund", approve=20)
    now = datetime.now(timezone.utc)
    assert stats_of(store, policy, "refund", now + timedelta(days=29)).decisions == 20
    later = stats_of(store, policy, "refund", now + timedelta(days=31))
    assert (later.decisions, later.rate, later.bar_met) == (0, None, False)


def test_window_days_comes_from_policy(store):
    decide(store, "refund", approve=3)
    short = Policy(raw={"autonomy": {"window_days": 2, "graduation": {"min_decisions": 3}}})
    now = datetime.now(timezone.utc)
    assert stats_of(store, short, "refund", now + timedelta(days=1)).bar_met
    assert stats_of(store, short, "refund", now + timedelta(days=3)).decisions == 0


def test_tally_counts_only_the_category_within_the_window():
    now = datetime(2026, 11, 30, tzinfo=timezone.utc)
    since = now - timedelta(days=30)
    decisions = [
        {"category": "refund", "decision": "approve", "at": now - timedelta(days=1)},
        {"category": "refund", "decision": "edit", "at": now - timedelta(days=29)},
        {"category": "refund", "decision": "reject", "at": now - timedelta(days=31)},  # too old
        {"category": "purchase_order", "decision": "approve", "at": now},  # another category
        {"category": "refund", "decision": "approve", "at": since},  # on the boundary: inside
    ]
    assert tally(decisions, "refund", since) == {"approved": 2, "edits": 1, "rejections": 0}


def test_shadow_and_other_events_are_not_decisions(store, policy):
    store.record("t-s", "approval:c1", "shadow_approval", name="issue_refund", result={"assumed": "approve"})
    store.record("t-s", "approval:c1:refused-edit:1", "approval_edit_refused", name="issue_refund",
                 result={"reason": "x"})
    assert stats_of(store, policy, "refund").decisions == 0


# --- transitions -----------------------------------------------------------------------


def test_promote_step_by_step_then_demote_back(store, policy):
    demote(store, policy, "purchase_order", "dana", "start supervised")
    assert effective_mode("purchase_order", policy, store) == "supervised"
    decide(store, "purchase_order", approve=20)
    assert promote(store, policy, "purchase_order", "dana", "20 of 20").mode == "threshold"
    assert promote(store, policy, "purchase_order", "lee", "still 20 of 20").mode == "autonomous"
    assert effective_mode("purchase_order", policy, store) == "autonomous"
    assert demote(store, policy, "purchase_order", "sam", "a bad week").mode == "threshold"
    assert demote(store, policy, "purchase_order", "sam", "worse").mode == "supervised"
    changes = store.events(AUTONOMY_THREAD, "autonomy_changed")
    assert [(e.result["from"], e.result["to"], e.result["by"], e.result["reason"]) for e in changes] == [
        ("threshold", "supervised", "dana", "start supervised"), ("supervised", "threshold", "dana", "20 of 20"),
        ("threshold", "autonomous", "lee", "still 20 of 20"), ("autonomous", "threshold", "sam", "a bad week"),
        ("threshold", "supervised", "sam", "worse")]
    assert changes[1].result["numbers"] == {"decisions": 20, "approved": 20, "edits": 0, "rejections": 0, "rate": 1.0}


def test_promotion_below_the_bar_is_refused_with_the_numbers(store, policy):
    decide(store, "refund", approve=16, edit=3, reject=1)
    with pytest.raises(UserError) as refused:
        promote(store, policy, "refund", "dana", "looks fine")
    assert str(refused.value) == (
        "cannot promote refund to autonomous: approval rate 0.80 (16 of 20 decisions approved unchanged, 3 edited, "
        "1 rejected in the last 30 days); the bar is 0.85 over at least 20 decisions")
    assert effective_mode("refund", policy, store) == "threshold"
    assert store.events(AUTONOMY_THREAD, "autonomy_changed") == []


def test_too_few_decisions_refuse_promotion(store, policy):
    decide(store, "refund", approve=5)
    with pytest.raises(UserError, match=r"approval rate 1.00 \(5 of 5 .*at least 20 decisions"):
        promote(store, policy, "refund", "dana", "five perfect")


def test_skipping_a_step_is_refused(store, policy):
    demote(store, policy, "refund", "dana", "tighten", to="supervised")
    decide(store, "refund", approve=25)
    with pytest.raises(UserError, match="one step at a time .*promote it to threshold first"):
        promote(store, policy, "refund", "dana", "skip", to="autonomous")
    assert effective_mode("refund", policy, store) == "supervised"


def test_demote_always_works_even_with_a_perfect_rate(store, policy):
    decide(store, "refund", approve=40)
    assert demote(store, policy, "refund", "dana", "audit request", to="supervised").mode == "supervised"


def test_nothing_above_autonomous_or_below_supervised(store, policy):
    with pytest.raises(UserError, match="stock_transfer is already autonomous"):
        promote(store, policy, "stock_transfer", "dana", "more")
    demote(store, policy, "stock_transfer", "dana", "less")
    assert effective_mode("stock_transfer", policy, store) == "supervised"  # no threshold step for it
    with pytest.raises(UserError, match="already supervised"):
        demote(store, policy, "stock_transfer", "dana", "even less")


def test_category_without_a_limit_has_no_threshold_step(store, policy):
    demote(store, policy, "stock_transfer", "dana", "less")
    decide(store, "stock_transfer", approve=20)
    with pytest.raises(UserError, match="stock_transfer has no mode 'threshold'"):
        promote(store, policy, "stock_transfer", "dana", "x", to="threshold")
    assert promote(store, policy, "stock_transfer", "dana", "20 of 20").mode == "autonomous"


def test_a_change_needs_who_and_why(store, policy):
    with pytest.raises(UserError, match="--by NAME and --reason TEXT"):
        demote(store, policy, "refund", " ", "x")
    with pytest.raises(UserError, match="no action category 'refunds'"):
        demote(store, policy, "refunds", "dana", "x")


def test_of_two_changes_from_the_same_state_one_wins(store, policy, monkeypatch):
    import opsgraph.governance.autonomy as autonomy

    seen = autonomy.changes(store)
    demote(store, policy, "refund", "dana", "first")
    # A second process that read the changes before the first one wrote numbers its change the same.
    monkeypatch.setattr(autonomy, "changes", lambda audit: seen)
    with pytest.raises(UserError, match="changed by someone else meanwhile"):
        demote(store, policy, "refund", "lee", "second")
    monkeypatch.undo()
    assert [e.result["by"] for e in store.events(AUTONOMY_THREAD, "autonomy_changed")] == ["dana"]


def test_a_category_below_the_bar_is_flagged_not_changed(store, policy):
    decide(store, "refund", approve=3, reject=2)
    s = stats_of(store, policy, "refund")
    assert (s.mode, s.rate, s.flagged) == ("threshold", 0.6, True)
    demote(store, policy, "refund", "dana", "watch it", to="supervised")
    assert not stats_of(store, policy, "refund").flagged  # supervised: a human sees every proposal anyway


def test_stats_shape(store, policy):
    decide(store, "purchase_order", approve=1)
    data = stats_of(store, policy, "purchase_order").as_dict()
    assert set(data) == {"category", "mode", "default_mode", "decisions", "approved", "edits", "rejections", "rate",
                         "window_days", "min_rate", "min_decisions", "bar_met", "flagged", "next_mode", "changed_by",
                         "changed_at", "change_reason"}
    assert (data["next_mode"], data["min_rate"], data["min_decisions"], data["window_days"]) == ("autonomous", 0.85,
                                                                                                 20, 30)


class _EmptyAudit:
    def events(self, thread_id, kind=None):
        return []
