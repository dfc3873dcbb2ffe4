import pytest

from zhiku.ingest.chunkers import chunk_document
from zhiku.ingest.chunkers.recursive import RecursiveChunker, pack, split_pieces, split_text
from zhiku.types import Document

SENTENCES = "".join(f"这是第{i}句话，内容用于测试切分是否合理。" for i in range(60))


def test_short_text_is_one_chunk():
    doc = Document("d", "  一段短文本。  ", "x", {"title": "标题", "format": "txt"})
    [chunk] = RecursiveChunker().chunk(doc)
    assert chunk.text == "一段短文本。" and chunk.chunk_id == "d#0" and chunk.ordinal == 0
    assert chunk.index_text == "标题\n一段短文本。" and chunk.meta == {"title": "标题", "format": "txt"}


def test_empty_and_whitespace_give_no_chunks():
    assert RecursiveChunker().chunk(Document("d", " \n\n ", "x")) == []


def test_chunks_respect_size_and_cover_the_text():
    chunks = split_text(SENTENCES, size=100, overlap=20)
    assert all(0 < len(c) <= 100 for c in chunks)
    for i in range(60):
        assert any(f"这是第{i}句话" in c for c in chunks)
    # every chunk after the first starts with carried-over text from the previous one
    assert all(c[:8] in prev for prev, c in zip(chunks, chunks[1:]))


def test_blank_lines_are_preferred_boundaries():
    text = "甲" * 60 + "。\n\n" + "乙" * 60 + "。"
    assert split_text(text, size=100, overlap=0) == ["甲" * 60 + "。", "乙" * 60 + "。"]


def test_hard_cut_when_no_boundary():
    chunks = split_text("字" * 250, size=100, overlap=0)
    assert [len(c) for c in chunks] == [100, 100, 50]


def test_split_pieces_round_trip():
    text = "第一段。\n\n第二段第一句！第二句？\n第三行; latin; end"
    assert "".join(split_pieces(text, 8)) == text


def test_pack_never_emits_overlap_only_chunks():
    assert pack(["一二三四五。", "六七八九十。"], size=7, overlap=3) == ["一二三四五。", "六七八九十。"]


def test_bad_config():
    with pytest.raises(ValueError):
        RecursiveChunker(size=100, overlap=100)


def test_chunk_document_auto_uses_recursive_for_ordinary_docs():
    doc = Document("d", SENTENCES, "x", {"title": "t"})
    chunks = chunk_document(doc, size=200, overlap=40)
    assert len(chunks) > 1 and [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(c.chunk_id == f"d#{c.ordinal}" for c in chunks)
