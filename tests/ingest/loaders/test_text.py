import shutil

from zhiku.ingest.loaders import load_path

from ..conftest import CIVIL_CODE, LABOR_CONTRACT

LAW_TXT = """中华人民共和国劳动合同法

第一章 总则

第一条 为了完善劳动合同制度，制定本法。
第二条 中华人民共和国境内的企业……适用本法。
第三条 订立劳动合同，应当遵循合法、公平的原则。
"""


def test_lawrefbook_markdown_is_a_law(samples):
    [doc] = load_path(LABOR_CONTRACT)
    assert doc.kind == "law"
    assert doc.doc_id == doc.source == str(LABOR_CONTRACT.resolve())
    assert doc.meta["law"] == doc.meta["title"] == "中华人民共和国劳动合同法"
    assert doc.meta["format"] == "md" and doc.meta["path"] == str(LABOR_CONTRACT.resolve())
    assert doc.meta["version"] == "2012-12-28"
    # front matter (dates) gone, heading lines kept for the chunker
    assert "2007年6月29日" not in doc.text and "INFO END" not in doc.text
    assert doc.text.startswith("# 中华人民共和国劳动合同法\n")


def test_civil_code_book_heading_is_kept(samples):
    [doc] = load_path(CIVIL_CODE / "合同编.md")
    assert doc.meta["law"] == "中华人民共和国民法典"
    assert doc.text.startswith("# 中华人民共和国民法典\n\n# 合同编\n")


def test_short_lawrefbook_file_is_still_a_law(samples):
    [doc] = load_path(CIVIL_CODE / "附则.md")  # only two articles
    assert doc.kind == "law"


def test_gbk_law_txt_title_from_first_line(tmp_path):
    path = tmp_path / "劳动合同法(2012-12-28).txt"
    path.write_bytes(LAW_TXT.encode("gbk"))
    [doc] = load_path(path)
    assert doc.kind == "law" and doc.meta["law"] == "中华人民共和国劳动合同法"
    assert "第二条 中华人民共和国境内的企业" in doc.text


def test_utf16_law_txt_title_from_stem(tmp_path):
    path = tmp_path / "劳动合同法(2012-12-28).txt"
    path.write_bytes(LAW_TXT.split("\n", 1)[1].encode("utf-16"))  # no title line
    [doc] = load_path(path)
    assert doc.kind == "law" and doc.meta["law"] == "劳动合同法"


def test_plain_text_is_not_a_law(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("会议纪要\n第一条 和 第二条 都提到了。\n仅此而已。", encoding="utf-8")
    [doc] = load_path(path)
    assert doc.kind == "" and "law" not in doc.meta
    assert doc.meta["title"] == "notes" and doc.meta["format"] == "txt"


def test_markdown_title_from_heading(tmp_path):
    path = tmp_path / "handbook.md"
    path.write_text("# 员工手册\n\n## 休假\n年假五天。\n", encoding="utf-8")
    [doc] = load_path(path)
    assert doc.meta["title"] == "员工手册" and doc.kind == ""


def test_typo_markers_count_as_articles(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("某某条例\n笫一条 甲。\n第二 条 乙。\n第三条之一 丙。\n", encoding="utf-8")
    [doc] = load_path(path)
    assert doc.kind == "law" and doc.meta["law"] == "某某条例"


def test_same_content_same_id_and_hash(tmp_path, samples):
    a = tmp_path / "a" / LABOR_CONTRACT.name
    a.parent.mkdir()
    shutil.copy(LABOR_CONTRACT, a)
    first, again = load_path(a)[0], load_path(a)[0]
    assert first.doc_id == again.doc_id and first.hash == again.hash
    assert first.text == load_path(LABOR_CONTRACT)[0].text
