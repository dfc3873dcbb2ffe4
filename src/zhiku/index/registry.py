"""The SQLite document registry both engines keep: doc_id -> source, content hash, chunk count, metadata.

It is what makes re-ingest idempotent (unchanged hashes are skipped) and, for each engine, the commit point of a
document write. The tables differ (the local one also holds the chunks; Milvus' adds revision columns), the
connection discipline and the read side do not.
"""
from __future__ import annotations

import functools
import json
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from zhiku.errors import CorruptStoreError
from zhiku.index.base import DocInfo

BOUND_PARAMS = 500  # ids per `IN (...)`: SQLite caps bound parameters
_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}  # primary result codes of a damaged file


@contextmanager
def named_damage(path: Path, advice: str) -> Iterator[None]:
    """SQLite's "file is not a database" / "database disk image is malformed" become one CorruptStoreError that
    names the file and says what to do (a bare sqlite3 error names neither)."""
    try:
        yield
    except sqlite3.DatabaseError as e:
        if (getattr(e, "sqlite_errorcode", 0) & 0xFF) not in _DAMAGED:
            raise
        raise CorruptStoreError(f"{path}: damaged SQLite database ({e}); {advice}") from None


class _Cursor(sqlite3.Cursor):
    """A cursor whose every step reports a damaged file as CorruptStoreError (see `named_damage`)."""


def _reporting_damage(method):
    @functools.wraps(method)
    def step(self, *a):
        with named_damage(self.connection.path, self.connection.advice):
            return method(self, *a)

    return step


for _name in ("execute", "executemany", "executescript", "fetchone", "fetchmany", "fetchall", "__next__"):
    setattr(_Cursor, _name, _reporting_damage(getattr(sqlite3.Cursor, _name)))


class Db(sqlite3.Connection):
    """A connection whose every statement reports a damaged file as CorruptStoreError (see `named_damage`)."""

    path: Path
    advice: str

    def cursor(self, factory=_Cursor):
        return super().cursor(factory)

    def execute(self, *a):
        return self.cursor().execute(*a)

    def executemany(self, *a):
        return self.cursor().executemany(*a)

    def executescript(self, *a):
        return self.cursor().executescript(*a)


def open_db(path: Path, synchronous: str = "NORMAL", busy_ms: int = 5000, advice: str = "") -> Db:
    """An autocommit connection shared by threads (callers serialise with their lock), WAL so readers in other
    processes never block the writer. `advice`: what to do when the file turns out damaged."""
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, factory=Db)
    db.path, db.advice = Path(path), advice or "restore it from a backup (`zhiku kb import`)"
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    return db


@contextmanager
def transaction(db: sqlite3.Connection, lock: threading.RLock) -> Iterator[sqlite3.Connection]:
    """One write transaction: all of it or nothing, also on KeyboardInterrupt."""
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def integrity(db: sqlite3.Connection) -> list[str]:
    """What SQLite's full integrity check finds wrong with `db` (empty: nothing)."""
    try:  # a plain cursor: damage is the answer here, not an error
        rows = [r[0] for r in sqlite3.Cursor(db).execute("PRAGMA integrity_check(20)")]
    except sqlite3.DatabaseError as e:  # too damaged to finish the check
        return [str(e)]
    return [] if rows == ["ok"] else rows


def backup_to(db: sqlite3.Connection, dest: Path) -> None:
    """A consistent copy of `db` as one self-contained file: SQLite's online backup copies every page in one step
    under a read transaction, so a commit (a whole document write) is either all in it or not at all, and
    writers in other processes are not blocked meanwhile."""
    out = sqlite3.connect(str(dest))
    try:
        db.backup(out)
        out.execute("PRAGMA journal_mode=DELETE")  # no -wal file beside it: the copy is just this file
    finally:
        out.close()


def open_copy(path: Path, advice: str) -> Db:
    """A database file from elsewhere (an archive being imported), checked whole before anything trusts it."""
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, factory=Db)
    db.path, db.advice = Path(path), advice
    problems = integrity(db)
    if problems:
        db.close()
        raise CorruptStoreError(f"{path}: damaged SQLite database ({'; '.join(problems[:3])}); {advice}")
    return db


def chunked(xs: list, n: int = BOUND_PARAMS) -> Iterator[list]:
    for i in range(0, len(xs), n):
        yield xs[i : i + n]


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)  # dates etc. in record metadata become strings


class DocRegistry:
    """Reads of the registry table `table`; `live` is the SQL condition of a committed, not-deleted document."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock, table: str, live: str = "1"):
        self.db, self.lock, self.table, self.live = db, lock, table, live

    def rows(self, sql: str, args: tuple | list = ()) -> list[tuple]:
        with self.lock:
            return self.db.execute(sql, tuple(args)).fetchall()

    def _by_ids(self, columns: str, doc_ids: list[str]) -> list[tuple]:
        out: list[tuple] = []
        for part in chunked(list(doc_ids)):
            q = f"SELECT {columns} FROM {self.table} WHERE {self.live} AND doc_id IN ({','.join('?' * len(part))})"
            out += self.rows(q, part)
        return out

    def doc_hashes(self, doc_ids: list[str] | None = None) -> dict[str, str]:
        if doc_ids is None:
            return dict(self.rows(f"SELECT doc_id, hash FROM {self.table} WHERE {self.live}"))
        return dict(self._by_ids("doc_id, hash", doc_ids))

    def revs(self, doc_ids: list[str]) -> dict[str, str]:
        return dict(self._by_ids("doc_id, rev", doc_ids))

    def documents(self, source: str | None = None) -> list[DocInfo]:
        q = f"SELECT doc_id, source, hash, chunks, meta, updated_at FROM {self.table} WHERE {self.live}"
        rows = self.rows(q + " AND source = ? ORDER BY doc_id", (source,)) if source else self.rows(q + " ORDER BY doc_id")
        return [DocInfo(d, s, h, n, json.loads(m), t) for d, s, h, n, m, t in rows]

    def count(self) -> dict[str, int]:
        n, m = self.rows(f"SELECT COUNT(*), COALESCE(SUM(chunks), 0) FROM {self.table} WHERE {self.live}")[0]
        return {"documents": int(n), "chunks": int(m)}


class RegistryReads:
    """The registry's read side as the Store methods of an engine that keeps a `_registry`."""

    _registry: DocRegistry

    def doc_hashes(self, doc_ids: list[str] | None = None) -> dict[str, str]:
        return self._registry.doc_hashes(doc_ids)

    def documents(self, source: str | None = None) -> list[DocInfo]:
        return self._registry.documents(source)

    def count(self) -> dict[str, int]:
        return self._registry.count()
