"""Graph factories for LangGraph Server (``langgraph.json``).

The server supplies its own checkpointer (Postgres in production), so graphs are compiled
without one here; nodes build their services from settings on first use.
"""

from __future__ import annotations

from langgraph.graph.state import CompiledStateGraph

from opsgraph.runner import compile_graph


def supply_chain_exception() -> CompiledStateGraph:
    """Compiled ``supply_chain_exception`` for the server."""
    return compile_graph("supply_chain_exception")


def contract_review() -> CompiledStateGraph:
    """Compiled ``contract_review`` for the server."""
    return compile_graph("contract_review")


def supplier_risk() -> CompiledStateGraph:
    """Compiled ``supplier_risk`` for the server."""
    return compile_graph("supplier_risk")


def support_desk() -> CompiledStateGraph:
    """Compiled ``support_desk`` for the server."""
    return compile_graph("support_desk")


def procurement_review() -> CompiledStateGraph:
    """Compiled ``procurement_review`` for the server."""
    return compile_graph("procurement_review")


def operations_director() -> CompiledStateGraph:
    """Compiled ``operations_director`` for the server."""
    return compile_graph("operations_director")
