"""Memory extraction: validated, merged, saved for review per chapter; bad model output retried, then reported."""
from __future__ import annotations

import json

import pytest

from tests.write.conftest import Scripted
from zhiku.errors import ExtractionError
from zhiku.write.extract import Extractor, validate_item


def reply(*items) -> str:
    return json.dumps({"items": [dict(zip(("name", "text", "tags"), i)) for i in items]}, ensure_ascii=False)


def extractor(story, replies, types=("character",)) -> tuple[Extractor, Scripted]:
    llm = Scripted(replies)
    return Extractor(llm, story.settings.write, types), llm


def test_items_are_validated():
    src = "林秋站在石桥上。"
    assert validate_item({"name": "林秋", "text": "站在石桥上", "tags": "主角"}, "character", src, 2).tags == ["主角"]
    assert validate_item({"名称": "林秋", "资料": "猎手"}, "character", src, None).text == "猎手"
    why = [validate_item(item, "character", src, None) for item in (
        "林秋", {"name": "林秋"}, {"name": "名称", "text": "资料"}, {"name": "张三", "text": "路人"},
        {"name": "林" * 80, "text": "x"})]  # fmt: skip
    assert why == ["not an object", "missing name or text", "placeholder copied", "name not in the text",
                   "name too long"]
    assert not isinstance(validate_item({"name": "寒夜出走", "text": "x"}, "plot", src, None), str)  # a plot names an event


def test_chapter_extraction_proposes_for_review(story):
    ex, llm = extractor(story, [
        "好的：\n```json\n" + reply(("林秋", "有一双琥珀色的眼睛", ["主角"]), ("林秋", "是女猎手"),
                                    ("名称", "资料"), ("王五", "编造的人")) + "\n```",
        reply(("寒霜", "铁匠打的剑")),
    ], types=("character", "setting"))
    report = ex.run(story, [2])
    assert len(llm.calls) == 2 and "人物资料" in llm.calls[0][0]["content"] and "世界设定" in llm.calls[1][0]["content"]
    assert story.chapter(2).text in llm.calls[0][1]["content"]
    assert report.chapters == [2] and report.dropped == {"placeholder copied": 1, "name not in the text": 2}
    assert [(p.name, p.text, p.chapter, p.origin) for p in report.proposals] == [
        ("林秋", "有一双琥珀色的眼睛；是女猎手", 2, "extract chapter 2")]  # 寒霜 is not in chapter 2
    assert story.memories.list() == [] and [p.name for p in story.memories.pending()] == ["林秋"]


def test_invalid_json_is_retried_once(story):
    ex, llm = extractor(story, ["林秋：琥珀色眼睛（不是JSON）", reply(("林秋", "琥珀色眼睛"))])
    report = ex.run(story, [2])
    assert (report.calls, report.retries) == (2, 1) and [p.name for p in report.proposals] == ["林秋"]
    retry = llm.calls[1]
    assert retry[-2] == {"role": "assistant", "content": "林秋：琥珀色眼睛（不是JSON）"} and "JSON" in retry[-1]["content"]


def test_invalid_json_twice_is_reported_and_nothing_of_the_chapter_is_kept(story):
    ex, _ = extractor(story, [reply(("林秋", "琥珀色眼睛")), "{\"items\": [", "抱歉，我无法完成。"],
                      types=("character", "setting"))
    with pytest.raises(ExtractionError) as e:
        ex.run(story, [2])
    assert "chapter 2, 设定: the model's reply is not JSON even after a retry" in str(e.value)
    assert "抱歉" in str(e.value) and "\n" not in str(e.value)
    assert story.memories.pending() == [] and story.memories.list() == []  # 林秋 from the same chapter: not kept


def test_a_later_chapter_failing_keeps_the_earlier_chapters(story):
    ex, _ = extractor(story, [reply(("林秋", "琥珀色眼睛")), "不是JSON", "还不是"])
    with pytest.raises(ExtractionError, match="proposals from chapters 2 were saved"):
        ex.run(story, [2, 3])
    assert [p.name for p in story.memories.pending()] == ["林秋"]


def test_whole_manuscript_with_progress(story):
    ex, llm = extractor(story, [reply() for _ in range(4)])
    seen = []
    report = ex.run(story, progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert report.chapters == [1, 2, 3, 4] and report.proposals == [] and len(llm.calls) == 4
    assert seen[-1] == ("extract", 4, 4)


def test_continuation_text_is_credited_to_the_last_chapter(story):
    ex, _ = extractor(story, [reply(("林秋", "拔出了寒霜剑"))])
    report = ex.run(story, text="林秋拔出了寒霜剑。", origin="continue chapter 4")
    assert [(p.chapter, p.origin) for p in report.proposals] == [(4, "continue chapter 4")]


def test_the_bundled_model_extracts_characters(story, small_llm):
    ws = story.settings.write.model_copy(update={"extract_max_tokens": 160})
    report = Extractor(small_llm, ws, ("character",)).run(story, [2])
    text = story.chapter(2).text
    assert report.calls in (1, 2)
    assert all(p.name in text for p in report.proposals)  # names the chapter never mentions were dropped


def test_brackets_in_prose_are_not_json_items(story):
    ex, _ = extractor(story, ["根据第十九条[1]，林秋是猎手。", "[{\"name\": \"林秋\", \"text\": \"猎手\"}]"])
    report = ex.run(story, [2])
    assert report.retries == 1 and [p.name for p in report.proposals] == ["林秋"]
