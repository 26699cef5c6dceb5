"""Fresh Postgres databases for tests: created per test module, dropped at teardown.

Helpers running at the same time share the Postgres server, so every database (and every
world schema inside one) gets a unique name.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.support.pg import fresh_database as server_database

SKIP_REASON = "OPSGRAPH_TEST_POSTGRES_URL is unset; set it to a Postgres URL to run the Postgres world tests"


def admin_url() -> str | None:
    """The test server's URL from the environment, or None."""
    return os.environ.get("OPSGRAPH_TEST_POSTGRES_URL") or None


@contextmanager
def fresh_database(prefix: str = "opsgraph") -> Iterator[str]:
    """A new, empty database on the test server for the block; yields its URL (skips without Postgres)."""
    base = admin_url()
    if base is None:
        pytest.skip(SKIP_REASON)
    with server_database(base, prefix) as url:
        yield url


def unique_schema(label: str = "world") -> str:
    """A world schema name no other test uses."""
    return f"{label}_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def world_database() -> Iterator[str]:
    """URL of a database created for this test module (dropped after it); skips without Postgres."""
    with fresh_database() as url:
        yield url


BACKENDS = ["sqlite", "postgres"]


def open_backend_world(backend: str, request: pytest.FixtureRequest, tmp_path: Path, **options: Any) -> Any:
    """A freshly seeded world on ``backend``: a file under ``tmp_path``, or a new schema in the module's database."""
    from opsgraph.tools.world import World

    if backend == "postgres":
        return World.open(request.getfixturevalue("world_database"), schema=unique_schema(), **options)
    return World.open(tmp_path / "world.db", **options)
