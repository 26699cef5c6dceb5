"""The ``opsgraph`` Typer apps, console and error handling shared by every command.

Heavy imports (LangGraph, connectors, Chroma) happen inside commands so that ``--help``
and start-up stay fast.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable, Optional

import click
import typer
from rich.console import Console

from opsgraph.knowledge.cli import kb_app

app = typer.Typer(
    help="opsgraph: multi-agent orchestration for enterprise operations.\n\n"
    "Examples:\n\n"
    "  opsgraph run supply_chain_exception --shipment SH-0001 --delay-days 5\n\n"
    "  opsgraph runs resume <thread> --approve\n\n"
    "  opsgraph chat --graph supply_chain_exception\n\n"
    "  opsgraph graph show supply_chain_exception --png graph.png\n\n"
    "  opsgraph audit <thread>",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
runs_app = typer.Typer(help="List, inspect, resume and stop runs.\n\n"
                       "Example: opsgraph runs show <thread>", no_args_is_help=True)
world_app = typer.Typer(help="The mock enterprise: reset it or look at its records.\n\n"
                        "Example: opsgraph world show shipment SH-0001", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
app.add_typer(world_app, name="world")
app.add_typer(kb_app, name="kb", help="The knowledge base: ingest, search, stats.")
console = Console()
err = Console(stderr=True)


@app.callback()
def global_options(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="On an error, print the full traceback too "
                               "(it is always kept in <data home>/logs/opsgraph.log)."),
) -> None:
    """Options that apply to every command."""
    ctx.obj = {"debug": debug}


def user_errors(fn: Callable) -> Callable:
    """Turn any error into one clear line and exit code 1; the traceback goes to the log file."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            err.print("interrupted; state is checkpointed — resume with 'opsgraph runs resume <thread>'")
            raise typer.Exit(130)
        except Exception as exc:  # noqa: BLE001 - nothing may reach the user as a traceback
            raise typer.Exit(report_error(exc, debug=_debug_requested())) from None

    return wrapper


def report_error(exc: BaseException, *, debug: bool) -> int:
    """Print ``exc`` as one line on stderr (the traceback too with ``debug``), log it; the exit code."""
    import traceback

    from opsgraph.failures import describe, log_traceback

    user_error = isinstance(exc, Exception) and _is_user_error(exc)
    line = describe(exc, user_error=user_error)
    log = log_traceback(_data_home(), exc, sys.argv[1:])
    if debug:
        err.print("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip(),
                  markup=False, highlight=False, soft_wrap=True)
    # An error the user can fix speaks for itself; for the others, say where the details are.
    where = f" (details in {log})" if log and not debug and not user_error else ""
    err.print(f"error: {line}{where}", markup=False, highlight=False, soft_wrap=True)
    return 1


def _debug_requested() -> bool:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    if root is not None and isinstance(root.obj, dict):
        return bool(root.obj.get("debug"))
    return "--debug" in sys.argv[1:]


def _data_home() -> Any:
    """The data home for the log file, or None when even the settings cannot be read."""
    try:
        return _settings().data_home
    except Exception:  # noqa: BLE001 - the error being reported may be the settings themselves
        return None


def _is_user_error(exc: Exception) -> bool:
    from opsgraph.errors import UserError
    from opsgraph.governance.approvals import DecisionError
    from opsgraph.governance.policy import PolicyError
    from opsgraph.models.provider import ModelSpecError
    from opsgraph.persistence import CheckpointURLError
    from opsgraph.settings import SettingsError

    known: tuple[type, ...] = (UserError, DecisionError, PolicyError, ModelSpecError, CheckpointURLError, SettingsError)
    try:
        from opsgraph.knowledge.errors import KnowledgeError

        known += (KnowledgeError,)
    except ImportError:
        pass
    try:
        from opsgraph.tools.connectors.base import ConnectorError

        known += (ConnectorError,)
    except ImportError:
        pass
    return isinstance(exc, known)


def _settings():
    from opsgraph.settings import load_settings

    return load_settings()


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _run_status(thread: str) -> Any:
    """Status of the run on ``thread`` (values, report, pending), read without opening the knowledge layer."""
    from opsgraph.runner import open_runner

    with open_runner(_settings(), with_knowledge=False) as runner:
        return runner.status(thread)


@app.command("config")
@user_errors
def config_cmd(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Print the effective settings (environment > config file > defaults), secrets masked.

    Example: opsgraph config --json
    """
    described = _settings().describe()
    if as_json:
        _print_json(described)
        return
    for key, value in described.items():
        console.print(f"{key:22} {value}", markup=False, highlight=False)
