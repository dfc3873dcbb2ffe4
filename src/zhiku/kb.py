"""Knowledge bases: a catalog (SQLite under ZHIKU_HOME) of named collections, each bound to one store engine
and one embedder. The CLI, the HTTP API and the web UI all go through `KnowledgeBases`.
"""
from __future__ import annotations

import os
import re
import shutil
import threading
import time
import uuid
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

from zhiku.config import Settings
from zhiku.errors import ConfigError, CorruptStoreError, InputError, KBExistsError, KBNotFoundError
from zhiku.index.base import CheckReport, Store
from zhiku.index.embedders import Embedder, get_embedder
from zhiku.index.registry import integrity, open_db

CATALOG_ADVICE = ("restore catalog.sqlite from a backup of ZHIKU_HOME, or move it aside to start an empty catalog "
                  "and bring knowledge bases back with `zhiku kb import`")

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


def validate_name(name: str, what: str = "knowledge base") -> str:
    """`name` when it is safe as a directory name (knowledge bases, writing projects), else InputError."""
    if not name or not _NAME.match(name) or name.startswith(".") or ".." in name:
        raise InputError(f"invalid {what} name {name!r}: use 1-64 letters, digits, '_', '-' or '.'")
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
        settings.make_home()
        self.root.mkdir(exist_ok=True)
        self._db = open_db(settings.home / "catalog.sqlite", synchronous="FULL", advice=CATALOG_ADVICE)
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
            uri = self.milvus_uri() if s.store.backend == "milvus" else ""
            info = KBInfo(name, s.store.backend, uri, embedder.name, embedder.dim, description, time.time())
            self._clear_leftovers(info, embedder)
            kb = self._open_store(info, embedder)  # creates the engine side first: a failure leaves no catalog row
            self._insert(info)
            self._open[name] = kb
            return info

    def milvus_uri(self) -> str:
        """Where this home's Milvus knowledge bases live."""
        if not self.settings.store.uri:
            raise ConfigError("store.backend = 'milvus' needs store.uri (ZHIKU_STORE__URI), e.g. http://127.0.0.1:19530")
        return self.settings.store.uri

    def _insert(self, info: KBInfo) -> None:
        self._db.execute(
            "INSERT INTO kbs(name, store, store_uri, embedder, dim, description, created_at) VALUES (?,?,?,?,?,?,?)",
            (info.name, info.store, info.store_uri, info.embedder, info.dim, info.description, info.created_at),
        )

    def _clear_leftovers(self, info: KBInfo, embedder: Embedder | None) -> None:
        """A KB folder without a catalog row is what a delete or create cut short (kill -9) left: garbage, never
        data, which a new KB of that name must not inherit (nor its uploaded files, as namesakes)."""
        if info.store == "milvus" and (self.root / info.name).exists():  # evidence that the collection is ours
            self._open_store(info, embedder).store.drop()
        self._remove_folders(info.name)

    def _remove_folders(self, name: str) -> None:
        """A KB's folder and the files uploaded to it."""
        for folder in (self.root / name, self.settings.uploads_root / name):
            shutil.rmtree(folder, ignore_errors=True)

    def delete(self, name: str) -> None:
        """The catalog row goes first, as the commit point: a delete cut short leaves the KB whole or gone, never
        listed half-dropped (create clears what it left)."""
        with self._lock:
            info = self.get(name)
            try:
                kb = self._open.pop(name, None) or self._open_store(info, None)
            except CorruptStoreError:
                if info.store != "local":
                    raise
                kb = None  # a damaged local store is only files: removing its folder below removes it
            # another process writing to it: refused at once, naming that process, before anything changes
            with kb.store.writer() if kb is not None else nullcontext():
                self._db.execute("DELETE FROM kbs WHERE name=?", (name,))
                try:
                    if kb is not None:
                        kb.store.drop()
                except BaseException:  # e.g. Milvus went away: the KB stays listed and can be deleted again
                    self._insert(info)
                    raise
            self._remove_folders(name)

    def check(self, name: str, repair: bool = False) -> CheckReport:
        """The catalog's integrity, then the knowledge base's own store (Store.check)."""
        damage = integrity(self._db)
        report = self.open(name).store.check(repair)
        if damage:
            report.found(f"{self._db.path} fails SQLite's integrity check: {'; '.join(damage[:3])}", CATALOG_ADVICE)
        return report

    def restore(self, info: KBInfo, snapshot: Path) -> KBInfo:
        """A new knowledge base `info.name` filled from a folder Store.snapshot wrote, checked before it joins the
        catalog: built in a hidden folder beside the others and moved into place last, so a failure leaves
        nothing behind."""
        validate_name(info.name)
        with self._lock:
            if self.exists(info.name):
                raise KBExistsError(f"knowledge base '{info.name}' already exists: choose another name")
            self._clear_leftovers(info, None)
            staging = self.root / f".restore-{uuid.uuid4().hex[:12]}"  # not a valid KB name: never listed
            kb = self._open_store(info, None, staging)
            try:
                kb.store.load(snapshot)
                report = kb.store.check()
                if not report.ok:
                    raise CorruptStoreError(f"knowledge base '{info.name}' failed its check after loading: "
                                            + "; ".join(p.what for p in report.problems if not p.repaired))
                info.stats = kb.store.count()
            except KBExistsError:  # the engine already holds data of that name (a Milvus collection): not ours
                kb.close()
                shutil.rmtree(staging, ignore_errors=True)
                raise
            except BaseException:
                kb.store.drop()
                shutil.rmtree(staging, ignore_errors=True)
                raise
            kb.close()
            os.rename(staging, self.root / info.name)
            self._insert(info)
            return info

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

    def _open_store(self, info: KBInfo, embedder: Embedder | None, path: Path | None = None) -> KnowledgeBase:
        embedder = embedder or get_embedder(self.settings.embedder)
        if embedder.name != info.embedder:
            raise ConfigError(
                f"knowledge base '{info.name}' was built with embedder '{info.embedder}', the configured one is "
                f"'{embedder.name}': set embedder.backend back, or re-create the knowledge base"
            )
        path = path or self.root / info.name
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
