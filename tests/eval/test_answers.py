"""Answer evaluation on the real pipeline (bundled 0.5B, three real statutes): what each question's record says,
and the aggregates computed from real records."""
from __future__ import annotations

import pytest

from zhiku.eval.answers import evaluate_answers, is_refusal, score_answer, summarize
from zhiku.eval.dataset import Query
from zhiku.generate.base import Usage
from zhiku.generate.prompts import MODEL_NO_ANSWER

PROBATION = "中华人民共和国劳动合同法#第十九条"
QUERIES = [
    Query("1", "劳动合同的试用期最长是多久？", [PROBATION]),
    Query("2", "买到假货商家要赔几倍？", ["中华人民共和国消费者权益保护法#第五十五条"]),
    Query("ot1", "红烧肉怎么做才好吃？", [], answerable=False, meta={"category": "off_topic"}),
]


@pytest.fixture(scope="module")
def run(law_pipe):
    seen = []
    summary, records = evaluate_answers(law_pipe, QUERIES, progress=lambda i, n: seen.append((i, n)))
    return summary, records, seen


def test_records_of_a_real_run(run):
    summary, records, seen = run
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert [r["qid"] for r in records] == ["1", "2", "ot1"]
    first = records[0]
    assert first["generated"] and first["grounded"] and PROBATION in first["sources"]
    assert first["ttft_ms"] > 0 and first["total_ms"] >= first["ttft_ms"] and first["chars"] == len(first["answer"])
    assert first["source_recall"] == 1.0
    for r in records[:2]:  # the metrics agree with what was cited
        if r["refused"]:
            assert r["recall"] == 0.0 and r["precision"] is None
        else:
            good = set(r["gold"]).intersection(r["cited"])
            assert r["recall"] == len(good) / len(r["gold"])
            assert r["precision"] == (len(good) / len(r["cited"]) if r["cited"] else None)
    off = records[2]  # the relevance gate refuses before the model runs
    assert off["refused"] and not off["grounded"] and not off["generated"] and off["ttft_ms"] is None
    assert off["precision"] is None and off["recall"] is None


def test_summary_of_a_real_run(run):
    summary, records, _ = run
    assert summary["model"] == "qwen2.5-0.5b" and summary["n"] == 3
    a, u, g = summary["answerable"], summary["unanswerable"], summary["generation"]
    assert a["n"] == 2 and a["answered"] + a["refused"] == 2
    assert u == {"n": 1, "refused": 1, "refused_by_gate": 1, "refused_by_model": 0, "refusal_correctness": 1.0,
                 "by_category": {"off_topic": "1/1"}}
    assert g["n"] == sum(r["generated"] for r in records) >= 1
    assert g["ttft_ms_p50"] <= g["total_ms_p50"] and g["tokens_per_s_p50"] > 0
    assert "faithfulness" not in summary and summary == {**summary, **{"model": "qwen2.5-0.5b"}}
    assert summarize(records) == {k: v for k, v in summary.items() if k != "model"}


def test_model_side_refusal_and_cited_decline(law_pipe):
    """The model's own "no basis" counts as a refusal only while it cites nothing."""
    p = law_pipe.prepare("劳动合同的试用期最长是多久？")
    declined = law_pipe.finish(p, f"{MODEL_NO_ANSWER}。", Usage(), ttft_ms=1.0)
    assert p.grounded and is_refusal(declined)
    unanswerable = Query("u", p.original, [], answerable=False)
    rec = score_answer(unanswerable, declined)
    assert rec["refused"] and rec["declined"] and rec["grounded"]
    assert summarize([rec])["unanswerable"]["refused_by_model"] == 1
    cited = law_pipe.finish(p, f"{MODEL_NO_ANSWER}，但依据[1]可以约定试用期。", Usage(), ttft_ms=1.0)
    assert not is_refusal(cited) and score_answer(unanswerable, cited)["refused"] is False


def test_precision_and_recall_from_markers(law_pipe):
    p = law_pipe.prepare("劳动合同的试用期最长是多久？", top_k=3)  # a wrong source to cite too
    refs = [s.hit.ref for s in p.sources]
    gold = refs.index(PROBATION) + 1
    other = next(i for i, r in enumerate(refs, 1) if r != PROBATION)
    q = Query("1", p.original, [PROBATION, "中华人民共和国劳动合同法#第二十条"])
    one = score_answer(q, law_pipe.finish(p, f"不得超过六个月[{gold}]。", Usage(), ttft_ms=1.0))
    assert (one["precision"], one["recall"]) == (1.0, 0.5)
    two = score_answer(q, law_pipe.finish(p, f"不得超过六个月[{gold}][{other}]。", Usage(), ttft_ms=1.0))
    assert (two["precision"], two["recall"]) == (0.5, 0.5)
    none = score_answer(q, law_pipe.finish(p, "不得超过六个月。", Usage(), ttft_ms=1.0))
    assert none["precision"] is None and not none["refused"]
    s = summarize([one, two, none])["answerable"]
    assert s["answered_uncited"] == 1 and s["citation_precision"] == 0.75
    assert s["citation_precision_micro"] == round(2 / 3, 4) and s["citations_per_answer"] == 1.0
    # the model with the gold article in hand: two of three cited it, none refused
    assert (s["gold_in_sources"], s["gold_in_sources_refused"], s["gold_in_sources_cited"]) == (3, 0.0, round(2 / 3, 4))
    assert s["answered_with_gold"] == round(2 / 3, 4)
    declined = score_answer(q, law_pipe.finish(p, "资料中没有相关规定。", Usage(), ttft_ms=1.0))
    lost = Query("2", p.original, ["中华人民共和国劳动合同法#第九十九条"])  # retrieval missed it: not in hand
    missed = score_answer(lost, law_pipe.finish(p, f"不得超过六个月[{other}]。", Usage(), ttft_ms=1.0))
    assert declined["refused"] and declined["gold_in_sources"] and not declined["gold_cited"]
    assert not missed["gold_in_sources"] and not missed["gold_cited"]
    s = summarize([one, declined, missed])["answerable"]
    assert (s["gold_in_sources"], s["gold_in_sources_refused"], s["gold_in_sources_cited"]) == (2, 0.5, 0.5)
    assert s["answered_with_gold"] == round(1 / 3, 4)


def test_judged_run_reports_faithfulness(law_pipe, llama_server):
    from zhiku.eval.judge import FaithfulnessJudge
    from zhiku.generate.openai_compat import OpenAICompatLLM

    judge = FaithfulnessJudge(OpenAICompatLLM(llama_server, "qwen2.5-0.5b"), max_tokens=64)
    summary, records = evaluate_answers(law_pipe, QUERIES[:1] + QUERIES[2:], judge=judge)
    assert summary["judge_model"] == "openai:qwen2.5-0.5b"
    first, off = records
    assert "judge" not in off  # refused: nothing to judge
    if first["refused"] or not first["cited"]:
        assert "faithfulness" not in summary
    else:  # the schema-constrained reply always carries a score
        assert 0.0 <= first["judge"]["score"] <= 1.0
        assert summary["faithfulness"]["judged"] == 1 and summary["faithfulness"]["unreadable"] == 0
