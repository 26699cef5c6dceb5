"""``opsgraph worker`` and the ``--submit`` side of ``run`` and ``runs resume``: runs on Celery workers."""

from __future__ import annotations

import os
import socket
from typing import Any

import typer

from opsgraph.cli.app import _print_json, _settings, app, console, user_errors


@app.command("worker")
@user_errors
def worker_cmd(
    concurrency: int = typer.Option(1, "--concurrency", min=1, max=64,
                                    help="Runs this worker drives at once (one process each)."),
    loglevel: str = typer.Option("INFO", "--loglevel", help="Celery log level: DEBUG, INFO, WARNING, ERROR."),
) -> None:
    """Start a Celery worker that drives submitted runs (OPSGRAPH_BROKER_URL names the broker).

    Start as many as you like, on any machine that has the same settings (broker, database,
    Chroma server). A run whose worker dies is picked up by another one.

    Example: OPSGRAPH_BROKER_URL=redis://127.0.0.1:6379/0 opsgraph worker --concurrency 2
    """
    from opsgraph.workers import celery_app, check_broker

    settings = _settings()
    celery = celery_app(settings)
    check_broker(celery)
    # The node name must be unique among the workers of one broker: host and process id.
    name = f"opsgraph-{os.getpid()}@{socket.gethostname()}"
    celery.worker_main(["worker", f"--concurrency={concurrency}", f"--loglevel={loglevel.upper()}",
                        f"--queues={settings.queue}", f"--hostname={name}", "--without-gossip", "--without-mingle"])


def submit_run(runner: Any, graph_id: str, graph_input: dict[str, Any], *, as_json: bool, **options: Any) -> None:
    """Enqueue a new run on the workers' queue and print its thread id."""
    from opsgraph.workers import celery_app, submit_run as enqueue

    thread_id = enqueue(runner, celery_app(runner.context.settings), graph_id, graph_input, **options)
    _queued(thread_id, graph_id, as_json)


def submit_resume(runner: Any, thread_id: str, decision: dict[str, Any] | None, budget: dict[str, Any] | None,
                  *, as_json: bool) -> None:
    """Enqueue ``runs resume`` of ``thread_id`` on the workers' queue and print the thread id."""
    from opsgraph.workers import celery_app, submit_resume as enqueue

    enqueue(runner, celery_app(runner.context.settings), thread_id, decision, budget)
    info = runner.context.audit.run(thread_id)
    _queued(thread_id, info.graph_id if info else None, as_json)


def _queued(thread_id: str, graph_id: str | None, as_json: bool) -> None:
    if as_json:
        _print_json({"thread_id": thread_id, "graph_id": graph_id, "status": "queued"})
        return
    console.print(f"thread: [bold]{thread_id}[/bold]  status: queued (a worker will run it; "
                  f"see 'opsgraph runs show {thread_id}')", soft_wrap=True)
