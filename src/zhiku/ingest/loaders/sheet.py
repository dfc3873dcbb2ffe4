"""Tables (.xlsx .csv): the first non-empty row is the header, every later row a record.

With a text column (text/content/body/正文/内容) a row is a record like a jsonl line; without one the whole
row becomes the text ("列1: 值1；列2: 值2") so a plain spreadsheet (a fee table, a contact list) is searchable.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from zhiku.ingest.encoding import decode_bytes
from zhiku.ingest.loaders.base import DAMAGED, TEXT_FIELDS, LoadResult, Records, corrupt, row_text


def load(path: Path, ocr: bool = True) -> LoadResult:
    if path.suffix.lower() == ".csv":
        return _load_csv(path)
    return _load_xlsx(path)


def _load_xlsx(path: Path) -> LoadResult:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    errors = (InvalidFileException, *DAMAGED)
    records = Records(path, "xlsx")
    try:
        book = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    except errors as exc:
        raise corrupt(path, "XLSX", exc) from exc
    try:
        several = len(book.worksheets) > 1
        for sheet in book.worksheets:
            prefix = f"{sheet.title}!" if several else ""
            rows = ((n, [_cell(v) for v in row]) for n, row in enumerate(sheet.iter_rows(values_only=True), 1))
            _add_rows(records, rows, sheet.title, prefix)
    except errors as exc:
        raise corrupt(path, "XLSX", exc) from exc
    finally:
        book.close()
    return records.finish()


def _load_csv(path: Path) -> LoadResult:
    text = decode_bytes(path.read_bytes(), str(path))
    try:
        dialect: Any = csv.Sniffer().sniff(text[:8192], delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel  # one-column files and odd quoting defeat the sniffer; comma is the safe bet
    records = Records(path, "csv")
    try:
        rows = ((n, [c.strip() for c in row]) for n, row in enumerate(csv.reader(io.StringIO(text), dialect), 1))
        _add_rows(records, rows, path.stem, "")
    except csv.Error as exc:
        records.problem("csv", f"unreadable from here on ({exc})")
    return records.finish()


def _add_rows(records: Records, rows: Iterable[tuple[int, list[str]]], title: str, prefix: str) -> None:
    header: list[str] | None = None
    has_text = False
    for n, row in _non_empty(rows):
        if header is None:
            header = [h or f"col{i}" for i, h in enumerate(row, 1)]
            has_text = any(h in TEXT_FIELDS for h in header)
            continue
        if len(row) > len(header):
            header += [f"col{i}" for i in range(len(header) + 1, len(row) + 1)]
        record = {h: v for h, v in zip(header, row) if v != ""}
        if not has_text:
            record = {"text": row_text(record), **{k: v for k, v in record.items() if k == "id"}}
        records.add(record, f"{prefix}L{n}", f"{prefix}row {n}", title)


def _non_empty(rows: Iterable[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    for n, row in rows:
        while row and row[-1] == "":
            row.pop()
        if row:
            yield n, row


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 12.0 from Excel is 12 to a reader
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()
