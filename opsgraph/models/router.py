"""The cost-aware router: one decision per model call, small or large tier, with the reasons.

The policy is data (``routing:`` in policy.yaml): each call gets raw signals (agent default
tier, context size, tools bound, structured output, money at stake, earlier failures,
budget used); each signal is scaled to 0..1 and weighted; a score at or above the
threshold goes to the large tier. Rules that override the score, in order: a forced
routing mode, a budget near its cap (downgrade to small), a checker's rejection of the
agent's previous small-tier answer (escalate to large). Every decision is a TierChoice
whose rule and signals end up in the call record, so it can be explained afterwards.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from opsgraph.errors import UserError
from opsgraph.governance.budgets import Budgets, load_budgets, used_fraction
from opsgraph.governance.policy import Policy, PolicyError

ROUTING_MODES = ("routed", "small", "large")
CHARS_PER_TOKEN = 4
DEFAULT_WEIGHTS = {
    "agent_default_large": 1.0,
    "context_tokens": 0.25,
    "tools_bound": 0.1,
    "structured_output": 0.1,
    "money_at_stake": 0.35,
    "earlier_failures": 0.4,
}
DEFAULT_SCALE = {"context_tokens": 8000, "tools_bound": 8, "money_at_stake_usd": 25000, "earlier_failures": 2}
# Amounts the model can see: JSON fields such as "total_usd": 42380.0 and "$1,250.00" in prose.
_MONEY_FIELD = re.compile(r'"[A-Za-z_]*(?:_usd|amount|total)"\s*:\s*(\d+(?:\.\d+)?)')
_DOLLARS = re.compile(r"\$\s?(\d[\d,]*(?:\.\d+)?)")
_CACHE_LIMIT = 20000


@dataclass(frozen=True)
class TierChoice:
    """Which tier serves a call, and why."""

    tier: str
    rule: str
    signals: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RoutingPolicy:
    """Weights, scales, threshold and cascade settings from policy.yaml ``routing:``."""

    threshold: float = 0.5
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    scale: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SCALE))
    min_confidence: float = 0.5
    cascade: bool = True

    @classmethod
    def from_policy(cls, policy: Policy) -> "RoutingPolicy":
        """Read ``routing:``; missing keys take the built-in defaults."""
        raw = policy.raw.get("routing") or {}
        cascade = raw.get("cascade") or {}
        try:
            return cls(
                threshold=float(raw.get("threshold", 0.5)),
                weights={**DEFAULT_WEIGHTS, **{k: float(v) for k, v in (raw.get("weights") or {}).items()}},
                scale={**DEFAULT_SCALE, **{k: float(v) for k, v in (raw.get("scale") or {}).items()}},
                min_confidence=float(cascade.get("min_confidence", 0.5)),
                cascade=bool(cascade.get("enabled", True)),
            )
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"policy.yaml routing section is malformed: {exc}") from None


def features(signals: Mapping[str, Any], scale: Mapping[str, float]) -> dict[str, float]:
    """Each raw signal scaled to 0..1, keyed by its weight name."""

    def ratio(value: Any, bound: float) -> float:
        return min(1.0, float(value or 0) / bound) if bound else 0.0

    return {
        "agent_default_large": 1.0 if signals.get("agent_default") == "large" else 0.0,
        "context_tokens": ratio(signals.get("context_tokens"), scale["context_tokens"]),
        "tools_bound": ratio(signals.get("tools_bound"), scale["tools_bound"]),
        "structured_output": 1.0 if signals.get("structured_output") else 0.0,
        "money_at_stake": ratio(signals.get("money_at_stake_usd"), scale["money_at_stake_usd"]),
        "earlier_failures": ratio(signals.get("earlier_failures"), scale["earlier_failures"]),
    }


def score(signals: Mapping[str, Any], routing: RoutingPolicy) -> tuple[float, dict[str, float]]:
    """Router score of a call and each signal's contribution to it."""
    parts = {name: round(routing.weights.get(name, 0.0) * value, 4)
             for name, value in features(signals, routing.scale).items()}
    return round(sum(parts.values()), 4), parts


class Router:
    """Chooses the tier of each call from signals, the routing mode and the run's budgets."""

    def __init__(self, policy: Policy, routing: RoutingPolicy | None = None):
        self.policy = policy
        self.routing = routing or RoutingPolicy.from_policy(policy)
        self.downgrade_at = load_budgets(policy).downgrade_at
        self._facts: dict[str, tuple[int, float, int]] = {}

    def signals(self, agent: str, messages: Sequence[BaseMessage], *, tools: int, structured: bool,
                state: Mapping[str, Any] | None) -> dict[str, Any]:
        """Raw signals of one call; money and failures come from the whole run when state is given."""
        seen = [self._message_facts(m) for m in messages]
        run = [self._message_facts(m) for m in state.get("messages") or []] if state else seen
        calls = list(state.get("calls") or []) if state else []
        rejections = [r for r in (state.get("reviews") or []) if not r.get("approved")] if state else []
        escalations = sum(1 for c in calls if c.get("escalated"))
        signals = {
            "agent_default": self.policy.agent(agent).tier,
            "context_tokens": sum(f[0] for f in seen),
            "tools_bound": tools,
            "structured_output": structured,
            "money_at_stake_usd": max([f[1] for f in run] + _proposal_amounts(state), default=0.0),
            "earlier_failures": sum(f[2] for f in run) + escalations + len(rejections),
        }
        if state is not None:
            fraction, cap = used_fraction(self.budgets(state), calls, agent)
            signals |= {"budget_used": fraction, "budget_cap": cap}
        return signals

    def budgets(self, state: Mapping[str, Any] | None) -> Budgets:
        """Effective caps for a run: policy plus the overrides stored in its state."""
        return load_budgets(self.policy, (state or {}).get("budget"))

    def choose(self, agent: str, signals: dict[str, Any], mode: str = "routed", retry: str | None = None) -> TierChoice:
        """The tier for a call; ``retry`` names a checker rejection to escalate on."""
        total, parts = score(signals, self.routing)
        signals = {**signals, "score": total, "threshold": self.routing.threshold}
        if mode in ("small", "large"):
            return TierChoice(mode, f"routing mode '{mode}' forces every call to {mode}", signals)
        if signals.get("budget_used", 0.0) >= self.downgrade_at:
            return TierChoice("small", f"budget: {signals['budget_cap']} at {signals['budget_used']:.0%} "
                                       f"(downgrade from {self.downgrade_at:.0%}) -> small", signals)
        if retry:
            return TierChoice("large", f"cascade: {retry} -> large", signals)
        tier = "large" if total >= self.routing.threshold else "small"
        top = ", ".join(f"{name} {value:.2f}" for name, value in sorted(parts.items(), key=lambda p: -p[1]) if value)
        sign = ">=" if tier == "large" else "<"
        return TierChoice(tier, f"score {total:.2f} {sign} threshold {self.routing.threshold:.2f} -> {tier}"
                                + (f" ({top})" if top else ""), signals)

    def _message_facts(self, message: BaseMessage) -> tuple[int, float, int]:
        # Messages are immutable once in state, so their facts are computed once per id.
        key = message.id
        if key and key in self._facts:
            return self._facts[key]
        facts = _facts_of(message)
        if key:
            if len(self._facts) >= _CACHE_LIMIT:
                self._facts.clear()
            self._facts[key] = facts
        return facts


def _facts_of(message: BaseMessage) -> tuple[int, float, int]:
    """(estimated tokens, largest amount of money, 1 if a failed tool result) of one message."""
    text = message.content if isinstance(message.content, str) else json.dumps(message.content, default=str)
    if isinstance(message, AIMessage) and message.tool_calls:
        text += json.dumps([c["args"] for c in message.tool_calls], default=str)
    amounts = [float(m) for m in _MONEY_FIELD.findall(text)]
    amounts += [float(m.replace(",", "")) for m in _DOLLARS.findall(text)]
    failed = int(isinstance(message, ToolMessage) and message.status == "error")
    return max(1, len(text) // CHARS_PER_TOKEN), max(amounts, default=0.0), failed


def _proposal_amounts(state: Mapping[str, Any] | None) -> list[float]:
    if not state:
        return []
    return [float(a.get("proposal", {}).get("total_usd") or 0) for a in state.get("approvals") or []]


def pending_checker_retry(state: Mapping[str, Any] | None, agent: str) -> tuple[dict, str] | None:
    """The agent's last small-tier call when a checker rejected it and it was not retried yet.

    Checkers record verdicts in state ``reviews`` ({agent, reviewer, approved, reason}); each
    rejection buys one retry on the large tier, recorded as an escalation of that call.
    """
    if not state:
        return None
    rejections = [r for r in state.get("reviews") or [] if r.get("agent") == agent and not r.get("approved")]
    calls = [c for c in state.get("calls") or [] if c.get("agent") == agent]
    retried = sum(1 for c in calls if str(c.get("escalation_reason") or "").startswith("checker"))
    if not rejections or retried >= len(rejections) or not calls or calls[-1].get("tier") != "small":
        return None
    last = rejections[-1]
    reason = f"checker {last.get('reviewer', '?')} rejected the answer: {last.get('reason') or 'no reason given'}"
    return calls[-1], reason


def calibrate_threshold(scores: Iterable[float], large_share: float) -> tuple[float, float]:
    """Threshold that sends about ``large_share`` of these scores to large; returns (threshold, achieved share).

    Scores tie a lot (agents share signals), so the achievable shares are steps; the
    threshold sits midway between the two distinct scores around the best step.
    """
    values = sorted(scores, reverse=True)
    if not values:
        raise ValueError("no recorded calls to calibrate on")
    if not 0.0 <= large_share <= 1.0:
        raise ValueError(f"large share must be between 0 and 1, got {large_share}")
    distinct = sorted(set(values), reverse=True)
    options = [(distinct[0] + 1.0, 0.0)]  # above every score: nothing goes large
    for i, value in enumerate(distinct):
        share = sum(1 for v in values if v >= value) / len(values)
        below = distinct[i + 1] if i + 1 < len(distinct) else value - 1.0
        options.append((round((value + below) / 2, 4) if i + 1 < len(distinct) else round(value, 4), share))
    threshold, achieved = min(options, key=lambda o: (abs(o[1] - large_share), o[0]))
    return threshold, round(achieved, 4)


class RoutingModeError(UserError, ValueError):
    """A routing mode other than routed, small or large."""


def check_mode(mode: str) -> str:
    """Validate a routing mode (``routed``, ``small`` or ``large``) for CLIs and eval runners."""
    if mode not in ROUTING_MODES:
        raise RoutingModeError(f"--routing must be one of {', '.join(ROUTING_MODES)}, got {mode!r}")
    return mode
