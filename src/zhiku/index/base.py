"""The Store protocol: what the pipeline needs from an index engine, and nothing more.

A store holds one knowledge base: chunks with their text, metadata and dense vectors, plus the document registry
(doc_id -> content hash) that makes re-ingest idempotent. Writes go per document batch and each document is
all-or-nothing: after a crash and reopen a document is either fully its old version, fully its new version, or (if
it was new) absent. Both engines pass tests/index/test_store_contract.py.

Reading is deliberately narrow: an engine ranks one *view* at a time (keyword BM25, character-bigram BM25, dense),
segmenting text the way it segmented its chunks, and resolves ranked row keys to chunks. Modes, fusion and score
bookkeeping live once, above every engine, in zhiku.retrieve.hybrid.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ContextManager, Hashable, Iterable, Literal, Protocol, runtime_checkable

import numpy as np

from zhiku.types import Chunk, Document, Hit

SearchMode = Literal["hybrid", "bm25", "dense"]
View = Literal["bm25", "bigram", "dense"]
Ranking = list[tuple[Hashable, float]]  # (engine row key, score), best first


@dataclass
class DocWrite:
    """One document's new state: its registry row, chunks and their vectors (rows aligned with chunks)."""

    doc: Document
    chunks: list[Chunk]
    vectors: np.ndarray  # (len(chunks), dim) float32, L2-normalised


@dataclass
class DocInfo:
    doc_id: str
    source: str
    hash: str
    chunks: int
    meta: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0


@dataclass
class Filters:
    """Metadata filters applied inside the engine. Empty lists mean no restriction."""

    laws: list[str] = field(default_factory=list)
    doc_ids: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.laws or self.doc_ids)

    @classmethod
    def of(cls, laws: str | Iterable[str] | None = (), doc_ids: str | Iterable[str] | None = ()) -> Filters | None:
        """Filters from what a caller gives (one value, several, or none); None when nothing is restricted."""
        laws = [laws] if isinstance(laws, str) else list(laws or [])
        doc_ids = [doc_ids] if isinstance(doc_ids, str) else list(doc_ids or [])
        return cls(laws=laws, doc_ids=doc_ids) if laws or doc_ids else None


@dataclass
class FusionParams:
    bm25_weight: float = 1.0
    dense_weight: float = 1.0
    bigram_weight: float = 0.0  # character-bigram BM25; engines without that view ignore it
    rrf_k: int = 60
    candidates: int = 100


REPAIRABLE = "repairable: `zhiku kb check NAME --repair`"


@dataclass
class Problem:
    what: str  # what is wrong, naming the file or index
    fix: str  # what was done about it ("rebuilt from store.sqlite") or, when nothing could be, what to do
    repaired: bool = False


@dataclass
class CheckReport:
    """What `Store.check` found: counts per place the data lives, generation stamps, and problems."""

    name: str
    engine: str
    counts: dict[str, int] = field(default_factory=dict)  # e.g. documents, chunks, keyword, dense
    generations: dict[str, int] = field(default_factory=dict)  # the local engine's commit counter and stamps
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing left wrong (problems found and repaired are fine)."""
        return all(p.repaired for p in self.problems)

    def found(self, what: str, fix: str, repaired: bool = False) -> None:
        self.problems.append(Problem(what, fix, repaired))

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


@runtime_checkable
class Store(Protocol):
    name: str
    dim: int
    views: tuple[View, ...]  # the views this engine can rank
    concurrent: bool  # a remote engine: ranking the views of one question at once overlaps its round trips

    def writer(self, timeout: float = 0.0) -> ContextManager[None]:
        """Be this knowledge base's one writer for a whole operation (an ingest, a drop): taken before any work,
        so a second writer is refused at once (LockedError naming the holder) or waits up to `timeout` seconds.
        Writes inside the scope reuse it; writes outside take it themselves."""

    def write(self, batch: list[DocWrite]) -> None:
        """Upsert documents: each one replaces all its previous chunks atomically."""

    def delete(self, doc_ids: list[str]) -> int:
        """Remove documents and their chunks; returns how many documents existed."""

    def rank(self, view: View, query: str | np.ndarray, n: int, filters: Filters | None = None) -> Ranking:
        """The n best chunks by one view, best first. Keyword views take the question's text and segment it as the
        engine segmented its chunks; "dense" takes the (L2-normalised) query vector. Scores are the view's own
        (BM25, inner product); an empty query ranks nothing."""

    def hits(self, keys: list[Hashable]) -> dict[Hashable, Hit]:
        """The chunks behind ranked row keys (score 0); keys of rows deleted since are absent."""

    def get_chunks(self, chunk_ids: list[str]) -> list[Hit]:
        """Chunks by id (score 0), in the order asked; unknown ids are skipped."""

    def doc_hashes(self, doc_ids: list[str] | None = None) -> dict[str, str]:
        """doc_id -> content hash of the stored version (all documents when doc_ids is None)."""

    def documents(self, source: str | None = None) -> list[DocInfo]:
        """Registered documents, optionally only those from one source."""

    def count(self) -> dict[str, int]:
        """{"documents": n, "chunks": m}."""

    def vectors(self) -> tuple[list[str], np.ndarray]:
        """Every chunk's citation ref and dense vector, (refs, (n, dim) float32): what `zhiku train adapter`
        fits against."""

    def check(self, repair: bool = False) -> CheckReport:
        """Verify the engine's files and that every place holding the data agrees with the source of truth;
        `repair` rebuilds what can be rebuilt (under the write lock) and says what could not."""

    def snapshot(self, dest: Path) -> dict[str, int]:
        """Write a consistent copy of the knowledge base's data into the empty folder `dest` (files of the engine's
        choosing; a concurrent write is all in it or not at all). Returns the copy's count()."""

    def load(self, src: Path) -> None:
        """Fill this empty store from a folder `snapshot` of the same engine wrote; KBExistsError if it holds data."""

    def flush(self) -> None:
        """Make recent writes durable and fast to search (called once after an ingest)."""

    def close(self) -> None: ...

    def drop(self) -> None:
        """Delete every trace of this knowledge base from the engine."""
