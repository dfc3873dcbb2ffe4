"""A novel file -> chapters: read with zhiku's loaders (GBK and BOMs detected there), cut at chapter headings.

A heading is a short line of its own: 第X章 / 第X回 / 第X节 / 第X卷 (Chinese or Arabic numerals, with or without a
title after it), Chapter N, or 序章 / 楔子 / 引子 / 尾声 / 番外 / 后记; Markdown `#` marks in front are allowed. Text
before the first heading (a title page, a preface) is kept as a chapter of its own, named by its first line.
Text without any heading is one chapter. One regex pass over the text: a 20 MB novel splits in well under a second.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from zhiku.errors import EmptyInputError, UnsupportedFileError
from zhiku.ingest.statute import NUM

SUFFIXES = (".txt", ".md", ".markdown", ".docx")
_TITLE_CHARS = 40  # a longer line is prose that happens to start with 第X章
_PROSE = re.compile(r"[。！？；!?;]")  # ... as is a line that ends a sentence
HEADING = re.compile(
    rf"^[ \t\u3000#]*((?:第[{NUM}两]{{1,9}}[章回节卷集部篇]|(?:chapter|CHAPTER|Chapter)\s+[\dIVXLCivxlc]+"
    r"|序章|序言|楔子|引子|尾声|番外|后记)(?:[ \t\u3000:：.、—-]*[^\n]*)?)[ \t\u3000]*$",
    re.MULTILINE,
)


@dataclass
class ChapterText:
    title: str
    text: str


def split_chapters(text: str, default_title: str = "正文") -> list[ChapterText]:
    """Chapters of `text` in order; a chapter's text is what follows its heading line, trimmed."""
    heads = [m for m in HEADING.finditer(text) if len(m.group(1).strip()) <= _TITLE_CHARS
             and not _PROSE.search(m.group(1))]
    if not heads:
        body = text.strip()
        return [ChapterText(default_title, body)] if body else []
    out: list[ChapterText] = []
    preamble = text[: heads[0].start()].strip()
    if preamble:
        first = preamble.split("\n", 1)[0].strip(" #\t\u3000")
        out.append(ChapterText(first[:_TITLE_CHARS] or default_title, preamble))
    for m, nxt in zip(heads, heads[1:] + [None]):
        end = nxt.start() if nxt is not None else len(text)
        out.append(ChapterText(" ".join(m.group(1).split()), text[m.end() : end].strip()))
    return out


def read_novel(path: Path, max_bytes: int | None = None) -> str:
    """The text of a txt/md/docx file, decoded as ingest decodes it; typed errors name the file."""
    from zhiku.ingest.loaders import load, suffix_of

    path = Path(path)
    if path.exists() and suffix_of(path) not in SUFFIXES:
        raise UnsupportedFileError(
            f"{path}: unsupported file type '{suffix_of(path) or '(none)'}' for a manuscript "
            f"(supported: {', '.join(SUFFIXES)})"
        )
    docs = load(path, max_bytes=max_bytes, ocr=False).documents
    text = "\n".join(d.text for d in docs).strip()
    if not text:
        raise EmptyInputError(f"{path}: empty file (no text)")
    return text


def read_chapters(path: Path, max_bytes: int | None = None) -> list[ChapterText]:
    """A novel file's chapters (split_chapters of read_novel); a file without headings is one chapter named after it."""
    return split_chapters(read_novel(path, max_bytes), default_title=Path(path).stem)
