"""A Postgres database of its own for a test module: created fresh, dropped afterwards.

The test server is shared by test runs in parallel; a database per module keeps schemas,
tables and advisory locks from colliding and lets a test see tables being created.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit


@contextmanager
def fresh_database(admin_url: str, prefix: str = "opsgraph") -> Iterator[str]:
    """Create ``<prefix>_<uuid>`` on the server of ``admin_url``; yield its URL; drop it (connections forced out)."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path="/" + name))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rows(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of one query on the database at ``url``."""
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(sql, params or None).fetchall()
