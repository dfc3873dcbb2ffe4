"""HTML (.html .htm) with the stdlib parser: page chrome out, one line per block so articles stay on their
own lines (the legal chunker depends on `第X条` starting a line).
"""
from __future__ import annotations

import re
from pathlib import Path

from zhiku.ingest.encoding import decode_bytes
from zhiku.ingest.loaders.base import LoadResult, text_document
from zhiku.ingest.statute import title_like

_DROP = ("script", "style", "nav", "noscript", "template", "iframe", "svg", "head")
_BLOCKS = (
    "p div br li ul ol h1 h2 h3 h4 h5 h6 tr table section article header footer main aside blockquote pre "
    "dd dt dl form fieldset figure figcaption address hr caption tbody thead tfoot center"
).split()
_CELLS = ("td", "th")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_SPACES = re.compile(r"[ \t\xa0\u200b]+")


def load(path: Path, ocr: bool = True) -> LoadResult:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(path), "html.parser")
    title = _text(soup.title)
    for tag in soup(_DROP):
        tag.decompose()
    for tag in soup.find_all(_CELLS):
        tag.insert_after(" | ")
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = (_SPACES.sub(" ", line).strip(" |") for line in soup.get_text().split("\n"))
    text = "\n".join(line.strip() for line in lines if line.strip())
    heads = [t for t in (_text(soup.find("h1")), title) if t]
    law_title = next((t for t in heads if title_like(t)), None)  # "…劳动合同法_中国人大网" is a page title, not a law
    doc = text_document(path, text, path.suffix.lower().lstrip("."), law_title)
    if doc.kind != "law" and heads:
        doc.meta["title"] = title or heads[0]
    return LoadResult([doc])


def _decode(path: Path) -> str:
    data = path.read_bytes()
    # A declared charset wins over guessing: GBK pages often say so, and guessing short pages can misfire.
    m = _META_CHARSET.search(data[:4096])
    if m:
        try:
            text = data.decode(m.group(1).decode("ascii").lower().replace("gb2312", "gb18030"))
            return text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_bytes(data, str(path))


def _text(tag) -> str | None:
    return " ".join(tag.get_text(" ", strip=True).split()) or None if tag is not None else None
