"""Every command's --help is complete (with an example), and the listing commands speak JSON."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import typer
from typer.testing import CliRunner


def _app():
    """The app with every command registered exactly as the console script registers them."""
    from opsgraph.cli.app import app
    from opsgraph.cli.main import main

    with mock.patch.object(typer.Typer, "__call__", lambda self, *a, **k: None):
        main()  # imports every command module, then "runs" the (patched, inert) app
    return app


def _leaves(command, path=()):
    subs = getattr(command, "commands", {})
    if not subs:
        yield path, command
    for name, sub in subs.items():
        yield from _leaves(sub, (*path, name))


def _command_paths() -> list[tuple[str, ...]]:
    return [path for path, _ in _leaves(typer.main.get_command(_app()))]


@pytest.mark.parametrize("path", _command_paths(), ids=" ".join)
def test_every_command_has_help_with_an_example(path):
    result = CliRunner().invoke(_app(), [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and "example" in result.output.lower(), result.output


def test_root_help_lists_chat_and_graph_commands():
    result = CliRunner().invoke(_app(), ["--help"])
    assert result.exit_code == 0
    for name in ("chat", "graphs", "graph", "run", "runs", "audit"):
        assert f"  {name} " in result.output


@pytest.mark.parametrize("args", [("runs", "list", "--json"), ("graphs", "--json"), ("costs", "--json")],
                         ids=lambda a: " ".join(a))
def test_listing_commands_print_json(args, tmp_path, monkeypatch):
    monkeypatch.setenv("OPSGRAPH_HOME", str(tmp_path / "home"))
    if args[0] not in typer.main.get_command(_app()).commands:
        pytest.skip(f"'{args[0]}' is not registered in this build")
    result = CliRunner().invoke(_app(), list(args))
    assert result.exit_code == 0, result.output
    json.loads(result.output)
