"""Token and cost budgets per run and per agent: limits, spend, and what ran out.

Caps come from the ``budgets:`` section of policy.yaml; a run may override them (CLI
``--budget-usd``/``--max-tokens``), and the overrides live in graph state (``budget``) so a
process that resumes the thread sees the same caps. Spend is computed from the call
records in state, so it survives crashes and resumes exactly as the checkpoint does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from opsgraph.errors import UserError
from opsgraph.governance.policy import Policy, PolicyError

DEFAULT_DOWNGRADE_AT = 0.8
CARRIED = "carried"
METRICS = ("usd", "tokens")


class BudgetError(UserError, ValueError):
    """A budget value or override is malformed."""


@dataclass(frozen=True)
class Cap:
    """Upper bounds on cost (USD) and tokens; None means unbounded."""

    usd: float | None = None
    tokens: int | None = None

    def limit(self, metric: str) -> float | None:
        """The bound for ``metric`` (``usd`` or ``tokens``)."""
        return self.usd if metric == "usd" else self.tokens


@dataclass(frozen=True)
class Spend:
    """What a run or an agent has consumed so far."""

    usd: float = 0.0
    tokens: int = 0

    def amount(self, metric: str) -> float:
        """Consumption in ``metric``."""
        return self.usd if metric == "usd" else float(self.tokens)


@dataclass(frozen=True)
class Exhausted:
    """One cap that has been reached."""

    scope: str  # "run" or "agent"
    agent: str | None
    metric: str
    limit: float
    spent: float

    @property
    def name(self) -> str:
        """Human name of the budget, e.g. ``run cost budget`` or ``agent 'procurement' token budget``."""
        owner = "run" if self.scope == "run" else f"agent '{self.agent}'"
        return f"{owner} {'cost' if self.metric == 'usd' else 'token'} budget"

    @property
    def option(self) -> str:
        """The CLI option that raises this cap."""
        if self.scope == "run":
            return "--budget-usd <USD>" if self.metric == "usd" else "--max-tokens <N>"
        if self.metric == "usd":
            return f"--agent-budget-usd {self.agent}=<USD>"
        return f"--agent-max-tokens {self.agent}=<N>"

    def describe(self) -> str:
        """One line naming the budget, its limit and the spend."""
        if self.metric == "usd":
            return f"{self.name} of ${self.limit:.4f} exhausted (spent ${self.spent:.4f})"
        return f"{self.name} of {int(self.limit):,} tokens exhausted (used {int(self.spent):,})"


@dataclass(frozen=True)
class Budgets:
    """Effective caps of one run."""

    run: Cap
    agents: Mapping[str, Cap]
    downgrade_at: float = DEFAULT_DOWNGRADE_AT
    # Spend of the enclosing run before this (sub)graph started: a team subgraph counts it against the same caps.
    carried: Spend = Spend()
    carried_agents: Mapping[str, Spend] = field(default_factory=dict)

    def agent(self, name: str) -> Cap:
        """Caps of agent ``name`` (unbounded when none is set)."""
        return self.agents.get(name, Cap())


def _cap(raw: Any, where: str) -> Cap:
    if raw is None:
        return Cap()
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where} must be a mapping with max_usd and/or max_tokens")
    usd, tokens = raw.get("max_usd"), raw.get("max_tokens")
    try:
        return Cap(None if usd is None else float(usd), None if tokens is None else int(tokens))
    except (TypeError, ValueError):
        raise PolicyError(f"{where}: max_usd must be a number and max_tokens an integer") from None


def load_budgets(policy: Policy, overrides: Mapping[str, Any] | None = None) -> Budgets:
    """Caps from policy.yaml ``budgets:``, with a run's overrides (from graph state) on top."""
    raw = policy.raw.get("budgets") or {}
    run = _cap(raw.get("run"), "budgets.run")
    agents = {name: _cap(spec, f"budgets.agents.{name}") for name, spec in (raw.get("agents") or {}).items()}
    overrides = overrides or {}
    run = Cap(_pick(overrides.get("max_usd"), run.usd), _pick(overrides.get("max_tokens"), run.tokens))
    for name, spec in (overrides.get("agents") or {}).items():
        base = agents.get(name, Cap())
        agents[name] = Cap(_pick(spec.get("max_usd"), base.usd), _pick(spec.get("max_tokens"), base.tokens))
    carried, carried_agents = _carried(overrides.get(CARRIED))
    return Budgets(run, agents, float(raw.get("downgrade_at", DEFAULT_DOWNGRADE_AT)), carried, carried_agents)


def _carried(raw: Any) -> tuple[Spend, dict[str, Spend]]:
    if not isinstance(raw, Mapping):
        return Spend(), {}
    agents = raw.get("agents") or {}
    return (Spend(float(raw.get("usd") or 0.0), int(raw.get("tokens") or 0)),
            {name: Spend(float(s.get("usd") or 0.0), int(s.get("tokens") or 0)) for name, s in agents.items()})


def carried_spend(calls: Iterable[Mapping[str, Any]], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a run has spent so far (its calls plus anything it carried in), for a subgraph it starts.

    A graph that runs another graph as a team passes this in the team's ``budget`` under
    ``carried``: the team's caps then count the whole run's spend, not only its own.
    """
    total, per_agent = _with_carried(_carried((overrides or {}).get(CARRIED)), *spend(calls))
    return {"usd": round(total.usd, 8), "tokens": total.tokens,
            "agents": {name: {"usd": round(s.usd, 8), "tokens": s.tokens} for name, s in per_agent.items()}}


def _with_carried(carried: tuple[Spend, Mapping[str, Spend]], total: Spend,
                  per_agent: dict[str, Spend]) -> tuple[Spend, dict[str, Spend]]:
    before, before_agents = carried
    merged = dict(per_agent)
    for name, amount in before_agents.items():
        mine = merged.get(name, Spend())
        merged[name] = Spend(mine.usd + amount.usd, mine.tokens + amount.tokens)
    return Spend(total.usd + before.usd, total.tokens + before.tokens), merged


def _pick(override: Any, base: Any) -> Any:
    return base if override is None else override


def spend(calls: Iterable[Mapping[str, Any]]) -> tuple[Spend, dict[str, Spend]]:
    """Total spend and spend per agent of a list of call records."""
    usd, tokens = 0.0, 0
    per_agent: dict[str, list[float]] = {}
    for call in calls:
        cost = float(call.get("cost_usd") or 0.0)
        used = int(call.get("input_tokens") or 0) + int(call.get("output_tokens") or 0)
        usd, tokens = usd + cost, tokens + used
        bucket = per_agent.setdefault(call.get("agent", "?"), [0.0, 0])
        bucket[0] += cost
        bucket[1] += used
    return Spend(usd, tokens), {name: Spend(b[0], int(b[1])) for name, b in per_agent.items()}


def _scopes(budgets: Budgets, total: Spend, per_agent: dict[str, Spend], agent: str | None):
    yield "run", None, budgets.run, total
    names = [agent] if agent else sorted(set(budgets.agents) | set(per_agent))
    for name in names:
        yield "agent", name, budgets.agent(name), per_agent.get(name, Spend())


def exhausted(budgets: Budgets, calls: Iterable[Mapping[str, Any]], agent: str | None = None) -> list[Exhausted]:
    """Every cap reached: the run's and every agent's (or only ``agent``'s when given)."""
    total, per_agent = _with_carried((budgets.carried, budgets.carried_agents), *spend(calls))
    out = []
    for scope, name, cap, used in _scopes(budgets, total, per_agent, agent):
        for metric in METRICS:
            limit = cap.limit(metric)
            if limit is not None and used.amount(metric) >= limit:
                out.append(Exhausted(scope, name, metric, float(limit), round(used.amount(metric), 8)))
    return out


def used_fraction(budgets: Budgets, calls: Iterable[Mapping[str, Any]], agent: str) -> tuple[float, str]:
    """The largest fraction of any cap that applies to ``agent``'s next call, and which cap it is."""
    total, per_agent = _with_carried((budgets.carried, budgets.carried_agents), *spend(calls))
    best, label = 0.0, ""
    for scope, name, cap, used in _scopes(budgets, total, per_agent, agent):
        for metric in METRICS:
            limit = cap.limit(metric)
            if limit:
                fraction = used.amount(metric) / limit
                if fraction > best:
                    best, label = fraction, Exhausted(scope, name, metric, float(limit), 0).name
    return round(best, 4), label


def budget_request(found: list[Exhausted], calls_made: int) -> dict[str, Any]:
    """The interrupt payload that pauses a run whose budget ran out."""
    first = found[0]
    return {
        "type": "budget",
        "budget": first.name,
        "scope": first.scope,
        "agent": first.agent,
        "metric": first.metric,
        "limit": first.limit,
        "spent": first.spent,
        "model_calls": calls_made,
        "message": "; ".join(e.describe() for e in found),
        "options": sorted({e.option for e in found}),
        "exhausted": [{"budget": e.name, "scope": e.scope, "agent": e.agent, "metric": e.metric,
                       "limit": e.limit, "spent": e.spent} for e in found],
    }


def merge_budget(left: Mapping[str, Any] | None, right: Mapping[str, Any] | None) -> dict[str, Any]:
    """Reducer of the ``budget`` state field: later overrides win, per field and per agent."""
    merged: dict[str, Any] = dict(left or {})
    for key, value in (right or {}).items():
        if key == "agents":
            agents = {name: dict(spec) for name, spec in (merged.get("agents") or {}).items()}
            for name, spec in (value or {}).items():
                agents[name] = {**agents.get(name, {}), **{k: v for k, v in spec.items() if v is not None}}
            merged["agents"] = agents
        elif value is not None:
            merged[key] = value
    return merged


def budget_overrides(
    budget_usd: float | None = None,
    max_tokens: int | None = None,
    agent_usd: Iterable[str] = (),
    agent_tokens: Iterable[str] = (),
    policy: Policy | None = None,
) -> dict[str, Any]:
    """Per-run overrides from CLI-style values (``agent=value`` pairs); raises BudgetError.

    With ``policy``, per-agent caps are also checked against the agents it defines (the
    runner always checks them before a run starts or resumes).
    """
    out: dict[str, Any] = {}
    if budget_usd is not None:
        out["max_usd"] = _positive(budget_usd, "--budget-usd", float)
    if max_tokens is not None:
        out["max_tokens"] = _positive(max_tokens, "--max-tokens", int)
    agents: dict[str, dict[str, Any]] = {}
    for pairs, key, flag, kind in ((agent_usd, "max_usd", "--agent-budget-usd", float),
                                   (agent_tokens, "max_tokens", "--agent-max-tokens", int)):
        for pair in pairs:
            name, _, value = pair.partition("=")
            if not name or not value:
                raise BudgetError(f"{flag} takes AGENT=VALUE, e.g. procurement=0.50; got {pair!r}")
            agents.setdefault(name.strip(), {})[key] = _positive(value, f"{flag} {name.strip()}", kind)
    if agents:
        out["agents"] = agents
    return check_overrides(out, policy) if policy is not None else out


def _positive(value: Any, flag: str, kind: type) -> Any:
    """``value`` as a finite number above zero (NaN would compare false with every spend, inf is no cap)."""
    if isinstance(value, bool):
        raise BudgetError(f"{flag} must be a positive number, got {value!r}")
    try:
        number = float(value) if kind is float else _whole(value)
    except (TypeError, ValueError, OverflowError):
        raise BudgetError(f"{flag} must be a positive {_noun(kind)}, got {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise BudgetError(f"{flag} must be a positive {_noun(kind)}, got {value!r}")
    return number


def _whole(value: Any) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    return int(value)


def _noun(kind: type) -> str:
    return "number" if kind is float else "whole number"


def check_overrides(overrides: Mapping[str, Any], policy: Policy) -> dict[str, Any]:
    """Validate per-run caps however they were built (CLI, Python, a resume); raises BudgetError.

    Every cap must be a finite number above zero, and per-agent caps may name only agents
    that policy.yaml defines: a cap on a misspelt agent would silently cap nothing.
    """
    if not isinstance(overrides, Mapping):
        raise BudgetError("budget overrides must be a mapping with max_usd, max_tokens and/or agents")
    unknown = sorted(set(overrides) - {"max_usd", "max_tokens", "agents", CARRIED})
    if unknown:
        raise BudgetError(f"unknown budget field(s) {', '.join(unknown)}; use max_usd, max_tokens or agents")
    out: dict[str, Any] = {k: v for k, v in overrides.items() if k == CARRIED}
    for key, flag, kind in (("max_usd", "--budget-usd", float), ("max_tokens", "--max-tokens", int)):
        if overrides.get(key) is not None:
            out[key] = _positive(overrides[key], flag, kind)
    agents = overrides.get("agents") or {}
    if not isinstance(agents, Mapping):
        raise BudgetError("budget 'agents' must map agent names to {max_usd, max_tokens}")
    checked = {name: _agent_caps(name, spec, policy) for name, spec in agents.items()}
    if checked:
        out["agents"] = checked
    return out


def _agent_caps(name: str, spec: Any, policy: Policy) -> dict[str, Any]:
    if name not in policy.agent_names:
        raise BudgetError(f"no agent named {name!r} in policy.yaml to cap (see its agents: section)")
    if not isinstance(spec, Mapping) or not set(spec) <= {"max_usd", "max_tokens"}:
        raise BudgetError(f"caps of agent {name!r} must be a mapping with max_usd and/or max_tokens")
    caps = {}
    for key, flag, kind in (("max_usd", "--agent-budget-usd", float), ("max_tokens", "--agent-max-tokens", int)):
        if spec.get(key) is not None:
            caps[key] = _positive(spec[key], f"{flag} {name}", kind)
    return caps
