"""Chat sessions: multi-turn history in SQLite under ZHIKU_HOME, so a conversation survives a restart."""
from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from zhiku.errors import NotFoundError
from zhiku.generate.base import Message


_NAMES = ("id", "kb", "title", "created_at", "updated_at", "owner")
_COLS = ", ".join(_NAMES)
# who asks: None = no auth (loopback server without keys, the CLI), else (key id, is admin)
Viewer = tuple[str, bool] | None


def _visible(owner: str | None, viewer: Viewer) -> bool:
    return viewer is None or viewer[1] or owner == viewer[0]


class SessionStore:
    def __init__(self, home: Path):
        home.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(home / "sessions.sqlite", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(
            "CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, kb TEXT NOT NULL, title TEXT NOT NULL,"
            " created_at REAL NOT NULL, updated_at REAL NOT NULL);"
            "CREATE TABLE IF NOT EXISTS turns (session_id TEXT NOT NULL, seq INTEGER NOT NULL, question TEXT NOT NULL,"
            " answer TEXT NOT NULL, citations TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (session_id, seq));"
        )
        cols = {r[1] for r in self._db.execute("PRAGMA table_info(sessions)")}
        if "owner" not in cols:  # sessions made before owners: visible to admins only
            self._db.execute("ALTER TABLE sessions ADD COLUMN owner TEXT")
        self._lock = threading.Lock()

    def create(self, kb: str, title: str = "", owner: str | None = None) -> dict:
        """`owner`: the id of the API key that made it (None when the server runs without keys)."""
        sid, now = uuid.uuid4().hex, time.time()
        with self._lock:
            self._db.execute("INSERT INTO sessions(id, kb, title, created_at, updated_at, owner) VALUES (?,?,?,?,?,?)",
                             (sid, kb, title, now, now, owner))  # fmt: skip
        return {"id": sid, "kb": kb, "title": title, "created_at": now, "updated_at": now, "owner": owner}

    def get(self, sid: str, viewer: Viewer = None) -> dict:
        """The session, or NotFoundError when it does not exist or `viewer` may not see it: another user's
        session is answered exactly like a missing one, so ids cannot be probed."""
        r = self._db.execute(f"SELECT {_COLS} FROM sessions WHERE id=?", (sid,)).fetchone()
        if r is None or not _visible(r[5], viewer):
            raise NotFoundError(f"session '{sid}' does not exist")
        return dict(zip(_NAMES, r))

    def list(self, viewer: Viewer = None) -> list[dict]:
        rows = self._db.execute(f"SELECT {_COLS} FROM sessions ORDER BY updated_at DESC").fetchall()
        return [dict(zip(_NAMES, r)) for r in rows if _visible(r[5], viewer)]

    def turns(self, sid: str, viewer: Viewer = None) -> list[dict]:
        self.get(sid, viewer)
        rows = self._db.execute(
            "SELECT question, answer, citations, created_at FROM turns WHERE session_id=? ORDER BY seq", (sid,)
        ).fetchall()
        return [{"question": q, "answer": a, "citations": json.loads(c), "created_at": t} for q, a, c, t in rows]

    def history(self, sid: str) -> list[Message]:
        """Chat messages for the pipeline's condense step (it keeps only the last settings.chat.history_turns)."""
        out: list[Message] = []
        for t in self.turns(sid):
            out += [{"role": "user", "content": t["question"]}, {"role": "assistant", "content": t["answer"]}]
        return out

    def append(self, sid: str, question: str, answer: str, citations: list[dict]) -> None:
        now = time.time()
        with self._lock:
            seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM turns WHERE session_id=?", (sid,)).fetchone()[0]
            self._db.execute(
                "INSERT INTO turns VALUES (?,?,?,?,?,?)",
                (sid, seq, question, answer, json.dumps(citations, ensure_ascii=False), now),
            )
            self._db.execute(
                "UPDATE sessions SET updated_at=?, title=CASE WHEN title='' THEN ? ELSE title END WHERE id=?",
                (now, question[:40], sid),
            )

    def delete(self, sid: str, viewer: Viewer = None) -> None:
        self.get(sid, viewer)
        with self._lock:
            self._db.execute("DELETE FROM turns WHERE session_id=?", (sid,))
            self._db.execute("DELETE FROM sessions WHERE id=?", (sid,))

    def close(self) -> None:
        self._db.close()
