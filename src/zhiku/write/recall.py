"""Memory search: zhiku's hybrid retrieval (jieba BM25 + character bigrams + dense vectors, weighted RRF) over a
project's memory records, in an embedded store (index/local.py) under the project's index/ directory.

The store is derived: SQLite (memory.py) is the truth, and the index catches up whenever a search finds
meta.memory_gen moved on since it last looked: records whose content hash differs are re-embedded, vanished
ones dropped. So a crash between the two, an index deleted by hand, or a change of embedder only costs a rebuild.
Writes are quick to the SQLite file alone (adding a memory embeds nothing); the first search after pays for them.
"""
from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass, field

from zhiku.errors import InputError, LockedError
from zhiku.index.base import Filters
from zhiku.retrieve.fusion import weighted_rrf
from zhiku.types import Chunk, Document
from zhiku.write.memory import Memory

INDEX_DIR = "index"
_EMBED_BATCH = 64
_LOCK_TRIES = 25  # x 0.2 s: another process of this project is updating the index


@dataclass
class MemoryHit:
    """A memory picked for a query, with the retrieval scores and the reasons it was picked."""

    memory: Memory
    score: float
    scores: dict[str, float] = field(default_factory=dict)
    why: list[str] = field(default_factory=list)  # "名字出现在要求中", "与前文相关（第2名）"

    def to_dict(self) -> dict:
        return {"memory": self.memory.to_dict(), "score": self.score, "scores": self.scores, "why": self.why}


def memory_document(m: Memory) -> tuple[Document, Chunk]:
    """One record as one indexed document of one chunk: type, name and tags are searchable beside the text."""
    index_text = f"{m.label} {m.name} {' '.join(m.tags)}\n{m.text}"
    meta = {"id": m.ref, "title": f"[{m.label}] {m.name}", "type": m.type, "name": m.name}
    doc = Document(doc_id=m.ref, text=index_text, source="memory", meta=meta)
    return doc, Chunk(chunk_id=f"{m.ref}#0", doc_id=m.ref, ordinal=0, text=m.text, index_text=index_text, meta=meta)


class MemoryIndex:
    def __init__(self, memories):
        self.memories = memories
        self.project = memories.project
        self._store = None
        self._gen = -1
        self._lock = threading.RLock()

    def embedder(self):
        from zhiku.index.embedders import get_embedder

        # the bundled query adapter was fitted on legal questions against statutes: not for a novel's memory
        return get_embedder(self.project.settings.embedder.model_copy(update={"query_adapter": "none"}))

    # ---------- keeping up with SQLite ----------
    def _open(self):
        from zhiku.index.local import LocalStore

        embedder = self.embedder()
        path = self.project.path / INDEX_DIR
        stamp = path / "EMBEDDER"
        if path.exists() and (not stamp.is_file() or stamp.read_text() != embedder.name):
            shutil.rmtree(path)  # made with another embedder (or half-made): derived, so rebuilt from SQLite
        store = LocalStore(path, f"{self.project.name} memories", embedder.dim)
        if not stamp.is_file():
            stamp.write_text(embedder.name)
        return store

    def _update(self, store) -> bool:
        """Bring `store` to the records in SQLite; whether anything was written."""
        from zhiku.index.base import DocWrite

        want = {doc.doc_id: (doc, chunk) for doc, chunk in map(memory_document, self.memories.list())}
        have = store.doc_hashes()
        stale = [d for d in have if d not in want]
        todo = [pair for doc_id, pair in want.items() if have.get(doc_id) != pair[0].hash]
        if not stale and not todo:
            return False
        store.delete(stale)
        embedder = self.embedder()
        for i in range(0, len(todo), _EMBED_BATCH):
            batch = todo[i : i + _EMBED_BATCH]
            vectors = embedder.embed_documents([chunk.index_text for _, chunk in batch])
            store.write([DocWrite(doc, [chunk], vectors[j : j + 1]) for j, (doc, chunk) in enumerate(batch)])
        store.flush()
        return True

    def sync(self):
        """The store, up to date with SQLite (re-opened when another process may have changed it)."""
        with self._lock:
            gen = self.memories.generation()  # read first: a change committed meanwhile leaves us behind, not ahead
            if self._store is not None and gen == self._gen:
                return self._store
            self.close()
            for attempt in range(_LOCK_TRIES):
                store = self._open()
                try:
                    wrote = self._update(store)
                except LockedError:
                    store.close()
                    if attempt == _LOCK_TRIES - 1:
                        raise
                    time.sleep(0.2)
                    continue
                if wrote:  # let go of the index's writer lock: other processes of this project need it
                    store.close()
                    store = self._open()
                break
            self._store, self._gen = store, gen
            return store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
            self._gen = -1

    # ---------- search ----------
    def search(self, query: str, k: int = 5, types: list[str] | None = None) -> list[MemoryHit]:
        """The k best records for `query`, best first (hybrid retrieval; optionally only some types)."""
        from zhiku.retrieve.hybrid import HybridRetriever

        if not query.strip():
            raise InputError("empty memory search query")
        store = self.sync()
        filters = None
        if types:
            refs = [m.ref for t in types for m in self.memories.list(t)]
            if not refs:
                return []
            filters = Filters.of(doc_ids=refs)
        hits = HybridRetriever(store, self.embedder(), self.project.settings.retrieval).run(query, k=k, filters=filters)
        found = self.memories.get_many([int(h.doc_id[1:]) for h in hits])
        return [MemoryHit(found[int(h.doc_id[1:])], h.score, h.scores) for h in hits if int(h.doc_id[1:]) in found]

    def recall(self, passage: str, instruction: str, k: int) -> list[MemoryHit]:
        """The memories a continuation needs: those named in the instruction or the passage, and those most like
        each of them, fused by weighted RRF; each hit says why it was picked."""
        queries = [(label, text) for label, text in (("要求", instruction), ("前文", passage)) if text.strip()]
        if k <= 0 or not queries:
            return []
        rankings: list[list[int]] = []
        weights: list[float] = []
        why: dict[int, list[str]] = {}
        scores: dict[int, dict[str, float]] = {}
        mems: dict[int, Memory] = {}
        for label, text in queries:  # a name in the text is the surest sign a record matters
            named = [m for m in self.memories.list() if len(m.name) >= 2 and m.name in text]
            named.sort(key=lambda m: -text.rfind(m.name))  # the latest mention first
            rankings.append([m.id for m in named])
            weights.append(2.0)
            for m in named:
                mems[m.id] = m
                why.setdefault(m.id, []).append(f"名字出现在{label}中")
        for label, text in queries:
            hits = self.search(text, k=2 * k)
            rankings.append([h.memory.id for h in hits])
            weights.append(1.0)
            for rank, h in enumerate(hits, 1):
                mems[h.memory.id] = h.memory
                why.setdefault(h.memory.id, []).append(f"与{label}相关（第{rank}名）")
                scores.setdefault(h.memory.id, {}).update({f"{label}.{v}": round(s, 4) for v, s in h.scores.items()})
        fused = weighted_rrf(rankings, weights, self.project.settings.retrieval.rrf_k)[:k]
        return [MemoryHit(mems[i], round(score, 4), scores.get(i, {}), why[i]) for i, score in fused]
