"""Console-script entry point of the ``opsgraph`` command line."""

from __future__ import annotations


def main() -> None:
    """Register every command, then run the CLI."""
    from opsgraph.cli import commands  # noqa: F401 - registers the commands on the apps
    from opsgraph.cli.app import app

    app()
