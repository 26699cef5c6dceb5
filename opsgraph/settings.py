"""Effective configuration for opsgraph, read from the environment and a config file.

This module is the only place that reads environment variables. Everything else
receives a frozen :class:`Settings` instance (usually through the run context).

Precedence, highest first: environment variables, the YAML config file
(``$OPSGRAPH_CONFIG`` or ``./opsgraph.yaml``), built-in defaults.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from urllib.parse import urlparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from opsgraph.resources import corpus_dir, default_policy_path


OFFLINE_SMALL = "offline:small"
OFFLINE_LARGE = "offline:large"
OPENAI_SMALL = "openai:gpt-4o-mini"
OPENAI_LARGE = "openai:gpt-4o"


class SettingsError(ValueError):
    """A configuration value is missing or malformed."""


# Call limits of a tier. A hosted API answers in seconds, so a stuck call is better retried
# soon; a model served from a CPU on this machine or the LAN may need minutes per answer and
# gains nothing from being asked again while it is still busy with the first request.
HOSTED_CALL_LIMITS = {"timeout_s": 60.0, "max_retries": 2, "backoff_s": 1.0}
LOCAL_CALL_LIMITS = {"timeout_s": 300.0, "max_retries": 1, "backoff_s": 2.0}
STRUCTURED_METHODS = ("json_schema", "function_calling", "json_mode")


@dataclass(frozen=True)
class TierSettings:
    """Model spec, optional per-tier endpoint, and the call limits of one model tier.

    ``timeout_s`` bounds one HTTP request, ``max_retries`` counts the extra attempts after a
    timeout, connection error, 429 or 5xx, and ``backoff_s`` is the first pause between
    attempts (doubled each time). ``structured_methods`` is the order in which structured
    output is asked for; a method the server rejects is skipped from then on.
    """

    model: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = HOSTED_CALL_LIMITS["timeout_s"]
    max_retries: int = int(HOSTED_CALL_LIMITS["max_retries"])
    backoff_s: float = HOSTED_CALL_LIMITS["backoff_s"]
    structured_methods: tuple[str, ...] = STRUCTURED_METHODS


@dataclass(frozen=True)
class Settings:
    """All run configuration in one immutable object."""

    data_home: Path
    small: TierSettings
    large: TierSettings
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    checkpoint_url: str | None = None
    # One shared database for every store (checkpoints, audit and run registry, decisions,
    # the LangGraph store, the mock enterprise); None keeps the embedded SQLite files.
    database_url: str | None = None
    langsmith_enabled: bool = False
    langsmith_project: str = "opsgraph"
    chroma_url: str | None = None
    embedding: str = "onnx:all-MiniLM-L6-v2"
    # onnxruntime intra-op threads for the offline embedding; 1 because on shared 2-core
    # machines a second thread gained nothing while the other core was busy (BENCHMARKS.md).
    embedding_threads: int = 1
    policy_path: Path = field(default_factory=default_policy_path)
    knowledge_path: Path = field(default_factory=corpus_dir)
    world_seed: int = 7
    connector_latency_ms: int = 0
    config_file: Path | None = None
    pricing_file: Path | None = None
    # tau2-bench retail data (db.json, tasks.json) and the model that plays its users.
    tau2_data_path: Path | None = None
    tau2_user: TierSettings | None = None
    # Message broker of the Celery workers (redis:// or amqp://); None runs everything in-process.
    broker_url: str | None = None
    # Seconds an unacknowledged task stays invisible on a Redis broker before it is handed to another
    # worker: how long a run of a dead worker waits to be picked up again. It must exceed the longest
    # run, or a slow run is redelivered while still running (the thread's lease then makes the copy wait).
    broker_visibility_timeout_s: int = 3600
    # Queue the workers consume and --submit sends to; separate queues keep separate deployments apart.
    queue: str = "opsgraph"
    # Signs the web console's session cookies; None: a key generated once per data home.
    console_secret: str | None = field(default=None, repr=False)
    # Secret behind the PII vault's keyed hashes and encrypted values; None uses a key file
    # created once in the data home (``pii.key``).
    pii_key: str | None = field(default=None, repr=False)

    # Episodic memory and lessons from human feedback (OPSGRAPH_MEMORY=off: every run starts from zero).
    memory_enabled: bool = True
    # A folder of YAML workflow specs registered beside the shipped workflows.
    workflows_dir: Path | None = None

    @property
    def world_path(self) -> Path:
        """SQLite file holding the mock enterprise."""
        return self.data_home / "world.db"

    @property
    def audit_path(self) -> Path:
        """SQLite file holding the append-only audit store and run registry."""
        return self.data_home / "audit.db"

    @property
    def store_path(self) -> Path:
        """SQLite file holding the LangGraph store (cross-thread data such as memories)."""
        return self.data_home / "store.db"

    @property
    def pii_vault_path(self) -> Path:
        """SQLite file holding the per-thread PII placeholders (keyed hashes, encrypted values)."""
        return self.data_home / "pii_vault.db"

    @property
    def chroma_path(self) -> Path:
        """Directory of the persistent Chroma store."""
        return self.data_home / "chroma"

    @property
    def effective_checkpoint_url(self) -> str:
        """Checkpoint database URL: its own setting, else the shared database, else a SQLite file."""
        return self.checkpoint_url or self.database_url or f"sqlite:///{self.data_home / 'checkpoints.db'}"

    @property
    def shared_postgres_url(self) -> str | None:
        """The Postgres URL every store shares, or None for the embedded SQLite files."""
        return self.database_url

    def tier(self, name: str) -> TierSettings:
        """Return the settings of tier ``small`` or ``large``."""
        if name not in ("small", "large"):
            raise SettingsError(f"unknown model tier {name!r}; expected 'small' or 'large'")
        return self.small if name == "small" else self.large

    def with_overrides(self, **changes: Any) -> "Settings":
        """Return a copy with some fields replaced (settings stay immutable)."""
        return dataclasses.replace(self, **changes)

    def describe(self) -> dict[str, Any]:
        """Effective settings as plain data, with secrets masked."""
        return {
            "config_file": str(self.config_file) if self.config_file else None,
            "data_home": str(self.data_home),
            "small_model": self.small.model,
            "small_base_url": self.small.base_url or self.openai_base_url,
            "small_call_limits": _limits(self.small),
            "large_model": self.large.model,
            "large_base_url": self.large.base_url or self.openai_base_url,
            "large_call_limits": _limits(self.large),
            "openai_api_key": _mask(self.openai_api_key),
            "openai_base_url": self.openai_base_url,
            "checkpoint_url": _mask_url(self.effective_checkpoint_url),
            "database_url": _mask_url(self.database_url) if self.database_url else None,
            "langsmith_enabled": self.langsmith_enabled,
            "langsmith_project": self.langsmith_project,
            "chroma_url": self.chroma_url,
            "embedding": self.embedding,
            "embedding_threads": self.embedding_threads,
            "policy_path": str(self.policy_path),
            "knowledge_path": str(self.knowledge_path),
            "world_seed": self.world_seed,
            "connector_latency_ms": self.connector_latency_ms,
            "small_api_key": _mask(self.small.api_key),
            "large_api_key": _mask(self.large.api_key),
            "pricing_file": str(self.pricing_file) if self.pricing_file else None,
            "tau2_data_path": str(self.tau2_data_path) if self.tau2_data_path else None,
            "tau2_user_model": self.tau2_user.model if self.tau2_user else None,
            "broker_url": _mask_url(self.broker_url) if self.broker_url else None,
            "broker_visibility_timeout_s": self.broker_visibility_timeout_s,
            "queue": self.queue,
            "console_cookie_key": _mask(self.console_secret),
            "memory_enabled": self.memory_enabled,
            "workflows_dir": str(self.workflows_dir) if self.workflows_dir else None,
        }


def _limits(tier: TierSettings) -> str:
    return (f"timeout {tier.timeout_s:g}s, {tier.max_retries} retries, backoff {tier.backoff_s:g}s, "
            f"structured output via {' > '.join(tier.structured_methods)}")


def _mask(secret: str | None) -> str | None:
    if not secret:
        return None
    return secret[:3] + "…" + secret[-2:] if len(secret) > 8 else "***"


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and ``opsgraph config``)."""
    return _mask_url(url)


def _mask_url(url: str) -> str:
    # Hide a password embedded in a database URL.
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


def _read_config_file(path: Path | None) -> dict[str, Any]:
    if path is None or not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"config file {path} must hold a mapping of settings")
    return data


def _pick(env: Mapping[str, str], file: dict[str, Any], env_key: str, file_key: str, default: Any = None) -> Any:
    if env.get(env_key):
        return env[env_key]
    if file.get(file_key) not in (None, ""):
        return file[file_key]
    return default


def _as_int(value: Any, name: str, minimum: int | None = None) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"setting {name} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise SettingsError(f"setting {name} must be at least {minimum}, got {value!r}")
    return number


def _positive(value: Any, name: str) -> int:
    number = _as_int(value, name)
    if number < 1:
        raise SettingsError(f"setting {name} must be at least 1, got {number}")
    return number


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _default_models(has_openai: bool) -> tuple[str, str]:
    # Offline is the default unless a key or base URL says a real server is there.
    return (OPENAI_SMALL, OPENAI_LARGE) if has_openai else (OFFLINE_SMALL, OFFLINE_LARGE)


def _tier(env: Mapping[str, str], file: dict[str, Any], name: str, default_model: str,
          shared_base_url: str | None = None) -> TierSettings:
    up = name.upper()
    base_url = _pick(env, file, f"OPSGRAPH_{up}_BASE_URL", f"{name}_base_url")
    api_key = _pick(env, file, f"OPSGRAPH_{up}_API_KEY", f"{name}_api_key")
    # A tier with its own endpoint or key talks to an OpenAI-compatible server even when
    # no shared OpenAI setting exists, so its default model is the OpenAI one.
    if base_url or api_key:
        default_model = OPENAI_SMALL if name == "small" else OPENAI_LARGE
    limits = LOCAL_CALL_LIMITS if is_local_url(base_url or shared_base_url) else HOSTED_CALL_LIMITS
    return TierSettings(
        model=str(_pick(env, file, f"OPSGRAPH_{up}_MODEL", f"{name}_model", default_model)),
        base_url=base_url,
        api_key=api_key,
        timeout_s=_as_float(_pick(env, file, f"OPSGRAPH_{up}_TIMEOUT_S", f"{name}_timeout_s", limits["timeout_s"]),
                            f"{name}_timeout_s", minimum=0.001),
        max_retries=_as_int(_pick(env, file, f"OPSGRAPH_{up}_MAX_RETRIES", f"{name}_max_retries",
                                  limits["max_retries"]), f"{name}_max_retries", minimum=0),
        backoff_s=_as_float(_pick(env, file, f"OPSGRAPH_{up}_BACKOFF_S", f"{name}_backoff_s", limits["backoff_s"]),
                            f"{name}_backoff_s", minimum=0.0),
        structured_methods=_methods(_pick(env, file, f"OPSGRAPH_{up}_STRUCTURED_METHODS",
                                          f"{name}_structured_methods", STRUCTURED_METHODS), name),
    )


def is_local_url(url: str | None) -> bool:
    """True when ``url`` points at this machine or a private network (a self-served model)."""
    host = urlparse(url).hostname if url else None
    if not host:
        return False
    if host == "localhost" or host.endswith(".local") or host.endswith(".internal"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def _methods(value: Any, tier: str) -> tuple[str, ...]:
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value or [])
    unknown = [n for n in names if n not in STRUCTURED_METHODS]
    if not names or unknown:
        raise SettingsError(f"setting {tier}_structured_methods must list some of {', '.join(STRUCTURED_METHODS)}, "
                            f"got {value!r}")
    return tuple(names)


def _as_float(value: Any, name: str, minimum: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"setting {name} must be a number, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"setting {name} must be at least {minimum:g}, got {value!r}")
    return number


def _config_path(env: Mapping[str, str], cwd: Path) -> Path | None:
    if env.get("OPSGRAPH_CONFIG"):
        path = Path(env["OPSGRAPH_CONFIG"]).expanduser()
        if not path.exists():
            raise SettingsError(f"config file {path} (from OPSGRAPH_CONFIG) does not exist")
        return path
    local = cwd / "opsgraph.yaml"
    return local if local.exists() else None


def load_settings(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Build the effective settings from ``env`` (default ``os.environ``) and the config file."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    config_file = _config_path(env, cwd)
    file = _read_config_file(config_file)
    api_key = _pick(env, file, "OPENAI_API_KEY", "openai_api_key")
    base_url = _pick(env, file, "OPENAI_BASE_URL", "openai_base_url")
    small_default, large_default = _default_models(bool(api_key or base_url))
    data_home = Path(_pick(env, file, "OPSGRAPH_HOME", "data_home", cwd / ".opsgraph")).expanduser()
    return Settings(
        data_home=data_home if data_home.is_absolute() else cwd / data_home,
        small=_tier(env, file, "small", small_default, base_url),
        large=_tier(env, file, "large", large_default, base_url),
        openai_api_key=api_key,
        openai_base_url=base_url,
        checkpoint_url=_pick(env, file, "OPSGRAPH_CHECKPOINT_URL", "checkpoint_url"),
        database_url=_database_url(_pick(env, file, "OPSGRAPH_DATABASE_URL", "database_url")),
        langsmith_enabled=bool(env.get("LANGSMITH_API_KEY")) and not _is_false(env.get("LANGSMITH_TRACING")),
        langsmith_project=str(_pick(env, file, "LANGSMITH_PROJECT", "langsmith_project", "opsgraph")),
        chroma_url=_pick(env, file, "OPSGRAPH_CHROMA_URL", "chroma_url"),
        embedding=str(_pick(env, file, "OPSGRAPH_EMBEDDING", "embedding", "onnx:all-MiniLM-L6-v2")),
        embedding_threads=_positive(
            _pick(env, file, "OPSGRAPH_EMBEDDING_THREADS", "embedding_threads", 1), "embedding_threads"),
        policy_path=Path(_pick(env, file, "OPSGRAPH_POLICY", "policy_path", default_policy_path())),
        knowledge_path=Path(_pick(env, file, "OPSGRAPH_KNOWLEDGE", "knowledge_path", corpus_dir())),
        world_seed=_as_int(_pick(env, file, "OPSGRAPH_WORLD_SEED", "world_seed", 7), "world_seed"),
        connector_latency_ms=_as_int(
            _pick(env, file, "OPSGRAPH_CONNECTOR_LATENCY_MS", "connector_latency_ms", 0), "connector_latency_ms"
        ),
        config_file=config_file,
        pricing_file=_pricing_path(_pick(env, file, "OPSGRAPH_PRICING", "pricing_file"), cwd),
        tau2_data_path=_tau2_data_path(_pick(env, file, "OPSGRAPH_TAU2_DATA", "tau2_data_path"), cwd),
        tau2_user=_tau2_user(env, file),
        broker_url=_broker_url(_pick(env, file, "OPSGRAPH_BROKER_URL", "broker_url")),
        broker_visibility_timeout_s=_positive(_pick(env, file, "OPSGRAPH_BROKER_VISIBILITY_TIMEOUT_S",
                                                    "broker_visibility_timeout_s", 3600),
                                              "broker_visibility_timeout_s"),
        queue=_queue(_pick(env, file, "OPSGRAPH_QUEUE", "queue", "opsgraph")),
        console_secret=_console_secret(_pick(env, file, "OPSGRAPH_CONSOLE_SECRET", "console_secret")),
        pii_key=_pick(env, file, "OPSGRAPH_PII_KEY", "pii_key"),

        memory_enabled=not _is_false(str(_pick(env, file, "OPSGRAPH_MEMORY", "memory", "on"))),
        workflows_dir=_optional_path(_pick(env, file, "OPSGRAPH_WORKFLOWS", "workflows_dir"), cwd),
    )


def _optional_path(value: Any, cwd: Path) -> Path | None:
    """A folder setting: None when unset, relative paths taken from the working directory."""
    if value in (None, ""):
        return None
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else cwd / path


def _console_secret(value: Any) -> str | None:
    """The console's cookie-signing key; a short one could be guessed, so it is refused."""
    if value in (None, ""):
        return None
    if len(str(value)) < 32:
        raise SettingsError("console_secret (OPSGRAPH_CONSOLE_SECRET) must be at least 32 characters; "
                            "leave it unset to use a key generated in the data home")
    return str(value)


def _database_url(value: Any) -> str | None:
    """The shared database URL: empty means none; only Postgres can be shared between machines."""
    if value is None or not str(value).strip():
        return None
    url = str(value).strip()
    if not url.startswith(("postgres://", "postgresql://")):
        raise SettingsError(f"database_url {url!r} must be a postgresql://user@host/db URL; "
                            "leave it unset for the embedded SQLite files")
    return url


BROKER_SCHEMES = ("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")


def _broker_url(value: Any) -> str | None:
    """The Celery broker URL: empty means none (runs stay in-process)."""
    if value is None or not str(value).strip():
        return None
    url = str(value).strip()
    if not url.startswith(BROKER_SCHEMES):
        raise SettingsError(f"broker_url {_mask_url(url)!r} must be a redis:// or amqp:// URL, "
                            "e.g. redis://127.0.0.1:6379/0")
    return url


def _queue(value: Any) -> str:
    name = str(value).strip()
    if not name or any(ch.isspace() for ch in name):
        raise SettingsError(f"setting queue must be a name without spaces, got {value!r}")
    return name


def _tau2_data_path(value: Any, cwd: Path) -> Path | None:
    # Default: the shared data folder beside the project checkout, when it is there.
    if value in (None, ""):
        beside = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "tau2-retail"
        return beside if beside.is_dir() else None
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else cwd / path


def _tau2_user(env: Mapping[str, str], file: dict[str, Any]) -> TierSettings | None:
    """The tau2 user simulator's model; None means "use the small tier"."""
    model = _pick(env, file, "OPSGRAPH_TAU2_USER_MODEL", "tau2_user_model")
    if not model:
        return None
    return TierSettings(model=str(model), base_url=_pick(env, file, "OPSGRAPH_TAU2_USER_BASE_URL", "tau2_user_base_url"),
                        api_key=_pick(env, file, "OPSGRAPH_TAU2_USER_API_KEY", "tau2_user_api_key"))


def _pricing_path(value: Any, cwd: Path) -> Path | None:
    if value in (None, ""):
        return None
    path = Path(str(value)).expanduser()
    path = path if path.is_absolute() else cwd / path
    if not path.is_file():
        raise SettingsError(f"pricing file {path} (OPSGRAPH_PRICING / pricing_file) does not exist")
    return path


def _is_false(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("0", "false", "no", "off")
