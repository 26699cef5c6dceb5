"""The chat REPL is the channel to the customer: it shows answers unmasked, while state keeps placeholders."""

from __future__ import annotations

import json

from tests.test_chat_session import _session, desk  # noqa: F401 - the small handoff graph and its fixture

MESSAGE = "My email is maria.gonzalez@lakeside-pack.com and my card 4111 1111 1111 1111 was charged twice"


def test_chat_shows_the_answer_unmasked_but_the_thread_and_registry_keep_placeholders(desk, settings):  # noqa: F811
    session, out = _session(settings, "desk-pii")
    try:
        session.send(MESSAGE)
        values = session.snapshot().values
        title = session.runner.context.audit.run("desk-pii").title
    finally:
        session.close()
    shown = out.getvalue()
    # The test graph's billing agent echoes the question it received: the printed echo is the real text ...
    assert "billing: Answering: My email is maria.gonzalez@lakeside-pack.com and my card 4111 1111 1111 1111" in shown
    # ... while the conversation stored in the checkpoint holds only placeholders.
    stored = json.dumps([m.content for m in values["messages"]])
    assert "Answering: My email is <EMAIL_1> and my card <CARD_1> was charged twice" in stored
    assert "lakeside-pack" not in stored and "4111" not in stored and "lakeside-pack" not in str(title)
