"""A support conversation full of personal data through the real ``support_desk`` graph.

Offline engine, real SQLite checkpointer, real audit store, seeded mock enterprise. Every
message each model receives is captured at the model boundary (a callback on the models the
gateway builds); afterwards the audit database, the checkpoint database, the run registry,
the state and the report are scanned for every raw value. The run must still do its job.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage

from opsgraph.models.gateway import settings_model_factory
from opsgraph.runner import open_runner
from tests.support.scripted import ScriptedChatModel, tool_call

GRAPH = "support_desk"
CARD, PHONE_UK, PHONE_US = "4111 1111 1111 1111", "+44 20 7946 0958", "+1 (415) 555-0132"
EMAIL, STREET = "maria.gonzalez@lakeside-pack.com", "742 Evergreen Terrace, Springfield, IL 62704"
MESSAGE = (
    "Hi, my name is Maria Gonzalez from Lakeside Packaging Ltd. I was charged twice for invoice INV-0001 and would "
    f"like the duplicate charge refunded. Ticket TCK-0001. I paid with my Visa {CARD}. Call me on {PHONE_UK} or "
    f"{PHONE_US}, or write to {EMAIL}. Please post the credit note to {STREET}.\n\nKind regards,\nMaria Gonzalez"
)
# An earlier note on the ticket: free text in the CRM that get_ticket returns to the agents.
NOTE = "Called back Maria Gonzalez on +49 30 901820; she asked for mail to m.gonzalez@home.example.org."
# The raw values, in the forms they could be stored in (lower-cased for the scans).
RAW = ["maria gonzalez", "lakeside packaging", CARD, CARD.replace(" ", ""), "7946 0958", "555-0132", EMAIL,
       "evergreen terrace", "901820", "m.gonzalez@home.example.org"]


class ModelInputs(BaseCallbackHandler):
    """Everything a chat model is sent, as JSON text (content, tool-call arguments, extras)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def on_chat_model_start(self, serialized: dict, messages: list[list[BaseMessage]], **kwargs: Any) -> None:
        for batch in messages:
            self.sent += [json.dumps(m.model_dump(), default=str) for m in batch]


def _capturing_factory(settings, capture: ModelInputs):
    build = settings_model_factory(settings)

    def factory(tier: str, spec: str):
        model = build(tier, spec)
        model.callbacks = [capture]
        return model

    return factory


def _leaks(text: str) -> list[str]:
    lowered = text.lower()
    return [raw for raw in RAW if raw.lower() in lowered]


def _sqlite_text(path: Path) -> str:
    """Every value of every row of every table, blobs decoded as UTF-8 (msgpack keeps strings as UTF-8)."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        values = [v for t in tables for row in conn.execute(f'SELECT * FROM "{t}"') for v in row]
    finally:
        conn.close()
    assert values, f"{path} holds no rows"
    return "\n".join(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values)


def test_no_raw_personal_data_reaches_models_audit_checkpoints_or_report_and_the_refund_is_issued(settings):
    capture = ModelInputs()
    with open_runner(settings, with_knowledge=False, model_factory=_capturing_factory(settings, capture)) as runner:
        world = runner.context.world
        world.crm.update_ticket("TCK-0001", "open", NOTE, idempotency_key="pii-test-note")
        before = len(world.billing.get_invoice("INV-0001")["refunds"])
        done = runner.start(GRAPH, runner.make_input(GRAPH, {"message": MESSAGE, "customer": "CUST-005"}),
                            thread_id="pii-desk")
        invoice, ticket = world.billing.get_invoice("INV-0001"), world.crm.get_ticket("TCK-0001")
        vault = runner.context.privacy.vault
        revealed = {p: vault.reveal("pii-desk", p) for p in ("<CARD_1>", "<EMAIL_1>", "<ADDRESS_1>")}
        tools_run = [e.name for e in runner.context.audit.events("pii-desk", "tool_call")]

    # The run did its job on masked text.
    assert done.status == "completed" and done.report["outcome"] == "answered"
    assert len(invoice["refunds"]) == before + 1 and invoice["refunds"][-1]["amount_usd"] == 189.0
    assert ticket["status"] == "resolved" and {"get_ticket", "issue_refund", "update_ticket"} <= set(tools_run)
    # Models saw placeholders, never the values.
    assert capture.sent and [(_leaks(m), m) for m in capture.sent if _leaks(m)] == []
    seen = "\n".join(capture.sent)
    for placeholder in ("<NAME_1>", "<NAME_2>", "<CARD_1>", "<PHONE_1>", "<PHONE_2>", "<PHONE_3>", "<EMAIL_1>",
                        "<EMAIL_2>", "<ADDRESS_1>"):
        assert placeholder in seen
    assert "INV-0001" in seen and "TCK-0001" in seen and "CUST-005" in seen  # ids pass untouched
    assert revealed == {"<CARD_1>": CARD, "<EMAIL_1>": EMAIL, "<ADDRESS_1>": STREET}
    # Nothing stored holds a raw value: audit trail and run registry, checkpoints, state, report, the vault file.
    home = settings.data_home
    assert _leaks(_sqlite_text(home / "audit.db")) == []
    assert _leaks(_sqlite_text(home / "checkpoints.db")) == []
    assert _leaks(json.dumps(done.values, default=str)) == []
    assert _leaks(json.dumps(done.report, default=str)) == [] and "<NAME_1>" in done.report["title"]
    assert _leaks(_sqlite_text(home / "pii_vault.db")) == []


def test_a_placeholder_in_tool_arguments_is_resolved_from_the_threads_vault_for_the_tool_only(settings):
    note = "Customer asked to be called on <PHONE_1>; not on <PHONE_7>."
    script = {"billing": [AIMessage("", tool_calls=[tool_call(
        "update_ticket", {"ticket_id": "TCK-0001", "status": "pending", "note": note}, "ph-1")])]}
    model = ScriptedChatModel(script=script)
    with open_runner(settings, with_knowledge=False, model_factory=lambda tier, spec: model) as runner:
        done = runner.start(GRAPH, runner.make_input(GRAPH, {"message": MESSAGE, "customer": "CUST-005"}),
                            thread_id="pii-args")
        notes = [n["note"] for n in runner.context.world.crm.get_ticket("TCK-0001")["notes"]]
        event = next(e for e in runner.context.audit.events("pii-args", "tool_call") if e.name == "update_ticket")
    stored = next(n for n in notes if n.startswith("Customer asked"))
    # The enterprise system got the real number; a placeholder the thread never issued stays as it is.
    assert stored == f"Customer asked to be called on {PHONE_UK}; not on <PHONE_7>."
    # The audit event, the action and the tool message (the next model's input) keep the placeholder.
    assert event.args["note"] == note and PHONE_UK not in json.dumps(event.result)
    assert PHONE_UK not in json.dumps(done.values, default=str)
    billing_inputs = [m for r in model.received if r["agent"] == "billing" for m in r["messages"]]
    assert billing_inputs and not any(PHONE_UK in str(m.content) for m in billing_inputs)
