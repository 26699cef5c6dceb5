"""Nodes bound to a declared set of agents (a workflow spec's), keeping what LangGraph reads from them."""

from __future__ import annotations

from functools import wraps
from typing import Any

from langgraph.runtime import Runtime

from opsgraph.context import OpsContext


def bind_last(node: Any, extra: Any, default: Any) -> Any:
    """``node`` with ``extra`` as its last argument; given the ``default``, the plain function itself.

    ``wraps`` keeps the name and signature: LangGraph reads them to pass the runtime or not. A bound
    node's ``Command`` destinations are given to ``add_node`` by the builder.
    """
    if extra is default:
        return node
    if "runtime" not in node.__code__.co_varnames[:node.__code__.co_argcount]:
        @wraps(node)
        def bound_state(state: Any) -> Any:
            return node(state, extra)

        return bound_state

    @wraps(node)
    def bound(state: Any, runtime: Runtime[OpsContext]) -> Any:
        return node(state, runtime, extra)

    return bound
