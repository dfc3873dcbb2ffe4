"""PDF via pypdf's text layer; scanned pages (no text layer) go to OCR when it is installed and enabled.

OCR needs a page image: pypdfium2 renders whole pages when importable, otherwise the page's embedded images
(which is what a scanner produces) are OCR'd directly.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from zhiku.errors import InputError
from zhiku.ingest.loaders import image
from zhiku.ingest.loaders.base import LoadResult, corrupt, text_document, unwrap

_NO_OCR = "install zhiku[ocr] for OCR"
log = logging.getLogger("zhiku.ingest")


class _LibraryLog(logging.Handler):
    """pypdf reports what it could not parse ("EOF marker not found") through logging, which Python prints as a
    stray line of its own when nothing is configured. Keep it off the terminal: a loading thread collects it
    for its one-line error, and zhiku's debug log keeps everything."""

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        said = getattr(self._local, "said", None)
        if said is not None and len(said) < 3:
            said.append(record.getMessage())
        log.debug("pypdf: %s", record.getMessage())

    @contextmanager
    def collect(self) -> Iterator[list[str]]:
        self._local.said = []
        try:
            yield self._local.said
        finally:
            self._local.said = None


_LIBRARY_LOG = _LibraryLog()
logging.getLogger("pypdf").addHandler(_LIBRARY_LOG)
logging.getLogger("pypdf").propagate = False


def load(path: Path, ocr: bool = True) -> LoadResult:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    result = LoadResult()
    with _LIBRARY_LOG.collect() as said:
        try:
            reader = PdfReader(str(path))
            if reader.is_encrypted and not reader.decrypt(""):
                raise InputError(f"{path}: encrypted PDF (remove the password first)")
            pages = list(reader.pages)
        except InputError:
            raise
        except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError) as exc:
            raise corrupt(path, "PDF", exc, said) from exc
        return _read_pages(path, reader, pages, result, ocr)


def _read_pages(path: Path, reader, pages: list, result: LoadResult, ocr: bool) -> LoadResult:
    texts: list[str] = []
    for number, page in enumerate(pages, start=1):
        try:
            text = (page.extract_text() or "").strip()
        except Exception as exc:  # one broken page (bad font, bad stream) must not lose the others
            result.warn(f"{path}: page {number} unreadable ({type(exc).__name__}); skipped")
            continue
        # the engine check imports onnxruntime and opencv (~1 s): only pay it when a page needs OCR
        if not text and ocr and image.ocr_engine() == "rapidocr":
            text = _ocr_page(path, page, number - 1, result)
        elif not text:
            reason = _NO_OCR if ocr else "OCR disabled"
            result.warn(f"{path}: page {number} has no text layer ({reason})")
        if text:
            texts.append(unwrap(text))
    title = _metadata_title(reader)
    doc = text_document(path, "\n".join(texts), "pdf", None, pages=len(pages))
    if title and doc.kind != "law":
        doc.meta["title"] = title
    result.documents.append(doc)
    return result


def _ocr_page(path: Path, page, index: int, result: LoadResult) -> str:
    try:
        rendered = _render(path, index)
        if rendered is not None:
            return image.ocr_image(rendered)
        return "\n".join(image.ocr_image(img.data) for img in page.images)
    except Exception as exc:  # OCR of one page failing is a warning, not a lost file
        result.warn(f"{path}: page {index + 1} OCR failed ({type(exc).__name__}: {exc})")
        return ""


def _render(path: Path, index: int):
    try:
        import pypdfium2 as pdfium
    except ImportError:
        return None
    pdf = pdfium.PdfDocument(str(path))
    try:
        # scale 2 ≈ 144 dpi: small Chinese print needs it to be read reliably
        return pdf[index].render(scale=2).to_numpy()
    finally:
        pdf.close()


def _metadata_title(reader) -> str | None:
    try:
        title = (reader.metadata or {}).get("/Title")
    except Exception:
        return None
    title = str(title).strip() if title else ""
    # Producers fill in junk such as "Microsoft Word - 1.docx"; only keep something that looks chosen.
    return title if title and not title.lower().startswith(("microsoft word", "untitled")) else None
