"""Word .docx: paragraphs and tables in document order, one paragraph (or table row) per line."""
from __future__ import annotations

from pathlib import Path

from zhiku.ingest.loaders.base import DAMAGED, LoadResult, corrupt, text_document

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def load(path: Path, ocr: bool = True) -> LoadResult:
    import docx
    from docx.opc.exceptions import OpcError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
        lines: list[str] = []
        title = None
        # document.paragraphs and document.tables lose the interleaving; walk the body XML instead.
        for child in document.element.body.iterchildren():
            if child.tag == f"{_W}p":
                para = Paragraph(child, document)
                text = para.text.strip()
                if text:
                    lines.append(text)
                    style = (para.style.name if para.style is not None else "") or ""
                    if title is None and style.lower() in ("title", "heading 1", "标题", "标题 1"):
                        title = text
            elif child.tag == f"{_W}tbl":
                for row in Table(child, document).rows:
                    cells = _dedupe(cell.text.strip() for cell in row.cells)
                    if any(cells):
                        lines.append(" | ".join(cells))
        core_title = (document.core_properties.title or "").strip()
    except (OpcError, *DAMAGED) as exc:  # SyntaxError: lxml's XMLSyntaxError for a broken part
        raise corrupt(path, "DOCX", exc) from exc
    doc = text_document(path, "\n".join(lines), "docx", title)
    if doc.kind != "law" and title is None and core_title:
        doc.meta["title"] = core_title  # core properties are often stale templates: last resort only
    return LoadResult([doc])


def _dedupe(cells) -> list[str]:
    # A merged cell is reported once per grid column it spans; show it once.
    out: list[str] = []
    for cell in cells:
        if not out or cell != out[-1]:
            out.append(cell)
    return out
