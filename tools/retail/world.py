"""The retail database of a data home, opened on first use.

Every run context carries the retail tools, but most runs never call one: the database is
created (from the tau2 ``db.json`` the settings point at) and opened only when a retail
tool is first invoked, in ``<data home>/retail.db``, or in the schema ``opsgraph_retail``
of the shared Postgres database when one is set.
"""

from __future__ import annotations

import threading
from typing import Any

from langchain_core.tools import BaseTool

from opsgraph.settings import Settings
from opsgraph.tools.connectors.base import WorldError
from opsgraph.tools.connectors.retail_store import RetailStore
from opsgraph.tools.retail.tools import build_retail_tools


class LazyRetail:
    """Stands in for the :class:`Retail` connector of ``settings``' data home until it is needed."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store: RetailStore | None = None
        self._lock = threading.Lock()

    def store(self) -> RetailStore:
        """The data home's retail store, created from the configured ``db.json`` if missing."""
        with self._lock:
            if self._store is None:
                self._store = self._open()
            return self._store

    def _open(self) -> RetailStore:
        from opsgraph.tools.connectors.base import Database

        data = self._settings.tau2_data_path
        if self._settings.database_url:
            return RetailStore.open_postgres(self._settings.database_url, data / "db.json" if data else None)
        path = self._settings.data_home / "retail.db"
        if path.exists():
            return RetailStore(Database(path))
        if data is None or not (data / "db.json").is_file():
            raise WorldError("no retail database: set OPSGRAPH_TAU2_DATA to a folder holding a tau2 retail db.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        return RetailStore.load(data / "db.json", path)

    def call(self, name: str, arguments: dict[str, Any], idempotency_key: str) -> Any:
        """Forward one retail operation to the real connector."""
        return self.store().retail.call(name, arguments, idempotency_key)

    def close(self) -> None:
        """Close the store if it was opened."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def lazy_retail_tools(settings: Settings) -> dict[str, BaseTool]:
    """The retail tools over the data home's retail database, opened on first use."""
    return build_retail_tools(LazyRetail(settings))
