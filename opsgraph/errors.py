"""Errors a user can cause; the CLI prints them as one line and exits non-zero."""


class UserError(Exception):
    """Bad input from a person: unknown id, malformed option, missing thread."""
