"""The market's award rule: rank the bids for each announced job by the keys policy.yaml lists.

``production.award.order`` names the ranking keys in order; the defaults put customer
commitments first (a bid that meets the job's due date), then cost per unit, then the
earlier finish, then the lower work-centre id, so two equal bids always go the same way.
Pure code over plain dicts: what each award was decided by is reported and audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

# Ranking key name -> how a bid sorts on it (lower is better).
RANK_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "meets_due_date": lambda bid: 0 if bid["meets_due_date"] else 1,
    "days_late": lambda bid: int(bid["days_late"]),
    "cost_per_unit_usd": lambda bid: float(bid["cost_per_unit_usd"]),
    "cost_usd": lambda bid: float(bid["cost_usd"]),
    "finish_date": lambda bid: str(bid["finish_date"]),
    "work_centre_id": lambda bid: str(bid["work_centre_id"]),
}
DEFAULT_ORDER = ("meets_due_date", "cost_per_unit_usd", "finish_date", "work_centre_id")
AWARD_KEY, PER_ROUND_KEY = "production.award", "production.max_awards_per_work_centre_per_round"


def policy_value(policy: Any, dotted: str) -> Any:
    """The value at ``dotted`` in the policy's raw mapping, or None when there is none (or no policy)."""
    node: Any = policy.raw if policy is not None else None
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


@dataclass(frozen=True)
class AwardRules:
    """``production.award`` and the per-round limit from policy.yaml."""

    order: tuple[str, ...] = DEFAULT_ORDER
    split_partial_bids: bool = True
    max_rounds: int = 3
    per_work_centre: int = 1

    @classmethod
    def from_policy(cls, policy: Any, award_key: str = AWARD_KEY, per_round_key: str = PER_ROUND_KEY) -> "AwardRules":
        """Read the rules (at ``production.award``, or the keys a workflow spec names); an unknown ranking key
        is a clear error rather than a silent reorder."""
        award = policy_value(policy, award_key) or {}
        per_round = policy_value(policy, per_round_key)
        order = tuple(award.get("order") or DEFAULT_ORDER)
        unknown = [key for key in order if key not in RANK_KEYS]
        if unknown:
            raise ValueError(f"production.award.order names unknown keys {unknown}; known: {', '.join(RANK_KEYS)}")
        if "work_centre_id" not in order:
            order += ("work_centre_id",)  # the last resort always decides: no award is left to chance
        return cls(order, bool(award.get("split_partial_bids", True)), int(award.get("max_rounds", 3)),
                   int(per_round if per_round is not None else 1))


@dataclass
class RoundResult:
    """Awards, rejected bids and the jobs still without a work centre after one round."""

    awards: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    leftover: list[dict[str, Any]] = field(default_factory=list)


def rank(bid: dict[str, Any], order: tuple[str, ...]) -> tuple:
    """The sort key of a bid under ``order``."""
    return tuple(RANK_KEYS[key](bid) for key in order)


def decided_by(winner: dict[str, Any], runner_up: dict[str, Any] | None, order: tuple[str, ...]) -> str:
    """The first ranking key on which the winner beat the runner-up ('sole bid' without one)."""
    if runner_up is None:
        return "sole eligible bid"
    for key in order:
        if RANK_KEYS[key](winner) != RANK_KEYS[key](runner_up):
            return key
    return order[-1]


def _ineligible(bid: dict[str, Any], job: dict[str, Any], rules: AwardRules, won: dict[str, int]) -> str | None:
    if bid["partial"] and not job.get("allow_split"):
        return f"partial bid ({bid['quantity']} of {job['quantity']} units) on a job that may not be split"
    if bid["partial"] and not rules.split_partial_bids:
        return "partial bids are not accepted (production.award.split_partial_bids)"
    if won.get(bid["work_centre_id"], 0) >= rules.per_work_centre:
        return (f"{bid['work_centre_id']} already won a job this round; its calendar changed, so this bid is stale "
                "and the job is re-announced")
    return None


def award_round(jobs: list[dict[str, Any]], bids: list[dict[str, Any]], rules: AwardRules, round_no: int) -> RoundResult:
    """Award each announced job (earliest due date first) to its best eligible bid under ``rules``."""
    result, won = RoundResult(), {}
    for job in sorted(jobs, key=lambda j: (j["due_date"], j["job_id"])):
        mine = [b for b in bids if b["job_id"] == job["job_id"]]
        eligible = []
        for bid in mine:
            why = _ineligible(bid, job, rules, won)
            if why:
                result.rejections.append({**bid, "round": round_no, "reason": why})
            else:
                eligible.append(bid)
        if not eligible:
            reason = "no bids" if not mine else "no eligible bid"
            result.leftover.append({"job_id": job["job_id"], "round": round_no, "reason": reason})
            continue
        ranked = sorted(eligible, key=lambda b: rank(b, rules.order))
        winner, runner_up = ranked[0], (ranked[1] if len(ranked) > 1 else None)
        won[winner["work_centre_id"]] = won.get(winner["work_centre_id"], 0) + 1
        result.awards.append(_award(winner, job, round_no, decided_by(winner, runner_up, rules.order), rules))
        for loser in ranked[1:]:
            result.rejections.append({**loser, "round": round_no,
                                      "reason": f"outranked by {winner['work_centre_id']} on "
                                                f"{decided_by(winner, loser, rules.order)}"})
    return result


def _award(bid: dict[str, Any], job: dict[str, Any], round_no: int, why: str, rules: AwardRules) -> dict[str, Any]:
    return {"job_id": job["job_id"], "work_centre_id": bid["work_centre_id"], "quantity": bid["quantity"],
            "partial": bid["partial"], "start_date": bid["start_date"], "finish_date": bid["finish_date"],
            "due_date": job["due_date"], "order_id": job.get("order_id"), "cost_usd": bid["cost_usd"],
            "commitment_moved": not bid["meets_due_date"], "round": round_no, "decided_by": why,
            "score": {key: RANK_KEYS[key](bid) for key in rules.order},
            "call_id": f"assign-r{round_no}-{job['job_id']}-{bid['work_centre_id']}".lower()}
