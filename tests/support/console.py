"""A data home with console users and a history of real offline runs, for the console tests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from opsgraph.console.auth import hash_password
from opsgraph.settings import Settings, load_settings

# A cheap scrypt cost keeps the tests fast; the scheme and the checks are the ones in production.
TEST_N = 2**10
USERS = {"dana": ("approver", "dana-approves-1"), "vic": ("viewer", "vic-only-looks-1")}
PENDING_SHIPMENT = {"shipment": "SH-0001", "delay_days": 5}
# Above the $500 a billing agent may refund alone: the support desk asks a person.
REFUND_REQUEST = {"message": "Please refund $738.00 on invoice INV-0002: 12 of the 40 boxes arrived damaged. "
                             "Ticket TCK-0004.", "customer": "CUST-008"}
# Over budget: the reviewers never agree, and after the last round a person decides.
ESCALATED_REQUEST = {"request": "1200 units of SKU-003 for DC-WEST from SUP-006"}


def policy_with_users(source: Path, target: Path, users: dict[str, tuple[str, str]] = USERS) -> Path:
    """A copy of policy ``source`` at ``target`` with a ``console.users`` section for ``users``."""
    raw = yaml.safe_load(source.read_text())
    raw["console"] = {"users": [{"name": name, "role": role, "password_hash": hash_password(password, n=TEST_N)}
                                for name, (role, password) in users.items()], "session_hours": 1}
    target.write_text(yaml.safe_dump(raw, sort_keys=False))
    return target


def console_settings(home: Path, policy: Path, **env: str) -> Settings:
    """Offline settings on data home ``home`` with ``policy``."""
    return load_settings(env={"OPSGRAPH_HOME": str(home), "OPSGRAPH_POLICY": str(policy), **env}, cwd=home.parent)


def seed_history(settings: Settings, pending: int, retriever: Any = None, refund: bool = False,
                 escalation: bool = False) -> dict[str, list[str]]:
    """Real offline runs: two supply-chain runs whose approval was decided (approved, rejected),
    ``pending`` stopped at a purchase-order approval, and runs of other workflows that finish on
    their own; with ``refund``, a support-desk refund waiting for approval too, with ``escalation``
    a procurement review escalated to a person. Thread ids by kind."""
    from opsgraph.runner import open_runner

    from opsgraph.decisions import apply_decision, human_decision

    threads: dict[str, list[str]] = {"pending": [], "finished": [], "refund": [], "escalation": []}
    options = {"retriever": retriever} if retriever is not None else {"with_knowledge": False}
    with open_runner(settings, **options) as runner:
        # Decided earlier: one approval approved as proposed, one rejected.
        for verb in ("approve", "reject"):
            result = runner.start("supply_chain_exception", runner.make_input("supply_chain_exception", PENDING_SHIPMENT))
            result = apply_decision(runner, result.thread_id, human_decision(verb, by="lee", reason="seeded history"))
            threads["finished"].append(result.thread_id)
        for index in range(pending):
            thread = f"supply-pending-{index}"
            result = runner.start("supply_chain_exception", runner.make_input("supply_chain_exception", PENDING_SHIPMENT),
                                  thread_id=thread)
            assert result.status == "awaiting_approval", (thread, result.status, result.reason)
            threads["pending"].append(thread)
        if refund:
            result = runner.start("support_desk", runner.make_input("support_desk", REFUND_REQUEST),
                                  thread_id="support-refund")
            assert result.status == "awaiting_approval", (result.status, result.reason)
            threads["refund"].append(result.thread_id)
        if escalation:
            result = runner.start("procurement_review", runner.make_input("procurement_review", ESCALATED_REQUEST),
                                  thread_id="review-escalated")
            assert result.status == "awaiting_approval", (result.status, result.reason)
            threads["escalation"].append(result.thread_id)
        for graph_id, opts in (("contract_review", {"contract": "CTR-1002"}), ("supplier_risk", {"supplier": "SUP-019"}),
                               ("supply_chain_exception", {"shipment": "SH-0004", "delay_days": 2})):
            result = runner.start(graph_id, runner.make_input(graph_id, opts))
            threads["finished"].append(result.thread_id)
    return threads


def copy_home(template: Path, target: Path) -> Path:
    """A private copy of a seeded data home (its SQLite files are closed while copied)."""
    shutil.copytree(template, target)
    return target
