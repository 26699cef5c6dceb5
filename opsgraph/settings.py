"""Effective configuration for opsgraph, read from the environment and a config file.

This module is the only place that reads environment variables. Everything else
receives a frozen :class:`Settings` instance (usually through the run context).

Precedence, highest first: environment variables, the YAML config file
(``$OPSGRAPH_CONFIG`` or ``./opsgraph.yaml``), built-in defaults.
"""

from __future__ import annotations

import dataclasses
import os
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


@dataclass(frozen=True)
class TierSettings:
    """Model spec plus optional per-tier endpoint for one model tier."""

    model: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Settings:
    """All run configuration in one immutable object."""

    data_home: Path
    small: TierSettings
    large: TierSettings
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    checkpoint_url: str | None = None
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

    @property
    def world_path(self) -> Path:
        """SQLite file holding the mock enterprise."""
        return self.data_home / "world.db"

    @property
    def audit_path(self) -> Path:
        """SQLite file holding the append-only audit store and run registry."""
        return self.data_home / "audit.db"

    @property
    def chroma_path(self) -> Path:
        """Directory of the persistent Chroma store."""
        return self.data_home / "chroma"

    @property
    def effective_checkpoint_url(self) -> str:
        """Checkpoint database URL; a SQLite file in the data home by default."""
        return self.checkpoint_url or f"sqlite:///{self.data_home / 'checkpoints.db'}"

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
            "large_model": self.large.model,
            "large_base_url": self.large.base_url or self.openai_base_url,
            "openai_api_key": _mask(self.openai_api_key),
            "openai_base_url": self.openai_base_url,
            "checkpoint_url": _mask_url(self.effective_checkpoint_url),
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
        }


def _mask(secret: str | None) -> str | None:
    if not secret:
        return None
    return secret[:3] + "…" + secret[-2:] if len(secret) > 8 else "***"


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


def _as_int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"setting {name} must be an integer, got {value!r}") from None


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


def _tier(env: Mapping[str, str], file: dict[str, Any], name: str, default_model: str) -> TierSettings:
    up = name.upper()
    base_url = _pick(env, file, f"OPSGRAPH_{up}_BASE_URL", f"{name}_base_url")
    api_key = _pick(env, file, f"OPSGRAPH_{up}_API_KEY", f"{name}_api_key")
    # A tier with its own endpoint or key talks to an OpenAI-compatible server even when
    # no shared OpenAI setting exists, so its default model is the OpenAI one.
    if base_url or api_key:
        default_model = OPENAI_SMALL if name == "small" else OPENAI_LARGE
    return TierSettings(
        model=str(_pick(env, file, f"OPSGRAPH_{up}_MODEL", f"{name}_model", default_model)),
        base_url=base_url,
        api_key=api_key,
    )


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
        small=_tier(env, file, "small", small_default),
        large=_tier(env, file, "large", large_default),
        openai_api_key=api_key,
        openai_base_url=base_url,
        checkpoint_url=_pick(env, file, "OPSGRAPH_CHECKPOINT_URL", "checkpoint_url"),
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
    )


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
