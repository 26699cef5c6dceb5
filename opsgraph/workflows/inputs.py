"""Run input of a spec that takes one record id: found in the options or the text, checked against the world."""

from __future__ import annotations

import re
from typing import Any

from opsgraph.errors import UserError
from opsgraph.registry import checked_text, connector_errors_as_user_errors
from opsgraph.workflows.spec import InputDecl


class IdInput:
    """Turns ``--<option> ID``, ``--event``/``--message`` text or a chat line into ``{"subject_id": ID}``."""

    def __init__(self, decl: InputDecl) -> None:
        self.decl = decl
        self.pattern = re.compile(rf"\b(?:{decl.pattern})\b", re.IGNORECASE)

    def make_input(self, options: dict[str, Any], world: Any) -> dict[str, Any]:
        """Graph input from CLI-style options; a UserError when no id is given or the world has no such record."""
        given = options.get(self.decl.option) if self.decl.option else None
        text = checked_text(str(given or options.get("event") or options.get("message") or ""), "the request")
        match = self.pattern.search(text)
        if not match:
            raise UserError(f"name the {self.decl.field} (written like {self.decl.pattern}) with --event, "
                            f"e.g. --event 'please handle <id>'")
        subject = match.group(0).upper()
        system, operation = str(self.decl.lookup).split(".", 1)
        with connector_errors_as_user_errors():
            getattr(getattr(world, system), operation)(subject)
        return {"subject_id": subject}

    def chat_input(self, text: str, world: Any) -> dict[str, Any]:
        """Graph input from one chat line."""
        return self.make_input({"event": text}, world)

    def title(self, graph_input: dict[str, Any]) -> str:
        """A run's title in run lists."""
        return self.decl.title.replace("$subject_id", graph_input["subject_id"])
