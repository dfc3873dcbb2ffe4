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
        self._lock = threading.Lock()

    def create(self, kb: str, title: str = "") -> dict:
        sid, now = uuid.uuid4().hex, time.time()
        with self._lock:
            self._db.execute("INSERT INTO sessions VALUES (?,?,?,?,?)", (sid, kb, title, now, now))
        return {"id": sid, "kb": kb, "title": title, "created_at": now, "updated_at": now}

    def get(self, sid: str) -> dict:
        r = self._db.execute("SELECT id, kb, title, created_at, updated_at FROM sessions WHERE id=?", (sid,)).fetchone()
        if r is None:
            raise NotFoundError(f"session '{sid}' does not exist")
        return dict(zip(("id", "kb", "title", "created_at", "updated_at"), r))

    def list(self) -> list[dict]:
        rows = self._db.execute("SELECT id, kb, title, created_at, updated_at FROM sessions ORDER BY updated_at DESC")
        return [dict(zip(("id", "kb", "title", "created_at", "updated_at"), r)) for r in rows.fetchall()]

    def turns(self, sid: str) -> list[dict]:
        self.get(sid)
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

    def delete(self, sid: str) -> None:
        self.get(sid)
        with self._lock:
            self._db.execute("DELETE FROM turns WHERE session_id=?", (sid,))
            self._db.execute("DELETE FROM sessions WHERE id=?", (sid,))

    def close(self) -> None:
        self._db.close()
