from zhiku.index.base import Filters
from zhiku.retrieve.hybrid import HybridRetriever, collapse
from zhiku.types import Hit


def test_modes_find_the_article(law_kb):
    s, _, kb = law_kb
    r = HybridRetriever(kb.store, kb.embedder, s.retrieval)
    for mode in ("bm25", "dense", "hybrid"):
        refs = [h.ref for h in r.run("劳动合同试用期最长多久", k=10, mode=mode)]
        assert "中华人民共和国劳动合同法#第十九条" in refs, mode
    timings = {}
    hits = r.run("离婚冷静期", k=5, timings=timings)
    assert hits[0].meta["law"] == "中华人民共和国民法典" and timings["search_ms"] > 0


def test_law_filter(law_kb):
    s, _, kb = law_kb
    r = HybridRetriever(kb.store, kb.embedder, s.retrieval)
    hits = r.run("赔偿", k=10, filters=Filters(laws=["中华人民共和国消费者权益保护法"]))
    assert hits and {h.meta["law"] for h in hits} == {"中华人民共和国消费者权益保护法"}


def test_collapse_keeps_best_part_per_article():
    meta = {"law": "L", "article": "第一条"}
    hits = [Hit("d#0", "d", "a", 0.9, meta), Hit("d#1", "d", "b", 0.8, meta), Hit("d#2", "d", "c", 0.7, {"law": "L", "article": "第二条"})]
    assert [h.chunk_id for h in collapse(hits)] == ["d#0", "d#2"]
