"""Prompt templates live in ``prompts/*.md`` and are loaded by name."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Any

from opsgraph.resources import prompts_dir



class PromptNotFound(KeyError):
    """No prompt file of that name exists."""


@lru_cache(maxsize=128)
def _read(name: str, directory: Path) -> str:
    path = directory / f"{name}.md"
    if not path.is_file():
        raise PromptNotFound(f"no prompt named {name!r} in {directory}")
    return path.read_text()


def load_prompt(name: str, directory: Path | None = None, **values: Any) -> str:
    """Prompt ``name`` (from the shipped prompts unless ``directory`` is given) with ``$placeholders``
    substituted from ``values`` (others left as is)."""
    text = _read(name, directory or prompts_dir())
    return Template(text).safe_substitute({k: str(v) for k, v in values.items()}) if values else text
