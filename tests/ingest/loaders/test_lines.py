from zhiku.ingest.loaders.lines import documents_from_lines
from zhiku.types import content_hash


def test_one_document_per_non_empty_line():
    docs = documents_from_lines(["  试用期最长多久？ ", "", "   ", "加班费怎么算？\n"], source="stdin")
    assert [d.text for d in docs] == ["试用期最长多久？", "加班费怎么算？"]
    assert docs[0].doc_id == f"text:{content_hash('试用期最长多久？')}"
    assert docs[0].source == "stdin" and docs[0].meta["title"] == "试用期最长多久？"


def test_same_line_same_id():
    a = documents_from_lines(["同一行"])
    b = documents_from_lines(["同一行", "同一行"])
    assert len(b) == 1 and a[0].doc_id == b[0].doc_id and a[0].hash == b[0].hash


def test_long_line_title_is_shortened():
    [doc] = documents_from_lines(["法" * 100])
    assert doc.meta["title"] == "法" * 30 + "…" and doc.text == "法" * 100
