import re
import zipfile

import docx
import pytest

from zhiku.errors import EmptyInputError, InputError
from zhiku.ingest.loaders import load_path


def _write(path, build):
    document = docx.Document()
    build(document)
    document.save(str(path))
    return path


def test_paragraphs_and_tables_in_order(tmp_path):
    def build(d):
        d.add_heading("员工手册", level=1)
        d.add_paragraph("第一部分 总述")
        table = d.add_table(rows=2, cols=2)
        table.cell(0, 0).text, table.cell(0, 1).text = "假期", "天数"
        table.cell(1, 0).text, table.cell(1, 1).text = "年假", "5"
        d.add_paragraph("表后的段落。")

    [doc] = load_path(_write(tmp_path / "手册.docx", build))
    assert doc.text == "员工手册\n第一部分 总述\n假期 | 天数\n年假 | 5\n表后的段落。"
    assert doc.meta["title"] == "员工手册" and doc.meta["format"] == "docx" and doc.kind == ""


def test_statute_in_docx(tmp_path):
    def build(d):
        d.add_paragraph("工伤保险条例")
        d.add_paragraph("第一章 总则")
        for n in "一二三":
            d.add_paragraph(f"第{n}条 条文内容{n}。")

    [doc] = load_path(_write(tmp_path / "x.docx", build))
    assert doc.kind == "law" and doc.meta["law"] == "工伤保险条例"


def test_empty_docx(tmp_path):
    path = _write(tmp_path / "empty.docx", lambda d: d.add_paragraph("   "))
    with pytest.raises(EmptyInputError, match="empty file"):
        load_path(path)


def test_not_a_zip(tmp_path):
    path = tmp_path / "bad.docx"
    path.write_bytes(b"this is a .doc from 1997, or nothing at all" * 10)
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: corrupt or unreadable DOCX: not a zip package"):
        load_path(path)


def test_zip_without_word_parts(tmp_path):
    path = tmp_path / "bad.docx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(InputError, match=r"corrupt or unreadable DOCX: .*Content_Types"):
        load_path(path)
