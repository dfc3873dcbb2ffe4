"""Shared inputs for ingest tests: the demo statutes and real files written into tmp_path."""
from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "laws"
LABOR_CONTRACT = SAMPLES / "社会法" / "劳动合同法(2012-12-28).md"
CIVIL_CODE = SAMPLES / "民法典"


def write_pdf(path: Path, pages: list[list[str]], title: str | None = None) -> Path:
    """A real PDF with the built-in CID font STSong-Light; an empty page list item gives a page without text."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path))
    if title:
        c.setTitle(title)
    for lines in pages:
        if not lines:
            c.rect(100, 100, 200, 200)  # drawn, but no text layer: what a scan looks like to pypdf
        c.setFont("STSong-Light", 11)
        y = 800
        for line in lines:
            c.drawString(40, y, line)
            y -= 18
        c.showPage()
    c.save()
    return path


@pytest.fixture
def pdf_writer():
    return write_pdf


@pytest.fixture(scope="session")
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip("samples/laws is missing")
    return SAMPLES
