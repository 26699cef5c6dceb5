"""Console-script entry point of the ``opsgraph`` command line."""

from __future__ import annotations


def main() -> None:
    """Register every command, then run the CLI."""
    from opsgraph.cli import commands  # noqa: F401 - registers the commands on the apps
    from opsgraph.cli import chat, graphviz  # noqa: F401 - registers chat, graphs and graph show
    from opsgraph.cli import costs  # noqa: F401 - registers costs and routing
    from opsgraph.cli import evals  # noqa: F401 - registers eval (and eval compare)
    from opsgraph.cli import autonomy  # noqa: F401 - registers autonomy and shadow
    from opsgraph.cli import worker  # noqa: F401 - registers worker
    from opsgraph.cli import console_cmd  # noqa: F401 - registers console (and console hash-password)
    from opsgraph.cli import memory  # noqa: F401 - registers memory list, show, search, forget
    from opsgraph.cli import workflow_cmd  # noqa: F401 - registers workflow validate and show
    import sys

    from opsgraph.cli.app import app, report_error

    try:
        app()
    except Exception as exc:  # noqa: BLE001 - last resort for commands without their own handler
        sys.exit(report_error(exc, debug="--debug" in sys.argv[1:]))
