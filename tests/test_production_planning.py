"""production_planning: award and tie rules, re-announcement, commitment approvals at the tool boundary,
the audit trail of the bidding protocol, and whole runs on the offline engine with a SQLite checkpointer."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest

from opsgraph.errors import UserError
from opsgraph.graphs.production_award import AwardRules, award_round
from opsgraph.tools.catalog import build_tools
from opsgraph.tools.connectors.base import ApprovalRequired, ValidationFailed
from opsgraph.tools.production_calendar import compute_bid
from opsgraph.tools.world import World
from tests.support.adversary import call, events, hostile_runner, says

GRAPH = "production_planning"
TODAY = date(2026, 3, 2)  # a Monday: the seeded business date


def _bid(wc: str, job: str = "JOB-1", *, meets: bool = True, cost: float = 100.0, finish: str = "2026-03-03",
         quantity: int = 10, partial: bool = False) -> dict:
    return {"job_id": job, "work_centre_id": wc, "can_bid": True, "quantity": quantity, "start_date": "2026-03-02",
            "finish_date": finish, "cost_usd": cost, "cost_per_unit_usd": cost / quantity, "meets_due_date": meets,
            "days_late": 0 if meets else 2, "partial": partial}


def _job(job: str = "JOB-1", *, quantity: int = 10, split: bool = False, due: str = "2026-03-05") -> dict:
    return {"job_id": job, "quantity": quantity, "allow_split": split, "due_date": due, "order_id": "SO-0001"}


# --- the award rule (pure code) ----------------------------------------------------------------


def test_award_rule_puts_the_due_date_before_cost():
    bids = [_bid("WC-01", meets=False, cost=50.0), _bid("WC-02", meets=True, cost=90.0), _bid("WC-03", cost=80.0)]
    result = award_round([_job()], bids, AwardRules(), 1)
    [award] = result.awards
    assert award["work_centre_id"] == "WC-03" and award["decided_by"] == "cost_per_unit_usd"
    assert award["commitment_moved"] is False and award["score"]["meets_due_date"] == 0
    reasons = {r["work_centre_id"]: r["reason"] for r in result.rejections}
    assert reasons == {"WC-02": "outranked by WC-03 on cost_per_unit_usd",
                       "WC-01": "outranked by WC-03 on meets_due_date"}


def test_tie_rule_earliest_finish_then_work_centre_id():
    same_cost = [_bid("WC-04", finish="2026-03-04"), _bid("WC-02", finish="2026-03-03")]
    assert award_round([_job()], same_cost, AwardRules(), 1).awards[0]["work_centre_id"] == "WC-02"
    identical = [_bid("WC-05"), _bid("WC-03"), _bid("WC-04")]
    [award] = award_round([_job()], identical, AwardRules(), 1).awards
    assert award["work_centre_id"] == "WC-03" and award["decided_by"] == "work_centre_id"
    # Input order never matters: the same bids in reverse give the same award.
    assert award_round([_job()], identical[::-1], AwardRules(), 1).awards[0]["work_centre_id"] == "WC-03"


def test_partial_bids_split_only_jobs_that_may_be_split():
    bids = [_bid("WC-03", quantity=6, partial=True, cost=60.0)]
    kept = award_round([_job(split=False)], bids, AwardRules(), 1)
    assert kept.awards == [] and kept.leftover == [{"job_id": "JOB-1", "round": 1, "reason": "no eligible bid"}]
    assert "may not be split" in kept.rejections[0]["reason"]
    split = award_round([_job(split=True)], bids, AwardRules(), 1)
    assert split.awards[0]["partial"] is True and split.awards[0]["quantity"] == 6
    refused = award_round([_job(split=True)], bids, AwardRules(split_partial_bids=False), 1)
    assert refused.awards == [] and "not accepted" in refused.rejections[0]["reason"]


def test_one_award_per_work_centre_per_round_and_no_bids_are_left_over():
    jobs = [_job("JOB-1", due="2026-03-04"), _job("JOB-2", due="2026-03-06"), _job("JOB-3")]
    bids = [_bid("WC-01", "JOB-1"), _bid("WC-01", "JOB-2"), _bid("WC-02", "JOB-2", cost=200.0)]
    result = award_round(jobs, bids, AwardRules(), 2)
    assert [(a["job_id"], a["work_centre_id"]) for a in result.awards] == [("JOB-1", "WC-01"), ("JOB-2", "WC-02")]
    assert any("already won a job this round" in r["reason"] for r in result.rejections)
    assert result.leftover == [{"job_id": "JOB-3", "round": 2, "reason": "no bids"}]


def test_award_rules_come_from_policy(runner):
    rules = AwardRules.from_policy(runner.context.policy)
    assert rules.order == ("meets_due_date", "cost_per_unit_usd", "finish_date", "work_centre_id")
    assert rules.max_rounds == 3 and rules.split_partial_bids is True

    class Bad:
        raw = {"production": {"award": {"order": ["cheapest"]}}}

    with pytest.raises(ValueError, match="unknown keys"):
        AwardRules.from_policy(Bad())


def test_bid_numbers_come_from_the_calendar():
    centre = {"work_centre_id": "WC-09", "capabilities": ["machining"], "hours_per_day": 8.0, "hourly_cost_usd": 100.0,
              "changeover_usd": 50.0, "max_batch_units": 0}
    job = {"job_id": "JOB-9", "operation": "machining", "quantity": 24, "hours_per_unit": 1.0, "due_date": "2026-03-05"}
    booked = [{"job_id": "JOB-8", "start_date": "2026-03-02", "quantity": 4, "hours_per_unit": 1.0}]
    down = {date(2026, 3, 3)}
    bid = compute_bid(centre, job, booked, down, TODAY, TODAY)
    # 4 h free on Monday, Tuesday down, 8 h Wednesday and Thursday: the 24 h end on Friday, a day late.
    assert (bid.start_date, bid.finish_date, bid.cost_usd, bid.days_late) == ("2026-03-02", "2026-03-06", 2450.0, 1)
    assert bid.meets_due_date is False
    assert not compute_bid({**centre, "capabilities": ["assembly"]}, job, [], set(), TODAY, TODAY).can_bid
    partial = compute_bid({**centre, "max_batch_units": 5}, job, [], set(), TODAY, TODAY)
    assert partial.partial and partial.quantity == 5 and partial.finish_date == "2026-03-02"


# --- the tool boundary -------------------------------------------------------------------------


@pytest.fixture
def world(tmp_path: Path) -> World:
    with World.open(tmp_path / "world.db") as opened:
        yield opened


def _late_job_1(world: World) -> None:
    world.tms.report_shipment_delay("SH-0001", 5, "port strike", "test-delay")


def test_a_commitment_move_without_a_human_approval_is_refused_at_the_tool(world, runner):
    _late_job_1(world)
    assign = build_tools(world, runner.context.policy)["assign_job"]
    args = {"job_id": "JOB-0001", "work_centre_id": "WC-04", "quantity": 40}
    before = world.show("job", "JOB-0001")
    for approval in ({}, {"approved_by": "autonomous production_schedule", "approval_id": "autonomy:policy.yaml"},
                     {"approved_by": "shadow (would ask)", "approval_id": "shadow:x"}):
        with pytest.raises(ApprovalRequired, match="customer commitment"):
            assign.invoke({**args, "idempotency_key": f"k-{len(approval)}-{uuid.uuid4().hex[:6]}", **approval})
    assert world.show("job", "JOB-0001") == before and world.show("order", "SO-0001")["promised_date"] == "2026-03-05"
    done_ = assign.invoke({**args, "idempotency_key": "k-ok", "approved_by": "dana", "approval_id": "approval:c1"})
    assert done_["commitment_moved"] and done_["finish_date"] == "2026-03-10"
    assert world.show("order", "SO-0001")["promised_date"] == "2026-03-10"
    # The model-facing schema has no approval fields: a model can never set them.
    assert {"approved_by", "approval_id", "idempotency_key"}.isdisjoint(assign.tool_call_schema.model_fields)


def test_assignments_are_idempotent_and_splits_respect_the_job(world):
    first = world.mes.assign_job("JOB-0009", "WC-03", "same-key", quantity=120)
    again = world.mes.assign_job("JOB-0009", "WC-03", "same-key", quantity=120)
    assert again["replayed"] is True and again["remainder_job_id"] == first["remainder_job_id"] == "JOB-0011"
    assert world.show("job", "JOB-0011")["quantity"] == 80
    with pytest.raises(ValidationFailed, match="may not be split"):
        world.mes.assign_job("JOB-0002", "WC-01", "split-2", quantity=5)
    with pytest.raises(ValidationFailed, match="no assembly capability"):
        world.mes.assign_job("JOB-0003", "WC-01", "wrong-wc")


def test_the_plant_lives_in_postgres_too(postgres_url):
    schema = f"pp_{uuid.uuid4().hex[:8]}"
    world = World.reset(postgres_url, schema=schema)
    try:
        world.mes.record_downtime("WC-02", 3, "spindle", "pg-down")
        assert world.mes.find_affected_jobs(work_centre_id="WC-02")["job_ids"] == ["JOB-0002", "JOB-0003"]
        assert world.mes.assign_job("JOB-0009", "WC-03", "pg-split", quantity=120)["remainder_job_id"] == "JOB-0011"
        assert world.mes.quote_bids("WC-01", ["JOB-0011"])["bids"][0]["finish_date"] == "2026-03-04"
    finally:
        with world._db.transaction() as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
        world.close()


# --- whole runs on the offline engine (SQLite checkpointer) --------------------------------------


def _start(runner, thread: str, **options):
    return runner.start(GRAPH, runner.make_input(GRAPH, options), thread_id=thread)


def _kinds(runner, thread: str) -> list[str]:
    return [e.kind for e in runner.context.audit.events(thread)]


def test_breakdown_run_records_the_whole_protocol(runner):
    result = _start(runner, "pp-breakdown", event="breakdown", work_centre="WC-02", days=3)
    report = result.report
    assert result.status == "completed" and report["rounds"] == 1
    assert [(a["job_id"], a["work_centre_id"]) for a in report["awards"]] == [("JOB-0002", "WC-03"), ("JOB-0003", "WC-04")]
    world = runner.context.world
    assert world.show("job", "JOB-0002")["work_centre_id"] == "WC-03"
    assert world.show("work_centre", "WC-02")["downtime"][0]["end_date"] == "2026-03-04"
    kinds = _kinds(runner, "pp-breakdown")
    # One call for bids, 4 bidders x 2 jobs = 3 bids + 5 no-bids, 2 awards, 1 rejected bid.
    assert kinds.count("call_for_bids") == 1 and kinds.count("bid") == 3 and kinds.count("no_bid") == 5
    assert kinds.count("award") == 2 and kinds.count("bid_rejected") == 1 and "approval" not in kinds
    [call_] = events(runner, "pp-breakdown", "call_for_bids")
    assert call_.result["work_centres"] == ["WC-01", "WC-03", "WC-04", "WC-05"]
    [rejected] = events(runner, "pp-breakdown", "bid_rejected")
    assert rejected.name == "JOB-0002" and rejected.result["reason"] == "outranked by WC-03 on finish_date"


def test_split_job_is_reannounced_and_the_tie_rule_decides(runner):
    report = _start(runner, "pp-rush", event="rush", job="JOB-0009").report
    assert report["rounds"] == 2 and [c["job_ids"] for c in report["calls_for_bids"]] == [["JOB-0009"], ["JOB-0011"]]
    first, second = report["awards"]
    assert (first["work_centre_id"], first["quantity"], first["partial"]) == ("WC-03", 120, True)
    assert (second["job_id"], second["work_centre_id"], second["decided_by"]) == ("JOB-0011", "WC-01", "work_centre_id")
    assert _kinds(runner, "pp-rush").count("call_for_bids") == 2


def test_moved_commitment_waits_for_a_human_then_moves_the_promise(runner):
    paused = _start(runner, "pp-late", event="late_material", shipment="SH-0001", delay_days=5)
    assert paused.status == "awaiting_approval"
    [request] = paused.pending
    assert request["kind"] == "commitment_change" and request["args"]["job_id"] == "JOB-0001"
    world = runner.context.world
    assert world.show("job", "JOB-0001")["finish_date"] == "2026-03-05"  # nothing written before the decision
    resumed = runner.resume("pp-late", {"decision": "approve", "by": "dana"})
    assert resumed.status == "completed"
    moved = resumed.report["commitments_moved"][0]
    assert (moved["job_id"], moved["promised_date"], moved["approved_by"]) == ("JOB-0001", "2026-03-10", "dana")
    assert world.show("order", "SO-0001")["promised_date"] == "2026-03-10"
    [approval] = events(runner, "pp-late", "approval")
    assert approval.agent == "dana" and approval.result["kind"] == "commitment_change"


def test_rejected_commitment_change_writes_nothing(runner):
    _start(runner, "pp-late-no", event="late_material", shipment="SH-0001", delay_days=5)
    result = runner.resume("pp-late-no", {"decision": "reject", "by": "dana", "reason": "call the customer"})
    assert result.status == "completed" and result.report["moved"] == []
    assert "rejected by dana" in result.report["unassigned"][0]["reason"]
    assert runner.context.world.show("order", "SO-0001")["promised_date"] == "2026-03-05"


def test_no_bids_are_reannounced_a_bounded_number_of_times(runner):
    report = _start(runner, "pp-oven", event="breakdown", work_centre="WC-05", days=4).report
    assert report["rounds"] == 3 and report["awards"] == []
    assert report["unassigned"][0]["job_id"] == "JOB-0006"
    assert _kinds(runner, "pp-oven").count("no_award") == 3


def test_a_bidder_may_not_bid_for_another_work_centre_or_write(settings):
    # Every bidder (the scripted model knows them as "bidding") first tries another centre's calendar and a write.
    # Branches run in parallel, so who takes which scripted reply varies; every reply is the same attack.
    script = {"bidding": [says(call("quote_bids", work_centre_id="WC-04", job_ids=["JOB-0010"]),
                               call("assign_job", job_id="JOB-0010", approved_by="plant manager"))
                          for _ in range(5)]}
    with hostile_runner(settings, script) as runner:
        result = _start(runner, "pp-hostile", event="rush", job="JOB-0010")
        refused = events(runner, "pp-hostile", "tool_refused")
        # Whatever the bidders did after the script (the offline engine takes over), WC-05 never got the job
        # and no bidder wrote anything.
        assert runner.context.world.show("job", "JOB-0010")["work_centre_id"] != "WC-05"
        assert not [a for a in result.values["actions"] if a["agent"] == "work_centre" and a["writes"] and a["ok"]]
    reasons = " ".join(str(e.result) for e in refused)
    assert "bids only from its own calendar" in reasons and "not permitted to call 'assign_job'" in reasons


def test_input_errors_are_one_line(runner):
    for options, message in (({"event": "breakdown", "work_centre": "WC-09", "days": 3}, "unknown work centre"),
                             ({"event": "breakdown", "work_centre": "WC-02", "days": 0}, "between 1 and 30"),
                             ({"event": "breakdown", "days": 3}, "--work-centre"),
                             ({"event": "flood"}, "unknown event"),
                             ({"event": "rush", "job": "JOB-9999"}, "unknown job")):
        with pytest.raises(UserError, match=message):
            runner.make_input(GRAPH, options)
    parsed = runner.make_input(GRAPH, {"event": "WC-02 broke down for 3 days"})["event"]
    assert (parsed["kind"], parsed["work_centre_id"], parsed["days"]) == ("breakdown", "WC-02", 3)
