"""Agent mode: ``retail_support`` talks with a simulated customer until one of them ends it.

    agent = GraphAgent(context, thread_id="tau2-0-1")      # the graph, on one retail store
    user = UserSimulator(model, task.scenario)             # any chat model plays the customer
    conversation = converse(agent, user, max_turns=30)

The loop only needs ``respond(text)`` from the agent and ``reply(text)`` from the user, so
both sides can be scripted in tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from opsgraph.prompts import load_prompt

GREETING = "Hi! How can I help you today?"
STOP_TOKENS = ("###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###")
MAX_TURNS = 30
TRANSFER_NOTICE = "YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON."


@dataclass
class Turn:
    """One side's message, and whether it ended the conversation."""

    text: str
    ends: bool = False
    usage: dict[str, int] = field(default_factory=dict)


class Agent(Protocol):
    """The side under test."""

    def respond(self, text: str) -> Turn:
        """Answer one customer message."""


class User(Protocol):
    """The side that plays the customer."""

    def reply(self, text: str) -> Turn:
        """Answer one agent message."""


@dataclass
class Conversation:
    """Transcript and why it ended: ``user_stop``, ``transfer``, ``max_turns`` or ``error``."""

    messages: list[dict[str, str]]
    termination: str
    user_usage: dict[str, int]
    error: str | None = None

    def agent_texts(self) -> list[str]:
        """Everything the agent side said."""
        return [m["content"] for m in self.messages if m["role"] == "assistant"]


def converse(agent: Agent, user: User, max_turns: int = MAX_TURNS) -> Conversation:
    """Alternate user and agent turns from the greeting until a stop token, a transfer or ``max_turns``.

    A side that raises ends the conversation with termination ``error``; the transcript so far is kept.
    """
    conversation = Conversation([{"role": "assistant", "content": GREETING}], "max_turns",
                                {"input_tokens": 0, "output_tokens": 0})
    try:
        _exchange(agent, user, max_turns, conversation)
    except Exception as exc:  # noqa: BLE001 - a failing model or graph is a failed trial, reported as such
        conversation.termination, conversation.error = "error", f"{type(exc).__name__}: {exc}"
    return conversation


def _exchange(agent: Agent, user: User, max_turns: int, conversation: Conversation) -> None:
    messages, usage = conversation.messages, conversation.user_usage
    agent_text = GREETING
    for _ in range(max_turns):
        turn = user.reply(agent_text)
        for key in usage:
            usage[key] += int(turn.usage.get(key, 0))
        messages.append({"role": "user", "content": turn.text})
        if turn.ends:
            conversation.termination = "user_stop"
            return
        answer = agent.respond(turn.text)
        messages.append({"role": "assistant", "content": answer.text})
        if answer.ends:
            conversation.termination = "transfer"
            return
        agent_text = answer.text


class UserSimulator:
    """A chat model playing the customer of one task's ``user_scenario``."""

    def __init__(self, model: BaseChatModel, scenario: dict[str, Any]) -> None:
        self._model = model
        self._system = SystemMessage(load_prompt("retail_user_simulator", scenario=describe_scenario(scenario)))
        # From the simulator's side the agent is the "human" and its own lines are the model's.
        self._history: list[BaseMessage] = []

    def reply(self, text: str) -> Turn:
        """The customer's next message; ``ends`` when it carries a stop token."""
        self._history.append(HumanMessage(content=text))
        answer = self._model.invoke([self._system, *self._history])
        content = answer.content if isinstance(answer.content, str) else json.dumps(answer.content)
        self._history.append(AIMessage(content=content))
        usage = dict(getattr(answer, "usage_metadata", None) or {})
        ends = any(token in content for token in STOP_TOKENS)
        return Turn(content, ends, {k: int(usage.get(k, 0)) for k in ("input_tokens", "output_tokens")})


def describe_scenario(scenario: dict[str, Any]) -> str:
    """The scenario as the simulator reads it: persona, then the instruction fields by name."""
    parts = [f"Persona: {scenario['persona']}"] if scenario.get("persona") else []
    instructions = scenario.get("instructions") or {}
    if isinstance(instructions, str):
        return "\n".join([*parts, instructions])
    labels = {"reason_for_call": "Why you are calling", "known_info": "What you know",
              "unknown_info": "What you do not know", "task_instructions": "How to behave"}
    parts += [f"{label}: {instructions[key]}" for key, label in labels.items() if instructions.get(key)]
    return "\n".join(parts)


class GraphAgent:
    """``retail_support`` on one thread: each customer message is one graph invocation."""

    def __init__(self, graph: Any, context: Any, thread_id: str) -> None:
        self._graph, self._context = graph, context
        self._config = {"configurable": {"thread_id": thread_id}, "recursion_limit": 200}

    def respond(self, text: str) -> Turn:
        """The desk's reply; ``ends`` when the thread paused for a human (a transfer)."""
        self._graph.invoke({"messages": [HumanMessage(content=text)]}, self._config, context=self._context)
        snapshot = self._graph.get_state(self._config)
        if snapshot.interrupts:
            return Turn(TRANSFER_NOTICE, True)
        return Turn(_last_answer(snapshot.values))

    def values(self) -> dict[str, Any]:
        """The thread's current state."""
        return self._graph.get_state(self._config).values


def _last_answer(values: dict[str, Any]) -> str:
    report = values.get("report") or {}
    if report.get("reply"):
        return str(report["reply"])
    answers = [m for m in values.get("messages") or [] if isinstance(m, AIMessage) and not m.tool_calls and m.content]
    return str(answers[-1].content) if answers else ""
