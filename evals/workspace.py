"""Where eval cases run: a seeded template world, one shared knowledge store, a home per case.

Every case gets a fresh copy of the mock enterprise (``World.clone_to`` from a template
seeded once), its own data home (checkpoints, audit store) and its own thread, so cases
cannot see each other's writes and may run concurrently. The knowledge store is ingested
once per eval run and shared read-only: agents only search it.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import yaml

from opsgraph.settings import Settings

# The datasets' random records (shipments SH-0005.., suppliers, tickets) are those of this seed;
# the eval always uses it, whatever OPSGRAPH_WORLD_SEED says, so results compare across machines.
EVAL_SEED = 7
# Bookkeeping tables: replay keys and the schema stamp say nothing about what a run did.
IGNORED_TABLES = frozenset({"meta", "idempotency"})
Rows = dict[str, dict[str, dict[str, Any]]]


class Workspace:
    """Isolated homes for the cases of one eval run, under one temporary directory."""

    def __init__(self, settings: Settings, *, routing: str = "routed", root: Path | None = None,
                 with_knowledge: bool = True, shadow: bool = False) -> None:
        """Prepare the template world; the knowledge store is ingested on first use.

        ``shadow``: every case also runs in shadow mode first (see ``opsgraph eval --shadow``).
        """
        from opsgraph.tools.world import World

        self.settings, self.routing, self.with_knowledge, self.shadow = settings, routing, with_knowledge, shadow
        self._owned = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="opsgraph-eval-"))
        self.template = World.open(self.root / "template" / "world.db", seed=EVAL_SEED,
                                   latency_ms=settings.connector_latency_ms)
        self._template_rows = read_rows(self.template.path)
        self._lock = threading.Lock()
        self._retriever: Any = None
        self._memory_embedding: Any = None

    @property
    def retriever(self) -> Any:
        """The shared retriever over a store ingested once for this run (None without knowledge)."""
        if not self.with_knowledge:
            return None
        with self._lock:
            if self._retriever is None:
                self._retriever = self._ingest()
            return self._retriever

    @property
    def memory_embedding(self) -> Any:
        """The offline embedding every case's memory store shares (the model is loaded once per eval run)."""
        from opsgraph.knowledge.embeddings import MiniLMOnnxEmbedding

        with self._lock:
            if self._memory_embedding is None:
                self._memory_embedding = MiniLMOnnxEmbedding(threads=self.settings.embedding_threads)
            return self._memory_embedding

    def _ingest(self) -> Any:
        from opsgraph.governance.policy import load_policy
        from opsgraph.knowledge.embeddings import build_embedding_function
        from opsgraph.knowledge.ingest import ingest
        from opsgraph.knowledge.retrieval import Retriever

        kb_settings = self.settings.with_overrides(data_home=self.root / "knowledge")
        policy = load_policy(kb_settings.policy_path)
        embedding = build_embedding_function(kb_settings)  # loaded once, for ingestion and every search
        ingest(None, kb_settings, policy=policy, embedding_function=embedding)
        retriever = Retriever(kb_settings, policy, embedding_function=embedding, auto_ingest=False)
        retriever.search("warm up", k=1)  # opens the store now, not inside the first case's latency
        return retriever

    def new_case(self, policy: dict[str, Any] | None = None) -> tuple[Settings, Any]:
        """Settings for a fresh case home and the case's own copy of the template world.

        ``policy`` values (dotted paths) are written into a policy file of the case's own.
        """
        home = self.root / "cases" / uuid.uuid4().hex
        # A configured Postgres would be shared by every case (checkpoints, the retail store):
        # each case keeps SQLite in its home.
        settings = self.settings.with_overrides(data_home=home, checkpoint_url=None, database_url=None)
        if policy:
            settings = settings.with_overrides(policy_path=policy_variant(settings.policy_path, policy, home))
        with self._lock:
            world = self.template.clone_to(settings.world_path)
        return settings, world

    def changes(self, world_path: Path) -> dict[str, dict[str, Any]]:
        """What a case wrote to its world: added, changed and removed rows per table."""
        return diff_rows(self._template_rows, read_rows(world_path))

    def template_row(self, table: str, key: str) -> dict[str, Any] | None:
        """A row of the seeded world as it was before any case ran."""
        return self._template_rows.get(table, {}).get(key)

    def discard(self, settings: Settings) -> None:
        """Delete a finished case's home."""
        shutil.rmtree(settings.data_home, ignore_errors=True)

    def close(self) -> None:
        """Close the template and delete the workspace if this object created it."""
        self.template.close()
        if self._owned:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def policy_variant(base: Path, values: dict[str, Any], home: Path) -> Path:
    """A copy of the policy file at ``base`` with ``values`` (dotted paths) set, written into ``home``."""
    data = yaml.safe_load(base.read_text(encoding="utf-8"))
    for path, value in values.items():
        *parents, leaf = str(path).split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    home.mkdir(parents=True, exist_ok=True)
    target = home / "policy.yaml"
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target


def read_rows(path: Path) -> Rows:
    """Every row of every world table, keyed by primary key (``a|b`` for composite keys)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: _table_rows(conn, t) for t in tables if t not in IGNORED_TABLES and not t.startswith("sqlite_")}
    finally:
        conn.close()


def _table_rows(conn: sqlite3.Connection, table: str) -> dict[str, dict[str, Any]]:
    info = conn.execute(f"PRAGMA table_info({table})").fetchall()
    keys = [r["name"] for r in sorted(info, key=lambda r: r["pk"]) if r["pk"]]
    select = f"SELECT rowid AS _rowid, * FROM {table}" if not keys else f"SELECT * FROM {table}"
    rows = {}
    for row in conn.execute(select):
        data = dict(row)
        key = "|".join(str(data[k]) for k in keys) if keys else str(data.pop("_rowid"))
        rows[key] = data
    return rows


def diff_rows(before: Rows, after: Rows) -> dict[str, dict[str, Any]]:
    """Per table with any change: ``added`` rows (with their ``_key``), ``changed`` rows (key, before, after),
    ``removed`` keys."""
    out: dict[str, dict[str, Any]] = {}
    for table in sorted(set(before) | set(after)):
        old, new = before.get(table, {}), after.get(table, {})
        added = [{"_key": k, **new[k]} for k in new if k not in old]
        changed = [{"key": k, "before": old[k], "after": new[k]} for k in new if k in old and old[k] != new[k]]
        removed = [k for k in old if k not in new]
        if added or changed or removed:
            out[table] = {"added": added, "changed": changed, "removed": removed}
    return out
