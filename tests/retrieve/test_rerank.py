from zhiku.retrieve.hybrid import HybridRetriever
from zhiku.retrieve.rerank import Rerank
from zhiku.retrieve.rerankers.e5 import E5Reranker


def _hits(law_kb, query, k=15):
    s, _, kb = law_kb
    return HybridRetriever(kb.store, kb.embedder, s.retrieval).run(query, k=k)


def test_reranks_the_head_and_keeps_the_tail(law_kb):
    hits = _hits(law_kb, "公司让我试用期干六个月，合法吗")
    tail_before = [h.ref for h in hits[8:]]
    timings = {}
    out = Rerank(E5Reranker(), depth=8).run("公司让我试用期干六个月，合法吗", hits, timings)
    assert sorted(h.ref for h in out[:8]) == sorted(h.ref for h in hits[:8])
    assert [h.ref for h in out[8:]] == tail_before
    assert all("rerank" in h.scores for h in out[:8]) and not any("rerank" in h.scores for h in out[8:])
    scores = [h.score for h in out]
    assert scores == sorted(scores, reverse=True), "score must fall monotonically down the list"
    assert timings["rerank_ms"] > 0
    assert "中华人民共和国劳动合同法#第十九条" in [h.ref for h in out[:5]]


def test_weight_zero_is_the_rerankers_own_order(law_kb):
    hits = _hits(law_kb, "离婚后孩子归谁抚养", k=10)
    out = Rerank(E5Reranker(), depth=10, first_stage_weight=0.0).run("离婚后孩子归谁抚养", hits)
    rr = [h.scores["rerank"] for h in out]
    assert rr == sorted(rr, reverse=True)


def test_empty_input():
    assert Rerank(E5Reranker()).run("试用期", []) == []
