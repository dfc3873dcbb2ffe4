"""One chunk per statute article, with the 编/分编/章/节 it sits in.

Articles are the unit people cite and the unit the eval gold labels name ("<law>#第X条"), so an article is never
merged with its neighbours; only an article longer than `max_article_chars` is cut (at 款, then 项, then sentence
boundaries) into parts that keep the article's id. Text outside articles (序言, 附件) gets size-bounded chunks.

Headings are read with or without markdown `#`s. In LawRefBook markdown the first `# ` line is the law title
and a second one is the 编 of 民法典 (`# 合同编`); deeper `#`s nest by count. Plain lines such as
`第二章 劳动合同的订立` are ranked 编 > 分编 > 章 > 节.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from zhiku.ingest import statute
from zhiku.ingest.chunkers.recursive import NEWLINE, SENTENCE, pack, split_pieces, split_text
from zhiku.types import Chunk, Document

ITEM = re.compile(rf"(?=（[{statute.SUB}]+）)")  # 项 (（一）…) written inline in one paragraph
ROLES = ("part", "subpart", "chapter", "section")
_ROLE_OF = {"编": "part", "分编": "subpart", "章": "chapter", "节": "section"}
_MD_HEADING = re.compile(r"^(#{1,6})(?:[ \t]+(.*?))?[ \t#]*$")
_SKIP = re.compile(r"^目\s*录$")
# Doc-level meta that would be wrong on a chunk: the chunk has its own title, and `path` is its heading path.
_DOC_ONLY = ("title", "path")


@dataclass
class _Block:
    article: str | None  # None: text outside any article
    heads: dict[str, str | None]
    lines: list[str] = field(default_factory=list)


class LegalChunker:
    def __init__(self, max_article_chars: int = 1200, size: int = 500, overlap: int = 80) -> None:
        if max_article_chars <= 0:
            raise ValueError(f"max_article_chars must be > 0 (got {max_article_chars})")
        self.max_article_chars, self.size, self.overlap = max_article_chars, size, overlap

    def chunk(self, doc: Document) -> list[Chunk]:
        base = {k: v for k, v in doc.meta.items() if k not in _DOC_ONLY}
        if doc.kind == "law_article":
            return self._record(doc, base)
        law = str(doc.meta.get("law") or doc.meta.get("title") or "")
        out: list[tuple[str, str, dict[str, Any]]] = []  # (text, index_text, meta)
        for block in parse(doc.text, law):
            if block.article:
                out += self._article(law, block.article, "\n".join(block.lines), block.heads, base)
            else:
                out += self._loose(law, "\n".join(block.lines), block.heads, base)
        return _chunks(doc, out)

    def _record(self, doc: Document, base: dict[str, Any]) -> list[Chunk]:
        law, article = str(base.get("law") or ""), str(base.get("article") or "")
        text = doc.text.strip()
        if article and not text.startswith(article):
            text = f"{article} {text}"
        heads = {role: base.get(role) for role in ROLES}
        return _chunks(doc, self._article(law, article, text, heads, base))

    def _article(self, law: str, article: str, text: str, heads: dict, base: dict) -> list[tuple[str, str, dict]]:
        meta = {**base, "law": law, **heads, "article": article, "path": _path(heads)}
        meta["title"] = f"《{law}》{article}" if law else article
        meta["id"] = base.get("id") or (f"{law}#{article}" if law else None)
        header = _header(law, heads, article)
        parts = [text]
        if len(text) > self.max_article_chars:
            parts = pack(split_pieces(text, self.max_article_chars, (NEWLINE, ITEM, SENTENCE)), self.max_article_chars)
        out = []
        for i, part in enumerate(parts, 1):
            m = dict(meta)
            if len(parts) > 1:
                m["part_of_article"] = i  # 1-based: part 1 of 3
            body = _strip_marker(part, article) if i == 1 else part
            out.append((part, f"{header}\n{body}", m))
        return out

    def _loose(self, law: str, text: str, heads: dict, base: dict) -> list[tuple[str, str, dict]]:
        meta = {**base, "law": law, **heads, "article": None, "path": _path(heads), "title": f"《{law}》"}
        header = _header(law, heads, None)
        return [(t, f"{header}\n{t}", dict(meta)) for t in split_text(text, self.size, self.overlap)]


def parse(text: str, law: str) -> list[_Block]:
    """Articles and loose text in document order, each with the headings in force where it starts."""
    stack: list[tuple[int, str, str]] = []  # (level, role, heading)
    blocks: list[_Block] = []
    cur: _Block | None = None
    seen_title = False
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        md = _MD_HEADING.match(line)
        if md:
            level, head = len(md.group(1)), statute.collapse(md.group(2) or "")
            if level == 1 and (head == law or not seen_title):
                seen_title = True  # the law's own title line: dropped, but it ends the text before it
                cur = None
                continue
            role = "part" if level == 1 else _role(statute.heading_kind(head), stack, level)
            _push(stack, level, role, head)
            cur = None
            continue
        kind = statute.heading_kind(line)
        if kind is not None:
            level = statute.RANK.get(kind, 3)
            _push(stack, level, _role(kind, stack, level), statute.collapse(line))
            cur = None
            continue
        found = statute.article_number(line)
        if found:
            cur = _Block(found[0], _heads(stack), [line])
            blocks.append(cur)
        elif cur is not None:
            cur.lines.append(line)
        elif statute.collapse(line) != law and not _SKIP.match(line):
            cur = _Block(None, _heads(stack), [line])
            blocks.append(cur)
    return blocks


def _role(kind: str | None, stack: list, level: int) -> str:
    if kind:
        return _ROLE_OF[kind]
    # 附则, 附件一, 一、一般规定: a chapter, or a section when it sits inside a chapter
    above = {role for lvl, role, _ in stack if lvl < level}
    return "section" if "chapter" in above else "chapter"


def _push(stack: list[tuple[int, str, str]], level: int, role: str, head: str) -> None:
    while stack and stack[-1][0] >= level:
        stack.pop()
    if head:
        stack.append((level, role, head))


def _heads(stack: list[tuple[int, str, str]]) -> dict[str, str | None]:
    heads: dict[str, str | None] = dict.fromkeys(ROLES)
    for _, role, head in stack:
        heads[role] = head
    return heads


def _path(heads: dict) -> str:
    return " / ".join(str(heads[r]) for r in ROLES if heads.get(r))


def _header(law: str, heads: dict, article: str | None) -> str:
    words = [f"《{law}》" if law else "", *(heads.get(r) or "" for r in ROLES), article or ""]
    return " ".join(w for w in words if w)


def _strip_marker(text: str, article: str) -> str:
    found = statute.article_number(text)
    return text[found[1] :].lstrip() if found else text


def _chunks(doc: Document, parts: list[tuple[str, str, dict]]) -> list[Chunk]:
    return [
        Chunk(chunk_id=f"{doc.doc_id}#{i}", doc_id=doc.doc_id, ordinal=i, text=t, index_text=it, meta=m)
        for i, (t, it, m) in enumerate(parts)
    ]
