"""Race trials: two runners with their own connections act on one thread at the same moment.

Each trial checks the outcome against the database and the mock enterprise, so a "double
win" is counted from the world (two decisions applied, two runs on one thread), not from
what the racers reported. Used by ``tests/test_races.py`` and ``bench/bench_races.py``.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from opsgraph.errors import UserError
from opsgraph.runner import Runner, open_runner
from opsgraph.settings import Settings

GRAPH = "supply_chain_exception"
ABOVE_THRESHOLD = {"shipment_id": "SH-0001", "delay_days": 5,
                   "description": "Inbound shipment SH-0001 is delayed by 5 days."}
OTHER_INCIDENT = {"shipment_id": "SH-0002", "delay_days": 4, "description": "SH-0002 is 4 days late"}


@dataclass
class Tally:
    """What a series of trials found."""

    trials: int = 0
    double_wins: int = 0
    no_winner: int = 0
    winners: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, winner: str | None, problems: list[str], successes: int) -> None:
        """Count one trial."""
        self.trials += 1
        self.double_wins += int(successes > 1)
        self.no_winner += int(successes == 0)
        if winner:
            self.winners[winner] = self.winners.get(winner, 0) + 1
        self.problems += problems


@contextmanager
def runners(settings: Settings, count: int) -> Iterator[list[Runner]]:
    """``count`` runners on the same stores, each with its own connections (as separate processes have)."""
    with ExitStack() as stack:
        yield [stack.enter_context(open_runner(settings, with_knowledge=False)) for _ in range(count)]


def race(actions: list[Callable[[], Any]]) -> list[Any]:
    """Run ``actions`` in threads released together; each result is a return value or the exception raised."""
    gate = threading.Barrier(len(actions))
    out: list[Any] = [None] * len(actions)

    def run(index: int) -> None:
        gate.wait()
        try:
            out[index] = actions[index]()
        except Exception as exc:  # noqa: BLE001 - the loser's error is part of the outcome
            out[index] = exc

    workers = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return out


def approve_vs_reject(setup: Runner, alice: Runner, bob: Runner, thread: str) -> tuple[str | None, list[str], int]:
    """One trial: alice approves and bob rejects the same pending purchase order at once.

    Returns the winner, the problems found, and how many racers reported success.
    """
    started = setup.start(GRAPH, {"event": ABOVE_THRESHOLD}, thread_id=thread)
    if started.status != "awaiting_approval":
        return None, [f"{thread}: setup did not pause for approval ({started.status})"], 0
    outcomes = race([lambda: alice.resume(thread, {"decision": "approve", "by": "alice"}),
                     lambda: bob.resume(thread, {"decision": "reject", "reason": "no budget", "by": "bob"})])
    wins = [name for name, o in zip(("alice", "bob"), outcomes) if not isinstance(o, Exception)]
    problems = [f"{thread}: unexpected {type(o).__name__}: {o}" for o in outcomes
                if isinstance(o, Exception) and not isinstance(o, UserError)]
    winner = wins[0] if len(wins) == 1 else None
    if winner:
        problems += _decision_problems(setup, thread, winner, outcomes)
    return winner, problems, len(wins)


def _decision_problems(runner: Runner, thread: str, winner: str, outcomes: list[Any]) -> list[str]:
    """The loser's line names the winner; the audit and the purchase orders agree with the winner."""
    loser_error = next(str(o) for o in outcomes if isinstance(o, Exception))
    problems = []
    if not re.search(rf"already decided by {winner} at \d{{4}}-", loser_error):
        problems.append(f"{thread}: loser's error does not name the winner: {loser_error!r}")
    decisions = [(e.agent, e.result["decision"]) for e in runner.context.audit.events(thread, "approval")]
    expected = [(winner, "approve" if winner == "alice" else "reject")]
    if decisions != expected:
        problems.append(f"{thread}: audited decisions {decisions}, expected {expected}")
    made = [e.result for e in runner.context.audit.events(thread, "tool_call")
            if e.name == "create_purchase_order" and e.ok]
    approvers = [runner.context.world.erp.get_purchase_order(r["po_id"])["approved_by"] for r in made]
    if approvers != (["alice"] if winner == "alice" else []):
        problems.append(f"{thread}: purchase orders approved by {approvers} but {winner} won")
    return problems


def two_starts(first: Runner, second: Runner, thread: str) -> tuple[str | None, list[str], int]:
    """One trial: two runners start two different incidents on one thread id at once."""
    outcomes = race([lambda: first.start(GRAPH, {"event": ABOVE_THRESHOLD}, thread_id=thread),
                     lambda: second.start(GRAPH, {"event": OTHER_INCIDENT}, thread_id=thread)])
    wins = [name for name, o in zip(("SH-0001", "SH-0002"), outcomes) if not isinstance(o, Exception)]
    problems = [f"{thread}: loser's error is not the clear one: {o!r}" for o in outcomes
                if isinstance(o, Exception) and "already exists" not in str(o)]
    winner = wins[0] if len(wins) == 1 else None
    state = first.graph(GRAPH).get_state(first.config(thread)).values
    ran = (state.get("event") or {}).get("shipment_id")
    delays = [e for e in first.context.audit.events(thread, "tool_call") if e.name == "report_shipment_delay"]
    if winner and ran != winner:
        problems.append(f"{thread}: {winner} won but the thread holds {ran}")
    if len({e.args.get("shipment_id") for e in delays}) > 1:
        problems.append(f"{thread}: delays of two incidents recorded on one thread")
    return winner, problems, len(wins)


def refill_budget(settings: Settings) -> None:
    """Give the cost centre its quarter's budget back, so every trial's approved order can be issued."""
    with closing(sqlite3.connect(settings.world_path, timeout=30)) as conn, conn:
        conn.execute("UPDATE budgets SET spent_usd = 0")


def run_trials(settings: Settings, trial: str, count: int, prefix: str) -> Tally:
    """``count`` trials of ``trial`` (``approve_vs_reject`` or ``two_starts``) on fresh thread ids."""
    tally = Tally()
    with runners(settings, 3) as (setup, one, two):
        for index in range(count):
            thread = f"{prefix}-{index}"
            refill_budget(settings)
            if trial == "approve_vs_reject":
                tally.add(*approve_vs_reject(setup, one, two, thread))
            else:
                tally.add(*two_starts(one, two, thread))
    return tally
