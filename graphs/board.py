"""The demand board: versioned sections written under optimistic concurrency.

Every write names the version of its section it was based on. The reducer applies the writes
of one superstep in order; a write based on a version that is no longer current is rejected
(kept in ``rejections``, audited by the controller) and its author re-reads the board and
tries again in the next cycle. The reducer is the only place a section changes, so the check
holds whatever an agent (or a model) sends.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

Section = Literal["signals", "forecast", "safety_stock", "replenishment", "promotions"]
SECTIONS: tuple[str, ...] = ("signals", "forecast", "safety_stock", "replenishment", "promotions")


class BoardWrite(TypedDict):
    """One proposed change of a section."""

    section: str
    based_on: int
    data: dict[str, Any]
    author: str
    why: str
    cycle: int


class Board(TypedDict):
    """Current version and data of each section, every accepted write, every rejected one."""

    sections: dict[str, dict[str, Any]]
    history: list[dict[str, Any]]
    rejections: list[dict[str, Any]]


def empty_board(sections: tuple[str, ...] = SECTIONS) -> Board:
    """Every section (the demand board's, or the ones given) at version 0 with no data."""
    return {"sections": {name: {"version": 0, "data": {}, "author": None} for name in sections},
            "history": [], "rejections": []}


def apply_board_writes(current: Board | None, update: Board | list[BoardWrite] | None) -> Board:
    """Reducer of state ``board``: a whole Board replaces it; a list of writes is applied in order.

    A write whose ``based_on`` is not its section's current version is rejected; an unknown
    section is rejected too. Accepted writes bump the version by one.
    """
    board = current or empty_board()
    if update is None:
        return board
    if isinstance(update, dict):
        return update
    sections = {k: dict(v) for k, v in board["sections"].items()}
    history, rejections = list(board["history"]), list(board["rejections"])
    for write in update:
        section = sections.get(write["section"])
        if section is None or int(write["based_on"]) != section["version"]:
            current_version = section["version"] if section else None
            rejections.append({**_entry(write), "based_on": write["based_on"], "current": current_version,
                               "reason": "unknown section" if section is None else "stale version"})
            continue
        section.update(version=section["version"] + 1, data=write["data"], author=write["author"])
        history.append({**_entry(write), "version": section["version"], "based_on": write["based_on"]})
    return {"sections": sections, "history": history, "rejections": rejections}


def _entry(write: BoardWrite) -> dict[str, Any]:
    return {"section": write["section"], "author": write["author"], "why": write["why"], "cycle": write["cycle"],
            "data": write["data"]}


def versions(board: Board) -> dict[str, int]:
    """Section -> current version."""
    return {name: section["version"] for name, section in board["sections"].items()}


def changed_by_others(board: Board, agent: str, seen: dict[str, int], sections: tuple[str, ...]) -> list[str]:
    """Sections among ``sections`` that someone other than ``agent`` wrote after the versions it saw."""
    return sorted({h["section"] for h in board["history"] if h["section"] in sections and h["author"] != agent
                   and h["version"] > seen.get(h["section"], 0)})
