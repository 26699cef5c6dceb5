"""Graph factories for LangGraph Server (``langgraph.json``).

The server supplies its own checkpointer and store (Postgres in production), so graphs are
compiled without them here. A server run's ``context`` is plain JSON, so the served graphs
declare :class:`~opsgraph.context.ServerContext` as their context schema (LangGraph builds it
from the request) and nodes build their services from the server's settings on first use
(:func:`~opsgraph.context.resolve_context`).
"""

from __future__ import annotations

from typing import Callable

from langgraph.graph.state import CompiledStateGraph

from opsgraph.context import ServerContext
from opsgraph.registry import get_entry


def _factory(graph_id: str) -> Callable[[], CompiledStateGraph]:
    """A function that compiles the graph registered as ``graph_id`` for the server."""
    # Looked up when the server loads this module: the registry reads the YAML workflow specs
    # from disk, and the server calls the factory inside its event loop on every run, where
    # file access is a blocking call (langgraph dev refuses it).
    builder = get_entry(graph_id).builder

    def compiled() -> CompiledStateGraph:
        graph = builder().compile(name=graph_id)
        # The graphs take an OpsContext from Python callers; a server request can only carry
        # JSON, which LangGraph would otherwise try to turn into an OpsContext.
        graph.context_schema = ServerContext
        return graph

    compiled.__name__ = compiled.__qualname__ = graph_id
    compiled.__doc__ = f"Compiled ``{graph_id}`` for the server."
    return compiled


# One name per graph id, as langgraph.json refers to them (``./opsgraph/server.py:<graph id>``).
supply_chain_exception = _factory("supply_chain_exception")
contract_review = _factory("contract_review")
supplier_risk = _factory("supplier_risk")
support_desk = _factory("support_desk")
procurement_review = _factory("procurement_review")
operations_director = _factory("operations_director")
retail_support = _factory("retail_support")
demand_sensing = _factory("demand_sensing")
production_planning = _factory("production_planning")
# Workflows declared as YAML specs (opsgraph/workflows/specs).
contract_review_yaml = _factory("contract_review_yaml")
supplier_risk_yaml = _factory("supplier_risk_yaml")
invoice_match = _factory("invoice_match")
support_desk_yaml = _factory("support_desk_yaml")
supply_chain_exception_yaml = _factory("supply_chain_exception_yaml")
procurement_review_yaml = _factory("procurement_review_yaml")
demand_sensing_yaml = _factory("demand_sensing_yaml")
production_planning_yaml = _factory("production_planning_yaml")
