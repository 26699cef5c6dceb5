"""One trial of one task in agent mode: fresh database, conversation, score, cost.

    bench = Bench(settings, tasks, encode(db), gold, model_factory=None, user_model=model)
    row = bench.run_trial(task, repetition=1)
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from opsgraph.evals.tau2.agent import MAX_TURNS, Conversation, GraphAgent, UserSimulator, converse
from opsgraph.evals.tau2.data import Task
from opsgraph.evals.tau2.scoring import score_trial
from opsgraph.models.pricing import Pricing
from opsgraph.settings import Settings
from opsgraph.tools.connectors.retail_store import Encoded, RetailStore


@dataclass
class Bench:
    """Everything the trials share: settings, starting database, gold hashes, the two sides' models."""

    settings: Settings
    rows: Encoded
    gold: dict[str, str]
    user_model: Callable[[], BaseChatModel]
    user_spec: str
    pricing: Pricing
    model_factory: Any = None  # agent models; None builds them from settings
    max_turns: int = MAX_TURNS
    routing: str = "routed"
    _base: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def base_context(self) -> Any:
        """The run context every trial shares (built once: concurrent trials must not race to create stores)."""
        from opsgraph.context import build_context

        with self._lock:
            if self._base is None:
                self._base = build_context(self.settings, with_knowledge=False, model_factory=self.model_factory,
                                           routing=self.routing)
            return self._base

    def close(self) -> None:
        """Release the shared context's stores."""
        if self._base is not None:
            self._base.audit.close()
            self._base = None

    def run_trial(self, task: Task, repetition: int) -> dict[str, Any]:
        """Play ``task`` once on a fresh database and score it; never raises (a crash is a failed trial)."""
        started = time.perf_counter()
        store = RetailStore.from_encoded(self.rows)
        agent = None
        try:
            agent = self._agent(store, task, repetition)
            conversation = converse(agent, UserSimulator(self.user_model(), task.scenario), self.max_turns)
        except Exception as exc:  # noqa: BLE001 - one broken trial must not end the benchmark
            conversation = Conversation([], "error", {}, error=f"{type(exc).__name__}: {exc}")
        try:
            final = store.canonical_hash()
        finally:
            store.close()
        values = agent.values() if agent is not None and conversation.termination != "error" else {}
        return self._row(task, repetition, conversation, final, values, time.perf_counter() - started)

    def _agent(self, store: RetailStore, task: Task, repetition: int) -> GraphAgent:
        from opsgraph.graphs.retail_support import build_retail_support_graph, retail_context

        base = self.base_context()
        graph = build_retail_support_graph().compile(checkpointer=InMemorySaver(), store=InMemoryStore())
        thread = f"tau2-{task.task_id}-{repetition}-{uuid.uuid4().hex[:8]}"
        return GraphAgent(graph, retail_context(base, store.retail), thread)

    def _row(self, task: Task, repetition: int, conversation: Conversation, final: str, values: dict[str, Any],
             elapsed: float) -> dict[str, Any]:
        scores = score_trial(final, self.gold[task.task_id], task.communicate_info, conversation.agent_texts())
        calls = list(values.get("calls") or [])
        user_cost = self.pricing.price(self.user_spec).cost(conversation.user_usage.get("input_tokens", 0),
                                                           conversation.user_usage.get("output_tokens", 0))
        agent_cost = sum(float(c.get("cost_usd") or 0) for c in calls)
        agent_tokens = sum(int(c.get("input_tokens") or 0) + int(c.get("output_tokens") or 0) for c in calls)
        failed = [name for name, score in scores.items() if score["score"] < 1.0]
        reason = str((task.scenario.get("instructions") or {}).get("reason_for_call", "")) \
            if isinstance(task.scenario.get("instructions"), dict) else ""
        return {
            "case_id": task.task_id, "description": reason[:200], "tags": ["tau2"], "repetition": repetition,
            "passed": not failed, "failed": failed, "scores": scores, "status": conversation.termination,
            "error": conversation.error, "final_hash": final, "gold_hash": self.gold[task.task_id],
            "trajectory": list(values.get("visited") or []),
            "tool_calls": [{k: a.get(k) for k in ("agent", "tool", "args", "status")}
                           for a in values.get("actions") or []],
            "turns": sum(1 for m in conversation.messages if m["role"] == "user"),
            "messages": conversation.messages,
            "cost_usd": round(agent_cost + user_cost, 8), "agent_cost_usd": round(agent_cost, 8),
            "user_cost_usd": round(user_cost, 8),
            "tokens": agent_tokens + sum(conversation.user_usage.values()), "agent_tokens": agent_tokens,
            "user_tokens": sum(conversation.user_usage.values()), "latency_s": round(elapsed, 3),
        }
