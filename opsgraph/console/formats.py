"""Jinja filters that format numbers, durations and JSON on the console's pages."""

from __future__ import annotations

import json
from typing import Any

DASH = "–"


def usd(value: Any) -> str:
    """``$1,234.56``; below a dollar four decimals (model costs are cents); a dash for no value."""
    if value is None:
        return DASH
    value = float(value)
    return f"${value:,.4f}" if 0 < abs(value) < 1 else f"${value:,.2f}"


def usd6(value: Any) -> str:
    """Model costs are fractions of a cent: six decimals."""
    return DASH if value is None else f"${float(value):,.6f}"


def pct(value: Any) -> str:
    """``87%``; a dash for no value."""
    return DASH if value is None else f"{float(value):.0%}"


def num(value: Any) -> str:
    """A count with thousands separators, rounded."""
    return DASH if value is None else f"{float(value):,.0f}"


def secs(value: Any) -> str:
    """A duration: ``850 ms``, ``12.4 s``, ``3.5 min``, ``2.1 h``, ``1.5 d``."""
    if value is None:
        return DASH
    value = float(value)
    for limit, unit, scale in ((1, "ms", 1000), (60, "s", 1), (3600, "min", 1 / 60), (86400, "h", 1 / 3600)):
        if value < limit:
            return f"{value * scale:.0f} {unit}" if unit == "ms" else f"{value * scale:.1f} {unit}"
    return f"{value / 86400:.1f} d"


def pretty(value: Any) -> str:
    """Indented JSON."""
    return json.dumps(value, indent=2, default=str, sort_keys=True)


def compact(value: Any, limit: int = 160) -> str:
    """One line of JSON (text as is), cut at ``limit`` characters."""
    if value in (None, "", {}, []):
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


FILTERS = {"usd": usd, "usd6": usd6, "pct": pct, "num": num, "secs": secs, "pretty": pretty, "compact": compact}
