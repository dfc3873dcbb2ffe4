"""PDF via pypdf's text layer; scanned pages (no text layer) go to OCR when it is installed and enabled.

OCR needs a page image: pypdfium2 renders whole pages when importable, otherwise the page's embedded images
(which is what a scanner produces) are OCR'd directly.
"""
from __future__ import annotations

from pathlib import Path

from zhiku.errors import InputError
from zhiku.ingest.loaders import image
from zhiku.ingest.loaders.base import LoadResult, corrupt, text_document, unwrap

_NO_OCR = "install zhiku[ocr] for OCR"


def load(path: Path, ocr: bool = True) -> LoadResult:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    result = LoadResult()
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InputError(f"{path}: encrypted PDF (remove the password first)")
        pages = list(reader.pages)
    except InputError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError) as exc:
        raise corrupt(path, "PDF", exc) from exc
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
