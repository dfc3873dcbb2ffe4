import json
import time

import pytest

from zhiku.errors import InputError
from zhiku.ingest.chunkers import chunk_document
from zhiku.ingest.chunkers.legal import LegalChunker
from zhiku.ingest.loaders import load_path
from zhiku.types import Document

from ..conftest import CIVIL_CODE, LABOR_CONTRACT

ARTICLE_19 = (
    "第十九条 劳动合同期限三个月以上不满一年的，试用期不得超过一个月；劳动合同期限一年以上不满三年的，试用期不得超过二个月；"
    "三年以上固定期限和无固定期限的劳动合同，试用期不得超过六个月。\n同一用人单位与同一劳动者只能约定一次试用期。\n"
    "以完成一定工作任务为期限的劳动合同或者劳动合同期限不满三个月的，不得约定试用期。\n"
    "试用期包含在劳动合同期限内。劳动合同仅约定试用期的，试用期不成立，该期限为劳动合同期限。"
)


def _law(text: str, law: str = "测试法", doc_id: str = "doc") -> Document:
    return Document(doc_id, text, doc_id, {"title": law, "law": law, "format": "txt", "path": "/x"}, kind="law")


def _by_article(chunks):
    return {c.meta["article"]: c for c in chunks if c.meta.get("article")}


def test_labor_contract_law_has_98_articles(samples):
    [doc] = load_path(LABOR_CONTRACT)
    chunks = chunk_document(doc)
    assert len(_by_article(chunks)) == 98 and len(chunks) == 98
    assert [c.ordinal for c in chunks] == list(range(98))
    assert chunks[18].chunk_id == f"{doc.doc_id}#18"
    c = _by_article(chunks)["第十九条"]
    assert c.text == ARTICLE_19
    assert c.meta["id"] == c.ref == "中华人民共和国劳动合同法#第十九条"
    assert c.meta["path"] == c.meta["chapter"] == "第二章 劳动合同的订立"
    assert c.meta["part"] is None and c.meta["section"] is None
    assert c.meta["title"] == "《中华人民共和国劳动合同法》第十九条" and c.meta["law"] == "中华人民共和国劳动合同法"
    assert c.index_text.startswith("《中华人民共和国劳动合同法》 第二章 劳动合同的订立 第十九条\n劳动合同期限三个月以上")
    assert "path" in c.meta and c.meta["format"] == "md"


def test_civil_code_book_from_heading_and_double_spaces(samples):
    [doc] = load_path(CIVIL_CODE / "合同编.md")
    c = _by_article(chunk_document(doc))["第四百六十三条"]
    assert c.meta["part"] == "合同编" and c.meta["subpart"] == "第一分编 通则"
    assert c.meta["chapter"] == "第一章 一般规定"  # source heading has two spaces
    assert c.meta["path"] == "合同编 / 第一分编 通则 / 第一章 一般规定"
    assert c.meta["id"] == "中华人民共和国民法典#第四百六十三条"


def test_criminal_law_sections(samples):
    [doc] = load_path(samples / "刑法" / "刑法.md")
    arts = _by_article(chunk_document(doc))
    c = arts["第十七条之一"]
    assert c.meta["part"] == "第一编 总则" and c.meta["chapter"] == "第二章 犯罪"
    assert c.meta["section"] == "第一节 犯罪和刑事责任"
    assert arts["第四百五十二条"].meta["chapter"] == "附则" and arts["第四百五十二条"].meta["part"] is None
    last = arts["第四百五十二条"]
    assert last.text.endswith("分别依据各法律所规定的施行日期确定。")  # the `## 附件一` heading ends it
    annex = [c for c in chunk_document(doc) if c.meta["chapter"] == "附件一"]
    assert annex and annex[0].meta["article"] is None and annex[0].text.startswith("全国人民代表大会常务委员会")


def test_chunk_ids_and_texts_match_the_corpus(samples, fixtures):
    """Against corpus records (tests/fixtures/articles.jsonl, an extract of shared/data/laws/articles.jsonl.gz)."""
    want = {
        "中华人民共和国劳动合同法#第十九条": (LABOR_CONTRACT, None),
        "中华人民共和国民法典#第一千零七十九条": (CIVIL_CODE / "婚姻家庭编.md", "婚姻家庭编"),
        "中华人民共和国民法典#第一千二百五十九条": (CIVIL_CODE / "附则.md", "附则"),
    }
    corpus = {}
    for line in (fixtures / "articles.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if rec["id"] in want:
            corpus[rec["id"]] = rec
    for cid, (path, part) in want.items():
        [doc] = load_path(path)
        [c] = [c for c in chunk_document(doc) if c.meta.get("id") == cid]
        rec = corpus[cid]
        assert c.text == f"{rec['article']} {rec['text']}"
        assert c.meta["part"] == part == rec.get("part")


def test_all_demo_files_chunk_fast(samples):
    docs = [d for p in sorted(samples.rglob("*.md")) for d in load_path(p)]
    start = time.perf_counter()
    chunks = [c for d in docs for c in chunk_document(d)]
    assert time.perf_counter() - start < 2
    assert len(docs) == 26 and len(_by_article(chunks)) > 1000
    civil = {c.meta["id"] for c in chunks if c.meta.get("law") == "中华人民共和国民法典" and c.meta.get("article")}
    assert len(civil) == 1260


def test_plain_text_headings_and_typos():
    text = """某某条例
目  录
第一章 总则
第二章 附则
第一章　总则
第一条　甲。
笫二条 乙。
第二章 附则
第一节 一般规定
第一百二十八 条 丙。
第一百二十八条之一 丁。
"""
    arts = _by_article(LegalChunker().chunk(_law(text, "某某条例")))
    assert list(arts) == ["第一条", "第二条", "第一百二十八条", "第一百二十八条之一"]
    assert arts["第一条"].meta["chapter"] == "第一章 总则" and arts["第一条"].text == "第一条　甲。"
    assert arts["第二条"].text == "笫二条 乙。" and arts["第二条"].meta["id"] == "某某条例#第二条"
    assert arts["第一百二十八条"].meta["path"] == "第二章 附则 / 第一节 一般规定"


def test_preamble_becomes_loose_chunks():
    text = "# 中华人民共和国宪法\n\n序言\n\n中国是世界上历史最悠久的国家之一。\n\n## 第一章 总纲\n\n第一条 甲。\n\n第二条 乙。"
    chunks = LegalChunker().chunk(_law(text, "中华人民共和国宪法"))
    assert [c.meta["article"] for c in chunks] == [None, "第一条", "第二条"]
    assert chunks[0].text == "序言\n中国是世界上历史最悠久的国家之一。" and "id" not in chunks[0].meta
    assert chunks[0].ref == "doc#0" and chunks[0].meta["law"] == "中华人民共和国宪法"
    assert chunks[0].index_text.startswith("《中华人民共和国宪法》\n序言")


def test_overlong_article_is_split_but_keeps_its_id():
    items = "\n".join(f"（{n}）" + "应当依法承担相应的法律责任并赔偿损失" * 3 + "；" for n in "一二三四五六七八九十")
    text = f"第一条 甲。\n第二条 有下列情形之一的，依照本法处理：\n{items}\n其他情形。\n第三条 丙。"
    chunks = LegalChunker(max_article_chars=200).chunk(_law(text))
    parts = [c for c in chunks if c.meta["article"] == "第二条"]
    assert len(parts) > 2 and all(len(c.text) <= 200 for c in parts)
    assert {c.meta["id"] for c in parts} == {"测试法#第二条"} and {c.ref for c in parts} == {"测试法#第二条"}
    assert [c.meta["part_of_article"] for c in parts] == list(range(1, len(parts) + 1))
    assert parts[0].text.startswith("第二条 有下列情形之一的") and parts[1].text.startswith("（")
    assert "\n".join(c.text for c in parts) == text.split("\n", 1)[1].rsplit("\n", 1)[0]
    assert all(c.index_text.startswith("《测试法》 第二条\n") for c in parts)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_overlong_single_paragraph_splits_at_items_then_sentences():
    text = "第五条 " + "".join(f"（{n}）" + "甲乙丙丁。" * 20 for n in "一二三")  # 3 inline 项 of 103 chars
    parts = LegalChunker(max_article_chars=120).chunk(_law(text))
    assert [c.text[:3] for c in parts] == ["第五条", "（二）", "（三）"]
    assert "".join(c.text for c in parts) == text
    text = "第六条 " + "甲乙丙丁。" * 60  # one sentence run, no 项
    parts = LegalChunker(max_article_chars=120).chunk(_law(text))
    assert len(parts) == 3 and all(len(c.text) <= 120 and c.text.endswith("。") for c in parts)
    assert "".join(c.text for c in parts) == text


def test_law_article_record():
    doc = Document(
        "中华人民共和国民法典#第一千零七十九条",
        "夫妻一方要求离婚的，可以由有关组织进行调解。\n人民法院审理离婚案件，应当进行调解。",
        "/c.jsonl",
        {"id": "中华人民共和国民法典#第一千零七十九条", "law": "中华人民共和国民法典", "article": "第一千零七十九条",
         "part": "婚姻家庭编", "chapter": "第四章 离婚", "section": None, "level": "法律",
         "title": "《中华人民共和国民法典》第一千零七十九条", "format": "jsonl", "path": "/c.jsonl"},
        kind="law_article",
    )  # fmt: skip
    [c] = chunk_document(doc)
    assert c.chunk_id == "中华人民共和国民法典#第一千零七十九条#0" and c.ref == doc.doc_id
    assert c.text == "第一千零七十九条 夫妻一方要求离婚的，可以由有关组织进行调解。\n人民法院审理离婚案件，应当进行调解。"
    assert c.index_text == (
        "《中华人民共和国民法典》 婚姻家庭编 第四章 离婚 第一千零七十九条\n"
        "夫妻一方要求离婚的，可以由有关组织进行调解。\n人民法院审理离婚案件，应当进行调解。"
    )
    assert c.meta["level"] == "法律" and c.meta["path"] == "婚姻家庭编 / 第四章 离婚"


def test_law_article_record_already_numbered_and_overlong():
    doc = Document("r1", "第九条 " + "很长的条文内容。" * 100, "/c.jsonl", {"law": "某法", "article": "第九条"}, "law_article")
    chunks = chunk_document(doc, max_article_chars=300)
    assert len(chunks) == 3 and chunks[0].text.startswith("第九条 很长") and not chunks[0].text.startswith("第九条 第九条")
    assert {c.ref for c in chunks} == {"某法#第九条"}


def test_forced_legal_on_non_law_falls_back_to_recursive():
    doc = Document("d", "普通的会议纪要。\n没有任何条文。", "x", {"title": "纪要"})
    [c] = chunk_document(doc, mode="legal")
    assert c.meta == {"title": "纪要"} and c.index_text == "纪要\n普通的会议纪要。\n没有任何条文。"


def test_forced_legal_on_text_with_articles():
    doc = Document("d", "公司章程\n第一条 甲。\n第二条 乙。", "x", {"title": "公司章程"})
    chunks = chunk_document(doc, mode="legal")
    assert [c.meta["article"] for c in chunks] == ["第一条", "第二条"]
    assert chunks[0].meta["id"] == "公司章程#第一条"


def test_recursive_mode_on_a_law(samples):
    [doc] = load_path(LABOR_CONTRACT)
    chunks = chunk_document(doc, mode="recursive", size=500, overlap=80)
    assert len(chunks) < 98 and all(len(c.text) <= 500 for c in chunks)


def test_unknown_mode():
    with pytest.raises(InputError, match="unknown chunker 'fancy'"):
        chunk_document(Document("d", "x", "x"), mode="fancy")
