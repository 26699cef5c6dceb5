"""The ``opsgraph`` Typer apps, console and error handling shared by every command.

Heavy imports (LangGraph, connectors, Chroma) happen inside commands so that ``--help``
and start-up stay fast.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable, Optional

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


def user_errors(fn: Callable) -> Callable:
    """Turn errors a user can cause into one clear line and exit code 1 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            err.print("interrupted; state is checkpointed — resume with 'opsgraph runs resume <thread>'")
            raise typer.Exit(130)
        except Exception as exc:  # noqa: BLE001
            if not _is_user_error(exc):
                raise
            err.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(1)

    return wrapper


def _is_user_error(exc: Exception) -> bool:
    from opsgraph.errors import UserError
    from opsgraph.governance.approvals import DecisionError
    from opsgraph.governance.policy import PolicyError
    from opsgraph.models.provider import ModelSpecError
    from opsgraph.persistence import CheckpointURLError
    from opsgraph.settings import SettingsError

    known: tuple[type, ...] = (UserError, DecisionError, PolicyError, ModelSpecError, CheckpointURLError, SettingsError)
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
