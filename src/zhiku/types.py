"""The data that flows through zhiku: documents in, chunks indexed, hits out, answers with citations."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


def content_hash(text: str) -> str:
    """Stable hash of a document's content; drives idempotent re-ingest."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass
class Document:
    """One unit of ingest: a file, one record of a jsonl/csv/xlsx file, or one pasted entry.

    `doc_id` is stable across re-ingests of the same source (path, or a record's own id), so a
    changed document replaces its old chunks instead of being added twice.
    """

    doc_id: str
    text: str
    source: str  # where it came from: a path, "stdin" or "text"
    meta: dict[str, Any] = field(default_factory=dict)  # title, law, format, record fields...
    kind: str = ""  # "law" when the text is a statute (picks the legal chunker), else ""
    recipe: str = ""  # chunker + settings fingerprint: changing them re-chunks unchanged documents

    @property
    def hash(self) -> str:
        meta = repr(sorted(self.meta.items()))
        return content_hash("\x00".join((self.recipe, self.kind, self.text, meta)))


@dataclass
class Chunk:
    """A retrievable unit. For statutes: one article (or a 款/项 part of a long one).

    `text` is what the reader sees and what gets cited; `index_text` is what gets embedded and
    keyword-indexed (text plus law title and heading path, so "劳动合同法 试用期" finds it).
    """

    chunk_id: str  # "<doc_id>#<ordinal>", unique within a KB
    doc_id: str
    ordinal: int
    text: str
    index_text: str
    meta: dict[str, Any] = field(default_factory=dict)  # law, part, chapter, section, article, id...

    @property
    def ref(self) -> str:
        return chunk_ref(self.chunk_id, self.meta)


def chunk_ref(chunk_id: str, meta: dict[str, Any]) -> str:
    """The citation key of a chunk: the record id it came from, else "law#article", else the chunk id.

    Parts of one long article share a ref, so results and citations collapse to the article.
    """
    if meta.get("id"):
        return str(meta["id"])
    if meta.get("law") and meta.get("article"):
        return f"{meta['law']}#{meta['article']}"
    return chunk_id


@dataclass
class Hit:
    """A retrieved chunk with its fused score and the per-retriever scores behind it."""

    chunk_id: str
    doc_id: str
    text: str
    score: float
    meta: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)  # e.g. {"bm25": 12.1, "dense": 0.61}

    @property
    def ref(self) -> str:
        return chunk_ref(self.chunk_id, self.meta)

    @property
    def title(self) -> str:
        """Human label: 《law》第X条, else the document title or id."""
        law, article = self.meta.get("law"), self.meta.get("article")
        if law:
            return f"《{law}》{article or ''}"
        return str(self.meta.get("title") or self.doc_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "ref": self.ref,
            "title": self.title,
            "score": self.score,
            "scores": self.scores,
            "text": self.text,
            "meta": self.meta,
        }


@dataclass
class Citation:
    """Source [n] of an answer."""

    n: int
    hit: Hit

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "law": self.hit.meta.get("law"),
            "article": self.hit.meta.get("article"),
            "title": self.hit.title,
            "doc_id": self.hit.doc_id,
            "chunk_id": self.hit.chunk_id,
            "ref": self.hit.ref,
            "text": self.hit.text,
            "score": self.hit.score,
        }


@dataclass
class Answer:
    text: str
    citations: list[Citation]  # the sources actually cited in the text, in [n] order
    sources: list[Citation]  # every source given to the model
    question: str  # the standalone question that was searched
    grounded: bool  # False when nothing relevant was retrieved and the "no basis" reply was given
    timings: dict[str, float] = field(default_factory=dict)  # ms: retrieval, ttft, total
    usage: dict[str, int] = field(default_factory=dict)  # prompt_tokens, completion_tokens

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "question": self.question,
            "grounded": self.grounded,
            "citations": [c.to_dict() for c in self.citations],
            "sources": [c.to_dict() for c in self.sources],
            "timings": self.timings,
            "usage": self.usage,
        }
