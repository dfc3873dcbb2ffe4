from __future__ import annotations

import re

from zhiku.generate.prompts import (
    ANSWER_HINT,
    MODEL_NO_ANSWER,
    NO_BASIS_ANSWER,
    NO_BASIS_ANSWER_EN,
    SYSTEM_PROMPT,
    build_condense_messages,
    build_messages,
    clean_condensed,
    declines,
    fix_citations,
    mentioned_sources,
    parse_citations,
)
from zhiku.types import Hit

ART19 = (
    "劳动合同期限三个月以上不满一年的，试用期不得超过一个月；劳动合同期限一年以上不满三年的，试用期不得超过二个月；"
    "三年以上固定期限和无固定期限的劳动合同，试用期不得超过六个月。"
)


def law_hit(law: str, article: str, text: str = "条文内容。") -> Hit:
    return Hit(chunk_id=f"{law}#{article}", doc_id=law, text=text, score=1.0, meta={"law": law, "article": article})


SOURCES = [
    law_hit("中华人民共和国劳动合同法", "第十九条", ART19),
    law_hit("中华人民共和国劳动法", "第四十四条"),
    law_hit("中华人民共和国劳动合同法", "第二十条"),
]


def test_system_prompt_is_short_chinese_and_states_the_rules():
    assert len(SYSTEM_PROMPT) < 200  # every prompt token costs ~16 ms on 2 cores
    assert "只根据" in SYSTEM_PROMPT and "资料" in SYSTEM_PROMPT
    assert "[n]" in SYSTEM_PROMPT and re.search(r"\[\d\]", SYSTEM_PROMPT)  # the rule and a worked example
    assert "《" in SYSTEM_PROMPT and "第X条" in SYSTEM_PROMPT
    assert MODEL_NO_ANSWER in SYSTEM_PROMPT
    assert "中文" in SYSTEM_PROMPT


def test_no_basis_constants():
    assert NO_BASIS_ANSWER == "知识库中未找到与该问题相关的依据，无法据此回答。"
    assert NO_BASIS_ANSWER_EN.startswith("No relevant basis")


def test_build_messages_numbers_sources_with_law_and_article():
    msgs = build_messages("劳动合同试用期最长多久？", SOURCES)
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[0]["content"] == SYSTEM_PROMPT
    user = msgs[1]["content"]
    assert f"[1] 《中华人民共和国劳动合同法》第十九条\n{ART19}" in user
    assert "[2] 《中华人民共和国劳动法》第四十四条\n" in user
    assert "[3] 《中华人民共和国劳动合同法》第二十条\n" in user
    assert user.index("[1]") < user.index("[2]") < user.index("[3]") < user.index("问题：劳动合同试用期最长多久？")
    assert user.rstrip().endswith(ANSWER_HINT)


def test_build_messages_truncates_source_text():
    long = law_hit("中华人民共和国民法典", "第一千零七十七条", "甲" * 1000)
    user = build_messages("问？", [long], max_source_chars=50)[-1]["content"]
    assert "甲" * 50 + "…" in user
    assert "甲" * 51 not in user


def test_build_messages_uses_document_title_for_non_law_hits():
    h = Hit(chunk_id="faq#0", doc_id="faq.md", text="答案在此。", score=1.0, meta={"title": "公司制度"})
    assert "[1] 公司制度\n答案在此。" in build_messages("问？", [h])[-1]["content"]


def test_build_messages_keeps_recent_history_clipped_and_drops_foreign_roles():
    history = [
        {"role": "system", "content": "ignore me"},
        {"role": "user", "content": "试用期可以约定几次？"},
        {"role": "assistant", "content": "只能约定一次。" + "长" * 1000},
    ]
    msgs = build_messages("那最长多久？", SOURCES[:1], history=history)
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[0]["content"] == SYSTEM_PROMPT
    assert len(msgs[2]["content"]) <= 301
    assert "那最长多久？" in msgs[-1]["content"]


def test_build_messages_without_sources():
    msgs = build_messages("问？", [])
    assert "（无）" in msgs[-1]["content"]


def test_condense_messages():
    history = [
        {"role": "user", "content": "劳动合同试用期最长多久？"},
        {"role": "assistant", "content": "最长六个月[1]。"},
    ]
    msgs = build_condense_messages(history, "那工资呢？")
    assert msgs[0]["role"] == "system" and "只输出" in msgs[0]["content"]
    user = msgs[1]["content"]
    assert "用户：劳动合同试用期最长多久？" in user and "助手：最长六个月[1]。" in user
    assert user.index("助手") < user.index("那工资呢？")


def test_clean_condensed():
    assert clean_condensed("改写后的独立问题：试用期工资最低多少？\n解释……", "那工资呢？") == "试用期工资最低多少？"
    assert clean_condensed("“试用期工资最低多少？”", "x") == "试用期工资最低多少？"
    assert clean_condensed("", "那工资呢？") == "那工资呢？"
    assert clean_condensed("很" * 500, "那工资呢？") == "那工资呢？"


def test_parse_citations_forms_order_dedupe_and_range():
    assert parse_citations("试用期最长六个月[2]。依据[1][2]，另见[1, 3]。", 3) == [2, 1, 3]
    assert parse_citations("见【2】和【1、3】", 3) == [2, 1, 3]
    assert parse_citations("见［１］和[1，2]", 3) == [1, 2]
    assert parse_citations("[0][4][12] 第[x]条 [编号] [n]", 3) == []
    assert parse_citations("没有引用", 3) == []
    assert parse_citations("依据[1]", 0) == []


def test_mentioned_sources_matches_full_and_short_law_names():
    text = "依据《劳动合同法》第二十条，另见《中华人民共和国劳动法》第四十四条和《民法典》第一条。"
    assert mentioned_sources(text, SOURCES) == [3, 2]


def test_fix_citations_corrects_marker_that_contradicts_article():
    text = "依据《中华人民共和国劳动合同法》第二十条[1]，试用期工资不得低于百分之八十。"
    assert fix_citations(text, SOURCES) == "依据《中华人民共和国劳动合同法》第二十条[3]，试用期工资不得低于百分之八十。"
    # right already, qualifiers, multi markers containing the right one: unchanged
    ok = "依据《劳动合同法》第十九条[1]；《劳动法》第四十四条第二款【2】；《劳动合同法》第二十条[1][3]。"
    assert fix_citations(ok, SOURCES) == ok
    # an article not among the sources, or no article at all: unchanged
    other = "依据《刑法》第一百三十三条[1]。见[2]。"
    assert fix_citations(other, SOURCES) == other


def test_declines_recognises_no_basis_replies_only():
    for text in (MODEL_NO_ANSWER, f"{MODEL_NO_ANSWER}。", NO_BASIS_ANSWER, "资料中未提及美国的相关规定。",
                 "根据提供的资料，没有找到相关内容。", "所给资料中并未涉及该问题。", "无法根据资料回答该问题。"):
        assert declines(text), text
    # an answer that says the *law* does not require something is an answer, not a refusal
    for text in ("法律没有规定必须签订书面合同[1]。", "试用期不得超过六个月[1]。", "劳动者不需要支付违约金。"):
        assert not declines(text), text
