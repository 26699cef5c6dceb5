"""Every model call of every graph goes through the gateway: tier choice, call, accounting.

Nodes ask for an agent's answer, never for a concrete model class. The gateway picks the
tier, loads (and caches) the model for it, measures the call and returns a call record
that the graph keeps in state and the audit store keeps for good.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage

from opsgraph.governance.policy import Policy
from opsgraph.models.pricing import Pricing, load_pricing
from opsgraph.models.provider import load_chat_model
from opsgraph.settings import Settings

ROUTING_MODES = ("routed", "small", "large")
ModelFactory = Callable[[str, str], BaseChatModel]


@dataclass(frozen=True)
class TierChoice:
    """Which tier serves a call, and why."""

    tier: str
    rule: str
    signals: dict[str, Any] = field(default_factory=dict)


def choose_tier(agent: str, policy: Policy, routing: str) -> TierChoice:
    """Tier for one call: forced by the routing mode, else the agent's default from policy."""
    if routing in ("small", "large"):
        return TierChoice(routing, f"routing mode '{routing}' forces every call to {routing}")
    tier = policy.agent(agent).tier
    return TierChoice(tier, f"default tier of agent '{agent}' in policy.yaml", {"agent_default": tier})


def settings_model_factory(settings: Settings) -> ModelFactory:
    """Factory that builds the configured model of a tier (per-tier endpoint honoured)."""

    def build(tier: str, spec: str) -> BaseChatModel:
        conf = settings.tier(tier)
        return load_chat_model(
            spec,
            api_key=conf.api_key or settings.openai_api_key,
            base_url=conf.base_url or settings.openai_base_url,
        )

    return build


class ModelGateway:
    """Chooses a tier per call, invokes the model and records usage and cost."""

    def __init__(
        self,
        settings: Settings,
        policy: Policy,
        *,
        routing: str = "routed",
        factory: ModelFactory | None = None,
        pricing: Pricing | None = None,
    ):
        if routing not in ROUTING_MODES:
            raise ValueError(f"routing must be one of {', '.join(ROUTING_MODES)}, got {routing!r}")
        self.settings, self.policy, self.routing = settings, policy, routing
        self.pricing = pricing or load_pricing()
        self._factory = factory or settings_model_factory(settings)
        self._models: dict[str, BaseChatModel] = {}

    def model(self, tier: str) -> BaseChatModel:
        """The (cached) chat model serving ``tier``."""
        if tier not in self._models:
            self._models[tier] = self._factory(tier, self.settings.tier(tier).model)
        return self._models[tier]

    def invoke(self, agent: str, messages: Sequence[BaseMessage], tools: Sequence[Any] = ()) -> tuple[AIMessage, dict]:
        """Ask ``agent``'s model for its next message, with ``tools`` bound."""
        choice = choose_tier(agent, self.policy, self.routing)
        model = self.model(choice.tier)
        runnable = model.bind_tools(list(tools)) if tools else model
        started = time.perf_counter()
        message = runnable.invoke(list(messages))
        return message, self._record(agent, choice, message, started)

    def structured(self, agent: str, messages: Sequence[BaseMessage], schema: type) -> tuple[Any, dict]:
        """Ask ``agent``'s model for an instance of ``schema``."""
        choice = choose_tier(agent, self.policy, self.routing)
        model = self.model(choice.tier)
        kwargs = {} if _is_offline(model) else {"method": "function_calling"}
        runnable = model.with_structured_output(schema, include_raw=True, **kwargs)
        started = time.perf_counter()
        out = runnable.invoke(list(messages))
        if out.get("parsing_error") or out.get("parsed") is None:
            raise StructuredOutputError(f"{agent}: model output did not match {schema.__name__}: {out.get('parsing_error')}")
        return out["parsed"], self._record(agent, choice, out["raw"], started)

    def _record(self, agent: str, choice: TierChoice, message: AIMessage, started: float) -> dict:
        usage = getattr(message, "usage_metadata", None) or {}
        spec = self.settings.tier(choice.tier).model
        tokens_in, tokens_out = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
        return {
            "agent": agent,
            "tier": choice.tier,
            "model": spec,
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "cost_usd": round(self.pricing.price(spec).cost(tokens_in, tokens_out), 8),
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "rule": choice.rule,
            "signals": choice.signals,
        }


class StructuredOutputError(ValueError):
    """A model's structured output could not be parsed into the requested schema."""


def _is_offline(model: BaseChatModel) -> bool:
    return getattr(model, "_llm_type", "") == "opsgraph-offline"
