"""Documents → Chunks. `auto` picks the legal chunker for statutes and the recursive one for everything else."""
from __future__ import annotations

from zhiku.errors import InputError
from zhiku.ingest.chunkers.legal import LegalChunker
from zhiku.ingest.chunkers.recursive import RecursiveChunker
from zhiku.types import Chunk, Document

CHUNKERS: tuple[str, ...] = ("auto", "legal", "recursive")
LAW_KINDS = ("law", "law_article")

__all__ = ["CHUNKERS", "LegalChunker", "RecursiveChunker", "chunk_document"]


def chunk_document(
    doc: Document, mode: str = "auto", size: int = 500, overlap: int = 80, max_article_chars: int = 1200
) -> list[Chunk]:
    if mode not in CHUNKERS:
        raise InputError(f"unknown chunker '{mode}' (choose one of: {', '.join(CHUNKERS)})")
    if mode == "recursive" or (mode == "auto" and doc.kind not in LAW_KINDS):
        return RecursiveChunker(size, overlap).chunk(doc)
    chunks = LegalChunker(max_article_chars, size, overlap).chunk(doc)
    if doc.kind in LAW_KINDS or any(c.meta.get("article") for c in chunks):
        return chunks
    # "legal" forced on a document without a single article: the legal chunker has nothing to add
    return RecursiveChunker(size, overlap).chunk(doc)
