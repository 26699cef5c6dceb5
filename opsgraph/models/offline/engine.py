"""The offline engine's decisions: which tools to call next, what to answer, how to fill a schema.

It is not a language model. It reads what a model would read (the prompt's procedure,
the bound tool schemas, the conversation and tool results) and acts deterministically:
every decision can be traced to a step in the prompt or a value in the conversation.
"""

from __future__ import annotations

import hashlib
import re
import json
from dataclasses import dataclass
from typing import Any

from opsgraph.citations import collect_citations
from opsgraph.models import textsim
from opsgraph.models.offline.arguments import candidate_argument_sets
from opsgraph.models.offline.conversation import Conversation, call_key
from opsgraph.models.offline.reply import compose_reply

# Below this share of a step's words found in a tool's name and description, the step is
# treated as reasoning the model does itself, not as a tool call.
STEP_MATCH_THRESHOLD = 0.25
# A conditional step ("If a refund is requested, ...") applies when at least this share of
# the condition's words is found in one affirmed sentence of the conversation.
CONDITION_THRESHOLD = 0.5
MAX_PARALLEL_CALLS = 6
_TOOL_NAME = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
# Handoff tools are named after the agent they transfer to (``transfer_to_billing``).
HANDOFF_PREFIX = "transfer_to_"
_CONDITION = re.compile(r"^(?:if|when)\s+(.+?)\s*[,:]\s+(.+)$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class ToolSpec:
    """What the engine knows of a bound tool: its OpenAI-format function schema."""

    name: str
    description: str
    parameters: dict[str, Any]

    @classmethod
    def from_openai(cls, tool: dict[str, Any]) -> "ToolSpec":
        """Read ``{"type": "function", "function": {...}}``."""
        fn = tool.get("function", tool)
        return cls(fn["name"], fn.get("description", ""), fn.get("parameters", {}) or {})

    @property
    def text(self) -> str:
        """Name and description, the words a step is matched against."""
        return self.name.replace("_", " ") + ". " + self.description


def named_tools(step: str) -> set[str]:
    """Identifiers in a step that look like tool names (snake_case words)."""
    return set(_TOOL_NAME.findall(step))


def match_step(step: str, tools: list[ToolSpec], request: str = "") -> ToolSpec | None:
    """The bound tool a procedure step asks for, if any.

    A step that names a tool the agent was not given is skipped rather than matched to a
    look-alike: the prompt asked for that tool and no other. A step that names several
    bound tools offers a choice, settled by the request (see :func:`choose_named`).
    """
    named = named_tools(step)
    if named:
        offered = sorted((tool for tool in tools if tool.name in named), key=lambda tool: step.find(tool.name))
        return offered[0] if len(offered) == 1 else choose_named(offered, request)
    scored = [(textsim.coverage(step, tool.text) + 0.5 * textsim.coverage(tool.name, step), tool) for tool in tools]
    best = max(scored, key=lambda pair: pair[0], default=(0.0, None))
    return best[1] if best[0] >= STEP_MATCH_THRESHOLD else None


def choose_named(offered: list[ToolSpec], request: str) -> ToolSpec | None:
    """Among tools a step offers as alternatives, the one whose description the request supports most.

    Words every alternative shares ("transfer", "team") say nothing about the choice and are
    ignored; ties go to the tool the step names first; with no support at all the step is
    skipped, since guessing would act on a request nobody made.
    """
    if not offered:
        return None
    words = [textsim.token_set(tool.text) for tool in offered]
    shared = frozenset.intersection(*words)
    asked = textsim.token_set(request)
    scores = [len((own - shared) & asked) for own in words]
    best = max(scores)
    return offered[scores.index(best)] if best > 0 else None


def split_condition(step: str) -> tuple[str | None, str]:
    """``("a refund is requested", "refund it with issue_refund.")`` for "If a refund is requested, refund ..."."""
    match = _CONDITION.match(step.strip())
    return (match.group(1), match.group(2)) if match else (None, step)


def condition_holds(condition: str, convo: Conversation) -> bool:
    """True when one affirmed sentence of the request or transcript supports ``condition``."""
    evidence = textsim.evidence_sentences(convo.request + "\n" + convo.transcript)
    return any(textsim.coverage(condition, sentence) >= CONDITION_THRESHOLD for sentence in evidence)


def plan_steps(convo: Conversation, tools: list[ToolSpec]) -> list[tuple[str, ToolSpec]]:
    """Pair each procedure step with its tool; without a procedure, rank tools by the request.

    A step written as "If <condition>, <action>" (or "When ...") is only planned while the
    conversation supports its condition. A handoff back to an agent that already worked on
    this request is never planned: that agent has done its part and would only hand it back.
    """
    steps = convo.procedure
    if steps:
        pairs = []
        for step in steps:
            condition, action = split_condition(step)
            if condition is None or condition_holds(condition, convo):
                pairs.append((step, match_step(action, tools, convo.request)))
        return [(step, tool) for step, tool in pairs if tool is not None and not _hands_back(tool, convo)]
    ranked = sorted(tools, key=lambda t: -textsim.coverage(t.text, convo.request))
    return [(convo.request, tool) for tool in ranked if textsim.coverage(tool.text, convo.request) > 0.1]


def _hands_back(tool: ToolSpec, convo: Conversation) -> bool:
    """True for a handoff to an agent that already spoke on the current request."""
    return tool.name.startswith(HANDOFF_PREFIX) and tool.name[len(HANDOFF_PREFIX):] in convo.speakers


def next_tool_calls(convo: Conversation, tools: list[ToolSpec]) -> list[dict[str, Any]]:
    """Tool calls for the earliest step that still has work; empty when the agent is done."""
    for step, tool in plan_steps(convo, tools):
        calls = []
        for args in candidate_argument_sets(tool.name, tool.parameters, convo, step):
            key = call_key(tool.name, args)
            if key not in convo.done_calls and all(key != call_key(c["name"], c["args"]) for c in calls):
                calls.append({"name": tool.name, "args": args})
        if calls:
            return calls[:MAX_PARALLEL_CALLS]
    return []


def call_id(seed: str, name: str, args: dict[str, Any]) -> str:
    """Deterministic tool-call id, stable across re-runs of the same conversation."""
    digest = hashlib.sha1((seed + call_key(name, args)).encode()).hexdigest()[:20]
    return f"call_{digest}"


def final_answer(convo: Conversation, role: str) -> str:
    """The reply the prompt's reply template describes, else a templated report of this turn's tool results."""
    reply = compose_reply(convo)
    if reply:
        return reply
    results = convo.turn_results
    if not results:
        return f"{role}: no action was needed for this request; nothing in my tools applied."
    lines = [f"{role} report:"]
    lines += [render_result(r.name, r.data, r.is_error) for r in results]
    citations = sorted({c for r in results for c in collect_citations(r.data)})
    if citations:
        lines.append("Sources: " + "; ".join(citations))
    return "\n".join(lines)


def render_result(name: str, data: Any, is_error: bool) -> str:
    """One line per tool result: scalar facts and the size of each list."""
    # The tool name stands on its own header line so it is never read as a claim.
    if is_error:
        return f"- {name}:\n  failed: {str(data)[:300]}"
    if not isinstance(data, dict):
        return f"- {name}:\n  {str(data)[:300]}"
    facts = [f"{k}={v}" for k, v in data.items() if isinstance(v, (str, int, float, bool)) and k != "text"][:10]
    lists = [_render_list(k, v) for k, v in data.items() if isinstance(v, list)]
    return f"- {name}:\n  " + "; ".join(facts + lists)


def _render_list(key: str, items: list[Any]) -> str:
    if not items:
        return f"{key}: none"
    if all(isinstance(item, dict) and "citation" in item for item in items):
        # Retrieved passages are reference material, not facts about this case: cite, don't quote.
        return f"{key}: {len(items)} passages (see Sources)"
    ids = [_first_id(item) for item in items[:8]]
    shown = ", ".join(i for i in ids if i)
    return f"{key}: {len(items)}" + (f" ({shown})" if shown else "")


def _first_id(item: Any) -> str:
    if isinstance(item, dict):
        for key, value in item.items():
            if key.endswith("_id") and isinstance(value, str):
                return value
        return json.dumps(item, default=str)[:60]
    return str(item)[:60]
