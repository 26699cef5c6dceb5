"""Knowledge citations found anywhere inside tool results."""

from __future__ import annotations

from typing import Any


def collect_citations(data: Any) -> list[str]:
    """Every ``citation`` string nested in ``data``, in order of appearance."""
    if isinstance(data, dict):
        own = [data["citation"]] if isinstance(data.get("citation"), str) else []
        return own + [c for value in data.values() for c in collect_citations(value)]
    if isinstance(data, list):
        return [c for item in data for c in collect_citations(item)]
    return []
