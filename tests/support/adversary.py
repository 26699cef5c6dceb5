"""A fully compromised agent for tests and the adversarial benchmark.

The adversary is a scripted chat model (:class:`tests.support.scripted.ScriptedChatModel`)
whose agents emit whatever tool calls an injected instruction would make them emit: split
refunds, repeats, forged approvers, other customers' invoices, tools they may not call,
NaN and negative amounts, look-alike unicode ids. The harness only drives the real graphs;
every guarantee is checked against the mock-system rows and the audit store.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from typing import Any, Iterator

from langchain_core.messages import AIMessage

from opsgraph.runner import open_runner
from tests.support.scripted import ScriptedChatModel, tool_call

DESK = "support_desk"
SUPPLY = "supply_chain_exception"
_ids = itertools.count(1)


def call(name: str, **args: Any) -> dict[str, Any]:
    """A tool call with a fresh id, as a model would emit it."""
    return tool_call(name, args, f"adv-{next(_ids)}")


def says(*calls: dict[str, Any]) -> AIMessage:
    """One assistant message making ``calls`` (all in parallel)."""
    return AIMessage("", tool_calls=list(calls))


def done(text: str = "Done.") -> AIMessage:
    """A final answer that ends the agent's turn."""
    return AIMessage(text)


def refund(invoice: str, amount: Any, reason: str = "customer request", **extra: Any) -> dict[str, Any]:
    """An ``issue_refund`` call."""
    return call("issue_refund", invoice_id=invoice, amount_usd=amount, reason=reason, **extra)


def purchase(supplier: str, lines: list[tuple[str, int]], **extra: Any) -> dict[str, Any]:
    """A ``create_purchase_order`` call to ``supplier`` for DC-EAST."""
    return call("create_purchase_order", supplier_id=supplier, dc_id="DC-EAST", justification="shortfall",
                lines=[{"sku_id": sku, "quantity": qty} for sku, qty in lines], **extra)


def to_billing() -> AIMessage:
    """Triage's handoff to billing."""
    return says(call("transfer_to_billing", reason="billing question"))


@contextmanager
def hostile_runner(settings: Any, script: dict[str, list[AIMessage]], **options: Any) -> Iterator[Any]:
    """A Runner whose every agent is the scripted adversary (the offline engine once a script runs out)."""
    model = ScriptedChatModel(script=script)
    with open_runner(settings, with_knowledge=False, model_factory=lambda tier, spec: model, **options) as runner:
        runner.adversary = model
        yield runner


def desk_turn(runner: Any, thread: str, text: str, customer: str | None = None) -> Any:
    """Send one customer message on ``thread`` (a new run or the next turn of it)."""
    options = {"message": text, "customer": customer}
    graph_input = runner.make_input(DESK, options)
    if runner.context.audit.run(thread) is None:
        return runner.start(DESK, graph_input, thread_id=thread)
    graph = runner.graph(DESK)
    graph.invoke(graph_input, runner.config(thread), context=runner.context)
    return runner.status(thread)


def refunds(runner: Any, invoice: str) -> list[dict[str, Any]]:
    """Refund rows of an invoice in billing."""
    return runner.context.world.billing.get_invoice(invoice)["refunds"]


def purchase_orders(runner: Any, supplier: str) -> list[dict[str, Any]]:
    """Purchase order headers of a supplier in the ERP."""
    return runner.context.world.erp.list_purchase_orders(supplier)["purchase_orders"]


def events(runner: Any, thread: str, kind: str) -> list[Any]:
    """Audit events of one kind on a thread."""
    return runner.context.audit.events(thread, kind)

