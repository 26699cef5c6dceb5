"""The run context every graph receives (LangGraph ``context``): settings and live services.

Connectors, the audit store, the model gateway and the knowledge retriever are created by
the caller and injected here; nodes never create them and nothing is built at import time.
Data shared across threads (the LangGraph store) is not here: graphs are compiled with it,
and nodes read it as ``runtime.store`` (tools as an ``InjectedStore`` argument), the same
way under opsgraph's runner and under LangGraph Server, which brings its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from langchain_core.tools import BaseTool

from opsgraph.agents.base import AgentSpec
from opsgraph.governance.audit import AuditStore, open_audit_store
from opsgraph.governance.policy import Policy, load_policy
from opsgraph.models.gateway import ModelFactory, ModelGateway
from opsgraph.settings import Settings, load_settings

RETRIEVAL_TOOL = "search_knowledge"
RECALL_TOOL = "recall_memory"


@dataclass(frozen=True)
class OpsContext:
    """Everything a node needs besides the graph state."""

    settings: Settings
    policy: Policy
    world: Any
    audit: AuditStore
    gateway: ModelGateway
    tools: dict[str, BaseTool]
    retriever: Any = None
    max_steps: int | None = None
    # Masks personal data for models, state, audit and traces (None: privacy.mask_pii is off).
    privacy: Any = None
    # A shadow run: ``world`` and ``tools`` are a private scratch copy, writes are recorded as proposals.
    shadow: bool = False
    # Episodic memory and lessons (opsgraph.memory.Memory on a LangGraph store); None: runs start from zero.
    memory: Any = None
    _agent_tools: dict[str, BaseTool] = field(default_factory=dict, repr=False)

    def limit(self, name: str) -> int:
        """A run limit from policy.yaml (``limits.<name>``), with per-run overrides."""
        if name == "max_steps" and self.max_steps is not None:
            return self.max_steps
        return int(self.policy.get(f"limits.{name}"))

    def tool(self, name: str, agent: str) -> BaseTool | None:
        """The executable tool ``name`` as seen by ``agent`` (retrieval is filtered per agent)."""
        if name == RETRIEVAL_TOOL:
            return self._retrieval_tool(agent)
        if name == RECALL_TOOL:
            return self._recall_tool(agent)
        return self.tools.get(name)

    def tools_for(self, spec: AgentSpec) -> list[BaseTool]:
        """The tools ``spec`` is built with, as bound to its model."""
        found = (self.tool(name, spec.name) for name in spec.tools)
        return [tool for tool in found if tool is not None]

    def _retrieval_tool(self, agent: str) -> BaseTool | None:
        if self.retriever is None:
            return None
        if agent not in self._agent_tools:
            from opsgraph.tools.retrieval import build_retrieval_tool

            self._agent_tools[agent] = build_retrieval_tool(self.retriever, agent)
        return self._agent_tools[agent]

    def _recall_tool(self, agent: str) -> BaseTool | None:
        # An empty memory has nothing to recall; binding the tool would only cost a model round.
        if self.memory is None or self.memory.is_empty():
            return None
        key = f"{RECALL_TOOL}:{agent}"
        if key not in self._agent_tools:
            from opsgraph.tools.memory import build_recall_tool

            self._agent_tools[key] = build_recall_tool(self.memory, agent)
        return self._agent_tools[key]


def build_context(
    settings: Settings | None = None,
    *,
    routing: str = "routed",
    model_factory: ModelFactory | None = None,
    world: Any = None,
    audit: AuditStore | None = None,
    retriever: Any = None,
    with_knowledge: bool = True,
    max_steps: int | None = None,
    memory: Any = None,
    memory_embed: Any = None,
) -> OpsContext:
    """Create the services for a run from settings; anything passed in is used as is.

    Memory is opened from settings (``memory_enabled``) unless ``memory`` is given;
    ``memory_embed`` is an embedding callable to share (else the memory store loads its own).
    """
    settings = settings or load_settings()
    policy = load_policy(settings.policy_path)
    if world is None:
        world = open_world(settings)
    audit = audit or open_audit_store(settings)
    privacy = open_masker(settings, policy, world)
    if privacy is not None:
        audit.redact = privacy.mask  # nothing reaches the audit trail unmasked, whoever records it
    if memory is None and settings.memory_enabled:
        from opsgraph.memory import open_memory

        memory = open_memory(settings, policy, audit=audit, world=world, embed=memory_embed)
    from opsgraph.tools.catalog import build_tools

    from opsgraph.tools.retail.world import lazy_retail_tools

    if retriever is None and with_knowledge:
        retriever = _default_retriever(settings, policy)
    return OpsContext(
        settings=settings,
        policy=policy,
        world=world,
        audit=audit,
        gateway=ModelGateway(settings, policy, routing=routing, factory=model_factory, masker=privacy),
        tools={**build_tools(world, policy), **lazy_retail_tools(settings)},
        retriever=retriever,
        max_steps=max_steps,
        privacy=privacy,
        memory=memory,
    )


def open_masker(settings: Settings, policy: Policy, world: Any) -> Any:
    """The PII masker of policy.yaml's ``privacy`` section over the data home's vault (None when off)."""
    from opsgraph.governance.privacy import PrivacyPolicy, build_masker

    rules = PrivacyPolicy.from_policy(policy.raw.get("privacy"))
    if not rules.mask_pii:
        return None
    crm = getattr(world, "crm", None)
    return build_masker(rules, open_vault(settings), lambda: _known_names(crm))


def _known_names(crm: Any) -> list[str]:
    """Customer names the masker looks for; none when the world cannot be read right now.

    A broken or unreachable world database fails the run at its first tool call with the real
    error (and a resumable status); the masker asking first must not turn that into a crash.
    """
    from opsgraph.tools.connectors.base import is_database_fault

    if not hasattr(crm, "customer_names"):
        return []
    try:
        return list(crm.customer_names())
    except Exception as exc:  # noqa: BLE001 - only database faults are absorbed, the rest re-raised
        if is_database_fault(exc):
            return []
        raise


def open_vault(settings: Settings) -> Any:
    """The PII vault: in the shared database when one is set (a thread keeps its placeholders on
    every machine), else a file in the data home."""
    from opsgraph.governance.pii_vault import PiiVault, PostgresPiiVault, load_secret

    if settings.database_url:
        return PostgresPiiVault(settings.database_url, settings.pii_key)
    return PiiVault(settings.pii_vault_path, load_secret(settings.data_home / "pii.key", settings.pii_key))


def world_target(settings: Settings) -> Any:
    """Where the mock enterprise lives: the shared Postgres database when one is set, else world.db in the data home."""
    return settings.database_url or settings.world_path


def open_world(settings: Settings) -> Any:
    """The mock enterprise of these settings, seeded on first use but never re-seeded under existing runs."""
    from opsgraph.governance.audit import count_recorded_runs
    from opsgraph.tools.world import World

    return World.open(world_target(settings), seed=settings.world_seed, latency_ms=settings.connector_latency_ms,
                      runs_recorded=lambda: count_recorded_runs(settings))


def reset_world(settings: Settings, seed: int | None = None) -> Any:
    """Delete the mock enterprise of these settings and seed it again (``seed`` defaults to the settings')."""
    from opsgraph.tools.world import World

    return World.reset(world_target(settings), seed=settings.world_seed if seed is None else seed)


def _default_retriever(settings: Settings, policy: Policy) -> Any:
    try:
        from opsgraph.knowledge.progress import ConsoleProgress
        from opsgraph.knowledge.retrieval import Retriever
    except ImportError:  # knowledge layer not installed in this build
        return None
    # The first search of a fresh install embeds the corpus; show it rather than seem frozen.
    return Retriever(settings, policy, progress=ConsoleProgress())


@dataclass(frozen=True)
class ServerContext:
    """What a LangGraph Server caller may send as a run's ``context`` (plain JSON).

    The server builds the run's services itself, from the settings of its own process;
    a caller only picks how models are routed (``routed``, ``small`` or ``large``).
    """

    routing: str = "routed"


class _ServerServices:
    """The services of a server process, built once per routing mode on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._built: dict[str, OpsContext] = {}

    def get(self, routing: str) -> OpsContext:
        with self._lock:  # nodes of parallel branches may ask at once; build one set of services
            if routing not in self._built:
                self._built[routing] = build_context(routing=routing)
            return self._built[routing]


_server_services = _ServerServices()  # empty until a server run asks; nothing is built at import


def resolve_context(context: Any) -> OpsContext:
    """The run context of a node; built from settings when the caller sent none.

    LangGraph Server passes plain JSON (a :class:`ServerContext`, a dict or nothing) as
    context, so a server process builds its services once, on first use, from the same
    settings the CLI reads.
    """
    if isinstance(context, OpsContext):
        return context
    if isinstance(context, ServerContext):
        return _server_services.get(context.routing)
    overrides = context if isinstance(context, dict) else {}
    return _server_services.get(str(overrides.get("routing") or "routed"))
