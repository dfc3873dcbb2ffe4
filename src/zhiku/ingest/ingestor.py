"""The ingest component: paths or pasted lines -> documents -> chunks -> tokens + vectors -> store.

Idempotent by content hash: an unchanged document is skipped, a changed one replaces its chunks in one atomic
store write, and documents that disappeared from a re-ingested file are removed. A bad file is reported and
skipped; the rest of the batch still goes in.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from zhiku.config import Settings
from zhiku.errors import InputError, ZhikuError
from zhiku.index.base import DocWrite
from zhiku.ingest.chunkers import chunk_document
from zhiku.ingest.loaders import SUPPORTED_SUFFIXES, load
from zhiku.ingest.loaders.lines import documents_from_lines
from zhiku.kb import KnowledgeBase
from zhiku.types import Document

CHUNKER_VERSION = "1"  # bump when chunk text or index_text changes, so re-ingest re-chunks everything

log = logging.getLogger("zhiku.ingest")

# Progress callback: (files_done, files_total, chunks_done, current_name)
Progress = Callable[[int, int, int, str], None]


@dataclass
class IngestReport:
    """What an ingest did. Anything left out is in `skipped` (one "<file>: <reason>" line each) and counted in
    `skipped_count`: whole files that failed (also in `files_failed`) and the parts of files that went in without
    them (a malformed jsonl line, an unreadable PDF page)."""

    kb: str
    files: int = 0  # files asked for (missing ones too), plus one for pasted lines
    files_failed: dict[str, str] = field(default_factory=dict)  # path -> message: nothing of it went in
    files_ignored: list[str] = field(default_factory=list)  # unsupported types met while walking folders
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    skipped: list[str] = field(default_factory=list)
    skipped_count: int = 0  # can exceed len(skipped): loaders list at most MAX_WARNINGS problems a file
    seconds: float = 0.0

    def fail(self, path: str, message: str) -> None:
        self.files_failed[path] = message
        self.skipped.append(message)
        self.skipped_count += 1

    @property
    def ok(self) -> bool:
        return not self.skipped_count

    @property
    def exit_code(self) -> int:
        """0: everything went in; 1: partly (something went in, something was left out); 2: nothing went in."""
        if self.files == 0 or len(self.files_failed) == self.files:
            return 2
        return 0 if self.ok else 1

    def summary(self, shown: int = 3) -> str:
        """One line: the counts, then what was left out ("; 1 skipped: missing.txt (no such file or directory)")."""
        line = (
            f"{self.kb}: {self.files} files, {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.removed} removed, {self.chunks} chunks in {self.seconds:.1f}s"
        )
        if self.skipped_count:
            named = [_by_name(m) for m in self.skipped[:shown]]
            more = self.skipped_count - len(named)
            line += f"; {self.skipped_count} skipped: {', '.join(named)}" + (f" and {more} more" if more else "")
        return line

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["chunks_per_s"] = round(self.chunks / self.seconds, 1) if self.seconds else 0.0
        d["exit_code"] = self.exit_code
        return d


def _by_name(message: str) -> str:
    """"/long/path/x.jsonl: line 17: invalid JSON" -> "x.jsonl (line 17: invalid JSON)"."""
    path, sep, reason = message.partition(": ")
    return f"{Path(path).name} ({reason})" if sep else message


def supported(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in SUPPORTED_SUFFIXES)


def expand_paths(paths: Iterable[Path], report: IngestReport) -> list[Path]:
    """Files to ingest, folders walked recursively (hidden entries skipped). Inside a folder a file of an
    unsupported type is only noted (`files_ignored`): folders hold all sorts. A file named explicitly is asked
    for, so an unsupported one fails like a missing one."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts):
                    if supported(f):
                        out.append(f)
                    else:
                        report.files_ignored.append(str(f))
        elif p.exists():
            out.append(p)
        else:
            report.files += 1
            report.fail(str(p), f"{p}: no such file or directory")
    return out


class Ingestor:
    def __init__(self, kb: KnowledgeBase, settings: Settings, chunker: str | None = None,
                 public_root: tuple[Path, str] | None = None):  # fmt: skip
        """`public_root` = (folder, label): documents of files under `folder` are stored as "label/<relative path>"
        instead of the absolute path, so ids and sources shown to users do not reveal where the server keeps
        them (uploads); what an earlier version stored under the absolute path is replaced on re-ingest."""
        self.kb, self.settings = kb, settings
        self.chunker = chunker or settings.chunk.chunker
        self.public_root = (str(public_root[0].resolve()) + os.sep, public_root[1]) if public_root else None
        c = settings.chunk
        self.recipe = f"{CHUNKER_VERSION}:{self.chunker}:{c.size}:{c.overlap}:{c.max_article_chars}"

    def ingest(
        self,
        paths: Iterable[Path] = (),
        lines: Iterable[str] = (),
        source: str = "text",
        progress: Progress | None = None,
        wait: float | None = None,
    ) -> IngestReport:
        """Takes the knowledge base's writer lock for the whole ingest, before reading anything: another writer
        means LockedError at once, or after `wait` seconds (default: settings.ingest.lock_wait)."""
        t0 = time.perf_counter()
        wait = self.settings.ingest.lock_wait if wait is None else wait
        with self.kb.store.writer(timeout=wait):
            report = self._ingest(paths, lines, source, progress)
        report.seconds = time.perf_counter() - t0
        return report

    def _ingest(self, paths, lines, source: str, progress: Progress | None) -> IngestReport:
        report = IngestReport(kb=self.kb.name)
        files = expand_paths(paths, report)
        line_docs = documents_from_lines(lines, source=source) if lines else []
        total = len(files) + (1 if line_docs else 0)
        report.files += total
        done = 0
        if line_docs:
            self._ingest_docs(line_docs, report, progress, done, total, source)
            done += 1
            if progress:
                progress(done, total, report.chunks, source)
        max_bytes = int(self.settings.ingest.max_file_mb * 1024 * 1024)
        for f in files:
            try:
                result = load(f, max_bytes=max_bytes, ocr=self.settings.ingest.ocr)
                docs = [self._public(d) for d in result.documents]
                self._ingest_docs(docs, report, progress, done, total, str(f))
                report.skipped += result.warnings
                report.skipped_count += result.problems
                if not result.problems:
                    source, seen = str(Path(f).resolve()), {d.doc_id for d in docs}
                    self._remove_stale(self._public_name(source), seen, report)
                    if self.public_root:  # ids an earlier version stored under the absolute path
                        self._remove_stale(source, seen, report)
            except InputError as e:  # the file's own fault; the store's (locked, unreachable) stops the batch
                report.fail(str(f), str(e))
                log.info("ingest failed: %s", e)  # reported to the caller; a warning would print it twice
            except ZhikuError:
                raise
            except Exception as e:  # a parser bug must not sink the batch; name the file
                report.fail(str(f), f"{f}: {type(e).__name__}: {e}")
                log.exception("ingest crashed on %s", f)
            done += 1
            if progress:
                progress(done, total, report.chunks, f.name)
        self.kb.store.flush()
        return report

    def _public_name(self, path: str) -> str:
        if self.public_root and path.startswith(self.public_root[0]):
            return f"{self.public_root[1]}/{path[len(self.public_root[0]):]}"
        return path

    def _public(self, doc: Document) -> Document:
        """Renamed before it is hashed and compared, so an unchanged re-ingest stays "unchanged"."""
        if self.public_root:
            doc.doc_id, doc.source = self._public_name(doc.doc_id), self._public_name(doc.source)
            if isinstance(doc.meta.get("path"), str):
                doc.meta["path"] = self._public_name(doc.meta["path"])
        return doc

    def _ingest_docs(self, docs: list[Document], report: IngestReport, progress, done, total, name) -> None:
        if not docs:
            return
        store, s = self.kb.store, self.settings
        for d in docs:
            d.recipe = self.recipe
        known = store.doc_hashes([d.doc_id for d in docs])
        batch_size = s.ingest.batch_docs
        pending: list[Document] = []
        for d in docs:
            old = known.get(d.doc_id)
            if old == d.hash:
                report.unchanged += 1
                continue
            if old is None:
                report.added += 1
            else:
                report.updated += 1
            pending.append(d)
            if len(pending) >= batch_size:
                self._write(pending, report)
                pending = []
                if progress:
                    progress(done, total, report.chunks, name)
        if pending:
            self._write(pending, report)

    def _write(self, docs: list[Document], report: IngestReport) -> None:
        c = self.settings.chunk
        per_doc = []
        texts: list[str] = []
        for d in docs:
            chunks = chunk_document(d, self.chunker, size=c.size, overlap=c.overlap, max_article_chars=c.max_article_chars)
            per_doc.append((d, chunks))
            texts += [ch.index_text for ch in chunks]
        vectors = self.kb.embedder.embed_documents(texts)
        batch, i = [], 0
        for d, chunks in per_doc:
            n = len(chunks)
            batch.append(DocWrite(doc=d, chunks=chunks, vectors=vectors[i : i + n]))
            i += n
        self.kb.store.write(batch)
        report.chunks += len(texts)

    def _remove_stale(self, source: str, seen: set[str], report: IngestReport) -> None:
        """Records that vanished from a re-ingested file leave the KB too."""
        stale = [d.doc_id for d in self.kb.store.documents(source=source) if d.doc_id not in seen]
        if stale:
            report.removed += self.kb.store.delete(stale)


def require_input(paths: list[Path], lines: list[str]) -> None:
    if not paths and not lines:
        raise InputError("nothing to ingest: give paths, --text, or pipe lines on stdin")
