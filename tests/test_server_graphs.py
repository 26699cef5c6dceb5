"""Every registered workflow is served by LangGraph Server through langgraph.json."""

from __future__ import annotations

import json

from opsgraph import server
from opsgraph.registry import graph_entries
from tests.support.paths import PROJECT_ROOT


def test_every_registered_graph_is_in_langgraph_json_and_compiles_for_the_server():
    served = json.loads((PROJECT_ROOT / "langgraph.json").read_text())["graphs"]
    assert set(served) == set(graph_entries())
    for graph_id, target in served.items():
        assert target == f"./opsgraph/server.py:{graph_id}"
        assert getattr(server, graph_id)().name == graph_id
