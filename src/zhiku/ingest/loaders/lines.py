"""Pasted text and stdin: one Document per non-empty line (FAQ entries, clauses copied from a web page).

The id is a hash of the line, so pasting the same line twice updates one document instead of adding two.
"""
from __future__ import annotations

from collections.abc import Iterable

from zhiku.types import Document, content_hash

_TITLE_CHARS = 30


def documents_from_lines(lines: Iterable[str], source: str = "text") -> list[Document]:
    docs: dict[str, Document] = {}
    for raw in lines:
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        doc_id = f"text:{content_hash(line)}"
        title = line if len(line) <= _TITLE_CHARS else line[:_TITLE_CHARS] + "…"
        docs[doc_id] = Document(doc_id=doc_id, text=line, source=source, meta={"title": title, "format": "text"})
    return list(docs.values())
