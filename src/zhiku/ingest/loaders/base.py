"""What every loader returns, and the two ways a file becomes Documents: whole-file text, or one per record."""
from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from zhiku.errors import InputError
from zhiku.ingest import statute
from zhiku.types import Document

TEXT_FIELDS = ("text", "content", "body", "正文", "内容")
MAX_WARNINGS = 50
# Joins only where a sentence visibly runs on: table rows ending in numbers or lines ending in 。 stay apart.
_CJK_END, _CJK_START = re.compile(r"[\u4e00-\u9fff，、《（“]$"), re.compile(r"^[\u4e00-\u9fff，。、；：）》”\d]")
_NEW_BLOCK = re.compile(
    rf"^([第笫]\s?[{statute.NUM}]+\s?条|（[{statute.SUB}]+）|\(?[{statute.SUB}\d]+[、.．)）]|[•·●■◆\-–*])"
)


@dataclass
class LoadResult:
    """Documents of one file plus the problems that did not stop it (bad records, pages without text).

    Warnings are full sentences starting with the file path, ready to show to a user.
    """

    documents: list[Document] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: int = 0  # every warning, the ones left out of the list too: what an ingest reports as skipped

    def warn(self, message: str) -> None:
        self.problems += 1
        # A 58k-line file with a systematic problem must not produce 58k messages; `problems` keeps the count.
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)


# What parsing libraries raise on a damaged file (a zip member that does not inflate, a cut-off stream, broken
# XML); each loader adds its library's own types. Found by tests/ingest/test_fuzz.py.
DAMAGED: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zlib.error, EOFError, KeyError, IndexError, ValueError, TypeError, AttributeError, OSError,
    SyntaxError,
)


def corrupt(path: Path, what: str, exc: BaseException, library_said: Sequence[str] = ()) -> InputError:
    """`library_said`: what the parsing library logged before failing ("EOF marker not found"), often the
    clearer reason."""
    if type(exc).__name__ in ("BadZipFile", "PackageNotFoundError"):
        reason = "not a zip package (Office files are zip archives)"
    else:  # library messages can be long or repeat the path; keep the gist
        reason = "; ".join(dict.fromkeys([*library_said, str(exc)]))
        reason = " ".join(reason.replace(str(path), "").split())[:160] or type(exc).__name__
    return InputError(f"{path}: corrupt or unreadable {what}: {reason}")


def file_meta(path: Path, fmt: str, title: str) -> dict[str, Any]:
    return {"title": title, "format": fmt, "path": str(path.resolve())}


def text_document(
    path: Path, text: str, fmt: str, title: str | None = None, min_articles: int = 3, **meta: Any
) -> Document:
    """A whole-file Document; statutes get kind="law" and meta["law"] so the legal chunker takes them."""
    source = str(path.resolve())
    law = None
    if statute.looks_like_statute(text, min_articles):
        law = title or _first_line_title(text) or statute.stem_title(path.stem)
    m = file_meta(path, fmt, law or title or statute.stem_title(path.stem))
    if law:
        m["law"] = law
        if (date := statute.stem_date(path.stem)) is not None:
            m.setdefault("version", date)
    m.update(meta)
    return Document(doc_id=source, text=text, source=source, meta=m, kind="law" if law else "")


def _first_line_title(text: str) -> str | None:
    for line in text.split("\n", 20)[:20]:
        if line.strip():
            return statute.title_like(line)
    return None


def record_document(record: dict[str, Any], path: Path, fmt: str, ref: str, default_title: str) -> Document:
    """One Document per record; raises ValueError (the caller turns it into a warning) without a text field."""
    key = next((k for k in TEXT_FIELDS if isinstance(record.get(k), str) and record[k].strip()), None)
    if key is None:
        raise ValueError(f"no text field (expected one of {', '.join(TEXT_FIELDS)})")
    source = str(path.resolve())
    meta = {k: v for k, v in record.items() if k != key}
    law, article = meta.get("law"), meta.get("article")
    kind = "law_article" if law and article else ""
    if kind:
        title = f"《{law}》{article}"
    else:
        title = next((str(meta[k]) for k in ("title", "标题", "name", "名称") if meta.get(k)), default_title)
    meta.setdefault("title", title)
    meta.setdefault("format", fmt)
    meta.setdefault("path", source)
    rid = record.get("id")
    # Scoped by source: ids like 1, 2, 3 in two spreadsheets must not overwrite each other. Citations and eval
    # use meta["id"] (the record's own id), so the corpus ids survive unchanged.
    doc_id = f"{source}#{rid}" if rid not in (None, "") else f"{source}#{ref}"
    return Document(doc_id=doc_id, text=record[key], source=source, meta=meta, kind=kind)


def row_text(row: dict[str, Any]) -> str:
    """A table row without a text column, readable and searchable: "列1: 值1；列2: 值2"."""
    return "；".join(f"{k}: {v}" for k, v in row.items() if k and v not in (None, "") and str(v).strip())


class Records:
    """Collects record Documents and per-record problems; the file fails only when nothing was usable."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        self.result = LoadResult()
        self.first_problem: str | None = None
        self._seen: set[str] = set()

    def add(self, record: Any, ref: str, where: str, default_title: str) -> None:
        """`ref` goes into fallback doc ids ("L12"), `where` into messages ("line 12")."""
        if not isinstance(record, dict):
            return self.problem(where, f"not an object ({type(record).__name__})")
        try:
            doc = record_document(record, self.path, self.fmt, ref, default_title)
        except ValueError as exc:
            return self.problem(where, str(exc))
        if doc.doc_id in self._seen:  # same id twice would silently overwrite in the store
            return self.problem(where, f"duplicate id {record.get('id')!r} (record skipped)")
        self._seen.add(doc.doc_id)
        self.result.documents.append(doc)

    def problem(self, where: str, message: str) -> None:
        text = f"{where}: {message}"
        self.first_problem = self.first_problem or text
        self.result.warn(f"{self.path}: {text}")

    def finish(self) -> LoadResult:
        if not self.result.documents and self.first_problem:
            raise InputError(f"{self.path}: no usable records; first problem: {self.first_problem}")
        return self.result


def unwrap(text: str) -> str:
    """Re-join lines a page layout wrapped (PDF text layers, OCR): a full-width line that stops mid-sentence
    continues on the next one.

    Without this an article reads "…试用期不得超过一个" + newline + "月；…" and its 款 boundaries are lost. Short
    lines (titles, headings) and lines opening a new block (第X条, （一）, 一、) are never joined.
    """
    lines = [line.strip() for line in text.split("\n")]
    widest = max((len(line) for line in lines), default=0)
    out: list[str] = []
    last = ""  # the previous physical line: its width says whether it was wrapped
    for stripped in lines:
        if not stripped:
            continue
        prev = out[-1] if out else ""
        if (
            prev
            and len(last) >= widest * 0.7
            and (_cjk_join(prev, stripped) or _latin_join(prev, stripped))
            and not _NEW_BLOCK.match(stripped)
            and statute.heading_kind(stripped) is None
        ):
            out[-1] = prev + ("" if _cjk_join(prev, stripped) else " ") + stripped
        else:
            out.append(stripped)
        last = stripped
    return "\n".join(out)


def _cjk_join(a: str, b: str) -> bool:
    return bool(_CJK_END.search(a) and _CJK_START.match(b))


def _latin_join(a: str, b: str) -> bool:
    return (a[-1].isalpha() or a[-1] in ",-") and b[0].islower()
