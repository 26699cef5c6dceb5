"""The schema of a YAML workflow spec (docs/workflows.md is its reference).

A spec declares the agents (prompt, tools, tier, context policy), the topology that connects
them, where its input comes from, the report it ends with and the eval dataset it is scored
on. The topology is a tagged union on ``kind``: a new topology is one more model here and one
more compiler in :mod:`opsgraph.workflows.compiler`.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[a-z][a-z0-9_]{1,62}$"
# Topologies the compiler builds today, and the ones the schema reserves for builders that
# are not compilable from a spec yet (none left: the loader keeps the message for new ones).
COMPILED_TOPOLOGIES = ("sequential", "concurrent", "handoff", "supervisor", "group_chat", "blackboard", "market")
RESERVED_TOPOLOGIES: tuple[str, ...] = ()
# The typed output of each step of a sequential review chain, in chain order.
SEQUENTIAL_OUTPUTS = ("contract_terms", "compliance_findings", "contract_summary")
# How a concurrent topology's reconciler merges the branches' findings.
RECONCILERS = ("confidence_weighted_vote",)
REPORTS = {"sequential": ("contract_review", "pipeline"), "concurrent": ("supplier_risk",),
           "handoff": ("support_desk",), "supervisor": ("supply_chain_exception",),
           "group_chat": ("procurement_review",), "blackboard": ("demand_sensing",),
           "market": ("production_planning",)}


class _Closed(BaseModel):
    """A spec section: unknown keys are errors (a typo must not be ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentDecl(_Closed):
    """``agents.<name>``: one agent. Its permissions stay in policy.yaml; the spec cannot widen them."""

    description: str = ""
    prompt: str = Field(min_length=1)
    tools: list[str] = Field(default_factory=list)
    tier: Literal["small", "large"] | None = None
    history: Literal["full", "last_message", "summary", "own_turns"] = "full"
    # concurrent: the risk dimension this agent scores (financial, operational, esg, ...).
    dimension: str | None = None


class StepDecl(_Closed):
    """One step of a sequential topology: the agent, and the typed output it hands on (review chains only)."""

    agent: str
    output: Literal["contract_terms", "compliance_findings", "contract_summary"] | None = None


class SequentialTopology(_Closed):
    """Steps run one after the other. With typed outputs (a review chain) each output is validated before
    the next step sees it; without, each step works with its tools behind the approval gate (a pipeline)."""

    kind: Literal["sequential"]
    steps: list[StepDecl] = Field(min_length=1)


class ReconcilerDecl(_Closed):
    """How the branches of a concurrent topology are merged."""

    method: Literal["confidence_weighted_vote"] = "confidence_weighted_vote"


class ConcurrentTopology(_Closed):
    """Branches run in parallel (LangGraph ``Send``); a reconciler merges their findings."""

    kind: Literal["concurrent"]
    branches: list[str] = Field(min_length=1)
    reconciler: ReconcilerDecl = Field(default_factory=ReconcilerDecl)


class HandoffGuards(_Closed):
    """When a handoff topology stops handing on and a human takes over instead."""

    # The policy.yaml key of the per-request handoff limit (a spec names the limit, it does not set it).
    max_handoffs: str = "support.max_handoffs"
    # Ping-pong guard: how many times one request may return to the agent it came from (A -> B -> A).
    max_bounces: int = Field(1, ge=0)


class HandoffTopology(_Closed):
    """Agents hand the conversation to each other with ``transfer_to_<agent>`` tools; the entry agent takes
    every new conversation. ``handoffs`` lists the desk's agents, each with the agents it may hand to."""

    kind: Literal["handoff"]
    entry: str
    handoffs: dict[str, list[str]] = Field(min_length=1)
    guards: HandoffGuards = Field(default_factory=HandoffGuards)


class SupervisorTopology(_Closed):
    """A supervisor agent picks the next worker by structured output until it finishes; each worker works
    with its tools behind the approval gate and reports back to the supervisor."""

    kind: Literal["supervisor"]
    supervisor: str
    workers: list[str] = Field(min_length=1)


class GroupChatTopology(_Closed):
    """Maker-checker group chat run by a moderator (code): the maker drafts, the checkers speak in order and
    give typed verdicts; revise until every checker approves or the round limit sends it to a human."""

    kind: Literal["group_chat"]
    maker: str
    checkers: list[str] = Field(min_length=1)
    # The policy.yaml key of the round limit (a spec names the limit, it does not set it).
    max_rounds: str = "procurement.review_max_rounds"


class SectionWriteDecl(_Closed):
    """Where a board section's new data comes from: the agent's latest result of ``tool`` (or its ``key``)."""

    tool: str
    key: str | None = None


class BoardRoleDecl(_Closed):
    """``topology.board.<agent>``: the sections the agent reads (``feeds``: the world's demand feeds) and
    the sections it writes, each from one of its tools."""

    reads: list[str] = Field(min_length=1)
    writes: dict[str, SectionWriteDecl] = Field(min_length=1)


class BlackboardTopology(_Closed):
    """Agents react to changed sections of a versioned board; a controller (code) runs every agent whose
    inputs someone else changed, in parallel, until the board is quiescent or the cycle limit stops it."""

    kind: Literal["blackboard"]
    sections: list[str] = Field(min_length=1)
    board: dict[str, BoardRoleDecl] = Field(min_length=1)
    # The policy.yaml key of the controller's cycle limit (a spec names the limit, it does not set it).
    max_cycles: str = "demand_sensing.max_cycles"


class MarketTopology(_Closed):
    """An orchestrator (code) announces the jobs a plant event displaces; one bidder branch per work centre bids
    from its own calendar; the orchestrator awards by the policy's rules; a shortfalls agent raises purchase
    orders for the components the awarded jobs lack."""

    kind: Literal["market"]
    bidder: str
    shortfalls: str
    # The policy.yaml keys of the award rules (order, split_partial_bids, max_rounds) and the per-round limit.
    award: str = "production.award"
    max_awards_per_round: str = "production.max_awards_per_work_centre_per_round"


Topology = Annotated[Union[SequentialTopology, ConcurrentTopology, HandoffTopology, SupervisorTopology,
                           GroupChatTopology, BlackboardTopology, MarketTopology], Field(discriminator="kind")]


class InputDecl(_Closed):
    """Where run input comes from: ``like`` a registered graph's input, or one record id found in the text.

    The id form: ``field`` names the id in the agents' prompts (``$supplier_invoice_id``), ``pattern``
    is how it is written, ``lookup`` the connector operation that must find it (``payables.get_supplier_invoice``),
    ``option`` the run option that may carry it, ``request`` opens the thread, ``title`` heads the report.
    """

    like: str | None = None
    field: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*$")
    pattern: str | None = None
    lookup: str | None = None
    option: str | None = None
    request: str = "Handle $subject_id."
    title: str = "$subject_id"


class EvalDecl(_Closed):
    """The eval dataset (``evals/datasets/<dataset>.yaml``) the workflow is scored on."""

    dataset: str


class WorkflowSpec(_Closed):
    """A whole workflow spec file."""

    id: str = Field(pattern=ID_PATTERN)
    description: str = Field(min_length=1)
    input: InputDecl
    agents: dict[str, AgentDecl] = Field(min_length=1)
    topology: Topology
    report: str
    evals: EvalDecl | None = None
