import pytest

from zhiku.errors import ConfigError
from zhiku.retrieve.searcher import Searcher, fuse_expansions
from zhiku.types import Hit

PROBATION = "中华人民共和国劳动合同法#第十九条"


def test_rerank_switch(law_kb):
    s, _, kb = law_kb
    searcher = Searcher(kb, s)
    plain, reranked = {}, {}
    a = searcher.run("试用期最长可以约定多久", k=5, rerank=False, timings=plain)
    b = searcher.run("试用期最长可以约定多久", k=5, rerank=True, timings=reranked)
    assert "rerank_ms" not in plain and reranked["rerank_ms"] > 0
    assert all("rerank" in h.scores for h in b) and not any("rerank" in h.scores for h in a)
    assert PROBATION in [h.ref for h in b]


def test_llm_stages_need_an_llm(law_kb):
    s, _, kb = law_kb
    with pytest.raises(ConfigError, match="need an LLM"):
        Searcher(kb, s).run("试用期", rewrite=True)


@pytest.mark.slow
def test_rewrite_and_hyde_with_the_bundled_model(law_kb):
    from zhiku.generate import get_llm

    s, _, kb = law_kb
    searcher = Searcher(kb, s, llm=lambda: get_llm(s.llm, s.models_dir))
    timings, trace = {}, {}
    hits = searcher.run("老板让我试用半年，这样合法吗", k=10, rerank=False, rewrite=True, hyde=True, timings=timings, trace=trace)
    assert trace["rewrite"] and trace["hyde"] and timings["rewrite_ms"] > 0 and timings["hyde_ms"] > 0
    assert PROBATION in [h.ref for h in hits]


def _hit(ref_article: str, dense: float) -> Hit:
    return Hit(f"d#{ref_article}", "d", "t", 1.0, {"law": "L", "article": ref_article}, {"dense": dense})


def test_expansion_only_hits_do_not_vouch_for_the_question():
    original = [_hit("第一条", 0.2)]
    hyde = [_hit("第二条", 0.9), _hit("第一条", 0.8)]
    fused = fuse_expansions(original, [("hyde", hyde)], weight=0.5, rrf_k=10)
    by_ref = {h.ref: h for h in fused}
    assert by_ref["L#第一条"].scores["dense"] == 0.2  # the original question's similarity is kept
    assert "dense" not in by_ref["L#第二条"].scores and by_ref["L#第二条"].scores["dense_hyde"] == 0.9
    assert fused[0].ref == "L#第一条"  # found by both rankings
