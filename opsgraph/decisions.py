"""One path for a human decision on a pending approval, whoever takes it (CLI, web console).

``human_decision`` builds the decision from what the person chose and checks the edit's form
before anything is opened; ``apply_decision`` hands it to ``Runner.resume`` (the compare-and-set
in the database picks one winner) and turns an edit the graph refused into a UserError, since
the approval then stays pending.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsgraph.errors import UserError

if TYPE_CHECKING:  # the runner imports LangGraph; deciding needs it only once a runner exists
    from opsgraph.runner import RunResult, Runner, StepCallback

VERBS = ("approve", "reject", "edit")


def human_decision(verb: str, *, by: str, reason: str = "", edits: Any = None) -> dict[str, Any]:
    """``{decision, reason, edits, by}`` for ``verb``; an edit's JSON or fields are validated here (DecisionError)."""
    from opsgraph.governance.approvals import parse_edits

    if verb not in VERBS:
        raise UserError(f"unknown decision {verb!r}; use approve, reject or edit")
    decision = {"decision": verb, "reason": reason, "edits": edits, "by": by}
    if verb == "edit":
        decision["edits"] = parse_edits(edits)  # validate before touching anything
    return decision


def apply_decision(runner: Runner, thread_id: str, decision: dict[str, Any] | None,
                   on_step: StepCallback | None = None, budget: dict[str, Any] | None = None) -> RunResult:
    """Resume ``thread_id`` with ``decision``; a refused edit raises UserError (the approval stays pending)."""
    result = runner.resume(thread_id, decision, on_step=on_step, budget=budget)
    if decision and decision["decision"] == "edit":
        refused = refused_edits(result.pending)
        if refused:
            raise UserError(f"{refused[0]} (thread {thread_id} still awaits a decision)")
    return result


def refused_edits(pending: list[Any]) -> list[str]:
    """Why earlier edits of the pending approvals were refused, if any."""
    return [str(p["refused_edit"]) for p in pending if isinstance(p, dict) and p.get("refused_edit")]
