"""File → Documents, dispatched on the suffix.

Two entry points:

- `load(path) -> LoadResult(documents, warnings)`: the full answer. Warnings are problems that did not stop the
  file (a bad jsonl line, a scanned PDF page without OCR); each starts with the file path. The ingest command
  prints them and carries on.
- `load_path(path) -> list[Document]`: the same, for callers that only want documents.

Failures that stop a file are typed (see zhiku.errors) and their message starts with the file path:
missing file, unsupported type, too large, empty, corrupt or undecodable. Library exceptions never escape raw.
Format modules are imported on first use, so loading a .txt does not pay for openpyxl, bs4 or pypdf.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from zhiku.errors import EmptyInputError, InputError, UnsupportedFileError
from zhiku.ingest.loaders.base import LoadResult
from zhiku.types import Document

_MODULES = {
    ".txt": "text", ".md": "text", ".markdown": "text",
    ".pdf": "pdf",
    ".docx": "docx",
    ".xlsx": "sheet", ".csv": "sheet",
    ".html": "html", ".htm": "html",
    ".json": "records", ".jsonl": "records", ".jsonl.gz": "records",
    ".png": "image", ".jpg": "image", ".jpeg": "image", ".bmp": "image", ".tif": "image", ".tiff": "image",
}  # fmt: skip
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(_MODULES)
_MB = 1024 * 1024

__all__ = ["SUPPORTED_SUFFIXES", "LoadResult", "load", "load_path", "suffix_of"]


def suffix_of(path: Path) -> str:
    """Lower-case suffix; `.jsonl.gz` counts as one (a bare `.gz` is not supported)."""
    name = path.name.lower()
    return ".jsonl.gz" if name.endswith(".jsonl.gz") else path.suffix.lower()


def load(path: Path, max_bytes: int | None = None, ocr: bool = True) -> LoadResult:
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if path.is_dir():
        raise InputError(f"{path}: is a directory (load one file at a time)")
    suffix = suffix_of(path)
    module = _MODULES.get(suffix)
    if module is None:
        shown = suffix or "(none)"
        raise UnsupportedFileError(
            f"{path}: unsupported file type '{shown}' (supported: {', '.join(SUPPORTED_SUFFIXES)})"
        )
    if max_bytes is not None and size > max_bytes:
        raise InputError(
            f"{path}: file is {_size(size)}, over the {_size(max_bytes, limit=True)} limit (ZHIKU_INGEST__MAX_FILE_MB)"
        )
    if size == 0:
        raise EmptyInputError(f"{path}: empty file (no text)")
    loader = importlib.import_module(f"zhiku.ingest.loaders.{module}")
    try:
        result: LoadResult = loader.load(path, ocr=ocr)
    except OSError as exc:  # permission denied, I/O error; corrupt formats are handled by each loader
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except MemoryError as exc:
        raise InputError(f"{path}: too large to load into memory") from exc
    result.documents = [d for d in result.documents if d.text.strip()]
    if not result.documents:
        hint = "; ".join(w.removeprefix(f"{path}: ") for w in result.warnings[:3])
        raise EmptyInputError(f"{path}: empty file (no text)" + (f"; {hint}" if hint else ""))
    return result


def _size(n: int, limit: bool = False) -> str:
    if n < _MB // 10:  # tests and tiny limits: MB with one decimal would read "0.0 MB"
        return f"{n} bytes"
    return f"{n / _MB:g} MB" if limit else f"{n / _MB:.1f} MB"


def load_path(path: Path, max_bytes: int | None = None, ocr: bool = True) -> list[Document]:
    return load(path, max_bytes=max_bytes, ocr=ocr).documents
