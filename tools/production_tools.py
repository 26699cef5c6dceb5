"""LangChain tools over the MES connector: the plant's calendars, bids, downtime and job assignments.

Bid numbers (by when, at what cost, how many units) are computed by the connector from the
work centre's calendar; a model only chooses which jobs to bid on and says why. Writes take
the executor-injected idempotency key; ``assign_job`` also takes the approval fields only
the approval path sets.
"""

from __future__ import annotations

from typing import Any, Callable

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from opsgraph.tools.catalog import APPROVAL_ID_HELP, APPROVER_HELP, KEY_HELP, ApprovalId, Approver, IdempotencyKey
from opsgraph.tools.connectors.base import plain
from opsgraph.tools.tool_base import SharedSchemaTool

DESCRIPTIONS = {
    "list_work_centres": "List the plant's work centres with capabilities, hours per day, hourly and changeover cost.",
    "get_work_centre": "A work centre's calendar: capabilities, downtime windows and the jobs scheduled on it.",
    "get_job": "A production job: product, operation, quantity, due date, customer order, schedule and bill of material.",
    "find_affected_jobs": ("Jobs an event puts up for bids: those on a broken-down work centre during its downtime "
                           "(work_centre_id), those waiting on a late inbound shipment (shipment_id), or a named rush "
                           "job (job_id). Give exactly one of the three."),
    "quote_bids": ("Price the announced jobs on your own work centre's calendar: for each job whether you can take "
                   "it (capability, batch limit, free hours), the units offered, start and finish date, cost in USD, "
                   "whether it meets the due date; can_take_job_ids lists the jobs you can bid on."),
    "submit_bids": ("Submit your bids for the announced jobs you choose to take (job_ids), with a short "
                    "justification. Jobs you leave out are a no-bid. The bid numbers are taken from your calendar."),
    "record_downtime": "Record that a work centre is out of service from today for a number of calendar days (1-30).",
    "assign_job": ("Schedule a job (or its first `quantity` units, when it may be split) on a work centre; the dates "
                   "come from that work centre's calendar. Finishing after the due date needs a human approval."),
    "check_materials": ("Component needs of production jobs (bill of material) against the plant DC's stock, with a "
                        "purchase order proposed for each shortfall."),
}


class NoArgs(BaseModel):
    """A tool without arguments."""


class WorkCentreArgs(BaseModel):
    work_centre_id: str = Field(description="Work centre id, e.g. WC-01.")


class JobArgs(BaseModel):
    job_id: str = Field(description="Production job id, e.g. JOB-0001.")


class AffectedArgs(BaseModel):
    work_centre_id: str | None = Field(None, description="Broken-down work centre, e.g. WC-02.")
    shipment_id: str | None = Field(None, description="Late inbound shipment, e.g. SH-0001.")
    job_id: str | None = Field(None, description="Rush job, e.g. JOB-0008.")


class QuoteBidsArgs(WorkCentreArgs):
    job_ids: list[str] = Field(min_length=1, max_length=20, description="Announced job ids, e.g. JOB-0002, JOB-0003.")


class SubmitBidsArgs(QuoteBidsArgs):
    justification: str = Field(min_length=1, max_length=1000, description="Why you bid on these jobs (and not others).")


class DowntimeArgs(WorkCentreArgs):
    days: int = Field(ge=1, le=30, description="Calendar days out of service from today (1-30).")
    reason: str = Field(min_length=1, max_length=500, description="Why, e.g. 'spindle bearing failure'.")
    idempotency_key: IdempotencyKey = Field(description=KEY_HELP)


class AssignArgs(JobArgs):
    work_centre_id: str = Field(description="Work centre that won the job, e.g. WC-03.")
    quantity: int | None = Field(None, gt=0, le=100_000, description="Units to assign (default: the whole job).")
    idempotency_key: IdempotencyKey = Field(description=KEY_HELP)
    approved_by: Approver = Field(None, description=APPROVER_HELP)
    approval_id: ApprovalId = Field(None, description=APPROVAL_ID_HELP)


class MaterialsArgs(BaseModel):
    job_ids: list[str] = Field(min_length=1, max_length=50, description="Production job ids, e.g. JOB-0008.")


def _tool(name: str, schema: type[BaseModel], fn: Callable[..., dict[str, Any]], writes: bool = False) -> StructuredTool:
    def run(**kwargs: Any) -> dict[str, Any]:
        return fn(**plain(kwargs))

    return SharedSchemaTool.from_function(func=run, name=name, description=DESCRIPTIONS[name], args_schema=schema,
                                          metadata={"system": "mes", "writes": writes})


def _submit(mes: Any) -> Callable[..., dict[str, Any]]:
    def submit(work_centre_id: str, job_ids: list[str], justification: str) -> dict[str, Any]:
        quoted = mes.quote_bids(work_centre_id, job_ids)
        # One list in the order asked: a job the calendar cannot take is declined with the calendar's reason.
        bids = [{**b, "submitted": True} if b["can_bid"] else {"job_id": b["job_id"], "submitted": False,
                                                                "reason": b["reason"]} for b in quoted["bids"]]
        return {"work_centre_id": quoted["work_centre_id"], "bids": bids, "justification": justification}
    return submit


def build_production_tools(world: Any, policy: Any = None) -> list[StructuredTool]:
    """The MES tools over ``world``; supplier minimums for proposed purchase orders come from ``policy``."""
    mes = world.mes
    minimums = {} if policy is None else {"min_reliability": float(policy.get("procurement.min_supplier_reliability")),
                                          "min_esg": float(policy.get("procurement.min_esg_score"))}

    def materials(job_ids: list[str]) -> dict[str, Any]:
        return mes.check_materials(job_ids, **minimums)

    return [
        _tool("list_work_centres", NoArgs, lambda: mes.list_work_centres()),
        _tool("get_work_centre", WorkCentreArgs, mes.get_work_centre),
        _tool("get_job", JobArgs, mes.get_job),
        _tool("find_affected_jobs", AffectedArgs, mes.find_affected_jobs),
        _tool("quote_bids", QuoteBidsArgs, lambda work_centre_id, job_ids: mes.quote_bids(work_centre_id, job_ids)),
        _tool("submit_bids", SubmitBidsArgs, _submit(mes)),
        _tool("record_downtime", DowntimeArgs, mes.record_downtime, writes=True),
        _tool("assign_job", AssignArgs, mes.assign_job, writes=True),
        _tool("check_materials", MaterialsArgs, materials),
    ]

