"""Errors a user can cause; the CLI prints them as one line and exits non-zero."""


class UserError(Exception):
    """Bad input from a person: unknown id, malformed option, missing thread."""


class RunFailed(Exception):
    """A run could not do its job for a reason that is not the user's input: a model that could not
    decide, a provider, database, checkpointer or knowledge-store failure.

    The runner ends such a run with status ``failed`` and this reason (never ``completed``);
    ``resumable`` says whether ``runs resume`` can carry on once the cause is fixed.
    """

    def __init__(self, reason: str, *, agent: str | None = None, resumable: bool = True):
        super().__init__(reason)
        self.reason, self.agent, self.resumable = reason, agent, resumable


class ModelDecisionError(RunFailed):
    """An agent's model gave no valid answer after the retry with feedback and the escalation."""
