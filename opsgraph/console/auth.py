"""Console users, their roles and password hashes (policy.yaml ``console.users``).

A password is never stored: policy.yaml holds ``scrypt$N$r$p$SALT$HASH`` (SALT and HASH in
base64), computed by ``opsgraph console hash-password``. Users and roles are read from the
policy on every request, so removing a user or changing a role takes effect at once, even
for a session that is already open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from opsgraph.errors import UserError

Role = Literal["approver", "viewer"]
ROLES: tuple[str, ...] = ("approver", "viewer")
SCHEME = "scrypt"
# scrypt cost: 2**14 x 8 blocks is ~16 MB and ~50 ms per check, the parameters the
# Python docs and OWASP suggest for interactive logins.
DEFAULT_N, DEFAULT_R, DEFAULT_P = 2**14, 8, 1
MAX_N = 2**20  # refuse hashes that would make one login cost more than a second of CPU
SALT_BYTES, KEY_BYTES = 16, 32
MIN_PASSWORD_CHARS = 8


@dataclass(frozen=True)
class ConsoleUser:
    """A person who may log in to the console."""

    name: str
    role: str
    password_hash: str

    @property
    def may_decide(self) -> bool:
        """True for approvers: only they may approve, reject or edit a pending action."""
        return self.role == "approver"


def hash_password(password: str, *, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P) -> str:
    """The ``scrypt$N$r$p$SALT$HASH`` line to put in policy.yaml for ``password`` (a new salt each time)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"a console password needs at least {MIN_PASSWORD_CHARS} characters")
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, n, r, p, KEY_BYTES)
    return "$".join((SCHEME, str(n), str(r), str(p), _b64(salt), _b64(key)))


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches ``encoded``; a malformed hash never matches."""
    parsed = parse_hash(encoded)
    if parsed is None:
        return False
    n, r, p, salt, expected = parsed
    return hmac.compare_digest(_derive(password, salt, n, r, p, len(expected)), expected)


def parse_hash(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    """(N, r, p, salt, key) of a well-formed hash line, or None."""
    parts = str(encoded).split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return None
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt, key = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except ValueError:
        return None
    power_of_two = n > 1 and n & (n - 1) == 0
    if not (power_of_two and n <= MAX_N and 1 <= r <= 32 and 1 <= p <= 16 and salt and len(key) >= 16):
        return None
    return n, r, p, salt, key


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=256 * n * r + 2**20)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# A hash checked when the user name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = "$".join((SCHEME, str(DEFAULT_N), str(DEFAULT_R), str(DEFAULT_P), _b64(b"\0" * SALT_BYTES),
                        _b64(b"\0" * KEY_BYTES)))


def console_users(policy: Any) -> dict[str, ConsoleUser]:
    """The users of policy ``console.users`` by name (validated by the policy schema when loaded)."""
    section = (policy.raw.get("console") or {}) if policy is not None else {}
    users = section.get("users") or []
    return {str(u["name"]): ConsoleUser(str(u["name"]), str(u["role"]), str(u["password_hash"])) for u in users}


def authenticate(users: dict[str, ConsoleUser], name: str, password: str) -> ConsoleUser | None:
    """The user whose name and password match, or None (the same work is done either way)."""
    user = users.get(name.strip())
    ok = verify_password(password, user.password_hash if user else _DUMMY_HASH)
    return user if user is not None and ok else None


def session_secret(configured: str | None, data_home: Path) -> str:
    """The key that signs session cookies: the configured one, else one generated once per data home.

    The generated key is written with mode 0600 next to the data it protects; an existing file
    is reused, so sessions survive a restart of the console.
    """
    if configured:
        return configured
    from opsgraph.locks import init_lock

    path = data_home / "console" / "session.key"
    with init_lock(path.parent):  # two consoles starting at once must agree on one key
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        text = path.read_text().strip()
    if len(text) < 32:
        raise UserError(f"console session key {path} is damaged (too short); delete it to make a new one")
    return text


class LoginThrottle:
    """Refuses a name after ``limit`` failed logins within ``window_s`` seconds (per console process).

    Guessing passwords then costs minutes instead of milliseconds; a good login clears the count.
    """

    def __init__(self, limit: int = 5, window_s: float = 300.0, clock=time.monotonic):
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._failures: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def wait_s(self, name: str) -> float:
        """Seconds until ``name`` may try again (0 when it may now)."""
        with self._lock:
            recent = self._recent(name)
            if len(recent) < self.limit:
                return 0.0
            return max(0.0, recent[0] + self.window_s - self.clock())

    def failed(self, name: str) -> None:
        """Count one failed login of ``name``."""
        with self._lock:
            self._recent(name).append(self.clock())

    def succeeded(self, name: str) -> None:
        """Forget the failures of ``name``."""
        with self._lock:
            self._failures.pop(name, None)

    def _recent(self, name: str) -> deque:
        recent, now = self._failures[name], self.clock()
        while recent and recent[0] + self.window_s <= now:
            recent.popleft()
        return recent
