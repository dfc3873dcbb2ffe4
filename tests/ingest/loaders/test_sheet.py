import re

import openpyxl
import pytest

from zhiku.errors import EmptyInputError, InputError
from zhiku.ingest.loaders import load, load_path


def _xlsx(path, sheets: dict[str, list[list]]):
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_xlsx_with_text_column(tmp_path):
    path = _xlsx(tmp_path / "faq.xlsx", {"FAQ": [["id", "问题", "内容"], ["q1", "试用期多久", "最长六个月。"], [None, None, None]]})
    [doc] = load_path(path)
    assert doc.doc_id.endswith("faq.xlsx#q1") and doc.meta["id"] == "q1" and doc.text == "最长六个月。"
    assert doc.meta["问题"] == "试用期多久" and doc.meta["format"] == "xlsx" and doc.meta["title"] == "FAQ"


def test_xlsx_without_text_column_rows_become_text(tmp_path):
    path = _xlsx(
        tmp_path / "fees.xlsx",
        {"收费": [["项目", "金额"], ["诉讼费", 50.0], ["鉴定费", 1200]], "空表": [], "备注": [["说明"], ["另议"]]},
    )
    docs = load_path(path)
    assert [d.text for d in docs] == ["项目: 诉讼费；金额: 50", "项目: 鉴定费；金额: 1200", "说明: 另议"]
    assert docs[0].meta["title"] == "收费" and docs[2].meta["title"] == "备注"
    src = str(path.resolve())
    assert [d.doc_id for d in docs] == [f"{src}#收费!L2", f"{src}#收费!L3", f"{src}#备注!L2"]


def test_xlsx_law_article_rows(tmp_path):
    rows = [["law", "article", "text"], ["中华人民共和国劳动合同法", "第十九条", "劳动合同期限……"]]
    [doc] = load_path(_xlsx(tmp_path / "a.xlsx", {"S": rows}))
    assert doc.kind == "law_article" and doc.meta["title"] == "《中华人民共和国劳动合同法》第十九条"


def test_header_only_xlsx_is_empty(tmp_path):
    path = _xlsx(tmp_path / "h.xlsx", {"S": [["a", "b"]]})
    with pytest.raises(EmptyInputError, match="empty file"):
        load_path(path)


def test_corrupt_xlsx(tmp_path):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"PK\x03\x04 truncated zip header and nothing else")
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: corrupt or unreadable XLSX: "):
        load_path(path)


def test_csv_gbk_semicolon(tmp_path):
    path = tmp_path / "问答.csv"
    path.write_bytes("问题;正文\n试用期;最长六个月\n加班;应支付加班费\n".encode("gbk"))
    docs = load_path(path)
    assert [d.text for d in docs] == ["最长六个月", "应支付加班费"]
    assert docs[0].meta == {"问题": "试用期", "title": "问答", "format": "csv", "path": str(path.resolve())}
    assert docs[1].doc_id == f"{path.resolve()}#L3"


def test_csv_rows_without_text_column(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("姓名,电话\n张三,123\n\n李四,\n", encoding="utf-8-sig")
    assert [d.text for d in load_path(path)] == ["姓名: 张三；电话: 123", "姓名: 李四"]


def test_csv_bad_rows_are_warnings(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("id,text\n1,好\n2,\n", encoding="utf-8")
    result = load(path)
    assert [d.text for d in result.documents] == ["好"]
    assert result.warnings == [f"{path}: row 3: no text field (expected one of text, content, body, 正文, 内容)"]
