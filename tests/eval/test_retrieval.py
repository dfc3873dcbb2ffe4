import json

import pytest

from zhiku.errors import InputError
from zhiku.eval.retrieval import Query, Stage, evaluate_retrieval, load_dataset, markdown_table, parse_stage
from zhiku.retrieve.searcher import Searcher

QUERIES = [
    Query("1", "试用期最长可以约定多久", ["中华人民共和国劳动合同法#第十九条"]),
    Query("2", "离婚冷静期多少天", ["中华人民共和国民法典#第一千零七十七条"]),
    Query("3", "买到假货可以要求几倍赔偿", ["中华人民共和国消费者权益保护法#第五十五条"]),
]


@pytest.mark.parametrize(
    "spec, stage",
    [
        ("bm25", Stage("bm25", "bm25")),
        ("hybrid+rerank", Stage("hybrid+rerank", "hybrid", rerank=True)),
        ("+rerank+rewrite", Stage("hybrid+rewrite+rerank", "hybrid", rerank=True, rewrite=True)),
        ("default", Stage("default", "hybrid", None, None, None, condense=True)),
        ("+condense+rerank", Stage("hybrid+condense+rerank", "hybrid", rerank=True, condense=True)),
    ],
)
def test_parse_stage(spec, stage):
    assert parse_stage(spec) == stage


@pytest.mark.parametrize("spec", ["bm24", "hybrid+colbert", "hybrid+rerank+rerank"])
def test_parse_stage_rejects(spec):
    with pytest.raises(InputError, match="unknown stage"):
        parse_stage(spec)


def test_stages_on_a_real_kb(law_kb):
    s, _, kb = law_kb
    searcher = Searcher(kb, s)
    rows: list[dict] = []
    results = [evaluate_retrieval(searcher, QUERIES, [1, 10], parse_stage(x), per_query=rows) for x in ("bm25", "hybrid+rerank")]
    assert [r["stage"] for r in results] == ["bm25", "hybrid+rerank"]
    assert results[1]["recall@10"] == 1.0 and results[1]["mrr@10"] > 0.5
    assert len(rows) == 6 and rows[3]["stage"] == "hybrid+rerank" and rows[3]["gold_ranks"][QUERIES[0].gold[0]] >= 1
    table = markdown_table(results)
    assert table.splitlines()[0].startswith("| stage | n | recall@1 | recall@10 |") and "| hybrid+rerank |" in table


def test_load_dataset_errors_name_file_and_line(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps({"query": "q", "gold": []}) + "\n{broken\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"d.jsonl:2"):
        load_dataset(p)


@pytest.mark.slow
def test_condense_stage_on_the_shipped_multiturn_set(law_kb):
    from pathlib import Path

    from zhiku.generate import get_llm

    s, _, kb = law_kb
    queries = load_dataset(Path(__file__).parents[2] / "samples" / "eval" / "multiturn.jsonl")[:2]
    assert all(q.history for q in queries)
    searcher = Searcher(kb, s, llm=lambda: get_llm(s.llm, s.models_dir))
    rows: list[dict] = []
    raw = evaluate_retrieval(searcher, queries, [10], parse_stage("hybrid"), per_query=rows)
    condensed = evaluate_retrieval(searcher, queries, [10], parse_stage("+condense"), per_query=rows)
    assert raw["stage"] == "hybrid" and condensed["stage"] == "hybrid+condense"
    assert "condensed" not in rows[0] and all(r["condensed"] for r in rows[2:])
