"""The ``opsgraph`` Typer app in-process, with every command registered as the console script does."""

from __future__ import annotations

from typing import Any


def cli_app() -> Any:
    """The app, ready for ``typer.testing.CliRunner().invoke`` (no subprocess, no terminal)."""
    from unittest import mock

    import typer

    from opsgraph.cli.app import app
    from opsgraph.cli.main import main

    with mock.patch.object(typer.Typer, "__call__", lambda self, *a, **k: None):
        main()  # imports every command module, then "runs" the (patched, inert) app
    return app
