"""Images (.png .jpg .jpeg .bmp .tif .tiff) via OCR: rapidocr when installed (zhiku[ocr]), else the
`tesseract` command with the chi_sim model. Both are optional, so nothing here is imported at module level.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

from zhiku.errors import InputError, UnsupportedFileError
from zhiku.ingest import statute
from zhiku.ingest.loaders.base import LoadResult, text_document, unwrap

HOW_TO = "pip install 'zhiku[ocr]' (rapidocr), or apt-get install tesseract-ocr tesseract-ocr-chi-sim"
_CJK = "\u3400-\u9fff\uff00-\uffef\u3000-\u303f"
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])[ \t]+(?=[{_CJK}])")
# OCR loses the space after "第十九条"; put it back unless the marker is a reference ("第十九条规定的", "第十九条第二款").
_ARTICLE_GLUED = re.compile(
    rf"^([第笫][{statute.NUM}]+条(?:之[{statute.SUB}]+)?)(?=[^\s的、，,和与及至或中所第规之])", re.M
)


@lru_cache(maxsize=1)
def ocr_engine() -> str | None:
    """"rapidocr", "tesseract" or None; decided once per process."""
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError:
        return "tesseract" if shutil.which("tesseract") else None
    return "rapidocr"


@lru_cache(maxsize=1)
def _rapidocr() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()  # model load ~0.2 s: once per process


def ocr_image(img: Any) -> str:
    """Text of an image (path, bytes or numpy array) with rapidocr, lines in reading order."""
    result, _ = _rapidocr()(img)
    return unwrap(tidy(_lines(result or [])))


def _lines(boxes: list) -> str:
    """rapidocr returns text boxes; boxes whose vertical centres are close form one line, read left to right."""
    items = []
    for box, text, _score in boxes:
        ys = [p[1] for p in box]
        items.append((min(ys), max(ys), min(p[0] for p in box), text))
    items.sort()
    lines: list[list[tuple]] = []
    for item in items:
        top, bottom = item[0], item[1]
        if lines:
            last = lines[-1]
            ltop, lbottom = min(i[0] for i in last), max(i[1] for i in last)
            if (top + bottom) / 2 < lbottom and (top + bottom) / 2 > ltop:
                last.append(item)
                continue
        lines.append([item])
    return "\n".join(" ".join(i[3] for i in sorted(line, key=lambda i: i[2])) for line in lines)


def tidy(text: str) -> str:
    text = _CJK_GAP.sub("", text)  # OCR puts spaces between Chinese characters
    return _ARTICLE_GLUED.sub(r"\1 ", text).strip()


def _tesseract(path: Path) -> str:
    cmd = ["tesseract", str(path), "-", "-l", "chi_sim", "--psm", "6"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"{path}: OCR with tesseract failed: {exc}") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(f"{path}: corrupt or unreadable image (tesseract: {err[-1] if err else proc.returncode})")
    return unwrap(tidy(proc.stdout.decode("utf-8", "replace")))


def load(path: Path, ocr: bool = True) -> LoadResult:
    if not ocr:
        raise UnsupportedFileError(f"{path}: image files need OCR, which is disabled (ZHIKU_INGEST__OCR=false)")
    engine = ocr_engine()
    if engine is None:
        raise UnsupportedFileError(f"{path}: image files need OCR, which is not installed: {HOW_TO}")
    if engine == "rapidocr":
        try:
            text = ocr_image(path.read_bytes())
        except Exception as exc:  # rapidocr/opencv raise a zoo of types on bad input
            raise InputError(f"{path}: corrupt or unreadable image: {type(exc).__name__}: {exc}"[:300]) from exc
    else:
        text = _tesseract(path)
    fmt = path.suffix.lower().lstrip(".")
    return LoadResult([text_document(path, text, fmt, None, ocr=engine)])
