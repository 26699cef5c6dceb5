"""Graph input for ``production_planning`` from CLI options or a chat line.

    opsgraph run production_planning --event breakdown --work-centre WC-02 --days 3
    opsgraph run production_planning --event late_material --shipment SH-0001 --delay-days 5
    opsgraph run production_planning --event rush --job JOB-0008
    opsgraph run production_planning --event "WC-02 broke down for 3 days"

Ids are checked against the MES before the run starts: a typo is a one-line error.
"""

from __future__ import annotations

import re
from typing import Any

from opsgraph.errors import UserError
from opsgraph.registry import checked_text, connector_errors_as_user_errors, found_id

KINDS = ("breakdown", "late_material", "rush")
_ALIASES = {"breakdown": "breakdown", "late_material": "late_material", "late-material": "late_material",
            "material": "late_material", "rush": "rush", "rush_order": "rush", "rush-order": "rush"}
_WORK_CENTRE = re.compile(r"\bWC-\d{2}\b", re.IGNORECASE)
_SHIPMENT = re.compile(r"\bSH-\d{4}\b", re.IGNORECASE)
_JOB = re.compile(r"\bJOB-\d{4}\b", re.IGNORECASE)
_DAYS = re.compile(r"\b(\d{1,3})\s*(?:calendar\s+|working\s+)?days?\b", re.IGNORECASE)
MAX_DAYS = 30
USAGE = ("describe the event: --event breakdown --work-centre WC-02 --days 3, --event late_material --shipment "
         "SH-0001 --delay-days 5, or --event rush --job JOB-0008")


def production_input(options: dict[str, Any], world: Any) -> dict[str, Any]:
    """Validate the event options against the world; raise UserError with what to write instead."""
    text = checked_text(options.get("event"), "--event")
    note = checked_text(options.get("note"), "--note")
    kind = _ALIASES.get(text.lower().replace(" ", "_")) if text else None
    free = "" if kind else text
    kind = kind or _kind_from_text(free)
    event = {"kind": kind, "work_centre_id": None, "days": None, "shipment_id": None, "job_id": None,
             "note": note or free}
    if kind == "breakdown":
        event["work_centre_id"] = _required(options.get("work_centre") or found_id(_WORK_CENTRE, free),
                                            "name the work centre with --work-centre WC-02")
        event["days"] = _days(options.get("days") if options.get("days") is not None else _text_days(free))
    elif kind == "late_material":
        event["shipment_id"] = _required(options.get("shipment") or found_id(_SHIPMENT, free),
                                         "name the late shipment with --shipment SH-0001")
        given = options.get("delay_days") if options.get("delay_days") is not None else options.get("days")
        event["days"] = _days(given if given is not None else _text_days(free))
    else:
        event["job_id"] = _required(options.get("job") or found_id(_JOB, free), "name the rush job with --job JOB-0008")
    _check_ids(event, world)
    return {"event": event}


def production_chat(text: str, world: Any) -> dict[str, Any]:
    """A chat line such as 'WC-02 is down for 3 days' as ``production_planning`` input."""
    return production_input({"event": text}, world)


def production_title(graph_input: dict[str, Any]) -> str:
    """A short title of the run for listings."""
    event = graph_input["event"]
    subject = event.get("work_centre_id") or event.get("shipment_id") or event.get("job_id")
    days = f" +{event['days']}d" if event.get("days") else ""
    return f"{event['kind']} {subject}{days}"


def _kind_from_text(text: str) -> str:
    if not text:
        raise UserError(USAGE)
    if found_id(_JOB, text) and re.search(r"\brush|urgent|expedite|pull(?:ed)? in\b", text, re.IGNORECASE):
        return "rush"
    if found_id(_SHIPMENT, text):
        return "late_material"
    if found_id(_WORK_CENTRE, text):
        return "breakdown"
    if found_id(_JOB, text):
        return "rush"
    raise UserError(f"unknown event {text[:60]!r}; {USAGE}")


def _required(value: Any, message: str) -> str:
    value = str(value or "").strip().upper()
    if not value:
        raise UserError(message)
    return value


def _text_days(text: str) -> int | None:
    match = _DAYS.search(text or "")
    return int(match.group(1)) if match else None


def _days(value: Any) -> int:
    if value is None:
        raise UserError("give the duration with --days N (or write 'N days' in --event)")
    if isinstance(value, bool) or not str(value).strip().lstrip("-").isdigit():
        raise UserError(f"--days must be a whole number from 1 to {MAX_DAYS}, got {value!r}")
    days = int(value)
    if not 1 <= days <= MAX_DAYS:
        raise UserError(f"--days must be between 1 and {MAX_DAYS}, got {days}")
    return days


def _check_ids(event: dict[str, Any], world: Any) -> None:
    with connector_errors_as_user_errors():
        try:
            if event["work_centre_id"]:
                world.mes.get_work_centre(event["work_centre_id"])
            if event["shipment_id"]:
                world.tms.get_shipment(event["shipment_id"])
            if event["job_id"]:
                world.mes.get_job(event["job_id"])
        except Exception as exc:  # noqa: BLE001 - a world seeded before the plant existed has no MES tables
            if "no such table" in str(exc) or "does not exist" in str(exc):
                raise UserError("this world has no plant yet (it predates production planning); "
                                "run `opsgraph world reset`") from None
            raise
