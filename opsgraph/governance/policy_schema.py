"""The schema policy.yaml is validated against when it is loaded.

Known keys are type-checked strictly (no ``"500"`` for a number, no ``true`` for a count,
no string where a list of tools belongs); limits are finite and never negative. Agent
sections accept only the keys an agent has, and budgets may cap only agents the policy
defines. Sections that other parts of the system extend (``approvals.<kind>``, the business
sections) accept extra keys, so a new setting does not need a schema change first; a
number anywhere in the file must still be finite and not negative (routing weights aside).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field

Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]
PositiveCount = Annotated[int, Field(ge=1)]
History = Literal["full", "last_message", "summary", "own_turns"]
# Numbers that may legitimately be negative: how much a routing signal pulls towards small.
SIGNED_PATHS = (("routing", "weights"),)


class _Closed(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class _Open(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class PurchaseOrderApproval(_Open):
    """``approvals.purchase_order``."""

    threshold_usd: Money
    approver_role: str = Field(min_length=1)
    split_window_days: Count | None = None


class RefundApproval(_Open):
    """``approvals.refund``."""

    auto_limit_usd: Money
    window_days: Count | None = None


class Approvals(_Open):
    """``approvals``: the kinds the tools gate on are required; more kinds may follow."""

    purchase_order: PurchaseOrderApproval
    refund: RefundApproval


class Procurement(_Open):
    """``procurement``."""

    approved_suppliers_only: bool = True
    min_supplier_reliability: Fraction | None = None
    min_esg_score: Money | None = None
    competitive_bids_above_usd: Money | None = None
    max_single_po_usd: Money | None = None
    default_cost_center: str | None = None
    expedite_premium_pct: Money | None = None
    review_max_rounds: PositiveCount | None = None


class Limits(_Open):
    """``limits``: run limits, read by every topology."""

    max_steps: PositiveCount
    max_agent_rounds: PositiveCount
    max_input_chars: PositiveCount | None = None


class Support(_Open):
    """``support``."""

    max_handoffs: Count | None = None
    first_response_hours: Money | None = None
    escalate_after_failed_fixes: Count | None = None


class Cascade(_Closed):
    """``routing.cascade``."""

    enabled: bool = True
    min_confidence: Fraction = 0.5


class Routing(_Closed):
    """``routing``: the cost-aware router's weights and scales."""

    threshold: Annotated[float, Field(allow_inf_nan=False)] = 0.5
    weights: dict[str, Annotated[float, Field(allow_inf_nan=False)]] = Field(default_factory=dict)
    scale: dict[str, Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(default_factory=dict)
    cascade: Cascade = Field(default_factory=Cascade)


class Cap(_Closed):
    """A cost and/or token cap (null = no cap)."""

    max_usd: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    max_tokens: Annotated[int, Field(gt=0)] | None = None


class Budgets(_Closed):
    """``budgets``."""

    run: Cap | None = None
    agents: dict[str, Cap] = Field(default_factory=dict)
    downgrade_at: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.8


class Knowledge(_Closed):
    """``agents.<name>.knowledge``."""

    departments: list[str] = Field(default_factory=list)
    max_access: str = "public"


class Agent(_Closed):
    """``agents.<name>``: an agent's tier, the tools it may call, what it may read, what it sees."""

    tier: Literal["small", "large"] = "small"
    tools: list[str] = Field(default_factory=list)
    knowledge: Knowledge = Field(default_factory=Knowledge)
    history: History | None = None


class Privacy(_Closed):
    """``privacy``: personal data masked before it reaches a model, the state or the audit trail."""

    mask_pii: bool = True
    types: Annotated[list[Literal["EMAIL", "PHONE", "CARD", "NAME", "ADDRESS"]], Field(min_length=1)] = [
        "EMAIL", "PHONE", "CARD", "NAME", "ADDRESS"]


class Graduation(_Closed):
    """``autonomy.graduation``: the bar a category must meet to be promoted."""

    min_rate: Fraction = 0.85
    min_decisions: PositiveCount = 20


class Autonomy(_Closed):
    """``autonomy``: the mode of each write action category and how graduation is measured."""

    window_days: PositiveCount = 30
    graduation: Graduation = Field(default_factory=Graduation)
    categories: dict[str, Literal["supervised", "threshold", "autonomous"]] = Field(default_factory=dict)


MemoryKind = Literal["supplier", "sku", "customer", "carrier", "shipment", "agent"]


class MemoryRecall(_Closed):
    """``memory.defaults`` and ``memory.agents.<name>``: what an agent's recall may return."""

    max_items: PositiveCount | None = None
    max_age_days: PositiveCount | None = None
    namespaces: list[MemoryKind] | None = None


class Memory(_Closed):
    """``memory``: episodic memory and lessons, recalled per agent."""

    defaults: MemoryRecall = Field(default_factory=MemoryRecall)
    agents: dict[str, MemoryRecall] = Field(default_factory=dict)


class ConsoleUser(_Closed):
    """``console.users[]``: who may log in to the web console, with which role."""

    name: Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")]
    role: Literal["approver", "viewer"]
    # scrypt$N$r$p$SALT$HASH as printed by `opsgraph console hash-password`; never a password.
    password_hash: Annotated[str, Field(pattern=r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$")]


class Console(_Closed):
    """``console``: the web console's users and how long a login lasts."""

    users: list[ConsoleUser] = Field(default_factory=list)
    session_hours: Annotated[int, Field(ge=1, le=720)] = 8


class PolicySchema(_Open):
    """The whole of policy.yaml."""

    version: int | None = None
    approvals: Approvals
    procurement: Procurement | None = None
    limits: Limits
    support: Support | None = None
    routing: Routing | None = None
    budgets: Budgets | None = None
    privacy: Privacy | None = None
    access_levels: Annotated[list[str], Field(min_length=1)] = ["public", "internal", "confidential", "restricted"]
    agents: Annotated[dict[str, Agent], Field(min_length=1)]
    autonomy: Autonomy | None = None
    console: Console | None = None
    memory: Memory | None = None


def cross_problems(schema: PolicySchema) -> Iterator[tuple[tuple[str, ...], str]]:
    """Problems no single section shows: caps on agents that do not exist, unknown access levels."""
    for name in (schema.budgets.agents if schema.budgets else {}):
        if name not in schema.agents:
            yield ("budgets", "agents", name), f"no agent named {name!r} under agents"
    yield from _console_problems(schema.console)
    for name in (schema.memory.agents if schema.memory else {}):
        if name not in schema.agents:
            yield ("memory", "agents", name), f"no agent named {name!r} under agents"
    for name, agent in schema.agents.items():
        if agent.knowledge.max_access not in schema.access_levels:
            yield (("agents", name, "knowledge", "max_access"),
                   f"{agent.knowledge.max_access!r} is not one of access_levels ({', '.join(schema.access_levels)})")
    yield from autonomy_problems(schema.autonomy)


def autonomy_problems(autonomy: Autonomy | None) -> Iterator[tuple[tuple[str, ...], str]]:
    """Categories the code does not know, and a threshold mode where the category has no limit."""
    from opsgraph.governance.autonomy import CATEGORIES, THRESHOLD_CATEGORIES, ladder

    for category, mode in (autonomy.categories if autonomy else {}).items():
        where = ("autonomy", "categories", category)
        if category not in CATEGORIES:
            yield where, f"no write action category named {category!r}; categories: {', '.join(CATEGORIES)}"
        elif mode == "threshold" and category not in THRESHOLD_CATEGORIES:
            yield where, (f"{category} has no approval limit, so it has no threshold mode; "
                          f"use {' or '.join(ladder(category))}")


def _console_problems(console: Console | None) -> Iterator[tuple[tuple[str, ...], str]]:
    """Console users named twice, and hashes that are not a usable scrypt hash."""
    from opsgraph.console.auth import parse_hash

    seen: set[str] = set()
    for index, user in enumerate(console.users if console else []):
        if user.name in seen:
            yield ("console", "users", str(index), "name"), f"user {user.name!r} is listed twice"
        seen.add(user.name)
        if parse_hash(user.password_hash) is None:
            yield (("console", "users", str(index), "password_hash"),
                   "not a usable scrypt hash (N a power of two up to 2**20); make one with 'opsgraph console hash-password'")


def bad_numbers(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every number in the raw policy that is NaN, infinite, or negative where it may not be."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from bad_numbers(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from bad_numbers(value, (*path, str(index)))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        if not math.isfinite(node):
            yield path, f"must be a finite number, got {node}"
        elif node < 0 and not any(path[: len(p)] == p for p in SIGNED_PATHS):
            yield path, f"must not be negative, got {node}"
