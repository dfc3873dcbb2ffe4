"""Plain text and Markdown (.txt .md), including LawRefBook statute files.

LawRefBook layout: `# 中华人民共和国民法典`, optionally `# 合同编`, date lines, `<!-- INFO END -->`, then the body.
The date lines are dropped but the `#` lines are kept in front of the body: the legal chunker reads a second
`# ` heading as the 编 (part) of 民法典, which the corpus ids and paths need.
"""
from __future__ import annotations

import re
from pathlib import Path

from zhiku.ingest.encoding import decode_bytes
from zhiku.ingest.loaders.base import LoadResult, text_document

INFO_END = "<!-- INFO END -->"
_H1 = re.compile(r"^#[ \t]+(\S.*?)\s*#*\s*$", re.M)


def load(path: Path, ocr: bool = True) -> LoadResult:
    text = decode_bytes(path.read_bytes(), str(path))
    fmt = path.suffix.lower().lstrip(".")
    title, min_articles = None, 3
    if fmt in ("md", "markdown"):
        if INFO_END in text:
            min_articles = 1  # LawRefBook layout is itself the statute signal (民法典 附则 has 2 articles)
        text, title = split_markdown(text)
    return LoadResult([text_document(path, text, fmt, title, min_articles)])


def split_markdown(text: str) -> tuple[str, str | None]:
    """(text for the chunker, the first `# ` heading)."""
    if INFO_END in text:
        front, _, body = text.partition(INFO_END)
        headings = [line.strip() for line in front.split("\n") if line.startswith("#")]
        text = "\n\n".join(headings + [body.strip("\n")])
    m = _H1.search(text)
    return text, (m.group(1).strip() if m else None)
