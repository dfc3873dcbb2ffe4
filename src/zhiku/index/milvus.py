"""Milvus engine: one collection per knowledge base, BM25 (Milvus' jieba analyzer) + dense vectors.

Works against any Milvus by URI: a standalone/cluster server, `milvus-lite server` (http://127.0.0.1:P), or a
local `./x.db` (milvus-lite embedded in this process; single process only).

Consistency. Milvus has no transactions, so the document registry lives in a small SQLite file (WAL mode) and
every chunk row carries `rev`, a token unique to the write batch that produced it. A write goes:
  1. registry txn: pending_rev = R for the batch's docs
  2. insert the new rows tagged rev = R (old rows are untouched: their pks differ, pk = hash(rev, chunk_id))
  3. registry txn: hash/rev = new, pending cleared, dirty = 1        <- the commit point
  4. delete `doc_id in batch and rev != R`; registry: dirty = 0
Readers only return rows whose rev is the committed rev of their doc, so a concurrent write is invisible
until step 3 and old rows vanish at the same instant. After a crash, reconcile (on open and before every
write, under the write lock) deletes rows of pending revs (a new doc disappears, a changed doc keeps its old
version), finishes deletes, and removes stale revs of dirty docs. A per-batch rev (not the content hash)
makes a same-content rewrite (e.g. re-embedded) replace its rows too, and lets each step be one expression.
"""
from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Hashable, Iterator

import numpy as np

from zhiku.errors import BackendError, ConfigError, InputError, KBExistsError, LockedError
from zhiku.index.base import REPAIRABLE, CheckReport, DocWrite, Filters, Ranking, View
from zhiku.index.locks import WriterLock, flock_held
from zhiku.index.registry import (DocRegistry, RegistryReads, backup_to, chunked, dumps, integrity, open_copy,
                                  open_db, transaction)
from zhiku.index.tokenize import STOPWORDS
from zhiku.types import Hit, chunk_ref

MAX_VARCHAR = 65535  # Milvus' VARCHAR limit, in bytes
ID_LEN = 4096  # doc_id / chunk_id (doc ids are often paths)
INSERT_ROWS = 256  # rows per insert call: keeps gRPC messages small with 1024-d vectors
EXPR_IDS = 512  # ids per `in [...]` expression
MAX_TOPK = 16384  # Milvus' limit on limit
WRITE_LOCK_TIMEOUT = 600.0  # seconds a write waits for another writer of the same KB
_PUNCT = "，。、；：？！“”‘’（）《》〈〉【】〔〕「」『』—…·,.;:?!\"'()[]{}<>-_/\\|~`@#$%^&*+=　 \t\n"
# Same stopwords as zhiku.index.tokenize, so the Milvus BM25 index sees roughly the tokens the local one does.
# "lowercase"/"removepunct" are real-Milvus filters (2.5.11+); milvus-lite ignores string filters, already
# lower-cases, and drops punctuation through the stop list.
ANALYZER = {
    "tokenizer": "jieba",
    "filter": ["lowercase", "removepunct", {"type": "stop", "stop_words": sorted(STOPWORDS | set(_PUNCT))}],
}
_OUT = ["pk", "chunk_id", "doc_id", "rev", "text", "meta"]
_STORED = ["pk", "chunk_id", "doc_id", "rev", "law", "ordinal", "text", "index_text", "meta"]  # all but vectors
RESTORE = "delete the knowledge base (`zhiku kb delete`) and ingest again, or restore it from a backup"

_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS docs (
    doc_id TEXT PRIMARY KEY,
    source TEXT NOT NULL DEFAULT '',
    hash TEXT,                       -- NULL until the first commit
    rev TEXT,                        -- rev of the committed rows
    chunks INTEGER NOT NULL DEFAULT 0,
    meta TEXT NOT NULL DEFAULT '{}',
    updated_at REAL NOT NULL DEFAULT 0,
    pending_rev TEXT,                -- rows with this rev may exist but are not committed
    dirty INTEGER NOT NULL DEFAULT 0,    -- rows with rev != rev may still exist
    deleting INTEGER NOT NULL DEFAULT 0  -- delete started: rows may exist, doc is gone
);
CREATE INDEX IF NOT EXISTS docs_source ON docs(source);
"""
_LIVE = "hash IS NOT NULL AND deleting = 0"


def collection_name(name: str, prefix: str = "zhiku_") -> str:
    """Milvus allows [A-Za-z0-9_] (first char not a digit), max 255: other names get a stable hash suffix."""
    if re.fullmatch(r"[A-Za-z0-9_]{1,200}", name):
        out = prefix + name
    else:
        slug = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")[:60]
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
        out = f"{prefix}{slug}_{digest}" if slug else f"{prefix}{digest}"
    return out if re.match(r"[A-Za-z_]", out) else "_" + out


def quote(s: str) -> str:
    """A Milvus filter string literal."""
    esc = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{esc}"'


def _in(field: str, values: list[str]) -> str:
    return f"{field} in [{', '.join(quote(v) for v in values)}]"


def _fit(text: str, limit: int = MAX_VARCHAR) -> str:
    """Truncate to `limit` UTF-8 bytes on a character boundary."""
    b = text.encode("utf-8")
    return text if len(b) <= limit else b[:limit].decode("utf-8", "ignore")


class MilvusStore(RegistryReads):
    views = ("bm25", "dense")  # BM25 through the collection's jieba analyzer; no bigram index
    concurrent = True  # views are round trips to a server that works on them in parallel (~30% off hybrid)

    def __init__(
        self,
        uri: str,
        name: str,
        dim: int,
        registry_path: Path,
        token: str = "",
        collection_prefix: str = "zhiku_",
    ):
        try:
            import pymilvus
        except ImportError as e:  # optional extra
            raise ConfigError("the Milvus engine needs pymilvus: pip install 'zhiku[milvus]'") from e
        self._pm = pymilvus
        self.uri, self.name, self.dim = str(uri), name, int(dim)
        self.collection = collection_name(name, collection_prefix)
        self.registry_path = Path(registry_path)
        self._mu = threading.RLock()  # one sqlite connection, shared by threads
        self._writing = threading.Lock()  # one writing thread in this process; WriterLock covers other processes
        self._client = self._connect(token)
        try:
            self._ensure_collection()
        except BaseException:
            self._client.close()
            raise
        self.registry_path.parent.mkdir(parents=True, exist_ok=True)
        # the registry is the commit point: synchronous=FULL makes it durable
        self._db = open_db(self.registry_path, synchronous="FULL", busy_ms=30000,
                           advice=f"knowledge base '{name}': {RESTORE}")
        self._db.executescript(_SCHEMA_SQL)
        self._registry = DocRegistry(self._db, self._mu, "docs", live=_LIVE)
        self._wlock = WriterLock(Path(str(self.registry_path) + ".lock"), f"knowledge base '{name}' ({self.uri})")
        try:  # only if no other writer is alive: its pending rows are legitimate
            with self._wlock.hold():
                self._reconcile()
        except LockedError:
            pass

    # ---- connection -------------------------------------------------------------------------------------------

    def _connect(self, token: str):
        local = not re.match(r"(?i)(https?|tcp|unix)://|unix:", self.uri)
        if local and not self.uri.endswith(".db"):
            raise ConfigError(f"Milvus uri {self.uri!r}: use http://host:port, or a local path ending in .db")
        if local:
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            client = self._pm.MilvusClient(uri=self.uri, token=token, timeout=30)
            self.is_lite = str(client.get_server_version()).startswith("milvus_lite")
            return client
        except Exception as e:
            if local and flock_held(Path(self.uri) / "LOCK"):
                raise LockedError(f"{self.uri}: another process has this milvus-lite database open "
                                  "(a local .db is single-process; serve it with `milvus-lite server`)") from e
            raise BackendError(f"Milvus at {self.uri}: {_reason(e)}") from e

    @contextmanager
    def _call(self, what: str):
        """Turn any client/server failure into a BackendError that names the server."""
        try:
            yield
        except (BackendError, InputError, ConfigError, LockedError):
            raise
        except Exception as e:
            raise BackendError(f"Milvus at {self.uri}: {what} on '{self.collection}': {_reason(e)}") from e

    def _ensure_collection(self) -> None:
        pm, c = self._pm, self._client
        with self._call("open collection"):
            if c.has_collection(self.collection):
                fields = {f["name"]: f for f in c.describe_collection(self.collection)["fields"]}
                have = int(fields.get("dense", {}).get("params", {}).get("dim", -1))
                if have != self.dim or "rev" not in fields:
                    raise ConfigError(
                        f"knowledge base '{self.name}': Milvus collection '{self.collection}' has dim {have}, "
                        f"expected {self.dim} (different embedder?) or is not a zhiku collection"
                    )
            else:
                s = pm.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False, description=self.name)
                # pk = hash(rev, chunk_id): two versions of a chunk coexist during a write (see module doc), and
                # Milvus deletes by pk, so a pk equal to chunk_id would make "delete the old version" hit the new
                # one too. 128-bit hex VARCHAR: fixed size, collision-free in practice, unlike a 63-bit INT64 hash.
                s.add_field("pk", pm.DataType.VARCHAR, is_primary=True, max_length=32)
                s.add_field("chunk_id", pm.DataType.VARCHAR, max_length=ID_LEN + 16)
                s.add_field("doc_id", pm.DataType.VARCHAR, max_length=ID_LEN)
                s.add_field("rev", pm.DataType.VARCHAR, max_length=32)
                s.add_field("law", pm.DataType.VARCHAR, max_length=512)  # scalar field: cheap exact filter
                s.add_field("ordinal", pm.DataType.INT64)
                s.add_field("text", pm.DataType.VARCHAR, max_length=MAX_VARCHAR)
                s.add_field("index_text", pm.DataType.VARCHAR, max_length=MAX_VARCHAR,
                            enable_analyzer=True, analyzer_params=ANALYZER)
                s.add_field("meta", pm.DataType.JSON)
                s.add_field("dense", pm.DataType.FLOAT_VECTOR, dim=self.dim)
                s.add_field("sparse", pm.DataType.SPARSE_FLOAT_VECTOR)
                s.add_function(pm.Function(name="bm25", function_type=pm.FunctionType.BM25,
                                           input_field_names=["index_text"], output_field_names=["sparse"]))
                ix = c.prepare_index_params()
                # vectors are L2-normalised: COSINE == IP, and COSINE stays right if one is not
                ix.add_index(field_name="dense", index_type="HNSW", metric_type="COSINE",
                             params={"M": 16, "efConstruction": 200})
                ix.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
                ix.add_index(field_name="doc_id", index_type="INVERTED")
                ix.add_index(field_name="law", index_type="INVERTED")
                # Strong: a search right after a write sees it (real Milvus defaults to Bounded)
                c.create_collection(self.collection, schema=s, index_params=ix, consistency_level="Strong")
            c.load_collection(self.collection)  # a reopened collection is NotLoad until this

    # ---- registry ---------------------------------------------------------------------------------------------

    def _txn(self):
        return transaction(self._db, self._mu)

    def _rows(self, sql: str, args: tuple | list = ()) -> list[tuple]:
        return self._registry.rows(sql, args)

    @contextmanager
    def writer(self, timeout: float = 0.0) -> Iterator[None]:
        with self._wlock.hold(timeout) as taken:
            try:
                yield
            finally:
                if taken:  # another thread's write inside this scope relies on the lock: let it finish
                    with self._writing:
                        self._wlock.release()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._writing, self._wlock.hold(timeout=WRITE_LOCK_TIMEOUT):
            yield

    def _delete_rows(self, expr: str) -> None:
        with self._call("delete"):
            self._client.delete(self.collection, filter=expr)

    def _reconcile(self) -> None:
        """Finish or undo whatever a crashed writer left (idempotent; caller holds the write lock)."""
        pending = [r[0] for r in self._rows("SELECT DISTINCT pending_rev FROM docs WHERE pending_rev IS NOT NULL")]
        for rev in pending:  # a batch rev is never committed while any of its docs is still pending
            self._delete_rows(f"rev == {quote(rev)}")
        if pending:
            with self._txn() as db:
                db.execute("DELETE FROM docs WHERE pending_rev IS NOT NULL AND hash IS NULL")
                db.execute("UPDATE docs SET pending_rev = NULL WHERE pending_rev IS NOT NULL")
        gone = [r[0] for r in self._rows("SELECT doc_id FROM docs WHERE deleting = 1")]
        if gone:
            self._delete_docs(gone)
        dirty: dict[str, list[str]] = defaultdict(list)
        for doc_id, rev in self._rows("SELECT doc_id, rev FROM docs WHERE dirty = 1"):
            dirty[rev].append(doc_id)
        for rev, ids in dirty.items():
            self._clean(ids, rev)

    def _clean(self, doc_ids: list[str], rev: str) -> None:
        for part in chunked(doc_ids, EXPR_IDS):
            self._delete_rows(f"{_in('doc_id', part)} and rev != {quote(rev)}")
        with self._txn() as db:
            db.executemany("UPDATE docs SET dirty = 0 WHERE doc_id = ? AND rev = ?", [(d, rev) for d in doc_ids])

    def _delete_docs(self, doc_ids: list[str]) -> None:
        for part in chunked(doc_ids, EXPR_IDS):
            self._delete_rows(_in("doc_id", part))
        with self._txn() as db:
            db.executemany("DELETE FROM docs WHERE doc_id = ? AND deleting = 1", [(d,) for d in doc_ids])

    # ---- writes -----------------------------------------------------------------------------------------------

    def write(self, batch: list[DocWrite]) -> None:
        by_id = {w.doc.doc_id: w for w in batch}  # a doc repeated in a batch: the last one wins
        if not by_id:
            return
        rows = []
        rev = uuid.uuid4().hex[:16]
        for w in by_id.values():
            vecs = np.asarray(w.vectors, dtype=np.float32)
            if w.chunks and vecs.shape != (len(w.chunks), self.dim):
                raise InputError(f"{w.doc.doc_id}: vectors of shape {vecs.shape} for {len(w.chunks)} chunks; "
                                 f"knowledge base '{self.name}' has dim {self.dim}")
            for i, ch in enumerate(w.chunks):
                if len(ch.text.encode("utf-8")) > MAX_VARCHAR or len(ch.chunk_id.encode("utf-8")) > ID_LEN:
                    raise InputError(f"{ch.chunk_id[:200]}: chunk text over {MAX_VARCHAR} bytes or id over "
                                     f"{ID_LEN} bytes (Milvus VARCHAR limit)")
                law = str(ch.meta.get("law") or "")  # the chunk's own law, as the local engine filters
                rows.append({
                    "pk": hashlib.blake2b(f"{rev}\x00{ch.chunk_id}".encode(), digest_size=16).hexdigest(),
                    "chunk_id": ch.chunk_id, "doc_id": w.doc.doc_id, "rev": rev, "law": _fit(law, 512),
                    "ordinal": int(ch.ordinal), "text": ch.text, "index_text": _fit(ch.index_text or ch.text),
                    "meta": json.loads(dumps(ch.meta)), "dense": vecs[i].tolist(),
                })
        ids = list(by_id)
        with self._locked():
            self._reconcile()
            with self._txn() as db:  # 1. announce
                db.executemany(
                    "INSERT INTO docs (doc_id, pending_rev) VALUES (?, ?) "
                    "ON CONFLICT(doc_id) DO UPDATE SET pending_rev = excluded.pending_rev",
                    [(d, rev) for d in ids],
                )
            for part in chunked(rows, INSERT_ROWS):  # 2. new rows, invisible until committed
                with self._call("insert"):
                    self._client.insert(self.collection, part)
            if rows and self.is_lite:
                # milvus-lite searches its in-memory memtable by brute force in Python: on 2,000 rows 20-100x
                # slower than a flushed segment (dense 112 vs 7 ms, BM25 215 vs 2 ms); flushing also puts the
                # rows on disk before the registry commits them. Real Milvus indexes growing segments and
                # rate-limits flush, so there the pipeline may call flush() once after an ingest instead.
                self.flush()
            now = time.time()
            with self._txn() as db:  # 3. commit
                db.executemany(
                    "UPDATE docs SET source = ?, hash = ?, rev = ?, chunks = ?, meta = ?, updated_at = ?, "
                    "pending_rev = NULL, dirty = 1, deleting = 0 WHERE doc_id = ?",
                    [(w.doc.source, w.doc.hash, rev, len(w.chunks), dumps(w.doc.meta), now, d)
                     for d, w in by_id.items()],
                )
            self._clean(ids, rev)  # 4. old rows out

    def delete(self, doc_ids: list[str]) -> int:
        ids = list(dict.fromkeys(doc_ids))
        if not ids:
            return 0
        with self._locked():
            self._reconcile()
            existed = self._registry.revs(ids)
            with self._txn() as db:  # from here on the docs are gone for readers; rows follow
                db.executemany("UPDATE docs SET deleting = 1 WHERE doc_id = ?", [(d,) for d in ids])
            self._delete_docs(ids)
        return len(existed)

    # ---- reads ------------------------------------------------------------------------------------------------

    def _expr(self, filters: Filters | None) -> str:
        parts = []
        if filters and filters.laws:
            parts.append(_in("law", filters.laws))
        if filters and filters.doc_ids:
            parts.append(_in("doc_id", filters.doc_ids))
        return " and ".join(parts)

    def _visible(self, rows: list[dict]) -> list[dict]:
        """Rows of committed versions only (hides an in-flight write and not-yet-deleted old rows)."""
        revs = self._registry.revs(list({r["doc_id"] for r in rows}))
        return [r for r in rows if revs.get(r["doc_id"]) == r["rev"]]

    def rank(self, view: View, query: str | np.ndarray, n: int, filters: Filters | None = None) -> Ranking:
        """Row keys are primary keys. BM25 segments the text with the collection's own jieba analyzer."""
        if view == "dense":
            field, metric, data = "dense", "COSINE", np.asarray(query, dtype=np.float32).reshape(-1).tolist()
        elif view == "bm25":
            field, metric, data = "sparse", "BM25", query
            if not str(query).strip():
                return []
        else:
            raise ValueError(f"unknown view {view!r}; this engine ranks {', '.join(self.views)}")
        if n <= 0:
            return []
        # fetch 2n so that hidden rows of an in-flight write cannot starve the top n
        with self._call(f"{metric} search"):
            res = self._client.search(
                self.collection, data=[data], anns_field=field, limit=min(2 * n, MAX_TOPK),
                filter=self._expr(filters), output_fields=["doc_id", "rev"], search_params={"metric_type": metric},
            )[0]
        rows = self._visible([dict(h["entity"], pk=h["pk"], distance=float(h["distance"])) for h in res])
        sign = -1.0 if view == "bm25" else 1.0  # BM25 distances come back negative (best = most negative)
        return [(r["pk"], sign * r["distance"]) for r in rows[:n]]

    def hits(self, keys: list[Hashable]) -> dict[Hashable, Hit]:
        found: dict[Hashable, Hit] = {}
        for part in chunked(list(dict.fromkeys(keys)), EXPR_IDS):
            with self._call("get"):
                rows = self._client.get(self.collection, ids=part, output_fields=_OUT)
            found.update((r["pk"], _hit(r)) for r in self._visible(list(rows)))
        return found

    def get_chunks(self, chunk_ids: list[str]) -> list[Hit]:
        found: dict[str, dict] = {}
        for part in chunked(list(dict.fromkeys(chunk_ids)), EXPR_IDS):
            with self._call("query"):
                rows = self._client.query(self.collection, filter=_in("chunk_id", part), output_fields=_OUT)
            found.update((r["chunk_id"], r) for r in self._visible(list(rows)))
        return [_hit(found[c]) for c in chunk_ids if c in found]

    def vectors(self) -> tuple[list[str], np.ndarray]:
        rows = self._visible(list(self._scan(["chunk_id", "doc_id", "rev", "meta", "dense"])))
        refs = [chunk_ref(r["chunk_id"], r["meta"] or {}) for r in rows]
        vecs = np.array([r["dense"] for r in rows], dtype=np.float32)
        return refs, vecs.reshape(len(rows), self.dim)

    def _scan(self, fields: list[str]) -> Iterator[dict]:
        """Every row of the collection, committed or not."""
        with self._call("query_iterator"):
            it = self._client.query_iterator(self.collection, batch_size=1000, filter="", output_fields=fields)
            try:
                while batch := it.next():
                    yield from batch
            finally:
                it.close()

    # ---- check, backup ----------------------------------------------------------------------------------------

    def check(self, repair: bool = False) -> CheckReport:
        """The registry's integrity, unfinished writes, and the collection's rows against the registry: rows no
        committed document owns (repair deletes them) and documents whose rows are missing (only a re-ingest
        brings them back: the collection alone holds their text and vectors)."""
        report = CheckReport(self.name, "milvus")
        with self._locked() if repair else nullcontext():
            with self._mu:
                damage = integrity(self._db)
            if damage:
                report.found(f"{self.registry_path} fails SQLite's integrity check: {'; '.join(damage[:3])}", RESTORE)
            unfinished = self._rows("SELECT COUNT(*) FROM docs WHERE pending_rev IS NOT NULL OR dirty = 1 "
                                    "OR deleting = 1")[0][0]
            if unfinished:
                if repair:
                    self._reconcile()
                report.found(f"registry: {unfinished} documents with an unfinished write or delete (a writer "
                             "crashed, or is running)", "finished or undone" if repair else REPAIRABLE, repair)
            committed = dict(self._rows(f"SELECT doc_id, rev FROM docs WHERE {_LIVE}"))
            owned: dict[str, int] = defaultdict(int)
            stray, total = [], 0
            for r in self._scan(["pk", "doc_id", "rev"]):
                total += 1
                if committed.get(r["doc_id"]) == r["rev"]:
                    owned[r["doc_id"]] += 1
                else:
                    stray.append(r["pk"])
            if stray:
                if repair:
                    for part in chunked(stray, EXPR_IDS):
                        with self._call("delete"):
                            self._client.delete(self.collection, ids=part)
                report.found(f"collection '{self.collection}': {len(stray)} rows no committed document owns",
                             "deleted" if repair else REPAIRABLE, repair)
            listed = dict(self._rows(f"SELECT doc_id, chunks FROM docs WHERE {_LIVE}"))
            short = sorted(d for d, n in listed.items() if owned.get(d, 0) != n)
            if short:
                report.found(f"collection '{self.collection}': the rows of {len(short)} documents are missing or "
                             f"incomplete ({', '.join(short[:5])}{', ...' if len(short) > 5 else ''})",
                             "ingest those documents again (the collection alone holds their text and vectors)")
            report.counts = {**self.count(), "collection": total, "committed": sum(owned.values())}
        return report

    def snapshot(self, dest: Path) -> dict[str, int]:
        """registry.sqlite (SQLite's online backup) and the committed rows: rows.jsonl and their vectors in
        dense.npy, taken under the write lock so that registry and rows agree."""
        dest = Path(dest)
        with self._locked():
            self._reconcile()
            with self._mu:
                backup_to(self._db, dest / "registry.sqlite")
            vectors = []
            with open(dest / "rows.jsonl", "w", encoding="utf-8") as f:
                for r in self._visible(list(self._scan(_STORED + ["dense"]))):
                    vectors.append(r.pop("dense"))
                    f.write(json.dumps({k: r[k] for k in _STORED}, ensure_ascii=False) + "\n")
            np.save(dest / "dense.npy", np.asarray(vectors, dtype=np.float32).reshape(len(vectors), self.dim))
            return self.count()

    def load(self, src: Path) -> None:
        src = Path(src)
        with self._locked():
            with self._call("count"):
                rows_here = self._client.query(self.collection, filter="", output_fields=["count(*)"])[0]["count(*)"]
            if rows_here or self._rows("SELECT COUNT(*) FROM docs")[0][0]:
                raise KBExistsError(f"knowledge base '{self.name}': Milvus collection '{self.collection}' is not "
                                    "empty: load the snapshot under another name")
            copy = open_copy(src / "registry.sqlite", "export the knowledge base again")
            try:
                docs = copy.execute(f"SELECT doc_id, source, hash, rev, chunks, meta, updated_at FROM docs "
                                    f"WHERE {_LIVE}").fetchall()
            except sqlite3.DatabaseError as e:
                raise InputError(f"{src / 'registry.sqlite'}: not a zhiku Milvus registry ({e})") from None
            finally:
                copy.close()
            vectors = np.load(src / "dense.npy", allow_pickle=False)
            rows = [json.loads(line) for line in (src / "rows.jsonl").read_text(encoding="utf-8").splitlines()]
            if vectors.shape != (len(rows), self.dim):
                raise InputError(f"{src}: {len(rows)} rows but vectors of shape {vectors.shape} (dim {self.dim})")
            with self._txn() as db:  # the write protocol: announced, rows in, then committed
                db.executemany("INSERT INTO docs (doc_id, pending_rev) VALUES (?, ?)", [(d[0], d[3]) for d in docs])
            for part in chunked([dict(r, dense=v.tolist()) for r, v in zip(rows, vectors)], INSERT_ROWS):
                with self._call("insert"):
                    self._client.insert(self.collection, part)
            self.flush()
            with self._txn() as db:
                db.executemany("UPDATE docs SET source = ?, hash = ?, rev = ?, chunks = ?, meta = ?, updated_at = ?, "
                               "pending_rev = NULL WHERE doc_id = ?", [(*d[1:], d[0]) for d in docs])

    def flush(self) -> None:
        """Seal the collection's recent writes into segments (persisted, indexed)."""
        with self._call("flush"):
            self._client.flush(self.collection)

    def close(self) -> None:
        with self._mu:
            if self._db is not None:
                self._db.close()
                self._db = None  # type: ignore[assignment]
        if self._client is not None:
            self._client.close()
            self._client = None

    def drop(self) -> None:
        with self._locked():
            with self._call("drop collection"):
                if self._client.has_collection(self.collection):
                    self._client.drop_collection(self.collection)
            self.close()
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.registry_path) + suffix).unlink(missing_ok=True)
        self._wlock.path.unlink(missing_ok=True)

    def __enter__(self) -> MilvusStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _hit(r: dict) -> Hit:
    return Hit(chunk_id=r["chunk_id"], doc_id=r["doc_id"], text=r["text"], score=0.0, meta=dict(r.get("meta") or {}))


def _reason(e: Exception) -> str:
    msg = getattr(e, "message", None) or str(e) or type(e).__name__
    return str(msg).strip()
