"""Knowledge bases: a catalog (SQLite under ZHIKU_HOME) of named collections, each bound to one store engine
and one embedder. The CLI, the HTTP API and the web UI all go through `KnowledgeBases`.
"""
from __future__ import annotations

import re
import shutil
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field

from zhiku.config import Settings
from zhiku.errors import ConfigError, InputError, KBExistsError, KBNotFoundError
from zhiku.index.base import Store
from zhiku.index.embedders import Embedder, get_embedder

_NAME = re.compile(r"^[\w\-.]{1,64}$", re.UNICODE)  # letters (CJK included), digits, _ - .


@dataclass
class KBInfo:
    name: str
    store: str  # "local" | "milvus"
    store_uri: str
    embedder: str  # embedder name the vectors were made with
    dim: int
    description: str = ""
    created_at: float = 0.0
    stats: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def validate_name(name: str) -> str:
    if not name or not _NAME.match(name) or name.startswith(".") or ".." in name:
        raise InputError(f"invalid knowledge base name {name!r}: use 1-64 letters, digits, '_', '-' or '.'")
    return name


class KnowledgeBase:
    """An open knowledge base: its store plus the embedder its vectors came from."""

    def __init__(self, info: KBInfo, store: Store, embedder: Embedder):
        self.info, self.store, self.embedder = info, store, embedder
        self.name = info.name

    def close(self) -> None:
        self.store.close()


class KnowledgeBases:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.root = settings.kb_root
        self.root.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(settings.home / "catalog.sqlite", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS kbs (name TEXT PRIMARY KEY, store TEXT NOT NULL, store_uri TEXT NOT NULL,"
            " embedder TEXT NOT NULL, dim INTEGER NOT NULL, description TEXT NOT NULL, created_at REAL NOT NULL)"
        )
        self._open: dict[str, KnowledgeBase] = {}
        self._lock = threading.RLock()

    # ---------- catalog ----------
    def _row_to_info(self, r) -> KBInfo:
        return KBInfo(name=r[0], store=r[1], store_uri=r[2], embedder=r[3], dim=r[4], description=r[5], created_at=r[6])

    def list(self) -> list[KBInfo]:
        rows = self._db.execute("SELECT name, store, store_uri, embedder, dim, description, created_at FROM kbs ORDER BY name")
        return [self._row_to_info(r) for r in rows.fetchall()]

    def get(self, name: str) -> KBInfo:
        r = self._db.execute(
            "SELECT name, store, store_uri, embedder, dim, description, created_at FROM kbs WHERE name=?", (name,)
        ).fetchone()
        if r is None:
            raise KBNotFoundError(name)
        return self._row_to_info(r)

    def exists(self, name: str) -> bool:
        return self._db.execute("SELECT 1 FROM kbs WHERE name=?", (name,)).fetchone() is not None

    def create(self, name: str, description: str = "", exist_ok: bool = False) -> KBInfo:
        validate_name(name)
        with self._lock:
            if self.exists(name):
                if exist_ok:
                    return self.get(name)
                raise KBExistsError(f"knowledge base '{name}' already exists")
            s = self.settings
            embedder = get_embedder(s.embedder)
            uri = s.store.uri if s.store.backend == "milvus" else ""
            if s.store.backend == "milvus" and not uri:
                raise ConfigError("store.backend = 'milvus' needs store.uri (ZHIKU_STORE__URI), e.g. http://127.0.0.1:19530")
            info = KBInfo(name, s.store.backend, uri, embedder.name, embedder.dim, description, time.time())
            self._clear_leftovers(info, embedder)
            kb = self._open_store(info, embedder)  # creates the engine side first: a failure leaves no catalog row
            self._insert(info)
            self._open[name] = kb
            return info

    def _insert(self, info: KBInfo) -> None:
        self._db.execute(
            "INSERT INTO kbs(name, store, store_uri, embedder, dim, description, created_at) VALUES (?,?,?,?,?,?,?)",
            (info.name, info.store, info.store_uri, info.embedder, info.dim, info.description, info.created_at),
        )

    def _clear_leftovers(self, info: KBInfo, embedder: Embedder) -> None:
        """A KB folder without a catalog row is what a delete or create cut short (kill -9) left: garbage, never
        data, which a new KB of that name must not inherit."""
        path = self.root / info.name
        if not path.exists():
            return
        if info.store == "milvus":  # the folder is the evidence that the collection of this name is ours
            self._open_store(info, embedder).store.drop()
        shutil.rmtree(path, ignore_errors=True)

    def delete(self, name: str) -> None:
        """The catalog row goes first, as the commit point: a delete cut short leaves the KB whole or gone, never
        listed half-dropped (create clears what it left)."""
        with self._lock:
            info = self.get(name)
            kb = self._open.pop(name, None) or self._open_store(info, None)
            self._db.execute("DELETE FROM kbs WHERE name=?", (name,))
            try:
                kb.store.drop()
            except BaseException:  # e.g. a writer holds it: it stays listed, whole, and can be deleted again
                self._insert(info)
                raise
            shutil.rmtree(self.root / name, ignore_errors=True)

    def info(self, name: str) -> KBInfo:
        info = self.get(name)
        info.stats = self.open(name).store.count()
        return info

    # ---------- open stores ----------
    def open(self, name: str) -> KnowledgeBase:
        with self._lock:
            kb = self._open.get(name)
            if kb is None:
                kb = self._open_store(self.get(name), None)
                self._open[name] = kb
            return kb

    def _open_store(self, info: KBInfo, embedder: Embedder | None) -> KnowledgeBase:
        embedder = embedder or get_embedder(self.settings.embedder)
        if embedder.name != info.embedder:
            raise ConfigError(
                f"knowledge base '{info.name}' was built with embedder '{info.embedder}', the configured one is "
                f"'{embedder.name}': set embedder.backend back, or re-create the knowledge base"
            )
        path = self.root / info.name
        if info.store == "local":
            from zhiku.index.local import LocalStore

            store: Store = LocalStore(path, info.name, info.dim)
        else:
            from zhiku.index.milvus import MilvusStore

            s = self.settings.store
            store = MilvusStore(
                info.store_uri, info.name, info.dim, path / "registry.sqlite", token=s.token, collection_prefix=s.collection_prefix
            )
        return KnowledgeBase(info, store, embedder)

    def close(self) -> None:
        with self._lock:
            for kb in self._open.values():
                kb.close()
            self._open.clear()
            self._db.close()
