"""Record files (.jsonl .jsonl.gz .json): one Document per record with a text field.

jsonl and jsonl.gz are streamed line by line (the 58k-article corpus is 42 MB raw), so memory stays at one
line plus the Documents. A bad line is a warning naming its line number; only a file with no usable record fails.
"""
from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zhiku.errors import InputError
from zhiku.ingest.encoding import decode_bytes
from zhiku.ingest.loaders.base import TEXT_FIELDS, LoadResult, Records, corrupt
from zhiku.ingest.statute import stem_title

try:  # 3-5x faster on the corpus; optional
    import orjson

    _loads = orjson.loads
    _JSONError: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads
    _JSONError = (ValueError,)


def load(path: Path, ocr: bool = True) -> LoadResult:
    name = path.name.lower()
    if name.endswith(".json"):
        return _load_json(path)
    gz = name.endswith(".gz")
    records = Records(path, "jsonl")
    title = stem_title(path.name.split(".")[0])
    try:
        for n, line in _lines(path, gz):
            try:
                record = _loads(line)
            except _JSONError as exc:
                records.problem(f"line {n}", f"invalid JSON ({_short(exc)})")
                continue
            records.add(record, f"L{n}", f"line {n}", title)
    except (OSError, EOFError, zlib.error) as exc:  # truncated or not-really-gzip files
        if not records.result.documents:
            raise corrupt(path, "gzip file" if gz else "file", exc) from exc
        records.result.warn(f"{path}: file ends early ({_short(exc)}); kept the records read so far")
    return records.finish()


def _lines(path: Path, gz: bool) -> Iterator[tuple[int, bytes]]:
    opener = gzip.open if gz else open
    with opener(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if n == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if line.strip():
                yield n, line


def _load_json(path: Path) -> LoadResult:
    text = decode_bytes(path.read_bytes(), str(path))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from exc
    items = _record_list(data)
    if items is None:
        raise InputError(
            f"{path}: no records found (expected a list of objects, an object holding one, "
            f"or an object with one of {', '.join(TEXT_FIELDS)})"
        )
    records = Records(path, "json")
    title = stem_title(path.stem)
    for i, item in enumerate(items, 1):
        records.add(item, f"L{i}", f"record {i}", title)
    return records.finish()


def _record_list(data: Any) -> list | None:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if any(k in data for k in TEXT_FIELDS):
            return [data]
        # {"data": [...]} / {"articles": [...]}: the first list of objects is the record list
        for value in data.values():
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value[:10]):
                return value
    return None


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:120] or type(exc).__name__
