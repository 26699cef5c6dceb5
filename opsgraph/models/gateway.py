"""Every model call of every graph goes through the gateway: tier choice, call, cascade, accounting.

Nodes ask for an agent's answer, never for a concrete model class. The gateway asks the
router for a tier, loads (and caches) the model for it, validates the answer, retries a
failed small-tier answer once on the large tier (the cascade), and returns a call record
that the graph keeps in state and the audit store keeps for good. An escalated call's
record carries its first attempt under ``escalated_from``; the ``calls`` reducer in
graphs/state.py stores both.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Callable, Mapping, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from opsgraph.errors import ModelDecisionError
from opsgraph.governance.policy import Policy
from opsgraph.models.pricing import Pricing, load_pricing
from opsgraph.models.provider import call_with_retries, load_chat_model
from opsgraph.models.router import ROUTING_MODES, Router, TierChoice, check_mode, pending_checker_retry
from opsgraph.models.structured import StructuredAsker
from opsgraph.models.validation import NOT_BOUND, calls_for_tool_errors, check_structured, check_tool_message
from opsgraph.settings import Settings

__all__ = ["ROUTING_MODES", "ModelFactory", "ModelGateway", "StructuredOutputError", "TierChoice"]

ModelFactory = Callable[[str, str], BaseChatModel]
Checker = Callable[[Any], tuple[Any, str | None, str | None]]
Ask = Callable[[str, BaseChatModel, list[BaseMessage]], Any]
FEEDBACK = ("Your previous answer could not be used: {problem}. Answer again. To call a tool, use the "
            "tool-calling interface (or one JSON object with \"name\" and \"arguments\" that fit the tool's "
            "schema); to give a structured answer, reply with one JSON object that has every required field.")


class StructuredOutputError(ModelDecisionError, ValueError):
    """An agent's structured output could not be parsed into the requested schema, even after
    the retry with feedback and the escalation; the run ends ``failed`` naming the agent."""


AGENT_KEY = "opsgraph_agent"  # run metadata key naming the agent a model call is for


def settings_model_factory(settings: Settings) -> ModelFactory:
    """Factory that builds the configured model of a tier (per-tier endpoint, key and timeout honoured)."""

    def build(tier: str, spec: str) -> BaseChatModel:
        conf = settings.tier(tier)
        return load_chat_model(
            spec,
            api_key=conf.api_key or settings.openai_api_key,
            base_url=conf.base_url or settings.openai_base_url,
            timeout=conf.timeout_s,
            max_retries=0,  # the gateway retries, with the tier's backoff
        )

    return build


class ModelGateway:
    """Routes each call to a tier, invokes the model, retries and escalates unusable answers, records cost."""

    def __init__(
        self,
        settings: Settings,
        policy: Policy,
        *,
        routing: str = "routed",
        factory: ModelFactory | None = None,
        pricing: Pricing | None = None,
        masker: Any = None,
    ):
        self.settings, self.policy, self.routing = settings, policy, check_mode(routing)
        # Personal data is masked in every message a model receives (None: masking is off).
        self.masker = masker
        self.pricing = pricing or load_pricing(settings.pricing_file)
        self.router = Router(policy)
        self._factory = factory or settings_model_factory(settings)
        self._models: dict[str, BaseChatModel] = {}
        self._structured = StructuredAsker({t: settings.tier(t).structured_methods for t in ("small", "large")})

    def model(self, tier: str) -> BaseChatModel:
        """The (cached) chat model serving ``tier``."""
        if tier not in self._models:
            self._models[tier] = self._factory(tier, self.settings.tier(tier).model)
        return self._models[tier]

    def invoke(self, agent: str, messages: Sequence[BaseMessage], tools: Sequence[Any] = (), *,
               state: Mapping[str, Any] | None = None) -> tuple[AIMessage, dict]:
        """Ask ``agent``'s model for its next message, with ``tools`` bound.

        Pass the graph ``state`` so the router sees money at stake, earlier failures and the
        run's budgets; without it only the messages inform the decision. Calls the model
        could not get right after the retry and the escalation come back as tool calls the
        executor answers with tool errors; a call that cannot even be read raises
        ModelDecisionError.
        """
        tools, position = list(tools), len(messages)

        def ask(tier: str, model: BaseChatModel, sent: list[BaseMessage]) -> AIMessage:
            # The agent rides along in the run metadata: traces group by it, and a test double
            # standing in for one agent's model (evals' forced calls) knows whom it answers.
            return (model.bind_tools(tools) if tools else model).invoke(sent, config={"metadata": {AGENT_KEY: agent}})

        message, record, problem = self._cascade(agent, messages, state, ask,
                                                 lambda m: check_tool_message(m, tools, position),
                                                 tools=len(tools), structured=False)
        if problem:
            answered = calls_for_tool_errors(message, tools, position)
            if answered is None:
                raise ModelDecisionError(f"{agent} could not decide: {problem}", agent=agent)
            message, record["validation"] = answered, f"{problem} (answered with tool errors)"
        return message, record

    def structured(self, agent: str, messages: Sequence[BaseMessage], schema: type, *,
                   state: Mapping[str, Any] | None = None) -> tuple[Any, dict]:
        """Ask ``agent``'s model for an instance of ``schema``.

        Raises StructuredOutputError (a ModelDecisionError naming the agent) when no valid
        answer came after the retry with feedback and the escalation.
        """

        def ask(tier: str, model: BaseChatModel, sent: list[BaseMessage]) -> dict:
            return self._structured.ask(tier, model, schema, sent)

        minimum = self.router.routing.min_confidence
        parsed, record, problem = self._cascade(agent, messages, state, ask,
                                                lambda out: check_structured(out, schema, minimum),
                                                tools=0, structured=True)
        if parsed is None:
            raise StructuredOutputError(f"{agent} could not decide: {problem}", agent=agent)
        return parsed, record

    def _cascade(self, agent: str, messages: Sequence[BaseMessage], state: Mapping[str, Any] | None,
                 ask: Ask, check: Checker, *, tools: int, structured: bool) -> tuple[Any, dict, str | None]:
        """First attempt, then one retry with the problem fed back, then the large tier."""
        started = time.perf_counter()
        retry = pending_checker_retry(state, agent) if self.routing == "routed" else None
        signals = self.router.signals(agent, messages, tools=tools, structured=structured, state=state)
        choice = self.router.choose(agent, signals, self.routing, retry[1] if retry else None)
        router_ms = (time.perf_counter() - started) * 1000
        sent = self._outgoing(messages)
        result, record, problem = self._attempt(agent, choice, ask, sent, check, router_ms)
        if retry and choice.tier == "large":
            record["escalated_from"] = escalated(retry[0], retry[1])
        if problem and _worth_feedback(problem, result, structured):
            sent = [*sent, HumanMessage(FEEDBACK.format(problem=problem), name="validator")]
            again = TierChoice(choice.tier, f"retry with feedback: {problem}", choice.signals)
            result, record, problem = self._chain(agent, again, ask, sent, check, record, problem)
        if problem and self._may_escalate(choice):
            again = TierChoice("large", f"cascade: small-tier answer failed validation ({problem}) -> large",
                               choice.signals)
            result, record, problem = self._chain(agent, again, ask, sent, check, record, problem)
        return result, record, problem

    def _outgoing(self, messages: Sequence[BaseMessage]) -> list[BaseMessage]:
        """The messages as the model may see them: personal data replaced by the thread's placeholders."""
        if self.masker is None:
            return list(messages)
        return self.masker.mask_messages(current_thread(), messages)

    def _chain(self, agent: str, choice: TierChoice, ask: Ask, sent: list[BaseMessage], check: Checker,
               earlier: dict, why: str) -> tuple[Any, dict, str | None]:
        """Another attempt; the record carries the superseded one (and its own chain) under ``escalated_from``."""
        result, record, problem = self._attempt(agent, choice, ask, sent, check, 0.0)
        record["escalated_from"] = escalated(earlier, why)
        return result, record, problem

    def _attempt(self, agent: str, choice: TierChoice, ask: Ask, sent: list[BaseMessage], check: Checker,
                 router_ms: float) -> tuple[Any, dict, str | None]:
        model, conf = self.model(choice.tier), self.settings.tier(choice.tier)
        started = time.perf_counter()
        out = call_with_retries(lambda: ask(choice.tier, model, sent), retries=conf.max_retries,
                                backoff_s=conf.backoff_s)
        latency_ms = (time.perf_counter() - started) * 1000
        result, problem, note = check(out)
        raw = out.get("raw") if isinstance(out, dict) else out
        record = self._record(agent, choice, raw, latency_ms, router_ms)
        record["validation"] = problem or note
        return result, record, problem

    def _may_escalate(self, choice: TierChoice) -> bool:
        if self.routing != "routed" or choice.tier != "small" or not self.router.routing.cascade:
            return False
        # Asking the very same model again is not an escalation, only a second bill.
        small, large = self.settings.small, self.settings.large
        same_endpoint = (small.model, small.base_url) == (large.model, large.base_url)
        return not same_endpoint and self.model("small") is not self.model("large")

    def _record(self, agent: str, choice: TierChoice, message: Any, latency_ms: float, router_ms: float) -> dict:
        usage = getattr(message, "usage_metadata", None) or {}
        spec = self.settings.tier(choice.tier).model
        tokens_in, tokens_out = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
        price = self.pricing.price(spec)
        return {
            "call_id": uuid.uuid4().hex[:16],
            "agent": agent,
            "tier": choice.tier,
            "model": spec,
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "cost_usd": round(price.cost(tokens_in, tokens_out), 8),
            "priced_as": price.label,
            "latency_ms": round(latency_ms, 3),
            "router_ms": round(router_ms, 4),
            "rule": choice.rule,
            "signals": choice.signals,
            "escalated": False,
            "escalation_reason": None,
        }


def current_thread() -> str:
    """The thread id of the graph run making the call ("no-thread" outside a run)."""
    try:
        from langgraph.config import get_config

        return str(get_config().get("configurable", {}).get("thread_id", "no-thread"))
    except RuntimeError:  # called outside a graph run (a benchmark, a calibration)
        return "no-thread"


def _worth_feedback(problem: str, result: Any, structured: bool) -> bool:
    """Whether an unusable answer is asked again on the same tier with the problem fed back."""
    if structured:
        # A low self-reported confidence is not fixed by feedback, only by a stronger model.
        return result is None
    # A call to a tool the agent does not have is a governance matter, not a format slip: it goes
    # to the tool executor, which refuses it and audits the attempt.
    return NOT_BOUND not in problem


def escalated(record: Mapping[str, Any], reason: str) -> dict:
    """A copy of ``record`` marked as superseded (retried with feedback or on the large tier), with why.

    Its own ``escalated_from`` chain is kept: the ``calls`` reducer stores every attempt.
    """
    return {**record, "escalated": True, "escalation_reason": reason}
