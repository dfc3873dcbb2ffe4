"""Writing projects: a manuscript (numbered chapters), its memories and its settings in one SQLite file.

`Projects` is the catalog (ZHIKU_HOME/write/<name>/, one directory per project); `Project` is one open project.
The SQLite file is the source of truth: every change is one transaction (WAL, synchronous=FULL: an author's text
must survive a power cut too, and writes are human-paced), so a kill -9 mid-write leaves either the old or the
new state. The memory search index beside it (index/) is derived and rebuilt from SQLite when missing or behind
(recall.py). The CLI, and later the HTTP API and the web UI, all go through these two classes.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from zhiku.config import LLMSettings, Settings
from zhiku.errors import (DiskFullError, EmptyInputError, InputError, LockedError, NotFoundError, ProjectExistsError,
                          ProjectNotFoundError)
from zhiku.index.registry import open_db, transaction
from zhiku.kb import validate_name
from zhiku.write.chapters import ChapterText, read_chapters

DB_FILE = "project.sqlite"
SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chapters (
    number INTEGER PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS memories (
    id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL,
    text TEXT NOT NULL, tags TEXT NOT NULL, chapter INTEGER, source TEXT NOT NULL, created_at REAL NOT NULL,
    updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS memories_key ON memories(type, key);
CREATE TABLE IF NOT EXISTS proposals (
    id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL,
    text TEXT NOT NULL, tags TEXT NOT NULL, chapter INTEGER, origin TEXT NOT NULL, created_at REAL NOT NULL);
"""
# What a project may override of the global settings (`zhiku write set NAME KEY VALUE`).
PROJECT_SETTINGS = {
    "llm.lora": "a GGUF LoRA adapter (from `zhiku train export`) applied by continue / rewrite / extract",
    "llm.model": "the model continue / rewrite / extract use (a bundled name or a .gguf path)",
}


@dataclass
class ProjectInfo:
    name: str
    description: str
    created_at: float
    chapters: int = 0
    chars: int = 0
    memories: int = 0
    pending: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Chapter:
    number: int
    title: str
    text: str  # "" in list views
    updated_at: float
    chars: int = -1

    def __post_init__(self) -> None:
        if self.chars < 0:
            self.chars = len(self.text)

    def to_dict(self, text: bool = True) -> dict:
        d = {"number": self.number, "title": self.title, "chars": self.chars, "updated_at": self.updated_at}
        return {**d, "text": self.text} if text else d


class Project:
    def __init__(self, path: Path, name: str, settings: Settings):
        self.path, self.name, self.settings = Path(path), name, settings
        self._lock = threading.RLock()
        self._memories = None
        # a damaged file is CorruptStoreError, named, with this advice (index/registry.py)
        self._db: sqlite3.Connection | None = open_db(self.path / DB_FILE, synchronous="FULL", advice=(
            f"writing project '{name}': restore it from a backup of ZHIKU_HOME, or delete the project"))
        schema = self.meta("schema")
        if schema != SCHEMA_VERSION:
            raise InputError(f"writing project '{name}' ({self.path}): not a zhiku project of this version")

    # ---------- plumbing ----------
    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise InputError(f"writing project '{self.name}' is closed")
        return self._db

    def rows(self, sql: str, args: tuple | list = ()) -> list[tuple]:
        with self._lock:
            return self.db.execute(sql, tuple(args)).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it or nothing (also on kill -9: SQLite's journal)."""
        try:
            with transaction(self.db, self._lock) as db:
                yield db
        except sqlite3.OperationalError as e:
            if "full" in str(e):  # "database or disk is full"
                raise DiskFullError(f"writing project '{self.name}': no room on the disk; nothing of this change "
                                    "was kept") from e
            if "locked" in str(e):
                raise LockedError(f"writing project '{self.name}': busy in another process; try again") from e
            raise

    def meta(self, key: str) -> str | None:
        r = self.rows("SELECT value FROM meta WHERE key=?", (key,))
        return r[0][0] if r else None

    @property
    def memories(self):
        """The project's memory records, proposals and search (memory.py)."""
        if self._memories is None:
            from zhiku.write.memory import Memories

            self._memories = Memories(self)
        return self._memories

    def llm(self):
        """The LLM this project writes with (the global one, with the project's adapter or model if set)."""
        from zhiku.generate import get_llm

        return get_llm(self.llm_settings(), self.settings.models_dir)

    def info(self) -> ProjectInfo:
        (n, chars), = self.rows("SELECT COUNT(*), COALESCE(SUM(LENGTH(text)), 0) FROM chapters")
        (m,), = self.rows("SELECT COUNT(*) FROM memories")
        (p,), = self.rows("SELECT COUNT(*) FROM proposals")
        return ProjectInfo(self.name, self.meta("description") or "", float(self.meta("created_at") or 0), n, chars, m, p)

    def close(self) -> None:
        with self._lock:
            if self._memories is not None:
                self._memories.close()
            if self._db is not None:
                self._db.close()
                self._db = None

    # ---------- chapters ----------
    def chapters(self) -> list[Chapter]:
        """Every chapter, without its text (list views)."""
        rows = self.rows("SELECT number, title, '', updated_at, LENGTH(text) FROM chapters ORDER BY number")
        return [Chapter(*r) for r in rows]

    def chapter_count(self) -> int:
        return self.rows("SELECT COUNT(*) FROM chapters")[0][0]

    def chapter(self, number: int) -> Chapter:
        r = self.rows("SELECT number, title, text, updated_at FROM chapters WHERE number=?", (number,))
        if not r:
            raise NotFoundError(f"writing project '{self.name}': no chapter {number} (it has {self.chapter_count()})")
        return Chapter(*r[0])

    def last_chapter(self) -> Chapter:
        r = self.rows("SELECT number, title, text, updated_at FROM chapters ORDER BY number DESC LIMIT 1")
        if not r:
            raise NotFoundError(f"writing project '{self.name}' has no chapters yet (zhiku write import / append)")
        return Chapter(*r[0])

    def add_chapters(self, chapters: list[ChapterText]) -> list[int]:
        """Append chapters after the last one, all in one transaction; their numbers."""
        now = time.time()
        with self.transaction() as db:
            start = db.execute("SELECT COALESCE(MAX(number), 0) FROM chapters").fetchone()[0] + 1
            db.executemany(
                "INSERT INTO chapters(number, title, text, updated_at) VALUES (?,?,?,?)",
                [(start + i, c.title, c.text, now) for i, c in enumerate(chapters)],
            )
        return list(range(start, start + len(chapters)))


    def set_chapter(self, number: int, text: str | None = None, title: str | None = None) -> Chapter:
        """Replace a chapter's text and/or title."""
        self.chapter(number)
        with self.transaction() as db:
            if text is not None:
                db.execute("UPDATE chapters SET text=?, updated_at=? WHERE number=?", (text, time.time(), number))
            if title is not None:
                db.execute("UPDATE chapters SET title=?, updated_at=? WHERE number=?", (title, time.time(), number))
        return self.chapter(number)

    def append(self, text: str, number: int | None = None) -> Chapter:
        """Add `text` at the end of chapter `number` (the last one by default); one statement, so atomic."""
        target = self.last_chapter().number if number is None else self.chapter(number).number
        with self.transaction() as db:
            db.execute("UPDATE chapters SET text = text || ?, updated_at=? WHERE number=?", (text, time.time(), target))
        return self.chapter(target)

    def replace_span(self, number: int, start: int, end: int, new: str, expect: str | None = None) -> Chapter:
        """Replace characters [start, end) of a chapter; `expect` (the text that was selected) guards against the
        chapter having changed since it was read."""
        with self.transaction() as db:
            text = self.chapter(number).text
            check_span(text, start, end, f"chapter {number}")
            if expect is not None and text[start:end] != expect:
                raise InputError(f"chapter {number} changed since the passage was selected; select it again")
            db.execute("UPDATE chapters SET text=?, updated_at=? WHERE number=?",
                       (text[:start] + new + text[end:], time.time(), number))
        return self.chapter(number)

    def manuscript(self) -> str:
        """The whole manuscript as plain text: each chapter's title line, then its text."""
        parts = [f"{title}\n\n{text}" for title, text in self.rows("SELECT title, text FROM chapters ORDER BY number")]
        return "\n\n".join(parts) + ("\n" if parts else "")

    def export(self, path: Path) -> int:
        """Write the manuscript to a UTF-8 text file (replaced whole, never half-written); its length."""
        text = self.manuscript()
        if not text.strip():
            raise EmptyInputError(f"writing project '{self.name}' has no text to export")
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise InputError(f"{path}: cannot write ({e.strerror or e})") from e
        return len(text)

    def tail(self, chars: int, number: int | None = None) -> str:
        """The last `chars` characters of the manuscript up to the end of chapter `number` (default: all)."""
        if chars <= 0:
            return ""
        last = self.last_chapter().number if number is None else self.chapter(number).number
        parts, need = [], chars
        rows = self.rows("SELECT substr(text, -?) FROM chapters WHERE number <= ? ORDER BY number DESC", (chars, last))
        for (text,) in rows:  # substr: a 20 MB chapter is not read whole for its last page
            parts.append(text[-need:] if need < len(text) else text)
            need -= len(parts[-1]) + 2  # the blank line between chapters
            if need <= 0:
                break
        return "\n\n".join(reversed(parts))

    # ---------- settings ----------
    def project_settings(self) -> dict[str, str]:
        return dict(self.rows("SELECT key, value FROM settings ORDER BY key"))

    def set_setting(self, key: str, value: str) -> None:
        """Set (or, with an empty value, clear) one of PROJECT_SETTINGS."""
        if key not in PROJECT_SETTINGS:
            raise InputError(f"unknown project setting {key!r} (known: {', '.join(PROJECT_SETTINGS)})")
        if key == "llm.lora" and value:
            lora = Path(value).expanduser()
            if not lora.is_file():
                raise InputError(f"llm.lora {value}: no such adapter file (make one with `zhiku train export`)")
            value = str(lora.resolve())
        with self.transaction() as db:
            if value:
                db.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (key, value))
            else:
                db.execute("DELETE FROM settings WHERE key=?", (key,))

    def llm_settings(self) -> LLMSettings:
        """The global LLM settings with this project's overrides (its trained adapter, its model)."""
        over = {k.removeprefix("llm."): v for k, v in self.project_settings().items() if k.startswith("llm.")}
        return self.settings.llm.model_copy(update=over)


def check_span(text: str, start: int, end: int, where: str) -> None:
    if not 0 <= start < end <= len(text):
        raise InputError(f"{where}: characters {start}-{end} are not a passage of its {len(text)} characters")


class Projects:
    """The catalog: one directory per project under ZHIKU_HOME/write. Open projects are cached (a server keeps
    them); `close()` closes them all."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.root = settings.write_root
        self._open: dict[str, Project] = {}
        self._lock = threading.RLock()

    def _dir(self, name: str) -> Path:
        return self.root / validate_name(name, "writing project")

    def exists(self, name: str) -> bool:
        return (self._dir(name) / DB_FILE).is_file()

    def create(self, name: str, description: str = "", exist_ok: bool = False) -> ProjectInfo:
        """A new empty project. Built in a hidden directory and renamed into place: it appears whole or not."""
        final = self._dir(name)
        with self._lock:
            if self.exists(name):
                if exist_ok:
                    return self.open(name).info()
                raise ProjectExistsError(f"writing project '{name}' already exists")
            self.settings.make_home()
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = self.root / f".new-{name}-{os.getpid()}-{threading.get_ident()}"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            db = open_db(tmp / DB_FILE, synchronous="FULL")
            try:
                db.executescript(SCHEMA)
                with transaction(db, self._lock):
                    db.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", [
                        ("schema", SCHEMA_VERSION), ("created_at", repr(time.time())), ("description", description),
                        ("memory_gen", "0")])
            finally:
                db.close()
            try:
                os.rename(tmp, final)
            except OSError:  # another process created it meanwhile
                shutil.rmtree(tmp, ignore_errors=True)
                raise ProjectExistsError(f"writing project '{name}' already exists") from None
        return self.open(name).info()

    def import_file(self, name: str, path: Path) -> tuple[Project, list[int]]:
        """A novel (txt/md/docx) split into chapters and appended after the project's own, the project created if
        need be. The file is read and split first: a bad file creates and changes nothing."""
        chapters = read_chapters(path, int(self.settings.ingest.max_file_mb * 1024 * 1024))
        self.create(name, exist_ok=True)
        project = self.open(name)
        return project, project.add_chapters(chapters)

    def list(self) -> list[ProjectInfo]:
        if not self.root.is_dir():
            return []
        names = sorted(p.name for p in self.root.iterdir() if not p.name.startswith(".") and (p / DB_FILE).is_file())
        return [self.open(n).info() for n in names]

    def open(self, name: str) -> Project:
        with self._lock:
            project = self._open.get(name)
            if project is None:
                if not self.exists(name):
                    raise ProjectNotFoundError(name)
                project = self._open[name] = Project(self._dir(name), name, self.settings)
            return project

    def delete(self, name: str) -> None:
        """Remove a project: renamed away first (atomic), then its files deleted."""
        with self._lock:
            if not self.exists(name):
                raise ProjectNotFoundError(name)
            project = self._open.pop(name, None)
            if project is not None:
                project.close()
            trash = self.root / f".deleted-{name}-{os.getpid()}-{time.time_ns()}"
            os.rename(self._dir(name), trash)
            shutil.rmtree(trash, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            for project in self._open.values():
                project.close()
            self._open.clear()
