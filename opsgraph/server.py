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
