"""``opsgraph console``: serve the web console; ``opsgraph console hash-password``: a hash for policy.yaml."""

from __future__ import annotations

import re
import socket
import sys
from typing import Optional

import typer

from opsgraph.cli.app import _settings, app, console, err, user_errors
from opsgraph.errors import UserError

console_app = typer.Typer(
    help="The web console: KPIs, runs and the approvals inbox, behind a login (users in policy.yaml).\n\n"
    "Example: opsgraph console --port 8050\n\n"
    "Example: opsgraph console hash-password --name dana --role approver",
    invoke_without_command=True,
)
app.add_typer(console_app, name="console")
EXTRA_HINT = "the console needs the console extra: pip install 'opsgraph[console]'"


@console_app.callback()
@user_errors
def console_cmd(
    ctx: typer.Context,
    port: int = typer.Option(8050, "--port", help="TCP port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (127.0.0.1: this machine only)."),
) -> None:
    """Serve the web console until Ctrl-C.

    Example: opsgraph console --port 8050
    """
    if ctx.invoked_subcommand is not None:
        return
    serve(host, port)


def serve(host: str, port: int) -> None:
    """Check everything a user can get wrong, then run the console under uvicorn."""
    from opsgraph.console.auth import console_users
    from opsgraph.governance.policy import load_policy

    if not 1 <= port <= 65535:
        raise UserError(f"--port must be between 1 and 65535, got {port}")
    try:
        import uvicorn

        from opsgraph.console.app import create_app
    except ImportError:
        raise UserError(EXTRA_HINT) from None
    settings = _settings()
    users = console_users(load_policy(settings.policy_path))
    if not users:
        raise UserError(f"no console users in {settings.policy_path} (console.users); add one with the line "
                        "'opsgraph console hash-password --name NAME --role approver' prints")
    _check_free(host, port)
    application = create_app(settings)
    roles = ", ".join(f"{u.name} ({u.role})" for u in users.values())
    console.print(f"opsgraph console on http://{host}:{port}  data home {settings.data_home}  users: {roles}\n"
                  "Ctrl-C stops it.", markup=False, highlight=False, soft_wrap=True)
    uvicorn.run(application, host=host, port=port, log_level="warning", access_log=False)


def _check_free(host: str, port: int) -> None:
    """A one-line error for a port in use or an address this machine does not have (uvicorn would log and exit)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another with --port/--host") from None


@console_app.command("hash-password")
@user_errors
def hash_password_cmd(
    name: Optional[str] = typer.Option(None, "--name", help="Print a whole policy.yaml user entry for this name."),
    role: str = typer.Option("viewer", "--role", help="approver or viewer (with --name)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
) -> None:
    """Hash a console password (scrypt) for policy.yaml console.users; the password is never stored.

    Example: opsgraph console hash-password --name dana --role approver
    """
    from opsgraph.console.auth import ROLES, hash_password

    if role not in ROLES:
        raise UserError(f"--role must be one of {', '.join(ROLES)}, got {role!r}")
    if name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,79}", name):
        raise UserError(f"--name {name!r}: use letters, digits and . _ @ - (at most 80, starting with a letter or digit)")
    password = _read_password(password_stdin)
    hashed = hash_password(password)
    if name is None:
        sys.stdout.write(hashed + "\n")
        return
    sys.stdout.write(f"    - {{name: {name}, role: {role}, password_hash: '{hashed}'}}\n")
    err.print("add this line under console: users: in policy.yaml", markup=False, highlight=False)


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        text = sys.stdin.readline().rstrip("\n")
        if not text:
            raise UserError("no password on standard input")
        return text
    first = typer.prompt("password", hide_input=True)
    if typer.prompt("again", hide_input=True) != first:
        raise UserError("the two passwords differ")
    return first
