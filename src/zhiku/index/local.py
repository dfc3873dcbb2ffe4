"""The embedded store: SQLite registry (the truth) + tantivy BM25 + faiss exact inner product, all in process.

Why this shape: at 58.5k articles it answers a hybrid query in ~10 ms where milvus-lite takes ~340 ms
(docs/benchmarks.md). Consistency comes from one rule: SQLite holds everything (documents, chunk text, metadata,
BM25 tokens, vectors) and every document write is one SQLite transaction that bumps a generation counter.
tantivy and faiss are derived indexes stamped with the generation they reflect; on open, a stale stamp (a crash
between the SQLite commit and the index commit) triggers a rebuild from SQLite. So after kill -9 a document is
either entirely its old version or entirely its new one, never half.

Files under `path/`: store.sqlite, tantivy/ (+ tantivy.gen), dense.faiss (+ dense.gen), LOCK (writers).
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import orjson

from zhiku.errors import ConfigError, LockedError
from zhiku.index.base import DocInfo, DocWrite, Filters, FusionParams, SearchMode
from zhiku.index.fusion import weighted_rrf
from zhiku.index.tokenize import bigrams
from zhiku.types import Hit, chunk_ref

SCHEMA_VERSION = "2"
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


class _WriteLock:
    """An exclusive, non-blocking, cross-process lock on a KB: the first write takes it, close() frees it."""

    def __init__(self, path: Path, what: str):
        self.path, self.what, self._fd = path, what, None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise LockedError(f"{self.what}: locked by another process (pid {holder}); try again when it is done")
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


class _SharedLock:
    """Many readers or one writer, for the in-memory indexes: faiss and tantivy searches are thread-safe and
    faiss releases the GIL, so concurrent questions scan vectors side by side instead of queueing behind the
    store's one lock (served retrieval was capped at one search at a time); mutating an index waits for them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and not self._readers)
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


class LocalStore:
    def __init__(self, path: Path, name: str, dim: int):
        self.path, self.name, self.dim = Path(path), name, dim
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()  # SQLite connection, writes, lifecycle
        self._indexes = _SharedLock()  # searching vs mutating the faiss and tantivy indexes
        self._wlock = _WriteLock(self.path / "LOCK", f"knowledge base '{name}' ({self.path})")
        self._db = sqlite3.connect(self.path / "store.sqlite", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        stored_dim = self._meta("dim")
        if stored_dim is None:
            self._set_meta("dim", str(dim))
            self._set_meta("generation", "0")
            self._set_meta("schema", SCHEMA_VERSION)
        elif self._meta("schema") != SCHEMA_VERSION:
            raise ConfigError(
                f"knowledge base '{name}': stored with an older zhiku index layout; re-create it and ingest again"
            )
        elif int(stored_dim) != dim:
            raise ConfigError(f"knowledge base '{name}': built with {stored_dim}-d vectors, embedder gives {dim}-d")
        self._writer = None
        self._dense_dirty = False
        self._open_tantivy()
        self._open_dense()

    # ---------- meta helpers ----------
    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self._meta("generation") or 0)

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

    def _open_tantivy(self) -> None:
        import tantivy

        self._tschema = self._schema()
        tdir = self.path / "tantivy"
        tdir.mkdir(exist_ok=True)
        self._tindex = tantivy.Index(self._tschema, path=str(tdir))
        if self._stamp("tantivy.gen") != self.generation:
            self._rebuild_tantivy()
        self._tindex.reload()

    def _rebuild_tantivy(self) -> None:
        """Re-derive the keyword index from SQLite after a crash left it behind."""
        try:
            self._wlock.acquire()
        except LockedError:
            return  # the writer holding the lock will commit and stamp; search what is there meanwhile
        w = self._get_writer()
        w.delete_all_documents()
        for row in self._db.execute("SELECT id, doc_id, law, tokens, bigrams FROM chunks"):
            w.add_document(self._tdoc(*row))
        w.commit()
        self._write_stamp("tantivy.gen", self.generation)
        self._release_writer()

    def _release_writer(self) -> None:
        if self._writer is not None:
            self._writer.wait_merging_threads()  # consumes the writer and frees tantivy's lock
            self._writer = None
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
    def _open_dense(self) -> None:
        import faiss

        # One query scans 58k x 512 floats in ~5 ms on one thread. With OpenMP's default (all cores) the same
        # search took 33 ms and its spinning workers starved the query embedder's BLAS threads (0.7 -> 220 ms).
        faiss.omp_set_num_threads(1)

        snap = self.path / "dense.faiss"
        if snap.exists() and self._stamp("dense.gen") == self.generation:
            self._faiss = faiss.read_index(str(snap))
            return
        self._faiss = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        ids, vecs = [], []
        for cid, blob in self._db.execute("SELECT id, vector FROM chunks"):
            ids.append(cid)
            vecs.append(blob)
        if ids:
            mat = np.frombuffer(b"".join(vecs), dtype=np.float32).reshape(len(ids), self.dim)
            self._faiss.add_with_ids(mat, np.asarray(ids, dtype=np.int64))
        self._dense_dirty = True

    def _save_dense(self) -> None:
        import faiss

        tmp = self.path / "dense.faiss.tmp"
        faiss.write_index(self._faiss, str(tmp))
        os.replace(tmp, self.path / "dense.faiss")
        self._write_stamp("dense.gen", self.generation)
        self._dense_dirty = False

    # ---------- writes ----------
    def write(self, batch: list[DocWrite]) -> None:
        if not batch:
            return
        with self._lock:
            self._wlock.acquire()
            writer = self._get_writer()
            removed: list[int] = []
            added_ids: list[int] = []
            added_vecs: list[np.ndarray] = []
            tdocs = []
            now = time.time()
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                for w in batch:
                    if len(w.chunks) != len(w.vectors) or len(w.chunks) != len(w.tokens):
                        raise ValueError(f"{w.doc.doc_id}: chunks, vectors and tokens differ in length")
                    doc_id = w.doc.doc_id
                    removed += [r[0] for r in db.execute("SELECT id FROM chunks WHERE doc_id=?", (doc_id,))]
                    db.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
                    vecs = np.ascontiguousarray(w.vectors, dtype=np.float32)
                    for c, v, toks in zip(w.chunks, vecs, w.tokens):
                        law = c.meta.get("law")
                        tok_str, gram_str = " ".join(toks), " ".join(bigrams(c.index_text))
                        cur = db.execute(
                            "INSERT INTO chunks(chunk_id, doc_id, ordinal, law, text, meta, tokens, bigrams, vector)"
                            " VALUES (?,?,?,?,?,?,?,?,?)",
                            (c.chunk_id, doc_id, c.ordinal, law, c.text, _dumps(c.meta), tok_str, gram_str, v.tobytes()),
                        )
                        added_ids.append(cur.lastrowid)
                        tdocs.append((cur.lastrowid, doc_id, law, tok_str, gram_str))
                    if len(vecs):
                        added_vecs.append(vecs)
                    db.execute(
                        "INSERT OR REPLACE INTO documents(doc_id, source, hash, chunks, meta, updated_at)"
                        " VALUES (?,?,?,?,?,?)",
                        (doc_id, w.doc.source, w.doc.hash, len(w.chunks), _dumps(w.doc.meta), now),
                    )
                gen = self.generation + 1
                self._set_meta("generation", str(gen))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
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
            writer = self._get_writer()
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                marks = ",".join("?" * len(doc_ids))
                existed = db.execute(f"SELECT COUNT(*) FROM documents WHERE doc_id IN ({marks})", doc_ids).fetchone()[0]
                removed = [r[0] for r in db.execute(f"SELECT id FROM chunks WHERE doc_id IN ({marks})", doc_ids)]
                db.execute(f"DELETE FROM chunks WHERE doc_id IN ({marks})", doc_ids)
                db.execute(f"DELETE FROM documents WHERE doc_id IN ({marks})", doc_ids)
                gen = self.generation + 1
                self._set_meta("generation", str(gen))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
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

    def _bm25(self, tokens: list[str], n: int, filters: Filters | None, field: str = "tokens") -> list[tuple[int, float]]:
        import tantivy

        terms = list(dict.fromkeys(t for t in tokens if t))
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

    def search(
        self,
        query_text: str,
        query_tokens: list[str],
        query_vector: np.ndarray | None,
        k: int = 10,
        mode: SearchMode = "hybrid",
        filters: Filters | None = None,
        fusion: FusionParams | None = None,
    ) -> list[Hit]:
        fusion = fusion or FusionParams()
        n = max(k, fusion.candidates)
        with self._indexes.shared():
            bm25 = self._bm25(query_tokens, n, filters) if mode in ("hybrid", "bm25") else []
            use_dense = mode in ("hybrid", "dense") and query_vector is not None
            dense = self._dense(query_vector, n, filters) if use_dense else []
            use_grams = mode == "hybrid" and fusion.bigram_weight > 0
            grams = self._bm25(bigrams(query_text), n, filters, "bigrams") if use_grams else []
        per: dict[int, dict[str, float]] = {}
        for cid, s in bm25:
            per.setdefault(cid, {})["bm25"] = s
        for cid, s in dense:
            per.setdefault(cid, {})["dense"] = s
        for cid, s in grams:
            per.setdefault(cid, {})["bigram"] = s
        if mode == "bm25":
            ranked = bm25[:k]
        elif mode == "dense":
            ranked = dense[:k]
        else:
            fused = weighted_rrf(
                [[c for c, _ in bm25], [c for c, _ in dense], [c for c, _ in grams]],
                [fusion.bm25_weight, fusion.dense_weight, fusion.bigram_weight],
                fusion.rrf_k,
            )
            ranked = fused[:k]
        return self._hits([cid for cid, _ in ranked], [s for _, s in ranked], per)

    def _hits(self, cids: list[int], scores: list[float], per: dict[int, dict[str, float]]) -> list[Hit]:
        if not cids:
            return []
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, chunk_id, doc_id, text, meta FROM chunks WHERE id IN ({','.join('?' * len(cids))})", cids
            ).fetchall()
        by_id = {r[0]: r for r in rows}
        hits = []
        for cid, score in zip(cids, scores):
            r = by_id.get(cid)
            if r is None:  # deleted between index and registry read
                continue
            meta = orjson.loads(r[4])  # 200 candidates a question: orjson is ~4x the stdlib here
            hits.append(Hit(chunk_id=r[1], doc_id=r[2], text=r[3], score=score, meta=meta, scores=per.get(cid, {})))
        return hits

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

    def doc_hashes(self, doc_ids: list[str] | None = None) -> dict[str, str]:
        with self._lock:
            if doc_ids is None:
                return dict(self._db.execute("SELECT doc_id, hash FROM documents"))
            out: dict[str, str] = {}
            for i in range(0, len(doc_ids), 500):  # SQLite caps bound parameters
                part = doc_ids[i : i + 500]
                marks = ",".join("?" * len(part))
                out.update(self._db.execute(f"SELECT doc_id, hash FROM documents WHERE doc_id IN ({marks})", part))
            return out

    def documents(self, source: str | None = None) -> list[DocInfo]:
        sql = "SELECT doc_id, source, hash, chunks, meta, updated_at FROM documents"
        where = (" WHERE source=? ORDER BY doc_id", (source,)) if source else (" ORDER BY doc_id", ())
        with self._lock:
            rows = self._db.execute(sql + where[0], where[1]).fetchall()
        return [DocInfo(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]

    def count(self) -> dict[str, int]:
        with self._lock:
            docs = self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            chunks = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return {"documents": docs, "chunks": chunks}

    def vectors(self) -> tuple[list[str], np.ndarray]:
        with self._lock:
            rows = self._db.execute("SELECT chunk_id, meta, vector FROM chunks ORDER BY id").fetchall()
        refs = [chunk_ref(c, json.loads(m)) for c, m, _ in rows]
        vecs = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), self.dim)
        return refs, vecs.copy()

    def flush(self) -> None:
        """Persist the dense snapshot so the next open skips rebuilding it from SQLite."""
        with self._lock:
            if self._dense_dirty and self._wlock._fd is not None:
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


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)
