"""Synthetic question-article pairs written by a real model: the bundled 0.5B behind a real llama_cpp.server
(its JSON grammar keeps the small model's reply parseable), through `zhiku train prepare --synthetic`."""
from __future__ import annotations

import json

import pytest

from generate.conftest import llama_server, small_gguf  # noqa: F401 - fixtures, re-used not re-written
from tests.train.test_prepare import run


@pytest.mark.parametrize("reply, questions", [
    ('{"items": [{"question": "试用期最长多久？", "answer": "六个月。"}]}', ["试用期最长多久？"]),
    ('好的：[{"问题": "加班费怎么算？", "回答": "按规定。"}] 以上。', ["加班费怎么算？"]),
    ("1. 问：能不能解除合同？\n答：可以。\n2. 问题：要赔钱吗？", ["能不能解除合同？", "要赔钱吗？"]),
    ('{"items": [', []),
    ("我不知道。", []),
])  # fmt: skip
def test_replies_are_read_leniently(reply, questions):
    from zhiku.train.synthetic import read_items

    assert [i["question"] for i in read_items(reply)] == questions


def test_questions_that_leak_the_article_or_repeat_are_dropped():
    from zhiku.train.synthetic import QuestionWriter, SyntheticStats
    from zhiku.types import Hit

    class Scripted:  # a stand-in for the model's reply only; the writer's own checks are what is tested
        name = "scripted"

        def complete(self, messages, sampling):
            assert "第十九条" in messages[1]["content"] and sampling.json_schema
            return json.dumps({"items": [{"question": "第十九条规定了什么？", "answer": "a"},
                                         {"question": "试用期最长多久？", "answer": "六个月"},
                                         {"question": "试用期 最长多久?", "answer": "dup"},
                                         {"question": "嗯", "answer": ""}]}, ensure_ascii=False)  # fmt: skip

    hit = Hit(chunk_id="d#0", doc_id="d", text="劳动合同期限三个月以上不满一年的，试用期不得超过一个月……",
              score=0.0, meta={"law": "劳动合同法", "article": "第十九条"})
    stats = SyntheticStats()
    out = QuestionWriter(Scripted(), 4).write(hit, stats)
    assert [r["query"] for r in out] == ["试用期最长多久？"] and out[0]["gold"] == [hit.ref]
    assert stats.dropped == {"names the article number": 1, "duplicate": 1, "not a question": 1}


def test_prepare_synthetic_writes_pairs_and_samples(law_kb, llama_server, tmp_path):  # noqa: F811
    from zhiku.eval.dataset import load_dataset
    from zhiku.train.qa_samples import article_index
    from zhiku.train.synthetic import ARTICLE_NUMBER

    s, _, kb = law_kb
    out = tmp_path / "syn"
    env = {"ZHIKU_LLM__BACKEND": "openai", "ZHIKU_LLM__BASE_URL": llama_server, "ZHIKU_LLM__MODEL": "qwen2.5-0.5b"}
    m = json.loads(run(s.home, "train", "prepare", "--synthetic", "2", "--articles", "3", "--kb", "laws", "--out",
                       str(out), "--refusal-share", "0", "--val-split", "0", "--json", **env).stdout)
    src = m["source"]
    assert src["from"] == "synthetic" and src["articles"] == 3 and src["per_article"] == 2
    pairs = [json.loads(x) for x in (out / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert src["questions"] == len(pairs) > 0, src
    refs = set(article_index(kb.store))
    assert all(len(p["gold"]) == 1 and p["gold"][0] in refs and not ARTICLE_NUMBER.search(p["query"]) for p in pairs)
    # the pairs are a dataset as `train adapter` and `--from qa` read it, and every pair became an answer sample
    assert [q.gold for q in load_dataset(out / "pairs.jsonl")] == [p["gold"] for p in pairs]
    assert m["counts"]["answer"] == len(pairs) - sum(src["skipped"].values())
    sample = json.loads((out / "train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert sample["messages"][-1]["content"].count("[") >= 1  # the target cites its gold source


def test_synthetic_needs_a_count(law_kb, tmp_path):
    p = run(law_kb[0].home, "train", "prepare", "--from", "synthetic", "--kb", "laws", "--out", str(tmp_path / "o"),
            check=None)
    assert p.returncode == 2 and "--synthetic N" in p.stderr and not (tmp_path / "o").exists()
