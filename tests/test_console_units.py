"""The console's parts on their own: password hashes, the policy's console section, KPI arithmetic
on a real audit store, and the ``opsgraph console`` command's one-line errors."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from opsgraph.console.auth import authenticate, console_users, hash_password, parse_hash, session_secret, verify_password
from opsgraph.console.kpis import (Period, approval_stats, compute, errors_by_agent, graduation_rate, incident_times,
                                   percentile, run_latency, RunFacts)
from opsgraph.errors import UserError
from opsgraph.governance.audit import AuditEvent, AuditStore, RunInfo
from opsgraph.governance.policy import Policy, PolicyError, load_policy
from tests.support.cli import isolated_env, one_error_line, opsgraph
from tests.support.console import TEST_N, policy_with_users
from tests.support.paths import PROJECT_ROOT

SHIPPED = Path(PROJECT_ROOT) / "policy.yaml"


# -- passwords ------------------------------------------------------------------------------------

def test_a_hash_verifies_its_password_only_and_is_salted():
    first, second = hash_password("correct horse", n=TEST_N), hash_password("correct horse", n=TEST_N)
    assert first != second and first.startswith(f"scrypt${TEST_N}$8$1$")
    assert verify_password("correct horse", first) and verify_password("correct horse", second)
    assert not verify_password("correct horsE", first) and not verify_password("", first)


@pytest.mark.parametrize("bad", ["correct horse", "scrypt$1000$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                 f"scrypt${2**21}$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "scrypt$16384$8$1$%%$%%",
                                 "pbkdf2$16384$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])
def test_a_malformed_or_too_costly_hash_never_matches(bad):
    assert parse_hash(bad) is None and not verify_password("correct horse", bad)


def test_a_short_password_is_refused():
    with pytest.raises(UserError, match="at least 8 characters"):
        hash_password("short")


def test_authenticate_checks_name_and_password():
    policy = Policy(raw={"console": {"users": [{"name": "dana", "role": "approver",
                                                "password_hash": hash_password("dana-pass-1", n=TEST_N)}]}})
    users = console_users(policy)
    assert authenticate(users, "dana", "dana-pass-1").may_decide
    assert authenticate(users, "dana", "wrong-pass-1") is None and authenticate(users, "eve", "dana-pass-1") is None


def test_the_login_throttle_counts_failures_in_a_window():
    from opsgraph.console.auth import LoginThrottle

    now = [1000.0]
    throttle = LoginThrottle(limit=3, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.wait_s("dana") == 0
        throttle.failed("dana")
    assert throttle.wait_s("dana") == 60 and throttle.wait_s("vic") == 0
    now[0] += 59
    assert throttle.wait_s("dana") == pytest.approx(1)
    now[0] += 1
    assert throttle.wait_s("dana") == 0
    throttle.failed("dana"), throttle.failed("dana"), throttle.succeeded("dana")
    throttle.failed("dana")
    assert throttle.wait_s("dana") == 0


def test_the_session_key_is_generated_once_per_data_home_and_kept_private(tmp_path):
    first = session_secret(None, tmp_path / "home")
    assert len(first) >= 32 and session_secret(None, tmp_path / "home") == first
    assert (tmp_path / "home" / "console" / "session.key").stat().st_mode & 0o077 == 0
    assert session_secret(None, tmp_path / "other") != first
    assert session_secret("k" * 40, tmp_path / "home") == "k" * 40


# -- the policy's console section -----------------------------------------------------------------

def test_console_users_load_from_policy(tmp_path):
    policy = load_policy(policy_with_users(SHIPPED, tmp_path / "policy.yaml"))
    assert {u.name: u.role for u in console_users(policy).values()} == {"dana": "approver", "vic": "viewer"}


@pytest.mark.parametrize("user, message", [
    ({"name": "ann", "role": "admin", "password_hash": "H"}, "console.users.0.role"),
    ({"name": "ann", "role": "viewer", "password_hash": "hunter2-plaintext"}, "console.users.0.password_hash"),
    ({"name": "ann", "role": "viewer", "password_hash": f"scrypt$1000$8$1$AAAA${'A' * 44}"},
     "console.users.0.password_hash (line"),
    ({"name": "ann smith", "role": "viewer", "password_hash": "H"}, "console.users.0.name"),
    ({"name": "ann", "role": "viewer", "password_hash": "H", "email": "a@b"}, "console.users.0.email"),
])
def test_a_bad_console_user_is_refused_naming_the_key(tmp_path, user, message):
    good = hash_password("ann-pass-12", n=TEST_N)
    user = {k: (good if v == "H" else v) for k, v in user.items()}
    path = tmp_path / "policy.yaml"
    path.write_text(SHIPPED.read_text() + "\nconsole:\n  users:\n    - " + _flow(user) + "\n")
    with pytest.raises(PolicyError, match=message.replace("(", r"\(").replace("$", r"\$")):
        load_policy(path)


def test_a_user_listed_twice_is_refused(tmp_path):
    good = hash_password("ann-pass-12", n=TEST_N)
    path = tmp_path / "policy.yaml"
    entry = _flow({"name": "ann", "role": "viewer", "password_hash": good})
    path.write_text(SHIPPED.read_text() + f"\nconsole:\n  users:\n    - {entry}\n    - {entry}\n")
    with pytest.raises(PolicyError, match="console.users.1.name .*user 'ann' is listed twice"):
        load_policy(path)


def _flow(entry: dict) -> str:
    return "{" + ", ".join(f"{k}: '{v}'" for k, v in entry.items()) + "}"


# -- KPIs -------------------------------------------------------------------------------------------

def _event(seq: int, ts: str, kind: str, agent: str | None = None, name: str | None = None, result=None,
           ok: bool = True) -> AuditEvent:
    return AuditEvent(seq, ts, "t", agent, kind, name, None, result, ok)


def test_the_period_defaults_to_30_days_and_refuses_nonsense():
    assert Period.parse(None, None, today=date(2026, 11, 30)) == Period(date(2026, 11, 1), date(2026, 11, 30))
    assert Period.parse("2026-11-01", "2026-11-01").contains("2026-11-01T23:59:59.999+00:00")
    assert not Period.parse("2026-11-01", "2026-11-01").contains("2026-11-02T00:00:00.000+00:00")
    for start, end, message in (("2026-11-31", None, "'from' must be a date"), ("2026-11-05", "2026-11-01", "starts"),
                                ("2000-01-01", "2026-01-01", "at most")):
        with pytest.raises(UserError, match=message):
            Period.parse(start, end)


def test_approval_rate_counts_only_approvals_unchanged_per_autonomy_category():
    refund = "issue_refund"
    events = [_event(1, "", "approval", name=refund, result={"kind": "refund", "decision": "approve"}),
              _event(2, "", "approval", name=refund, result={"kind": "refund", "decision": "edit"}),
              _event(3, "", "approval", name=refund, result={"kind": "refund", "decision": "reject"}),
              _event(4, "", "approval", name=refund, result={"kind": "refund", "decision": "approve"}),
              _event(5, "", "approval", name="create_purchase_order", result={"decision": "approve"}),
              _event(6, "", "approval_edit_refused", name=refund, result={"kind": "refund"}),
              _event(7, "", "tool_call", name=refund)]
    stats = approval_stats(events)
    assert stats["refund"] == {"decided": 4, "approved": 2, "edited": 1, "rejected": 1, "rate": 0.5}
    assert stats["purchase_order"]["rate"] == 1.0 and set(stats) == {"refund", "purchase_order"}


def test_the_graduation_bar_comes_from_policy_or_defaults_to_085():
    assert graduation_rate(Policy(raw={})) == 0.85
    assert graduation_rate(Policy(raw={"autonomy": {"graduation": {"min_rate": 0.9}}})) == 0.9
    assert graduation_rate(Policy(raw={"autonomy": {"graduation": {"min_rate": "high"}}})) == 0.85


def test_error_rate_counts_failed_calls_and_run_failures_per_agent():
    events = [_event(1, "", "tool_call", "billing"), _event(2, "", "tool_call", "billing", ok=False),
              _event(3, "", "model_call", "billing"), _event(4, "", "model_call", "billing", ok=False),
              _event(5, "", "tool_refused", "billing", ok=False), _event(6, "", "run_failed", "triage", ok=False)]
    rows = errors_by_agent([RunFacts(None, events)])
    assert rows["billing"] == {"attempts": 4, "errors": 2, "rate": 0.5}
    assert rows["triage"] == {"attempts": 0, "errors": 1, "rate": 1.0}


def _run(thread: str, graph: str, status: str, created: str) -> RunInfo:
    return RunInfo(thread, graph, None, status, created, created)


def test_mttd_mttr_and_latency_follow_their_definitions():
    incident = RunFacts(_run("a", "supply_chain_exception", "completed", "2026-11-30T10:00:00+00:00"), [
        _event(1, "2026-11-30T10:00:02+00:00", "model_call", "supervisor"),
        _event(2, "2026-11-30T10:00:04+00:00", "tool_call", "logistics", ok=False),
        _event(3, "2026-11-30T10:00:06+00:00", "tool_call", "logistics"),
        _event(4, "2026-11-30T10:05:00+00:00", "approval", "dana", result={"decision": "approve"}),
        _event(5, "2026-11-30T10:05:10+00:00", "tool_call", "customer_comms")])
    waiting = RunFacts(_run("b", "supply_chain_exception", "awaiting_approval", "2026-11-30T11:00:00+00:00"),
                       [_event(1, "2026-11-30T11:00:10+00:00", "tool_call", "logistics")])
    quick = [RunFacts(_run(str(i), "contract_review", "completed", "2026-11-30T12:00:00+00:00"),
                      [_event(1, f"2026-11-30T12:00:{seconds:02d}+00:00", "tool_call", "x")])
             for i, seconds in enumerate((1, 2, 3, 4, 50))]
    times = incident_times([incident, waiting, *quick])
    assert (times["incidents"], times["detected"], times["resolved"]) == (2, 2, 1)
    assert times["mttd_s"] == pytest.approx((6 + 10) / 2) and times["mttr_s"] == pytest.approx(310)
    latency = run_latency([incident, waiting, *quick])
    assert latency["runs"] == 5 and latency["p50_s"] == 3 and latency["p95_s"] == pytest.approx(4 + 0.8 * 46)


def test_percentile_interpolates_like_numpy():
    import numpy

    values = [0.5, 1.0, 2.0, 8.0, 9.5, 30.0]
    for pct in (0, 50, 90, 95, 100):
        assert percentile(values, pct) == pytest.approx(float(numpy.percentile(values, pct)))
    assert percentile([], 50) is None


def test_compute_reads_runs_of_the_period_from_the_audit_store(tmp_path):
    store = AuditStore(tmp_path / "audit.db")
    store.register_run("in-1", "support_desk", "a")
    store.record("in-1", "e1", "approval", agent="dana", name="issue_refund",
                 result={"kind": "refund", "decision": "reject"})
    store.set_status("in-1", "completed")
    today = date.fromisoformat(store.run("in-1").created_at[:10])
    kpis = compute(store, Policy(raw={}), Period(today, today))
    assert kpis.runs == 1 and kpis.runs_by_workflow == {"support_desk": {"completed": 1}}
    assert kpis.decisions["refund"]["rate"] == 0.0 and kpis.escalations["runs_needing_human"] == 1
    assert kpis.decisions["refund"]["mode"] == "threshold"  # the policy default, no promotion recorded
    assert compute(store, Policy(raw={}), Period(date(2020, 1, 1), date(2020, 1, 2))).runs == 0
    store.close()


# -- the command ------------------------------------------------------------------------------------

def test_console_without_users_refuses_to_start_in_one_line(tmp_path):
    line = one_error_line(opsgraph(tmp_path / "home", "console", "--port", "0"), "--port must be between 1 and 65535")
    assert "Traceback" not in line
    line = one_error_line(opsgraph(tmp_path / "home", "console", "--port", "8059"), "no console users in")
    assert "opsgraph console hash-password" in line


def test_console_on_a_port_in_use_is_one_line(tmp_path):
    policy = policy_with_users(SHIPPED, tmp_path / "policy.yaml")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = opsgraph(tmp_path / "home", "console", "--port", str(port), OPSGRAPH_POLICY=str(policy))
    one_error_line(proc, f"cannot listen on 127.0.0.1:{port}")


def test_hash_password_prints_a_line_the_policy_accepts(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "opsgraph", "console", "hash-password", "--name", "dana", "--role",
                           "approver", "--password-stdin"], input="dana-pass-123\n", capture_output=True, text=True,
                          env=isolated_env(tmp_path / "home"), timeout=120)
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / "policy.yaml"
    path.write_text(SHIPPED.read_text() + "\nconsole:\n  users:\n" + proc.stdout)
    [user] = console_users(load_policy(path)).values()
    assert (user.name, user.role) == ("dana", "approver") and verify_password("dana-pass-123", user.password_hash)
    short = subprocess.run([sys.executable, "-m", "opsgraph", "console", "hash-password", "--password-stdin"],
                           input="short\n", capture_output=True, text=True, env=isolated_env(tmp_path / "home"),
                           timeout=120)
    one_error_line(short, "at least 8 characters")
