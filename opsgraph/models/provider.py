"""One entry point that turns a ``provider:model`` spec into a LangChain chat model, and the
retry loop every remote model call runs in (per-tier timeout, retries and backoff)."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from langchain_core.language_models import BaseChatModel

T = TypeVar("T")
MAX_BACKOFF_S = 30.0

PROVIDERS = ("openai", "offline")


class ModelSpecError(ValueError):
    """A model spec is malformed or names an unknown provider."""


def parse_model_spec(spec: str) -> tuple[str, str]:
    """Split ``"provider:model"``; the provider must be one opsgraph supports."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ModelSpecError(f"model spec {spec!r} must look like 'provider:model', e.g. 'openai:gpt-4o-mini'")
    provider, model = spec.split(":", 1)
    if provider not in PROVIDERS:
        raise ModelSpecError(f"unknown model provider {provider!r} in {spec!r}; expected one of {', '.join(PROVIDERS)}")
    if not model:
        raise ModelSpecError(f"model spec {spec!r} names no model")
    return provider, model


def load_chat_model(
    spec: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float = 60.0,
    max_retries: int = 0,
) -> BaseChatModel:
    """Build the chat model for ``spec``; ``openai`` honours a base URL (vLLM, Ollama, llama.cpp).

    ``max_retries`` is the client's own retry count; the gateway retries with the tier's
    backoff itself (see :func:`call_with_retries`), so it passes 0.
    """
    provider, model = parse_model_spec(spec)
    if provider == "offline":
        from opsgraph.models.offline.chat_model import OfflineChatModel

        return OfflineChatModel(model_name=spec)
    from langchain_openai import ChatOpenAI  # deferred: importing it costs ~0.5 s

    # Local OpenAI-compatible servers usually ignore the key but the client insists on one.
    return ChatOpenAI(
        model=model,
        api_key=api_key or ("not-needed" if base_url else None),
        base_url=base_url,
        timeout=timeout,
        max_retries=max_retries,
        temperature=0,
        # Streamed answers (opsgraph chat) must still report token usage, or cost accounting and
        # budgets see zero; langchain-openai only asks for it by default on api.openai.com.
        stream_usage=True,
    )


def is_transient(exc: BaseException) -> bool:
    """True for provider failures worth another attempt: timeout, connection, 429, 5xx."""
    try:
        import openai
    except ImportError:  # pragma: no cover - langchain-openai depends on it
        return False
    if isinstance(exc, (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


def call_with_retries(call: Callable[[], T], *, retries: int, backoff_s: float,
                      sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``call``; after a transient provider failure wait ``backoff_s`` (doubling) and try again.

    At most ``retries`` extra attempts; the last failure is raised unchanged so callers see
    the provider's own error type.
    """
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            if attempt >= retries or not is_transient(exc):
                raise
            sleep(min(MAX_BACKOFF_S, backoff_s * 2 ** attempt))
            attempt += 1
