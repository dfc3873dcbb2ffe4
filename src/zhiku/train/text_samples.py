"""Plain text (novels, notes, any txt/md/json/jsonl) -> continuation samples for language-model training.

Files are read by zhiku's own loaders, so encodings are detected the way ingest detects them (GBK/GB18030,
UTF-16, BOMs: zhiku.ingest.encoding) and json/jsonl records give their text field. Each document is cut into
pieces of at most `chunk_size` characters at paragraph, line or sentence ends (the recursive chunker's
boundaries, without overlap: overlapping samples would repeat text in training). A sample is {"text": ...},
the format trl trains as plain continuation. A writing project's manuscript (`write:NAME`) is read chapter by
chapter from its SQLite file.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from zhiku.errors import InputError
from zhiku.ingest.chunkers.recursive import split_text

SUFFIXES = (".txt", ".md", ".markdown", ".json", ".jsonl")
Progress = Callable[[str, int, int], None]


def text_files(path: Path) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or directory")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise InputError(f"{path}: no {'/'.join(s.lstrip('.') for s in SUFFIXES)} files")
    return files


def text_samples(path: Path, chunk_size: int = 2048, progress: Progress | None = None) -> list[dict]:
    from zhiku.ingest.loaders import load

    _check_size(chunk_size)
    files = text_files(path)
    samples = []
    for i, f in enumerate(files):
        for doc in load(f, ocr=False).documents:
            samples += pieces(doc.text, f.name, chunk_size)
        if progress:
            progress("files", i + 1, len(files))
    return samples


def pieces(text: str, source: str, chunk_size: int) -> list[dict]:
    """One text's samples: pieces of at most `chunk_size` characters, cut at paragraph, line or sentence ends."""
    return [{"text": t, "kind": "text", "source": source} for t in split_text(text, chunk_size, 0)]


def project_samples(project, chunk_size: int = 2048) -> list[dict]:
    """A writing project's manuscript (zhiku.write), chapter by chapter: a piece never spans two chapters."""
    _check_size(chunk_size)
    samples = []
    for c in project.chapters():
        samples += pieces(project.chapter(c.number).text, f"write:{project.name}#{c.number}", chunk_size)
    if not samples:
        raise InputError(f"writing project '{project.name}' has no text to train on")
    return samples


def _check_size(chunk_size: int) -> None:
    if chunk_size < 16:
        raise InputError(f"--chunk-size must be at least 16 characters, got {chunk_size}")
