import re

import pytest

from zhiku.errors import EmptyInputError, InputError
from zhiku.ingest.loaders import load, load_path
from zhiku.ingest.loaders.base import unwrap
from zhiku.ingest.loaders.image import ocr_engine

from .test_image import png

LAW_PAGE = [
    "中华人民共和国劳动合同法",
    "第一章 总则",
    "第一条 为了完善劳动合同制度，制定本法。",
    "第二条 中华人民共和国境内的企业适用本法。",
]
PAGE_2 = ["第三条 订立劳动合同，应当遵循合法、公平的原则。", "依法订立的劳动合同具有约束力。"]


def test_text_pdf_with_cid_font(tmp_path, pdf_writer):
    path = pdf_writer(tmp_path / "劳动合同法.pdf", [LAW_PAGE, PAGE_2])
    [doc] = load_path(path)
    assert doc.kind == "law" and doc.meta["law"] == "中华人民共和国劳动合同法"
    assert doc.meta["format"] == "pdf" and doc.meta["pages"] == 2
    assert "第三条 订立劳动合同，应当遵循合法、公平的原则。" in doc.text
    assert "依法订立的劳动合同具有约束力。" in doc.text


def test_pdf_metadata_title_for_ordinary_documents(tmp_path, pdf_writer):
    path = pdf_writer(tmp_path / "x.pdf", [["季度报告正文"]], title="二〇二四年第三季度报告")
    [doc] = load_path(path)
    assert doc.kind == "" and doc.meta["title"] == "二〇二四年第三季度报告"


@pytest.mark.skipif(ocr_engine() == "rapidocr", reason="rapidocr installed: the page would be OCR'd")
def test_page_without_text_layer_is_a_warning(tmp_path, pdf_writer):
    path = pdf_writer(tmp_path / "mixed.pdf", [LAW_PAGE, []])
    result = load(path)
    assert len(result.documents) == 1
    assert result.warnings == [f"{path}: page 2 has no text layer (install zhiku[ocr] for OCR)"]


def test_page_without_text_layer_and_ocr_disabled(tmp_path, pdf_writer):
    path = pdf_writer(tmp_path / "mixed.pdf", [LAW_PAGE, []])
    assert load(path, ocr=False).warnings == [f"{path}: page 2 has no text layer (OCR disabled)"]


def test_scanned_pdf_without_any_text_is_empty(tmp_path, pdf_writer):
    path = pdf_writer(tmp_path / "scan.pdf", [[], []])
    with pytest.raises(EmptyInputError, match=rf"^{re.escape(str(path))}: empty file \(no text\); page 1 has no"):
        load_path(path, ocr=False)


def test_corrupt_pdf(tmp_path):
    path = tmp_path / "bad.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: corrupt or unreadable PDF: \S"):
        load_path(path)


def test_truncated_pdf(tmp_path, pdf_writer):
    good = pdf_writer(tmp_path / "good.pdf", [LAW_PAGE])
    path = tmp_path / "cut.pdf"
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(InputError, match="corrupt or unreadable PDF"):
        load_path(path)


def test_wrapped_lines_are_rejoined(tmp_path, pdf_writer):
    wrapped = [
        "第十九条 劳动合同期限三个月以上不满一年的，试用期不得超过一",
        "个月；劳动合同期限一年以上不满三年的，试用期不得超过二个月。",
        "同一用人单位与同一劳动者只能约定一次试用期。",
        "第二十条 劳动者在试用期的工资不得低于本单位相同岗位最低档",
        "工资。",
        "第二十一条 在试用期中，除劳动者有本法第三十九条和第四十条第",
        "一项、第二项规定的情形外，用人单位不得解除劳动合同。",
    ]
    [doc] = load_path(pdf_writer(tmp_path / "x.pdf", [wrapped]))
    assert doc.text.split("\n") == [
        "第十九条 劳动合同期限三个月以上不满一年的，试用期不得超过一个月；劳动合同期限一年以上不满三年的，试用期不得超过二个月。",
        "同一用人单位与同一劳动者只能约定一次试用期。",
        "第二十条 劳动者在试用期的工资不得低于本单位相同岗位最低档工资。",
        "第二十一条 在试用期中，除劳动者有本法第三十九条和第四十条第一项、第二项规定的情形外，用人单位不得解除劳动合同。",
    ]


def test_unwrap_leaves_short_lines_tables_and_items_alone():
    text = "中华人民共和国某法\n第一章 总则\n有下列情形之一的，由主管部门责令改正，并处一千元\n（一）未按照规定办理登记的；\n项目 金额 2000\n合计 3000"
    assert unwrap(text) == text


@pytest.mark.skipif(ocr_engine() != "rapidocr", reason="needs rapidocr (zhiku[ocr])")
def test_scanned_page_is_ocrd(tmp_path):
    from reportlab.pdfgen import canvas

    img = png(tmp_path / "scan.png", ["第一条 为了完善劳动合同制度，制定本法。", "第二条 用人单位应当依法建立劳动规章制度。"])
    path = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(path))
    c.drawImage(str(img), 20, 500, width=560, height=200)
    c.showPage()
    c.save()
    result = load(path)
    assert result.warnings == []
    assert "劳动合同制度" in result.documents[0].text
