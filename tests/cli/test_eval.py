"""`zhiku eval retrieval` and `zhiku eval answers`."""
from __future__ import annotations

import json

from tests.cli.conftest import run


def test_eval_retrieval_json(home, tmp_path):
    ds = tmp_path / "ds.jsonl"
    ds.write_text(
        json.dumps({"qid": "1", "query": "劳动合同试用期最长多久", "gold": ["中华人民共和国劳动合同法#第十九条"]}, ensure_ascii=False)
        + "\n"
        + json.dumps({"qid": "2", "query": "用人单位解除劳动合同要给经济补偿吗", "gold": ["中华人民共和国劳动合同法#第四十六条"]}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    p = run(home, "eval", "retrieval", "--kb", "laws", "--dataset", str(ds), "--k", "10,100", "--json")
    res = json.loads(p.stdout)
    assert res["n"] == 2 and set(res) >= {"recall@10", "recall@100", "mrr@10", "ndcg@10"}
    assert res["recall@10"] >= 0.5 and res["recall@100"] == 1.0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "x"}\n', encoding="utf-8")
    p = run(home, "eval", "retrieval", "--kb", "laws", "--dataset", str(bad), check=2)
    assert f"error: {bad}:1:" in p.stderr


def test_eval_answers_reports(home, tmp_path):
    ds = tmp_path / "ds.jsonl"
    ds.write_text(
        json.dumps({"qid": "1", "query": "劳动合同试用期最长多久", "gold": ["中华人民共和国劳动合同法#第十九条"]}, ensure_ascii=False)
        + "\n" + json.dumps({"qid": "2", "query": "不会被问到", "gold": ["x"]}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    un = tmp_path / "un.jsonl"
    un.write_text(json.dumps({"qid": "ot1", "query": "红烧肉怎么做才好吃？"}, ensure_ascii=False) + "\n", encoding="utf-8")
    rep, md, pq = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "pq.jsonl"
    p = run(home, "eval", "answers", "--kb", "laws", "--dataset", str(ds), "--unanswerable", str(un), "--limit", "1",
            "--json", str(rep), "--markdown", str(md), "--per-query", str(pq))
    assert "citation_precision" in p.stdout and "refusal_correctness" in p.stdout  # the rich table
    res = json.loads(rep.read_text(encoding="utf-8"))
    assert res["kb"] == "laws" and res["model"] == "qwen2.5-0.5b" and res["n"] == 2
    assert res["answerable"]["n"] == 1 and res["answerable"]["source_recall"] == 1.0
    # the file's records carry no "answerable": false, --unanswerable makes them so; the gate refuses this one
    assert res["unanswerable"]["refusal_correctness"] == 1.0
    rows = [json.loads(line) for line in pq.read_text(encoding="utf-8").splitlines()]
    assert [r["qid"] for r in rows] == ["1", "ot1"] and not rows[1]["answerable"]
    text = md.read_text(encoding="utf-8")
    assert text.startswith("# Answer quality") and "| refusal_correctness | 1.000 |" in text


def test_eval_answers_errors(home, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "试用期", "gold": ["a"]}\n{"qid": 2}\n', encoding="utf-8")
    p = run(home, "eval", "answers", "--kb", "laws", "--dataset", str(bad), check=2)
    assert p.stderr.startswith(f"error: {bad}:2: not a dataset record with query")
    ok = tmp_path / "ok.jsonl"
    ok.write_text('{"query": "试用期", "gold": ["a"]}\n', encoding="utf-8")
    p = run(home, "eval", "answers", "--kb", "laws", "--dataset", str(ok), "--unanswerable", str(tmp_path / "no.jsonl"), check=2)
    assert "no.jsonl: no such dataset file" in p.stderr
    p = run(home, "eval", "answers", "--kb", "laws", "--dataset", str(ok), "--judge", check=2)
    assert "the faithfulness judge needs an OpenAI-compatible server" in p.stderr
    # an unreachable judge fails before any question is answered
    p = run(home, "eval", "answers", "--kb", "laws", "--dataset", str(ok), "--judge",
            "--judge-url", "http://127.0.0.1:9/v1", "--judge-model", "m", check=5)  # BackendError
    assert "LLM server http://127.0.0.1:9/v1: cannot connect" in p.stderr
    p = run(home, "eval", "answers", "--kb", "nope", "--dataset", str(ok), check=3)
    assert "knowledge base 'nope' does not exist" in p.stderr
