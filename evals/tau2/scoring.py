"""tau2 retail scoring: database equality with the gold replay, required outputs, pass^k."""

from __future__ import annotations

from math import comb
from typing import Iterable


def communicated(info: str, agent_texts: Iterable[str]) -> bool:
    """True when an agent message contains ``info``: tau2's rule, lower-cased, commas dropped from the message only."""
    needle = info.lower()
    return any(needle in text.lower().replace(",", "") for text in agent_texts)


def score_trial(final_hash: str, gold_hash: str, communicate_info: Iterable[str],
                agent_texts: list[str]) -> dict[str, dict[str, object]]:
    """The two checks of a trial, each ``{"score": 0|1, "explanation": ...}``; the trial passes when both are 1."""
    missing = [info for info in communicate_info if not communicated(info, agent_texts)]
    db_ok = final_hash == gold_hash
    return {
        "db": {"score": 1.0 if db_ok else 0.0,
               "explanation": "final database equals the gold replay" if db_ok else
               f"final database {final_hash[:12]} differs from the gold replay {gold_hash[:12]}"},
        "communicate": {"score": 0.0 if missing else 1.0,
                        "explanation": f"never said: {', '.join(missing)}" if missing else "required outputs said"},
    }


def pass_hat_k(successes: dict[str, list[bool]], k: int) -> float:
    """tau2's pass^k: per task, C(c, k) / C(n, k) for c passes in n trials, averaged over tasks.

    Every task needs at least ``k`` trials; the chance that k trials drawn from a task's n all pass.
    """
    if not successes:
        return 0.0
    rates = []
    for task, trials in successes.items():
        if len(trials) < k:
            raise ValueError(f"task {task} has {len(trials)} trials; pass^{k} needs at least {k}")
        rates.append(comb(sum(trials), k) / comb(len(trials), k))
    return sum(rates) / len(rates)


def pass_hat_table(successes: dict[str, list[bool]]) -> dict[str, float]:
    """``{"1": pass^1, ..., "k": pass^k}`` for k up to the fewest trials any task had."""
    if not successes:
        return {}
    most = min(len(trials) for trials in successes.values())
    return {str(k): round(pass_hat_k(successes, k), 4) for k in range(1, most + 1)}
