"""Graph ids known to opsgraph: builder, topology, and how to turn CLI options into input."""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

from opsgraph.errors import UserError

if TYPE_CHECKING:  # importing LangGraph costs ~1 s; `opsgraph chat` and `graphs` list ids without it
    from langgraph.graph import StateGraph


@dataclass(frozen=True)
class GraphEntry:
    """One runnable workflow."""

    graph_id: str
    topology: str
    description: str
    builder: Callable[[], StateGraph]
    make_input: Callable[[dict[str, Any], Any], dict[str, Any]]
    title: Callable[[dict[str, Any]], str]
    # Turns one line typed in the chat REPL into graph input (new thread or next turn).
    chat_input: Callable[[str, Any], dict[str, Any]] | None = None
    # Representative CLI-style options (as for make_input) on the seeded world: router
    # calibration and the routing benchmark run these.
    samples: tuple[dict[str, Any], ...] = ()


_SHIPMENT = re.compile(r"\bSH-\d{4}\b", re.IGNORECASE)
_DAYS = re.compile(r"\b(\d{1,3})\s*(?:calendar\s+|business\s+)?days?\b", re.IGNORECASE)
# Where one statement about a shipment ends and the next begins: "SH-0004 is on time but
# SH-0001 is 5 days late" says two things, and the days belong to the second shipment only.
# "and" is not a break: "SH-0002 and SH-0003 are both 5 days late" is one statement about two
# shipments, and the first named is taken (the run handles one shipment).
_CLAUSE_BREAK = re.compile(r"[.;!?\n]\s*|,\s*|\s+(?:but|while|whereas|although|though)\s+", re.IGNORECASE)
_EARLY = re.compile(r"\b(?:early|earlier|ahead(?:\s+of\s+schedule)?|sooner)\b", re.IGNORECASE)
MAX_TEXT_CHARS = 4000


def checked_text(text: str | None, what: str) -> str:
    """``text`` stripped; a UserError naming ``what`` when it is longer than MAX_TEXT_CHARS."""
    text = (text or "").strip()
    if len(text) > MAX_TEXT_CHARS:
        raise UserError(f"{what} is {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    return text


def found_id(pattern: re.Pattern, text: str) -> str | None:
    """The first id ``pattern`` matches in ``text``, upper-cased, or None."""
    match = pattern.search(text)
    return match.group(0).upper() if match else None


@contextmanager
def connector_errors_as_user_errors() -> Iterator[None]:
    """Re-raise a connector error from inside (an unknown id in the input, say) as a one-line UserError."""
    from opsgraph.tools.connectors.base import ConnectorError

    try:
        yield
    except ConnectorError as exc:
        raise UserError(str(exc)) from None


def supply_chain_input(options: dict[str, Any], world: Any) -> dict[str, Any]:
    """Validate ``--shipment/--delay-days/--event`` against the world; raise UserError if unusable.

    Ids may be written in any case. In ``--event`` text the days are bound to the shipment
    named in the same clause (or the last one named before it), and days early are not a delay.
    """
    event_text = checked_text(options.get("event"), "--event")
    named, days = _late_shipment(event_text)
    shipment = str(options.get("shipment") or named or "").strip().upper()
    if options.get("delay_days") is not None:  # 0 is an answer, not a missing value
        days = options["delay_days"]
    if not shipment:
        raise UserError("name the late shipment with --shipment SH-0001 (or mention its id in --event)")
    if days is None:
        raise UserError("give the delay with --delay-days N (or write 'N days' in --event)")
    if int(days) <= 0:
        raise UserError(f"a delay of {days} days is no delay: nothing to handle for {shipment}; "
                        "give --delay-days from 1 to 60")
    if int(days) > 60:
        raise UserError(f"--delay-days must be between 1 and 60, got {days}")
    with connector_errors_as_user_errors():
        world.tms.get_shipment(shipment)
    description = event_text or f"Inbound shipment {shipment} is delayed by {days} days."
    return {"event": {"shipment_id": shipment, "delay_days": int(days), "description": description}}


def _late_shipment(text: str) -> tuple[str | None, int | None]:
    """(shipment, days late) from free text; the first shipment named when no clause states days.

    Raises UserError when the only days stated are days early: that is good news, not an
    exception to handle, and recording it as a delay would act on the opposite of the event.
    """
    current, first, early = None, found_id(_SHIPMENT, text), None
    for clause in _CLAUSE_BREAK.split(text):
        ids = _SHIPMENT.findall(clause)
        current = ids[0].upper() if ids else current
        days = _first_int(_DAYS, clause)
        if days is None or current is None:
            continue
        if not _EARLY.search(clause):
            return current, days
        early = early or (current, days)
    if early:
        raise UserError(f"{early[0]} arrives {early[1]} days early: that is not a delay, so there is nothing to "
                        "handle; name a late shipment and its delay (e.g. 'SH-0001 is 5 days late')")
    return first, None


def _first_int(pattern: re.Pattern, text: str) -> int | None:
    match = pattern.search(text)
    return int(match.group(1)) if match else None


def _supply_chain_builder() -> StateGraph:
    from opsgraph.graphs.supply_chain import build_supply_chain_graph

    return build_supply_chain_graph()


def _contract_review_builder() -> StateGraph:
    from opsgraph.graphs.contract_review import build_contract_review_graph

    return build_contract_review_graph()


def _supplier_risk_builder() -> StateGraph:
    from opsgraph.graphs.supplier_risk import build_supplier_risk_graph

    return build_supplier_risk_graph()


def _review_entries() -> list[GraphEntry]:
    from opsgraph import review_inputs as inputs

    return [
        GraphEntry(
            "contract_review", "sequential",
            "A supplier contract: extract terms, check them against our standard terms, summarise the flagged risks; "
            "every step's output is validated before the next step runs.",
            _contract_review_builder, inputs.contract_review_input, lambda inp: f"contract {inp['contract_id']}",
            chat_input=inputs.contract_review_chat,
            samples=tuple({"contract": f"CTR-{n}"} for n in range(1001, 1007)),
        ),
        GraphEntry(
            "supplier_risk", "concurrent",
            "Finance, operations and ESG assessors score one supplier in parallel; a reconciler merges them by "
            "confidence-weighted vote and flags disagreements.",
            _supplier_risk_builder, inputs.supplier_risk_input, lambda inp: f"supplier {inp['supplier_id']}",
            chat_input=inputs.supplier_risk_chat,
            samples=tuple({"supplier": s} for s in ("SUP-001", "SUP-013", "SUP-017", "SUP-019", "SUP-006")),
        ),
    ]


def _support_desk_builder() -> StateGraph:
    from opsgraph.graphs.support_desk import build_support_desk_graph

    return build_support_desk_graph()


def _retail_support_builder() -> StateGraph:
    from opsgraph.graphs.retail_support import build_retail_support_graph

    return build_retail_support_graph()


def _retail_input(options: dict[str, Any], world: Any) -> dict[str, Any]:
    """``--message '...'``: the retail customer's message (they authenticate in the conversation)."""
    from langchain_core.messages import HumanMessage

    text = checked_text(options.get("message") or options.get("event"), "the message")
    if not text:
        raise UserError("write the customer's message with --message, e.g. --message 'Please cancel order #W0000000'")
    return {"messages": [HumanMessage(content=text)]}


def _procurement_review_builder() -> StateGraph:
    from opsgraph.graphs.procurement_review import build_procurement_review_graph

    return build_procurement_review_graph()


def _operations_director_builder() -> StateGraph:
    from opsgraph.graphs.operations_director import build_operations_director_graph

    return build_operations_director_graph()


def _orchestration_entries() -> list[GraphEntry]:
    from opsgraph import orchestration_inputs as inputs

    return [
        GraphEntry(
            "support_desk", "handoff",
            "A customer message: triage hands it to billing, technical support or account management; the "
            "specialist keeps the conversation; too many handoffs or a ping-pong go to a human.",
            _support_desk_builder, inputs.support_desk_input, inputs.support_title, chat_input=inputs.support_desk_chat,
            samples=({"message": "I was charged twice for invoice INV-0001; please refund the duplicate charge. "
                                 "Ticket TCK-0001."},
                     {"message": "Since my password change our sync fails with error 401. Ticket TCK-0002."},
                     {"message": "Please upgrade us from the pro plan to the enterprise plan. Ticket TCK-0003."}),
        ),
        GraphEntry(
            "retail_support", "handoff",
            "tau2-bench retail: triage authenticates the customer and hands over to orders, returns or account; "
            "writes only on that customer's records; a transfer to a human pauses for one.",
            _retail_support_builder, _retail_input, inputs.support_title,
            chat_input=lambda text, world: _retail_input({"message": text}, world),
        ),
        GraphEntry(
            "procurement_review", "group chat, maker-checker",
            "A purchase request: a buyer proposes a purchase order, compliance and finance review it in one thread "
            "until all approve (then it is raised) or the rounds run out (then a human decides).",
            _procurement_review_builder, inputs.procurement_review_input, inputs.request_title,
            chat_input=inputs.procurement_review_chat,
            samples=({"request": "65 units of SKU-003 for DC-WEST from SUP-006"},
                     {"request": "20 units of SKU-001 for DC-EAST from SUP-013"},
                     {"request": "100 units of SKU-001 for DC-EAST from SUP-001"}),
        ),
        GraphEntry(
            "operations_director", "hierarchical",
            "A top supervisor delegates to team supervisors running as subgraphs: the supply chain team and the "
            "procurement team.",
            _operations_director_builder, inputs.operations_director_input, inputs.director_title,
            chat_input=inputs.operations_director_chat,
            samples=({"shipment": "SH-0002", "delay_days": 4},
                     {"request": "65 units of SKU-003 for DC-WEST from SUP-006"}),
        ),
    ]


def _production_planning_builder() -> StateGraph:
    from opsgraph.graphs.production_planning import build_production_planning_graph

    return build_production_planning_graph()


def _production_entries() -> list[GraphEntry]:
    from opsgraph import production_inputs as inputs

    return [
        GraphEntry(
            "production_planning", "market",
            "A breakdown, late material or a rush order puts production jobs up for bids; work centres bid from "
            "their calendars, the orchestrator awards by policy and a human approves moved customer commitments.",
            _production_planning_builder, inputs.production_input, inputs.production_title,
            chat_input=inputs.production_chat,
            samples=({"event": "breakdown", "work_centre": "WC-02", "days": 3},
                     {"event": "rush", "job": "JOB-0009"}, {"event": "rush", "job": "JOB-0008"}),
        ),
    ]


def graph_entries() -> dict[str, GraphEntry]:
    """Every registered workflow by graph id: the Python ones, then the YAML workflow specs."""
    from opsgraph.workflows.registration import workflow_entries

    entries = python_graph_entries()
    return entries | {entry.graph_id: entry for entry in workflow_entries()}


def python_graph_entries() -> dict[str, GraphEntry]:
    """The workflows built in Python, by graph id."""
    entries = [
        GraphEntry(
            "supply_chain_exception", "supervisor",
            "A late inbound shipment: logistics, inventory, procurement and customer comms under a supervisor.",
            _supply_chain_builder, supply_chain_input,
            lambda inp: f"shipment {inp['event']['shipment_id']} +{inp['event']['delay_days']}d",
            chat_input=lambda text, world: supply_chain_input({"event": text}, world),
            samples=tuple({"shipment": shipment, "delay_days": days} for shipment, days in (
                ("SH-0001", 5), ("SH-0002", 4), ("SH-0003", 6), ("SH-0004", 2),
                ("SH-0001", 2), ("SH-0002", 10), ("SH-0003", 12), ("SH-0005", 3))),
        ),
    ]
    entries += _review_entries()
    entries += _orchestration_entries()
    entries += _demand_entries()
    entries += _production_entries()
    return {entry.graph_id: entry for entry in entries}


def get_entry(graph_id: str) -> GraphEntry:
    """The entry for ``graph_id`` or a UserError listing the known ids."""
    entries = graph_entries()
    if graph_id not in entries:
        raise UserError(f"unknown graph {graph_id!r}; known graphs: {', '.join(sorted(entries))}")
    return entries[graph_id]


def _demand_sensing_builder() -> StateGraph:
    from opsgraph.graphs.demand_sensing import build_demand_sensing_graph

    return build_demand_sensing_graph()


def _demand_entries() -> list[GraphEntry]:
    from opsgraph import demand_inputs as inputs

    return [GraphEntry(
        "demand_sensing", "blackboard",
        "Demand feeds update a versioned board: demand sensing, promotion, inventory optimisation and replenishment "
        "agents react to the sections they subscribe to until the board is quiescent.",
        _demand_sensing_builder, inputs.demand_sensing_input, lambda inp: f"demand {inp['sku_id']}",
        chat_input=inputs.demand_sensing_chat,
        samples=tuple({"sku": s} for s in ("SKU-001", "SKU-003", "SKU-007")),
    )]
