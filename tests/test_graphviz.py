"""``opsgraph graphs`` and ``opsgraph graph show``: structure, Mermaid, and a real PNG drawn offline."""

from __future__ import annotations

import json
import socket
import struct

import pytest
from typer.testing import CliRunner

from opsgraph.cli.graph_png import END, START, assign_layers, order_layers, bfs_depth


@pytest.fixture
def cli(monkeypatch, tmp_path):
    """Invoke the CLI in-process with an isolated data home and the network switched off."""
    monkeypatch.setenv("OPSGRAPH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "160")

    def no_network(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    from opsgraph.cli import chat, commands, graphviz  # noqa: F401 - register the commands
    from opsgraph.cli.app import app

    return lambda *args: CliRunner().invoke(app, list(args))


def test_png_is_a_real_picture_drawn_offline(cli, tmp_path):
    out = tmp_path / "g.png"
    result = cli("graph", "show", "supply_chain_exception", "--png", str(out))
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    assert width >= 800 and height >= 600 and len(data) > 20_000
    assert f"PNG written to {out}" in result.output


def test_show_prints_nodes_and_conditional_edges_and_writes_mermaid(cli, tmp_path):
    mermaid = tmp_path / "g.mmd"
    result = cli("graph", "show", "supply_chain_exception", "--mermaid", str(mermaid))
    assert result.exit_code == 0, result.output
    assert "intake         → supervisor" in result.output
    assert "supervisor     ⇢ " in result.output and "(conditional)" in result.output
    text = mermaid.read_text()
    assert text.startswith(("graph TD", "---")) and "supervisor" in text and "-.->" in text


def test_show_and_graphs_as_json(cli):
    shown = json.loads(cli("graph", "show", "supply_chain_exception", "--json").output)
    edges = {(e["source"], e["target"]): e["conditional"] for e in shown["edges"]}
    assert edges[("intake", "supervisor")] is False and edges[("supervisor", "logistics")] is True
    assert edges[("report", "__end__")] is False and "approval" in shown["nodes"]
    listed = json.loads(cli("graphs", "--json").output)
    entry = next(g for g in listed if g["graph_id"] == "supply_chain_exception")
    assert entry["topology"] == "supervisor" and entry["chat"] is True


def test_unknown_graph_and_unwritable_path_are_one_line_errors(cli, tmp_path):
    unknown = cli("graph", "show", "no_such_graph")
    assert unknown.exit_code == 1 and "unknown graph 'no_such_graph'" in unknown.output
    missing = cli("graph", "show", "supply_chain_exception", "--png", str(tmp_path / "nope" / "g.png"))
    assert missing.exit_code == 1 and "does not exist" in missing.output
    assert "Traceback" not in unknown.output + missing.output


def test_layered_layout_puts_loops_back_and_end_last():
    nodes = (START, "router", "agent", "tools", "finish", END)
    edges = [(START, "router"), ("router", "agent"), ("agent", "tools"), ("tools", "agent"),
             ("agent", "router"), ("router", "finish"), ("finish", END)]
    layer, back = assign_layers(nodes, edges)
    assert [layer[n] for n in (START, "router", "agent", "tools")] == [0, 1, 2, 3]
    assert back == {("tools", "agent"), ("agent", "router")}
    assert layer[END] == max(layer.values()) and list(layer.values()).count(layer[END]) == 1
    rows = order_layers(layer, edges, bfs_depth(nodes, edges)[1])
    assert sorted(n for row in rows for n in row) == sorted(nodes)


def test_graphs_table_keeps_every_id_whole_in_80_columns(tmp_path):
    from opsgraph.registry import graph_entries
    from tests.support.cli import opsgraph

    proc = opsgraph(tmp_path / "home", "graphs", COLUMNS="80")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    first_cells = {line.split("│")[1].strip() for line in lines if line.startswith("│")}
    assert set(graph_entries()) <= first_cells
