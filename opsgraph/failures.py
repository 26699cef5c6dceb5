"""Why a run or a command could not do its job, in one line a person can act on.

The runner turns any failure that is not the user's input (model provider, database,
checkpointer, knowledge store) into a :class:`FailedRun`; the CLI prints every error as one
line through :func:`describe` and keeps the traceback in the data home's log file.
"""

from __future__ import annotations

import sqlite3
import traceback
from datetime import datetime, timezone
from pathlib import Path

from opsgraph.errors import RunFailed

LOG_FILE = Path("logs") / "opsgraph.log"
# Modules whose exceptions mean "the model server misbehaved", whatever their type.
# LangChain's chat-model layer counts too: it is where an answer with no choices breaks.
_PROVIDER_MODULES = ("openai", "langchain_openai", "httpx", "httpcore", "langchain_core/language_models")
_MAX_DETAIL = 200


class StorageError(Exception):
    """A database or store opsgraph needs is unreachable or damaged (one clear line, no traceback)."""


class FailedRun(RunFailed):
    """A run that ended ``failed``: carries its thread so the message can say how to carry on."""

    def __init__(self, thread_id: str, reason: str, *, agent: str | None = None, resumable: bool = True):
        super().__init__(reason, agent=agent, resumable=resumable)
        self.thread_id = thread_id

    def __str__(self) -> str:
        hint = (f"; fix the cause, then carry on with 'opsgraph runs resume {self.thread_id}'" if self.resumable
                else "; start a new run")
        return f"run {self.thread_id} failed: {self.reason}{hint}"


def failure_reason(exc: BaseException) -> str:
    """One line saying why ``exc`` stopped a run, naming the system at fault."""
    if isinstance(exc, RunFailed):
        return f"{exc.agent}: {exc.reason}" if exc.agent else exc.reason
    if isinstance(exc, StorageError):
        return str(exc)
    provider = _provider_reason(exc)
    if provider:
        return provider
    if isinstance(exc, sqlite3.DatabaseError):
        return f"database error: {_detail(exc)}"
    if _module_of(type(exc)).startswith("psycopg"):
        return f"Postgres error: {_detail(exc)}"
    if type(exc).__name__ == "KnowledgeError" or _module_of(type(exc)).startswith("chromadb"):
        return f"knowledge store error: {_detail(exc)}"
    return f"internal error ({type(exc).__name__}: {_detail(exc)})"


def _provider_reason(exc: BaseException) -> str | None:
    """The model server's fault in words, or None when ``exc`` did not come from the model client."""
    try:
        import openai
    except ImportError:  # pragma: no cover - openai ships with langchain-openai
        return None
    if isinstance(exc, openai.APITimeoutError):
        return "model server did not answer in time (timeout after retries)"
    if isinstance(exc, openai.RateLimitError):
        return "model server is rate limiting (HTTP 429 after retries)"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot reach the model server ({_detail(exc)})"
    if isinstance(exc, openai.APIStatusError):
        return f"model server answered HTTP {exc.status_code} ({_detail(exc)})"
    if isinstance(exc, openai.APIError):
        return f"model server error ({_detail(exc)})"
    if _raised_in(exc, _PROVIDER_MODULES):
        return f"model server sent a response that could not be read ({type(exc).__name__}: {_detail(exc)})"
    return None


def _raised_in(exc: BaseException, modules: tuple[str, ...]) -> bool:
    """True when ``exc`` (or its cause) was raised while code from ``modules`` was running."""
    seen: BaseException | None = exc
    while seen is not None:
        for frame in traceback.extract_tb(seen.__traceback__):
            if any(f"/{name}/" in frame.filename for name in modules):
                return True
        seen = seen.__cause__ or seen.__context__
    return False


def _module_of(kind: type) -> str:
    return getattr(kind, "__module__", "") or ""


def _detail(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL - 1] + "…"


def describe(exc: BaseException, *, user_error: bool) -> str:
    """The one line the CLI prints for ``exc``: its own words for errors a user can fix, else the reason."""
    if user_error or isinstance(exc, (FailedRun, StorageError)):
        return " ".join(str(exc).split())
    return failure_reason(exc)


def log_traceback(data_home: Path | None, exc: BaseException, argv: list[str]) -> Path | None:
    """Append the traceback of ``exc`` to ``<data_home>/logs/opsgraph.log``; the log path, or None if unwritable."""
    if data_home is None:
        return None
    log = data_home / LOG_FILE
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as fh:
            fh.write(f"--- {datetime.now(timezone.utc).isoformat()} opsgraph {' '.join(argv)}\n{text}\n")
    except OSError:
        return None
    return log
