"""policy.yaml is validated at load: one clear error naming the key and its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsgraph.governance.policy import PolicyError, load_policy
from tests.support.paths import PROJECT_ROOT

SHIPPED = (Path(PROJECT_ROOT) / "policy.yaml").read_text()


def _load(tmp_path: Path, text: str):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return load_policy(path)


def _edited(old: str, new: str) -> str:
    assert old in SHIPPED, f"the shipped policy no longer contains {old!r}"
    return SHIPPED.replace(old, new, 1)


def _line_of(text: str, needle: str) -> int:
    return text.splitlines().index(next(line for line in text.splitlines() if needle in line)) + 1


def test_shipped_policy_is_valid():
    policy = load_policy(Path(PROJECT_ROOT) / "policy.yaml")
    assert "procurement" in policy.agent_names


def test_duplicate_key_is_refused_with_both_lines(tmp_path):
    text = _edited("  refund:\n", "  refund:\n    auto_limit_usd: 5000\n")
    first = _line_of(text, "auto_limit_usd: 5000")
    second = [i + 1 for i, line in enumerate(text.splitlines()) if line.strip() == "auto_limit_usd: 500"][0]
    with pytest.raises(PolicyError, match=rf"duplicate key 'approvals.refund.auto_limit_usd' at line {second} "
                                          rf"\(first given at line {first}\)"):
        _load(tmp_path, text)


def test_duplicate_agent_section_is_refused(tmp_path):
    text = SHIPPED + "  logistics:\n    tier: large\n    tools: [create_purchase_order]\n"
    with pytest.raises(PolicyError, match=r"duplicate key 'agents.logistics' at line \d+"):
        _load(tmp_path, text)


@pytest.mark.parametrize("old, new, key", [
    ("auto_limit_usd: 500", "auto_limit_usd: -500", "approvals.refund.auto_limit_usd"),
    ("threshold_usd: 25000", "threshold_usd: .nan", "approvals.purchase_order.threshold_usd"),
    ("max_steps: 16", "max_steps: -1", "limits.max_steps"),
    ("run: {max_usd: 2.00, max_tokens: 600000}", "run: {max_usd: .inf, max_tokens: 600000}", "budgets.run.max_usd"),
])
def test_negative_or_nan_limits_are_refused_naming_key_and_line(tmp_path, old, new, key):
    text = _edited(old, new)
    line = _line_of(text, new)
    with pytest.raises(PolicyError, match=rf"{key} \(line {line}\): must"):
        _load(tmp_path, text)


def test_tools_as_a_string_is_refused(tmp_path):
    text = _edited("tools: [get_shipment, report_shipment_delay, get_reroute_options, search_knowledge]",
                   "tools: get_shipment")
    with pytest.raises(PolicyError, match=rf"agents.logistics.tools \(line {_line_of(text, 'tools: get_shipment')}\)"
                                          r": Input should be a valid list"):
        _load(tmp_path, text)


@pytest.mark.parametrize("old, new, match", [
    ("  logistics:\n    tier: small\n", "  logistics:\n    tier: small\n    toolz: [get_shipment]\n",
     r"agents.logistics.toolz \(line \d+\): unknown key"),
    ("  logistics:\n    tier: small\n", "  logistics:\n    tier: medium\n", r"agents.logistics.tier \(line \d+\)"),
    ("threshold_usd: 25000", "threshold_usd: '25000'", r"approvals.purchase_order.threshold_usd \(line \d+\)"),
    ("max_agent_rounds: 8", "max_agent_rounds: true", r"limits.max_agent_rounds"),
    ("    procurement: {max_usd: 1.00, max_tokens: 200000}", "    procurment: {max_usd: 1.00}",
     r"budgets.agents.procurment \(line \d+\): no agent named 'procurment'"),
    ("    history: own_turns\n", "    history: everything\n", r"agents.finance_assessor.history"),
    ("    approver_role: operations manager\n", "", r"approvals.purchase_order.approver_role \(line \d+\): required"),
])
def test_wrong_types_unknown_keys_and_missing_keys_are_refused(tmp_path, old, new, match):
    with pytest.raises(PolicyError, match=match):
        _load(tmp_path, _edited(old, new))


def test_extra_approval_keys_are_allowed_but_known_ones_type_checked(tmp_path):
    text = _edited("    split_window_days: 14\n", "    split_window_days: 30\n    escalate_to: cfo\n")
    assert _load(tmp_path, text).get("approvals.purchase_order.split_window_days") == 30
    bad = _edited("    split_window_days: 14\n", "    split_window_days: -3\n")
    with pytest.raises(PolicyError, match=r"approvals.purchase_order.split_window_days \(line \d+\): must not be negative"):
        _load(tmp_path, bad)


def test_routing_weights_may_be_negative_but_not_nan(tmp_path):
    assert _load(tmp_path, _edited("tools_bound: 0.1", "tools_bound: -0.1"))
    with pytest.raises(PolicyError, match=r"routing.weights.tools_bound \(line \d+\): must be a finite number"):
        _load(tmp_path, _edited("tools_bound: 0.1", "tools_bound: .nan"))
