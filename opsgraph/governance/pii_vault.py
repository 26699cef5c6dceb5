"""The per-thread placeholder vault: which value became ``<EMAIL_1>`` in which thread.

The vault lives server-side in its own SQLite file next to the audit store and is never
sent to a model, written into checkpoints or the audit trail. It holds no value in clear:
a value is found by its keyed hash (HMAC-SHA256 under the data home's secret key, so the
same value in another installation hashes differently), and the reverse mapping, needed
when a tool must act on a placeholder a model passed, is the value encrypted with Fernet
(AES-128-CBC + HMAC) under a key derived from the same secret. Whoever holds the database
file without the key learns nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
from pathlib import Path

from opsgraph.failures import StorageError
from opsgraph.locks import init_lock

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pii_placeholders (
    thread_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    kind TEXT NOT NULL,
    number INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (thread_id, digest),
    UNIQUE (thread_id, kind, number)
);
"""


def load_secret(path: Path, configured: str | None = None) -> bytes:
    """The vault's secret: ``configured`` (OPSGRAPH_PII_KEY) when set, else a key file created once (0600)."""
    if configured:
        return configured.encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    with init_lock(path.parent):
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32))
    return path.read_text().strip().encode()


class PiiVault:
    """Placeholders of one data home: stable per thread, keyed hashes and encrypted values only."""

    def __init__(self, path: Path, secret: bytes):
        """Open (creating on first use) the vault at ``path``; ``secret`` keys the hashes and the encryption."""
        self.path = path
        self._use_secret(secret)
        path.parent.mkdir(parents=True, exist_ok=True)
        with init_lock(path.parent):
            self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.executescript(_SCHEMA)
            except sqlite3.DatabaseError as exc:
                self._conn.close()
                raise StorageError(f"PII vault {path} is damaged or not an opsgraph database ({exc}); "
                                   "move it aside to start a new one") from None

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def placeholder(self, thread_id: str, kind: str, normalized: str, value: str) -> str:
        """The placeholder of ``normalized`` in ``thread_id``, numbered per kind in order of first sight.

        Another process may number the same thread at once: the insert runs in an immediate
        transaction, so two values never get one number and one value never gets two.
        """
        digest = self._digest(thread_id, kind, normalized)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute("SELECT kind, number FROM pii_placeholders WHERE thread_id = ? AND digest = ?",
                                         (thread_id, digest)).fetchone()
                if row is None:
                    number = self._conn.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM pii_placeholders WHERE "
                                                "thread_id = ? AND kind = ?", (thread_id, kind)).fetchone()[0]
                    self._conn.execute("INSERT INTO pii_placeholders VALUES (?, ?, ?, ?, ?)",
                                       (thread_id, digest, kind, number, self._fernet.encrypt(value.encode())))
                    row = (kind, number)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return f"<{row[0]}_{row[1]}>"

    def reveal(self, thread_id: str, placeholder: str) -> str | None:
        """The value behind ``placeholder`` in ``thread_id`` (as first seen), or None when the thread has none."""
        kind, _, number = placeholder.strip("<>").rpartition("_")
        if not kind or not number.isdigit():
            return None
        with self._lock:
            row = self._conn.execute("SELECT sealed FROM pii_placeholders WHERE thread_id = ? AND kind = ? AND number = ?",
                                     (thread_id, kind, int(number))).fetchone()
        return self._fernet.decrypt(row[0]).decode() if row else None

    def count(self, thread_id: str, kind: str | None = None) -> int:
        """How many distinct values (of ``kind``, or of any kind) were masked in ``thread_id``."""
        sql, params = "SELECT COUNT(*) FROM pii_placeholders WHERE thread_id = ?", (thread_id,)
        if kind:
            sql, params = sql + " AND kind = ?", (thread_id, kind)
        with self._lock:
            return int(self._conn.execute(sql, params).fetchone()[0])

    def values(self, thread_id: str, kind: str) -> list[str]:
        """The values of ``kind`` masked in ``thread_id`` (decrypted), in the order they were first seen."""
        with self._lock:
            rows = self._conn.execute("SELECT sealed FROM pii_placeholders WHERE thread_id = ? AND kind = ? "
                                      "ORDER BY number", (thread_id, kind)).fetchall()
        return [self._fernet.decrypt(row[0]).decode() for row in rows]

    def _use_secret(self, secret: bytes) -> None:
        from cryptography.fernet import Fernet

        self._hash_key = hashlib.sha256(b"opsgraph-pii-hash|" + secret).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"opsgraph-pii-seal|" + secret).digest()))
        self._lock = threading.Lock()

    def _digest(self, thread_id: str, kind: str, normalized: str) -> str:
        message = f"{thread_id}\x1f{kind}\x1f{normalized}".encode()
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()


_PG_TABLES = (
    """CREATE TABLE IF NOT EXISTS opsgraph.pii_placeholders (
        thread_id TEXT NOT NULL, digest TEXT NOT NULL, kind TEXT NOT NULL, number INTEGER NOT NULL,
        sealed BYTEA NOT NULL, PRIMARY KEY (thread_id, digest), UNIQUE (thread_id, kind, number))""",
    "CREATE TABLE IF NOT EXISTS opsgraph.pii_secret (id INTEGER PRIMARY KEY CHECK (id = 1), secret TEXT NOT NULL)",
)


def shared_secret(conn: object, configured: str | None) -> bytes:
    """The vault secret every machine of a shared database uses: ``configured`` (OPSGRAPH_PII_KEY)
    when set, else one generated by the first process and kept in the database."""
    if configured:
        return configured.encode()
    conn.execute("INSERT INTO opsgraph.pii_secret (id, secret) VALUES (1, %s) ON CONFLICT (id) DO NOTHING",
                 (secrets.token_urlsafe(32),))
    return str(conn.execute("SELECT secret FROM opsgraph.pii_secret WHERE id = 1").fetchone()[0]).encode()


class PostgresPiiVault(PiiVault):
    """The vault in the shared Postgres database, so a thread resumed on another machine keeps its
    placeholders; same contract as the file vault (keyed hashes and sealed values only)."""

    def __init__(self, url: str, configured_secret: str | None = None):
        """Open the vault tables in ``url`` (created on first use); the secret comes from settings or the database."""
        from opsgraph.shared_db import connect, ensure_tables

        self.path = None
        self.url = url
        self._conn = connect(url)
        ensure_tables(self._conn, "pii_vault", 1, _PG_TABLES)
        self._use_secret(shared_secret(self._conn, configured_secret))

    def placeholder(self, thread_id: str, kind: str, normalized: str, value: str) -> str:
        """As :meth:`PiiVault.placeholder`; a per-thread transaction lock numbers values one process at a time."""
        digest = self._digest(thread_id, kind, normalized)
        with self._lock, self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("pii:" + thread_id,))
            row = self._conn.execute("SELECT kind, number FROM opsgraph.pii_placeholders WHERE thread_id = %s "
                                     "AND digest = %s", (thread_id, digest)).fetchone()
            if row is None:
                number = self._conn.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM opsgraph.pii_placeholders "
                                            "WHERE thread_id = %s AND kind = %s", (thread_id, kind)).fetchone()[0]
                self._conn.execute("INSERT INTO opsgraph.pii_placeholders VALUES (%s, %s, %s, %s, %s)",
                                   (thread_id, digest, kind, number, self._fernet.encrypt(value.encode())))
                row = (kind, number)
        return f"<{row[0]}_{row[1]}>"

    def reveal(self, thread_id: str, placeholder: str) -> str | None:
        """As :meth:`PiiVault.reveal`."""
        kind, _, number = placeholder.strip("<>").rpartition("_")
        if not kind or not number.isdigit():
            return None
        rows = self._query("SELECT sealed FROM opsgraph.pii_placeholders WHERE thread_id = %s AND kind = %s "
                           "AND number = %s", (thread_id, kind, int(number)))
        return self._fernet.decrypt(bytes(rows[0][0])).decode() if rows else None

    def count(self, thread_id: str, kind: str | None = None) -> int:
        """As :meth:`PiiVault.count`."""
        sql, params = "SELECT COUNT(*) FROM opsgraph.pii_placeholders WHERE thread_id = %s", (thread_id,)
        if kind:
            sql, params = sql + " AND kind = %s", (thread_id, kind)
        return int(self._query(sql, params)[0][0])

    def values(self, thread_id: str, kind: str) -> list[str]:
        """As :meth:`PiiVault.values`."""
        rows = self._query("SELECT sealed FROM opsgraph.pii_placeholders WHERE thread_id = %s AND kind = %s "
                           "ORDER BY number", (thread_id, kind))
        return [self._fernet.decrypt(bytes(row[0])).decode() for row in rows]

    def _query(self, sql: str, params: tuple) -> list:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()
