"""API keys: `zk_<id>_<secret>`, stored as sha256(salt + secret) in SQLite under ZHIKU_HOME.

The id part is a lookup key, never a secret; the secret is shown once, at creation. Scopes: `user` may chat
and search, `admin` may also manage knowledge bases, uploads and keys.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from zhiku.errors import AuthError, ForbiddenError, InputError, NotFoundError

SCOPES = ("user", "admin")


@dataclass
class KeyInfo:
    id: str
    scope: str
    name: str
    created_at: float
    revoked: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256((salt + secret).encode()).hexdigest()


class KeyStore:
    def __init__(self, home: Path):
        home.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(home / "keys.sqlite", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS keys (id TEXT PRIMARY KEY, salt TEXT NOT NULL, hash TEXT NOT NULL,"
            " scope TEXT NOT NULL, name TEXT NOT NULL, created_at REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)"
        )
        self._lock = threading.Lock()

    def create(self, scope: str, name: str = "") -> tuple[KeyInfo, str]:
        """A new key and its plaintext token (shown once)."""
        if scope not in SCOPES:
            raise InputError(f"key scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        kid, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(24), secrets.token_hex(16)
        info = KeyInfo(kid, scope, name, time.time())
        with self._lock:
            self._db.execute(
                "INSERT INTO keys(id, salt, hash, scope, name, created_at) VALUES (?,?,?,?,?,?)",
                (kid, salt, _hash(salt, secret), scope, name, info.created_at),
            )
        return info, f"zk_{kid}_{secret}"

    def list(self) -> list[KeyInfo]:
        rows = self._db.execute("SELECT id, scope, name, created_at, revoked FROM keys ORDER BY created_at").fetchall()
        return [KeyInfo(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    def revoke(self, kid: str) -> None:
        with self._lock:
            if self._db.execute("UPDATE keys SET revoked=1 WHERE id=?", (kid,)).rowcount == 0:
                raise NotFoundError(f"API key '{kid}' does not exist (see `zhiku keys list`)")

    def has_keys(self) -> bool:
        return self._db.execute("SELECT 1 FROM keys WHERE revoked=0 LIMIT 1").fetchone() is not None

    def verify(self, token: str | None) -> KeyInfo:
        """The key a token belongs to; AuthError when missing, malformed, unknown or revoked."""
        if not token:
            raise AuthError("missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "zk":
            raise AuthError("malformed API key")
        row = self._db.execute(
            "SELECT salt, hash, scope, name, created_at, revoked FROM keys WHERE id=?", (parts[1],)
        ).fetchone()
        # compare even for unknown ids so timing does not reveal which ids exist
        salt, digest = (row[0], row[1]) if row else ("x", "0" * 64)
        ok = hmac.compare_digest(_hash(salt, parts[2]), digest)
        if row is None or not ok or row[5]:
            raise AuthError("invalid or revoked API key")
        return KeyInfo(parts[1], row[2], row[3], row[4])

    def close(self) -> None:
        self._db.close()


def check_scope(key: KeyInfo | None, scope: str) -> None:
    """None means auth is off (loopback-only server without keys)."""
    if key is not None and scope == "admin" and key.scope != "admin":
        raise ForbiddenError(f"this operation needs an admin key; key '{key.id}' has scope '{key.scope}'")
