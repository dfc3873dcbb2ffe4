"""The golden path with the real small bundled model: grounded, cited, streamed; honest when there is no basis."""
import asyncio

import pytest

from zhiku.errors import ZhikuError
from zhiku.generate.base import Sampling
from zhiku.generate.prompts import NO_BASIS_ANSWER
from zhiku.pipeline import DoneEvent, SourcesEvent, TokenEvent, acollect_answer, collect_answer


def test_stream_order_and_grounded_answer(law_pipe):
    events = list(law_pipe.stream("劳动合同的试用期最长是多久？"))
    assert isinstance(events[0], SourcesEvent) and events[0].grounded
    assert isinstance(events[-1], DoneEvent)
    tokens = [e.text for e in events if isinstance(e, TokenEvent)]
    assert len(tokens) > 3
    answer = events[-1].answer
    assert answer.text == "".join(tokens).strip()
    assert "中华人民共和国劳动合同法#第十九条" in [c.hit.ref for c in answer.sources]
    assert answer.timings["ttft_ms"] > 0 and answer.usage["completion_tokens"] > 0
    for c in answer.citations:  # citations map [n] to real sources
        assert answer.sources[c.n - 1] is c or answer.sources[c.n - 1].hit.chunk_id == c.hit.chunk_id


def test_no_basis_for_off_topic(law_pipe):
    answer = law_pipe.ask("红烧肉怎么做才好吃？")
    assert not answer.grounded
    assert answer.text == NO_BASIS_ANSWER and answer.citations == [] and answer.sources == []


def test_collect_answer_sync_and_async(law_pipe):
    question = "红烧肉怎么做才好吃？"  # no basis: the answer comes without a generation
    answer = collect_answer(law_pipe.stream(question))
    assert answer.text == NO_BASIS_ANSWER and answer.question == question
    answer = asyncio.run(acollect_answer(law_pipe.astream(law_pipe.prepare(question))))
    assert answer.text == NO_BASIS_ANSWER and not answer.grounded and answer.timings["total_ms"] > 0


def test_collect_answer_of_a_stream_without_one():
    async def tokens():
        yield TokenEvent("半")

    with pytest.raises(ZhikuError, match="without an answer"):
        collect_answer(iter([TokenEvent("半")]))
    with pytest.raises(ZhikuError, match="without an answer"):
        asyncio.run(acollect_answer(tokens()))


def test_sampling_reaches_the_model(law_pipe):
    assert law_pipe.settings.llm.max_tokens > 10
    answer = law_pipe.ask("劳动合同的试用期最长是多久？", sampling=Sampling(max_tokens=3, temperature=0.0))
    # 3 tokens, not the configured max (llama.cpp's count takes in one evaluation more than it yields)
    assert answer.grounded and 0 < answer.usage["completion_tokens"] <= 4 and len(answer.text) < 12


def test_follow_up_is_condensed(law_pipe):
    history = [
        {"role": "user", "content": "劳动合同的试用期有什么规定？"},
        {"role": "assistant", "content": "劳动合同期限三个月以上不满一年的，试用期不得超过一个月[1]。"},
    ]
    p = law_pipe.prepare("那三年以上的呢？", history)
    assert p.question != "那三年以上的呢？" and len(p.question) > 6
    assert p.grounded



def test_gate_uses_the_raw_question_vector_and_filters(law_pipe):
    from zhiku.index.base import Filters

    gate, floor = law_pipe.gate, law_pipe.settings.retrieval.min_relevance
    assert gate.embedder is getattr(law_pipe.kb.embedder, "base", law_pipe.kb.embedder)
    # a short colloquial question the query adapter would push under the floor still gets an answer
    assert gate.score("公司可以随便辞退我吗") >= floor
    assert gate.score("红烧肉怎么做才好吃？") < floor
    assert gate.score("试用期最长多久？", Filters(laws=["不存在的法"])) == 0.0
    p = law_pipe.prepare("试用期最长多久？", filters=Filters(laws=["不存在的法"]))
    assert not p.grounded and p.hits == []

