"""Size-bounded chunks for ordinary documents: split at the coarsest boundary that fits (blank line, line,
sentence), then pack neighbours together, carrying a little overlap so a fact cut at a boundary is still
findable from either side.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from zhiku.types import Chunk, Document

BLANK_LINE = re.compile(r"\n[ \t\u3000]*\n")
NEWLINE = re.compile(r"\n")
SENTENCE = re.compile(r"(?<=[。！？；!?;])")
DEFAULT_SEPARATORS = (BLANK_LINE, NEWLINE, SENTENCE)
_BOUNDARY = re.compile(r"[。！？；!?;，,\n]")


def split_pieces(text: str, size: int, separators: Sequence[re.Pattern] = DEFAULT_SEPARATORS) -> list[str]:
    """Pieces of at most `size` chars that concatenate back to `text`; separators stay on the left piece."""
    if len(text) <= size:
        return [text] if text else []
    if not separators:
        return [text[i : i + size] for i in range(0, len(text), size)]
    out: list[str] = []
    for piece in _split_keep(text, separators[0]):
        out.extend(split_pieces(piece, size, separators[1:]) if len(piece) > size else [piece])
    return out


def _split_keep(text: str, sep: re.Pattern) -> list[str]:
    parts, start = [], 0
    for m in sep.finditer(text):
        if m.end() > start:
            parts.append(text[start : m.end()])
            start = m.end()
    parts.append(text[start:])
    return [p for p in parts if p]


def pack(pieces: list[str], size: int, overlap: int = 0) -> list[str]:
    """Greedy packing of pieces into chunks of at most `size` chars; empty chunks are never returned."""
    chunks: list[str] = []
    buf, fresh = "", False  # fresh: buf holds something beyond the overlap carried from the last chunk
    for piece in pieces:
        if len(buf) + len(piece) > size:
            if fresh:
                chunks.append(buf)
            # Without anything fresh, buf is the carried overlap plus blank pieces that came after it: shrink it
            # too, or the next chunk outgrows `size` (found by tests/ingest/test_fuzz.py).
            buf = _tail(buf, overlap if fresh else len(buf), room=size - len(piece))
            fresh = False
        buf += piece
        fresh = fresh or bool(piece.strip())
    if fresh:
        chunks.append(buf)
    return [c.strip() for c in chunks if c.strip()]


def _tail(text: str, overlap: int, room: int) -> str:
    n = min(overlap, room)
    if n <= 0:
        return ""
    tail = text[-n:]
    # Start the overlap at a clause boundary when one is near, not mid-word.
    m = _BOUNDARY.search(tail)
    if m and len(tail) - m.end() >= n // 4:
        tail = tail[m.end() :]
    return tail.lstrip()


def split_text(text: str, size: int = 500, overlap: int = 80) -> list[str]:
    text = text.strip()
    if len(text) <= size:
        return [text] if text else []
    return pack(split_pieces(text, size), size, overlap)


class RecursiveChunker:
    def __init__(self, size: int = 500, overlap: int = 80) -> None:
        if size <= 0 or not 0 <= overlap < size:
            raise ValueError(f"chunk size must be > 0 and 0 <= overlap < size (got size={size}, overlap={overlap})")
        self.size, self.overlap = size, overlap

    def chunk(self, doc: Document) -> list[Chunk]:
        title = str(doc.meta.get("title") or "")
        return [
            Chunk(
                chunk_id=f"{doc.doc_id}#{i}",
                doc_id=doc.doc_id,
                ordinal=i,
                text=text,
                index_text=f"{title}\n{text}" if title else text,
                meta=dict(doc.meta),
            )
            for i, text in enumerate(split_text(doc.text, self.size, self.overlap))
        ]
