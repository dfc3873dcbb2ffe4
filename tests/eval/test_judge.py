"""The faithfulness judge: parsing its replies, and a real OpenAI-compatible server (llama_cpp.server, 0.5B)."""
from __future__ import annotations

import pytest

from zhiku.loadtest.process import free_port
from zhiku.config import Settings
from zhiku.errors import ConfigError
from zhiku.eval.judge import FaithfulnessJudge, build_judge_messages, parse_verdict
from zhiku.generate.openai_compat import OpenAICompatLLM
from zhiku.types import Citation, Hit

from generate.conftest import SMALL

ARTICLE = Hit(
    "劳动合同法#19", "劳动合同法", "劳动合同期限三个月以上不满一年的，试用期不得超过一个月；劳动合同期限一年以上不满三年的，"
    "试用期不得超过二个月；三年以上固定期限和无固定期限的劳动合同，试用期不得超过六个月。", 1.0,
    {"law": "中华人民共和国劳动合同法", "article": "第十九条"},
)
CITED = [Citation(1, ARTICLE)]


@pytest.mark.parametrize(
    "reply, score, verdict",
    [
        ('{"score": 0.8, "verdict": "基本有依据"}', 0.8, "基本有依据"),
        ('评审结果：{"score": 1, "verdict": "有依据"}。', 1.0, "有依据"),
        ('{"score": "0.5", "verdict": "部分"}', 0.5, "部分"),
        ('{"score": 3, "verdict": "超出范围"}', 1.0, "超出范围"),
        ('{"score": 0.2, "verdict": "被截断', 0.2, ""),  # cut off by max_tokens: the score still counts
        ("score：0", 0.0, ""),
    ],
)
def test_parse_verdict(reply, score, verdict):
    v = parse_verdict(reply)
    assert (v.score, v.verdict) == (score, verdict)


def test_unreadable_reply_keeps_the_raw_text():
    v = parse_verdict("我认为回答不错。")
    assert v.score is None and v.to_dict() == {"score": None, "verdict": "unreadable judge reply", "raw": "我认为回答不错。"}


def test_messages_carry_question_answer_and_cited_text():
    msgs = build_judge_messages("试用期最长多久？", "不得超过六个月[1]。", CITED)
    user = msgs[1]["content"]
    assert "试用期最长多久？" in user and "不得超过六个月[1]" in user
    assert "[1] 《中华人民共和国劳动合同法》第十九条" in user and "试用期不得超过六个月" in user


def test_endpoint_from_settings():
    with pytest.raises(ConfigError, match="--judge-url"):
        FaithfulnessJudge.from_settings(Settings())
    j = FaithfulnessJudge.from_settings(Settings(eval={"judge_base_url": "http://127.0.0.1:9", "judge_model": "big"}))
    assert j.llm.base_url == "http://127.0.0.1:9/v1" and j.name == "openai:big"
    llm = Settings(llm={"backend": "openai", "base_url": "http://h:8000/v1", "model": "qwen", "api_key": "k"})
    j = FaithfulnessJudge.from_settings(llm)
    assert (j.llm.base_url, j.llm.model) == ("http://h:8000/v1", "qwen") and j.llm._headers["Authorization"] == "Bearer k"
    j = FaithfulnessJudge.from_settings(llm, "http://other:1/v1", "judge")
    assert (j.llm.base_url, j.llm.model) == ("http://other:1/v1", "judge") and "Authorization" not in j.llm._headers


def test_real_server_returns_a_verdict(llama_server):
    judge = FaithfulnessJudge(OpenAICompatLLM(llama_server, SMALL), max_tokens=64)
    v = judge.judge("劳动合同试用期最长多久？", "三年以上固定期限的劳动合同，试用期不得超过六个月[1]。", CITED)
    # the schema-constrained reply is JSON with a score in 0..1 whatever the small model thinks
    assert v.score is not None and 0.0 <= v.score <= 1.0, v.raw
    assert judge.judge("问题", "回答", []).score is None  # nothing cited: nothing to judge


def test_unreachable_server_is_a_missing_verdict_not_a_crash():
    judge = FaithfulnessJudge(OpenAICompatLLM(f"http://127.0.0.1:{free_port()}/v1", SMALL, timeout=5))
    v = judge.judge("问题", "回答[1]", CITED)
    assert v.score is None and v.verdict.startswith("judge error: LLM server") and "cannot connect" in v.verdict
