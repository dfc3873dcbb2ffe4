"""Dataset files: STARD records, unanswerable records, and errors that name the file and the line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from zhiku.errors import InputError
from zhiku.eval.dataset import load_answer_set, load_dataset

REPO = Path(__file__).resolve().parents[2]


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_answerable_and_unanswerable_records(tmp_path):
    ds = write(
        tmp_path / "ds.jsonl",
        json.dumps({"qid": "1", "query": "试用期多久", "gold": ["劳动合同法#第十九条"], "keywords": "试用期"}, ensure_ascii=False),
        "",
        json.dumps({"qid": "u1", "query": "美国加州最低工资", "answerable": False, "category": "foreign_law"}, ensure_ascii=False),
        json.dumps({"query": "空的金标准", "gold": []}, ensure_ascii=False),
    )
    qs = load_dataset(ds, require_gold=False)
    assert [q.answerable for q in qs] == [True, False, False]
    assert qs[0].gold == ["劳动合同法#第十九条"] and qs[0].meta == {"keywords": "试用期"}
    assert qs[1].meta == {"category": "foreign_law"} and qs[1].gold == []
    assert qs[2].qid == "4"  # line number when the record has no qid


@pytest.mark.parametrize(
    "line, reason",
    [
        ('{"query": "x"', "JSONDecodeError"),
        ('["a list"]', "not a JSON object"),
        ('{"qid": "1"}', "KeyError"),
        ('{"query": "  "}', "query must be a non-empty string"),
        ('{"query": "x", "gold": "劳动合同法#第十九条"}', "gold must be a list"),
        ('{"query": "x", "answerable": "no"}', "answerable must be true or false"),
    ],
)
def test_bad_line_is_named(tmp_path, line, reason):
    ds = write(tmp_path / "bad.jsonl", '{"query": "好的", "gold": ["a"]}', line)
    with pytest.raises(InputError) as e:
        load_dataset(ds, require_gold=False)
    assert str(e.value).startswith(f"{ds}:2: not a dataset record with query") and reason in str(e.value)


def test_gold_required_for_retrieval(tmp_path):
    ds = write(tmp_path / "ds.jsonl", '{"query": "好的"}')
    with pytest.raises(InputError, match=r"ds.jsonl:1: not a dataset record with query and gold \(KeyError"):
        load_dataset(ds)


def test_missing_empty_and_non_utf8_files(tmp_path):
    with pytest.raises(InputError, match="no such dataset file"):
        load_dataset(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="no queries"):
        load_dataset(write(tmp_path / "empty.jsonl", ""))
    gbk = tmp_path / "gbk.jsonl"
    gbk.write_bytes('{"query": "试用期"}'.encode("gbk"))
    with pytest.raises(InputError, match="gbk.jsonl: not UTF-8"):
        load_dataset(gbk, require_gold=False)


def test_shipped_unanswerable_set():
    qs = load_dataset(REPO / "samples" / "eval" / "unanswerable.jsonl", require_gold=False)
    assert len(qs) == 60 and not any(q.answerable for q in qs)
    assert len({q.qid for q in qs}) == 60 and len({q.query for q in qs}) == 60
    cats = {q.meta["category"] for q in qs}
    assert cats == {"foreign_law", "local_rule", "case_specific", "non_legal_phrased_legally",
                    "facts_not_in_statutes", "off_topic"}
    off_topic = load_dataset(REPO / "samples" / "eval" / "off_topic.jsonl", require_gold=False)
    assert {q.query for q in off_topic} <= {q.query for q in qs}


def test_answer_set_limits_the_dataset_and_marks_unanswerable_files(tmp_path):
    rows = (json.dumps({"qid": str(i), "query": f"问题{i}", "gold": ["a"]}) for i in range(3))
    ds = write(tmp_path / "ds.jsonl", *rows)
    un = write(tmp_path / "un.jsonl", json.dumps({"qid": "u", "query": "无关", "gold": ["b"], "answerable": True}))
    qs = load_answer_set(ds, [un], limit=2)
    assert [(q.qid, q.answerable) for q in qs] == [("0", True), ("1", True), ("u", False)]
    assert len(load_answer_set(ds)) == 3
