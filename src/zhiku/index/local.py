"""The embedded store: SQLite registry (the truth) + tantivy BM25 + faiss exact inner product, all in process.

Why this shape: at 58.5k articles it answers a hybrid query in ~10 ms where milvus-lite takes ~340 ms
(docs/benchmarks.md). Consistency comes from one rule: SQLite holds everything (documents, chunk text, metadata,
BM25 tokens, vectors) and every document write is one SQLite transaction that bumps a generation counter.
tantivy and faiss are derived indexes stamped with the generation they reflect. On open each is checked against
SQLite (present, readable, stamp equal to the generation, as many entries as chunks) and rebuilt from SQLite when
not: after a crash between the SQLite commit and the index commit, a deleted folder or a damaged file. So after
kill -9 a document is either entirely its old version or entirely its new one, never half, and losing a derived
index costs a rebuild, never data.

Files under `path/`: store.sqlite, tantivy/ (+ tantivy.gen), dense.faiss (+ dense.gen), LOCK (writers).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Hashable, Iterator

import numpy as np
import orjson

from zhiku.errors import ConfigError, InputError, KBExistsError, LockedError
from zhiku.index.base import REPAIRABLE, CheckReport, DocWrite, Filters, Problem, Ranking, View
from zhiku.index.locks import SharedLock, WriterLock
from zhiku.index.registry import (DocRegistry, RegistryReads, backup_to, dumps, integrity, open_copy, open_db,
                                  transaction)
from zhiku.index.tokenize import bigrams, tokenize
from zhiku.types import Hit, chunk_ref

log = logging.getLogger("zhiku.index")

SCHEMA_VERSION = "2"
RESTORE = "restore it from a backup (`zhiku kb import`), or delete it (`zhiku kb delete`) and ingest again"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, hash TEXT NOT NULL, chunks INTEGER NOT NULL,
    meta TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, doc_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    law TEXT, text TEXT NOT NULL, meta TEXT NOT NULL, tokens TEXT NOT NULL, bigrams TEXT NOT NULL,
    vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_law ON chunks(law);
"""


class LocalStore(RegistryReads):
    views = ("bm25", "bigram", "dense")
    concurrent = False  # each view answers in a few ms in process: threads would only add overhead

    def __init__(self, path: Path, name: str, dim: int):
        self.path, self.name, self.dim = Path(path), name, dim
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()  # SQLite connection, writes, lifecycle
        self._indexes = SharedLock()  # searching vs mutating the faiss and tantivy indexes
        self._wlock = WriterLock(self.path / "LOCK", f"knowledge base '{name}' ({self.path})")
        self._db = open_db(self.path / "store.sqlite", advice=f"knowledge base '{name}': {RESTORE}")
        self._db.executescript(SCHEMA)
        self._registry = DocRegistry(self._db, self._lock, "documents")
        if self._meta("dim") is None:
            self._set_meta("dim", str(dim))
            self._set_meta("generation", "0")
            self._set_meta("schema", SCHEMA_VERSION)
        else:
            self._check_layout(self._meta("schema"), self._meta("dim"))
        self._writer = None
        self._dense_dirty = False
        self.repaired: list[Problem] = []  # derived indexes rebuilt on open: check() reports them
        self._tschema = self._schema()
        self._open_tantivy()
        self._open_dense()

    def _check_layout(self, schema: str | None, dim: str | None) -> None:
        if schema != SCHEMA_VERSION:
            raise ConfigError(
                f"knowledge base '{self.name}': stored with an older zhiku index layout; re-create it and ingest again"
            )
        if int(dim or 0) != self.dim:
            raise ConfigError(f"knowledge base '{self.name}': built with {dim}-d vectors, embedder gives {self.dim}-d")

    # ---------- meta helpers ----------
    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self._meta("generation") or 0)

    def _chunk_count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    def _stale(self, what: str, stamp: str, entries: int) -> str | None:
        """Why a readable derived index does not reflect SQLite (None: it does): the cheap check on open."""
        have, gen = self._stamp(stamp), self.generation
        if have != gen:
            return f"{what} is at generation {have}, store.sqlite at {gen}"
        chunks = self._chunk_count()
        return f"{what} holds {entries} chunks, store.sqlite {chunks}" if entries != chunks else None

    def _repaired(self, what: str, fix: str) -> None:
        if not self.generation:
            return  # nothing was ever written: a new store's empty index is made, not repaired
        self.repaired.append(Problem(what, f"{fix} on open", repaired=True))
        log.warning("knowledge base '%s': %s: %s", self.name, what, fix)

    def _stamp(self, name: str) -> int:
        try:
            return int((self.path / name).read_text())
        except (FileNotFoundError, ValueError):
            return -1

    def _write_stamp(self, name: str, gen: int) -> None:
        tmp = self.path / f"{name}.tmp"
        tmp.write_text(str(gen))
        os.replace(tmp, self.path / name)

    # ---------- tantivy (BM25 over pre-segmented tokens) ----------
    def _schema(self):
        import tantivy

        sb = tantivy.SchemaBuilder()
        sb.add_integer_field("cid", stored=True, indexed=True, fast=True)
        sb.add_text_field("doc_id", stored=False, tokenizer_name="raw")
        sb.add_text_field("law", stored=False, tokenizer_name="raw")
        sb.add_text_field("tokens", stored=False, tokenizer_name="whitespace", index_option="freq")
        sb.add_text_field("bigrams", stored=False, tokenizer_name="whitespace", index_option="freq")
        return sb.build()

    def _keyword_state(self):
        """The keyword index on disk, opened afresh (None if unreadable), and what is wrong with it (None: nothing)."""
        import tantivy

        tdir = self.path / "tantivy"
        if not (tdir / "meta.json").is_file():  # opening would create an empty index there
            return None, "tantivy/ is missing"
        try:
            index = tantivy.Index(self._tschema, path=str(tdir))
            index.reload()
            docs = index.searcher().num_docs
        except ValueError as e:  # tantivy's error for damaged or missing index files
            return None, f"tantivy/ is unreadable ({e})"
        return index, self._stale("tantivy/", "tantivy.gen", docs)

    def _open_tantivy(self) -> None:
        import tantivy

        index, problem = self._keyword_state()
        if problem:
            try:
                with self._wlock.hold():
                    index = self._rebuild_keyword()
                self._repaired(f"keyword index: {problem}", "rebuilt from store.sqlite")
            except LockedError:
                if index is None:  # nothing usable on disk and the lock holder may write there: keep a copy in RAM
                    index = tantivy.Index(self._tschema)
                    self._fill_keyword(index)
                    log.warning("knowledge base '%s': keyword index: %s; another process holds the write lock: "
                                "searching a copy rebuilt in memory", self.name, problem)
                # else a stale stamp: the writer holding the lock will commit and stamp; search what is there
        self._tindex = index

    def _rebuild_keyword(self):
        """Re-derive tantivy/ from SQLite (caller holds the write lock) and return it. The stamp goes first, so a
        crash midway leaves a stale stamp, which the next open repairs."""
        import tantivy

        self._drop_writer()  # it belongs to the index being replaced
        (self.path / "tantivy.gen").unlink(missing_ok=True)
        tdir = self.path / "tantivy"
        shutil.rmtree(tdir, ignore_errors=True)
        tdir.mkdir()
        index = tantivy.Index(self._tschema, path=str(tdir))
        self._fill_keyword(index)
        self._write_stamp("tantivy.gen", self.generation)
        return index

    def _fill_keyword(self, index) -> None:
        writer = index.writer(heap_size=128_000_000, num_threads=1)
        for row in self._db.execute("SELECT id, doc_id, law, tokens, bigrams FROM chunks"):
            writer.add_document(self._tdoc(*row))
        writer.commit()
        writer.wait_merging_threads()
        index.reload()

    def _drop_writer(self) -> None:
        if self._writer is not None:
            self._writer.wait_merging_threads()  # consumes the writer and frees tantivy's lock
            self._writer = None

    def _release_writer(self) -> None:
        self._drop_writer()
        self._wlock.release()

    def _tdoc(self, cid: int, doc_id: str, law: str | None, tokens: str, grams: str):
        import tantivy

        return tantivy.Document(cid=cid, doc_id=doc_id, law=law or "", tokens=tokens, bigrams=grams)

    def _get_writer(self):
        if self._writer is None:
            try:
                self._writer = self._tindex.writer(heap_size=128_000_000, num_threads=1)
            except ValueError as e:
                raise LockedError(f"knowledge base '{self.name}': keyword index locked by another writer") from e
        return self._writer

    # ---------- faiss (exact inner product on normalised vectors) ----------
    def _dense_state(self):
        """The dense snapshot on disk (None if unusable) and what is wrong with it (None: nothing)."""
        import faiss

        snap = self.path / "dense.faiss"
        if not snap.exists():
            return None, "dense.faiss is missing"
        try:
            index = faiss.read_index(str(snap))
        except RuntimeError as e:  # faiss' error for a damaged or truncated file
            return None, f"dense.faiss is unreadable ({str(e).strip().splitlines()[-1][:200]})"
        if index.d != self.dim:
            return None, f"dense.faiss holds {index.d}-d vectors, the knowledge base {self.dim}-d"
        return index, self._stale("dense.faiss", "dense.gen", index.ntotal)

    def _open_dense(self) -> None:
        import faiss

        # One query scans 58k x 512 floats in ~5 ms on one thread. With OpenMP's default (all cores) the same
        # search took 33 ms and its spinning workers starved the query embedder's BLAS threads (0.7 -> 220 ms).
        faiss.omp_set_num_threads(1)

        index, problem = self._dense_state()
        if problem is None:
            self._faiss = index
            return
        self._faiss = self._dense_from_sqlite()
        try:
            with self._wlock.hold():
                self._save_dense()
            self._repaired(f"dense index: {problem}", "rebuilt from the vectors in store.sqlite")
        except LockedError:
            pass  # searchable in memory now; another process is writing and stamps the file when done

    def _dense_from_sqlite(self):
        """The exact inner-product index of every vector store.sqlite keeps (SQLite holds them: no re-embedding)."""
        import faiss

        index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        ids, vecs = [], []
        for cid, blob in self._db.execute("SELECT id, vector FROM chunks"):
            ids.append(cid)
            vecs.append(blob)
        if ids:
            mat = np.frombuffer(b"".join(vecs), dtype=np.float32).reshape(len(ids), self.dim)
            index.add_with_ids(mat, np.asarray(ids, dtype=np.int64))
        self._dense_dirty = True
        return index

    def _save_dense(self) -> None:
        import faiss

        tmp = self.path / "dense.faiss.tmp"
        faiss.write_index(self._faiss, str(tmp))
        os.replace(tmp, self.path / "dense.faiss")
        self._write_stamp("dense.gen", self.generation)
        self._dense_dirty = False

    # ---------- writes ----------
    @contextmanager
    def writer(self, timeout: float = 0.0) -> Iterator[None]:
        """Kept until close, like the lock any write takes: this process's faiss and tantivy are only current
        while no other process writes, so a store that wrote stays the KB's writer (e.g. a server)."""
        self._wlock.acquire(timeout)
        yield

    def write(self, batch: list[DocWrite]) -> None:
        if not batch:
            return
        with self._lock:
            self._wlock.acquire()
            self._get_writer()
            removed: list[int] = []
            added_ids: list[int] = []
            added_vecs: list[np.ndarray] = []
            tdocs = []
            now = time.time()
            with transaction(self._db, self._lock) as db:
                for w in batch:
                    if len(w.chunks) != len(w.vectors):
                        raise ValueError(f"{w.doc.doc_id}: {len(w.chunks)} chunks but {len(w.vectors)} vectors")
                    doc_id = w.doc.doc_id
                    removed += [r[0] for r in db.execute("SELECT id FROM chunks WHERE doc_id=?", (doc_id,))]
                    db.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
                    vecs = np.ascontiguousarray(w.vectors, dtype=np.float32)
                    for c, v in zip(w.chunks, vecs):
                        law = c.meta.get("law")
                        tok_str, gram_str = " ".join(tokenize(c.index_text)), " ".join(bigrams(c.index_text))
                        cur = db.execute(
                            "INSERT INTO chunks(chunk_id, doc_id, ordinal, law, text, meta, tokens, bigrams, vector)"
                            " VALUES (?,?,?,?,?,?,?,?,?)",
                            (c.chunk_id, doc_id, c.ordinal, law, c.text, dumps(c.meta), tok_str, gram_str, v.tobytes()),
                        )
                        added_ids.append(cur.lastrowid)
                        tdocs.append((cur.lastrowid, doc_id, law, tok_str, gram_str))
                    if len(vecs):
                        added_vecs.append(vecs)
                    db.execute(
                        "INSERT OR REPLACE INTO documents(doc_id, source, hash, chunks, meta, updated_at)"
                        " VALUES (?,?,?,?,?,?)",
                        (doc_id, w.doc.source, w.doc.hash, len(w.chunks), dumps(w.doc.meta), now),
                    )
                gen = self.generation + 1
                self._set_meta("generation", str(gen))
            self._follow(gen, [w.doc.doc_id for w in batch], tdocs, removed, added_ids, added_vecs)

    def _follow(self, gen, doc_ids, tdocs, removed, added_ids=(), added_vecs=()) -> None:
        """Bring the derived indexes up to the committed SQLite state; a crash in here is repaired on open."""
        writer = self._get_writer()
        for d in doc_ids:
            writer.delete_documents_by_term("doc_id", d)
        for t in tdocs:
            writer.add_document(self._tdoc(*t))
        writer.commit()
        self._write_stamp("tantivy.gen", gen)
        with self._indexes.exclusive():
            self._tindex.reload()
            if removed:
                self._faiss.remove_ids(np.asarray(removed, dtype=np.int64))
            if added_vecs:
                self._faiss.add_with_ids(np.vstack(added_vecs), np.asarray(added_ids, dtype=np.int64))
        self._dense_dirty = True

    def delete(self, doc_ids: list[str]) -> int:
        if not doc_ids:
            return 0
        with self._lock:
            self._wlock.acquire()
            self._get_writer()
            with transaction(self._db, self._lock) as db:
                marks = ",".join("?" * len(doc_ids))
                existed = db.execute(f"SELECT COUNT(*) FROM documents WHERE doc_id IN ({marks})", doc_ids).fetchone()[0]
                removed = [r[0] for r in db.execute(f"SELECT id FROM chunks WHERE doc_id IN ({marks})", doc_ids)]
                db.execute(f"DELETE FROM chunks WHERE doc_id IN ({marks})", doc_ids)
                db.execute(f"DELETE FROM documents WHERE doc_id IN ({marks})", doc_ids)
                gen = self.generation + 1
                self._set_meta("generation", str(gen))
            self._follow(gen, doc_ids, [], removed)
            return existed

    # ---------- reads ----------
    def _allowed_ids(self, filters: Filters) -> np.ndarray:
        clauses, args = [], []
        if filters.laws:
            clauses.append(f"law IN ({','.join('?' * len(filters.laws))})")
            args += filters.laws
        if filters.doc_ids:
            clauses.append(f"doc_id IN ({','.join('?' * len(filters.doc_ids))})")
            args += filters.doc_ids
        rows = self._db.execute(f"SELECT id FROM chunks WHERE {' AND '.join(clauses)}", args).fetchall()
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    def _bm25(self, terms: list[str], n: int, filters: Filters | None, field: str) -> list[tuple[int, float]]:
        import tantivy

        terms = list(dict.fromkeys(t for t in terms if t))
        if not terms:
            return []
        s = self._tschema
        should = tantivy.Occur.Should
        q = tantivy.Query.boolean_query([(should, tantivy.Query.term_query(s, field, t)) for t in terms])
        if filters:
            must = [(tantivy.Occur.Must, q)]
            if filters.laws:
                must.append((tantivy.Occur.Must, tantivy.Query.term_set_query(s, "law", filters.laws)))
            if filters.doc_ids:
                must.append((tantivy.Occur.Must, tantivy.Query.term_set_query(s, "doc_id", filters.doc_ids)))
            q = tantivy.Query.boolean_query(must)
        searcher = self._tindex.searcher()
        return [(searcher.doc(addr)["cid"][0], float(score)) for score, addr in searcher.search(q, n).hits]

    def _dense(self, vector: np.ndarray, n: int, filters: Filters | None) -> list[tuple[int, float]]:
        import faiss

        if self._faiss.ntotal == 0:
            return []
        q = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        params = None
        if filters:
            with self._lock:  # SQLite
                allowed = self._allowed_ids(filters)
            if not len(allowed):
                return []
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
        scores, ids = self._faiss.search(q, min(n, self._faiss.ntotal), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def rank(self, view: View, query: str | np.ndarray, n: int, filters: Filters | None = None) -> Ranking:
        """Row keys are SQLite chunk rowids. Keyword views segment the text exactly as write() did."""
        if n <= 0:
            return []
        with self._indexes.shared():
            if view == "dense":
                return self._dense(query, n, filters)
            if view == "bm25":
                return self._bm25(tokenize(query), n, filters, "tokens")
            if view == "bigram":
                return self._bm25(bigrams(query), n, filters, "bigrams")
        raise ValueError(f"unknown view {view!r}; this engine ranks {', '.join(self.views)}")

    def hits(self, keys: list[Hashable]) -> dict[Hashable, Hit]:
        if not keys:
            return {}
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, chunk_id, doc_id, text, meta FROM chunks WHERE id IN ({','.join('?' * len(keys))})", keys
            ).fetchall()
        # orjson: ~200 candidates a question, ~4x the stdlib here
        return {r[0]: Hit(chunk_id=r[1], doc_id=r[2], text=r[3], score=0.0, meta=orjson.loads(r[4])) for r in rows}

    def get_chunks(self, chunk_ids: list[str]) -> list[Hit]:
        if not chunk_ids:
            return []
        with self._lock:
            rows = self._db.execute(
                f"SELECT chunk_id, doc_id, text, meta FROM chunks WHERE chunk_id IN ({','.join('?' * len(chunk_ids))})",
                chunk_ids,
            ).fetchall()
        by_id = {r[0]: r for r in rows}
        return [
            Hit(chunk_id=c, doc_id=by_id[c][1], text=by_id[c][2], score=0.0, meta=json.loads(by_id[c][3]))
            for c in chunk_ids
            if c in by_id
        ]

    def vectors(self) -> tuple[list[str], np.ndarray]:
        with self._lock:
            rows = self._db.execute("SELECT chunk_id, meta, vector FROM chunks ORDER BY id").fetchall()
        refs = [chunk_ref(c, json.loads(m)) for c, m, _ in rows]
        vecs = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), self.dim)
        return refs, vecs.copy()

    def flush(self) -> None:
        """Persist the dense snapshot so the next open skips rebuilding it from SQLite."""
        with self._lock:
            if self._dense_dirty and self._wlock.held:
                self._save_dense()

    # ---------- check, backup ----------
    def check(self, repair: bool = False) -> CheckReport:
        """store.sqlite's integrity and self-consistency, then each derived index on disk against it; `repair`
        takes the write lock and rebuilds the derived indexes that need it (damage to SQLite it cannot mend)."""
        report = CheckReport(self.name, "local", problems=list(self.repaired))
        with self._lock, (self._wlock.hold() if repair else nullcontext()):
            damage = integrity(self._db)
            if damage:
                report.found(f"{self.path / 'store.sqlite'} fails SQLite's integrity check: {'; '.join(damage[:3])}",
                             RESTORE)
            listed, chunks = self._registry.count(), self._chunk_count()
            if listed["chunks"] != chunks:
                report.found(f"store.sqlite: its documents list {listed['chunks']} chunks, its chunks table holds "
                             f"{chunks}", RESTORE)
            keyword, keyword_problem = self._keyword_state()
            dense, dense_problem = self._dense_state()
            if repair and keyword_problem:
                keyword = self._rebuild_keyword()
                with self._indexes.exclusive():
                    self._tindex = keyword
            if repair and dense_problem:
                dense = self._dense_from_sqlite()
                with self._indexes.exclusive():
                    self._faiss = dense
                self._save_dense()
            for what, problem, fix in (("keyword index", keyword_problem, "rebuilt from store.sqlite"),
                                       ("dense index", dense_problem, "rebuilt from the vectors in store.sqlite")):
                if problem:
                    fix = fix if repair else f"{REPAIRABLE} (or the next open rebuilds it)"
                    report.found(f"{what}: {problem}", fix, repaired=repair)
            report.counts = {"documents": listed["documents"], "chunks": chunks}
            if keyword is not None:
                report.counts["keyword"] = keyword.searcher().num_docs
            if dense is not None:
                report.counts["dense"] = int(dense.ntotal)
            report.generations = {"store.sqlite": self.generation, "tantivy.gen": self._stamp("tantivy.gen"),
                                  "dense.gen": self._stamp("dense.gen")}
        return report

    def snapshot(self, dest: Path) -> dict[str, int]:
        """store.sqlite alone, copied by SQLite's online backup: it holds everything; the derived indexes are
        rebuilt from it by load()."""
        target = Path(dest) / "store.sqlite"
        with self._lock:  # the connection is shared by threads; other processes' writers carry on meanwhile
            backup_to(self._db, target)
        copy = open_copy(target, "the copy just written is damaged: check the disk, then export again")
        try:
            return DocRegistry(copy, threading.RLock(), "documents").count()
        finally:
            copy.close()

    def load(self, src: Path) -> None:
        source = Path(src) / "store.sqlite"
        with self._lock, self._wlock.hold():
            if self.generation or self._chunk_count():
                raise KBExistsError(f"knowledge base '{self.name}' is not empty: load a snapshot into a new one")
            copy = open_copy(source, "export the knowledge base again")
            try:
                try:
                    meta = dict(copy.execute("SELECT key, value FROM meta").fetchall())
                except sqlite3.DatabaseError as e:
                    raise InputError(f"{source}: not a zhiku store ({e})") from None
                self._check_layout(meta.get("schema"), meta.get("dim"))
                copy.backup(self._db)
            finally:
                copy.close()
            self._db.execute("PRAGMA journal_mode=WAL")  # the copy came in rollback-journal mode
            keyword, dense = self._rebuild_keyword(), self._dense_from_sqlite()
            with self._indexes.exclusive():
                self._tindex, self._faiss = keyword, dense
            self._save_dense()

    def close(self) -> None:
        with self._lock:
            if self._db is None:
                return
            self.flush()
            self._release_writer()
            self._db.close()
            self._db = None

    def drop(self) -> None:
        with self._lock:
            self._wlock.acquire()
            self._db.close()
            self._db = None
            self._release_writer()
            shutil.rmtree(self.path, ignore_errors=True)

