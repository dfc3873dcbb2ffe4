import gzip
import json
import re
import time

import pytest

from zhiku.errors import EmptyInputError, InputError
from zhiku.ingest.loaders import load, load_path

ARTICLE = {
    "id": "中华人民共和国民法典#第一千零七十九条",
    "law": "中华人民共和国民法典",
    "article": "第一千零七十九条",
    "text": "夫妻一方要求离婚的，可以由有关组织进行调解或者直接向人民法院提起离婚诉讼。",
    "part": "婚姻家庭编",
    "chapter": "第四章 离婚",
    "section": None,
}


def _jsonl(path, lines):
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    return path


def test_jsonl_record_fields(tmp_path):
    path = _jsonl(tmp_path / "laws.jsonl", [ARTICLE, {"content": "无编号的记录", "tag": "x"}])
    a, b = load_path(path)
    assert a.meta["id"] == "中华人民共和国民法典#第一千零七十九条"
    assert a.doc_id == f"{path.resolve()}#中华人民共和国民法典#第一千零七十九条"  # scoped by source
    assert a.kind == "law_article" and a.text == ARTICLE["text"] and "text" not in a.meta
    assert a.meta["part"] == "婚姻家庭编" and a.meta["title"] == "《中华人民共和国民法典》第一千零七十九条"
    assert a.source == str(path.resolve()) and a.meta["format"] == "jsonl"
    assert b.doc_id == f"{path.resolve()}#L2" and b.kind == "" and b.meta["tag"] == "x"


def test_jsonl_bad_line_does_not_sink_the_file(tmp_path):
    path = _jsonl(tmp_path / "x.jsonl", [{"text": "一"}, "{broken", {"title": "无正文"}, "[1, 2]", "", {"正文": "二"}])
    result = load(path)
    assert [d.text for d in result.documents] == ["一", "二"]
    assert [w.split(": ")[1] for w in result.warnings] == ["line 2", "line 3", "line 4"]
    assert result.warnings[0].startswith(f"{path}: line 2: invalid JSON")
    assert result.warnings[1] == f"{path}: line 3: no text field (expected one of text, content, body, 正文, 内容)"
    assert result.warnings[2] == f"{path}: line 4: not an object (list)"
    assert result.documents[1].doc_id.endswith("#L6")


def test_all_bad_jsonl_names_the_first_problem(tmp_path):
    path = _jsonl(tmp_path / "x.jsonl", ["", "nope", {"title": "t"}])
    first = "no usable records; first problem: line 2: invalid JSON"
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: {first}"):
        load_path(path)


def test_blank_lines_only_is_empty(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text("\n\n   \n", encoding="utf-8")
    with pytest.raises(EmptyInputError):
        load_path(path)


def test_duplicate_ids_keep_the_first(tmp_path):
    path = _jsonl(tmp_path / "x.jsonl", [{"id": "a", "text": "1"}, {"id": "a", "text": "2"}])
    result = load(path)
    assert [d.text for d in result.documents] == ["1"] and "duplicate id 'a'" in result.warnings[0]


def test_jsonl_gz(tmp_path):
    path = tmp_path / "x.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(json.dumps(ARTICLE, ensure_ascii=False) + "\n")
    [doc] = load_path(path)
    assert doc.meta["id"] == ARTICLE["id"] and doc.doc_id.endswith("#" + ARTICLE["id"]) and doc.meta["format"] == "jsonl"


def test_corrupt_gz(tmp_path):
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage-garbage")
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: corrupt or unreadable gzip file"):
        load_path(path)


@pytest.mark.parametrize(
    "data",
    [[{"text": "一"}, {"text": "二"}], {"data": [{"text": "一"}, {"text": "二"}]}],
    ids=["array", "object-with-list"],
)
def test_json_shapes(tmp_path, data):
    path = tmp_path / "x.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    docs = load_path(path)
    assert [d.text for d in docs] == ["一", "二"] and docs[1].doc_id.endswith("#L2")


def test_single_json_object(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"内容": "唯一", "作者": "甲"}, ensure_ascii=False), encoding="utf-8")
    [doc] = load_path(path)
    assert doc.text == "唯一" and doc.meta["作者"] == "甲"


def test_invalid_json(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('[{"text": "一"},', encoding="utf-8")
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: invalid JSON \("):
        load_path(path)


def test_json_without_records(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": 1}', encoding="utf-8")
    with pytest.raises(InputError, match="no records found"):
        load_path(path)


def test_full_corpus_streams_fast(law_corpus):
    start = time.perf_counter()
    result = load(law_corpus)
    elapsed = time.perf_counter() - start
    assert len(result.documents) == 58536 and result.warnings == []
    assert elapsed < 20, elapsed
    ids = {d.meta["id"] for d in result.documents}
    assert "中华人民共和国劳动合同法#第十九条" in ids and "中华人民共和国民法典#第一千零七十九条" in ids
