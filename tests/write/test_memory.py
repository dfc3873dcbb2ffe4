"""Memory records and the review flow: add / edit / delete / list, proposals merged by name, accept / reject."""
from __future__ import annotations

import json

import pytest

from zhiku.errors import EmptyInputError, InputError, NotFoundError
from zhiku.write import Draft
from zhiku.write.memory import memory_type, merge_text, name_key, parse_tags, read_drafts


def test_types_and_their_chinese_names():
    assert [memory_type(t) for t in ("人物", "character", "情节", "设定", "对话", "笔记", " Setting ")] == [
        "character", "character", "plot", "setting", "dialogue", "note", "setting"]
    with pytest.raises(InputError, match="unknown memory type 'weapon'"):
        memory_type("weapon")


def test_helpers():
    assert name_key("ＬＩＮ 秋") == name_key("lin秋")
    assert parse_tags("主角，女、猎手, 主角") == ["主角", "女", "猎手"] and parse_tags(None) == []
    assert merge_text("林秋有琥珀色眼睛。", "林秋有琥珀色眼睛！她十七岁。") == "林秋有琥珀色眼睛。她十七岁。"
    assert merge_text("林秋是猎手", "她住在镇东。") == "林秋是猎手；她住在镇东。"


def test_add_edit_delete_list(story):
    mems = story.memories
    a = mems.add(Draft("人物", " 林秋 ", "林秋有一双琥珀色的眼睛。", "主角,猎手", 2))
    assert (a.type, a.name, a.tags, a.chapter, a.label, a.source) == ("character", "林秋", ["主角", "猎手"], 2, "人物", "manual")
    b = mems.add(Draft("setting", "寒霜", "周大山为镇长打的剑。"))
    assert [m.id for m in mems.list()] == [a.id, b.id] and [m.id for m in mems.list("设定")] == [b.id]
    e = mems.edit(a.id, text="林秋的眼睛是琥珀色的。", chapter=0)
    assert (e.text, e.chapter, e.name) == ("林秋的眼睛是琥珀色的。", None, "林秋") and e.updated_at >= a.updated_at
    with pytest.raises(InputError, match="memory fields are"):
        mems.edit(a.id, colour="blue")
    assert mems.delete([a.id]) == 1 and [m.id for m in mems.list()] == [b.id]
    with pytest.raises(NotFoundError, match="no memory 999"):
        mems.delete([b.id, 999])
    assert [m.id for m in mems.list()] == [b.id]  # nothing deleted when one id is wrong
    with pytest.raises(NotFoundError):
        mems.get(a.id)


@pytest.mark.parametrize("draft, message", [
    (Draft("人物", "", "x"), "name must be"),
    (Draft("人物", "林秋", "   "), "text must be"),
    (Draft("人物", "林" * 61, "x"), "name must be"),
    (Draft("人物", "林秋", "x", chapter=0), "chapter must be"),
    (Draft("法宝", "林秋", "x"), "unknown memory type"),
])  # fmt: skip
def test_bad_records_are_refused_and_nothing_is_added(story, draft, message):
    with pytest.raises(InputError, match=message):
        story.memories.add_many([Draft("人物", "ok", "ok"), draft])
    assert story.memories.list() == []


def test_proposals_merge_by_name_and_accept_merges_into_records(story):
    mems = story.memories
    kept = mems.add(Draft("人物", "林秋", "林秋有琥珀色眼睛。", ["主角"]))
    props = mems.propose([Draft("人物", "林秋", "林秋十七岁。", ["猎手"]), Draft("人物", "林 秋", "林秋十七岁。她住在镇东。"),
                          Draft("情节", "夜雪", "陆沉没有回来。", chapter=4)], "extract chapter 4")
    assert [(p.name, p.text, p.merges_into) for p in props] == [
        ("林秋", "林秋十七岁。她住在镇东。", kept.id), ("夜雪", "陆沉没有回来。", None)]
    again = mems.propose([Draft("情节", "夜雪", "林秋等到天亮。")], "continue")  # extends the pending one
    assert len(mems.pending()) == 2 and again[0].text == "陆沉没有回来。林秋等到天亮。"
    assert [m.id for m in mems.accept([props[0].id])] == [kept.id]
    merged = mems.get(kept.id)
    assert merged.text == "林秋有琥珀色眼睛。林秋十七岁。她住在镇东。" and merged.tags == ["主角", "猎手"]
    assert [p.name for p in mems.pending()] == ["夜雪"]
    with pytest.raises(NotFoundError, match="no pending proposal 999"):
        mems.accept([999])
    assert mems.reject() == 1 and mems.pending() == []
    assert [m.name for m in mems.list()] == ["林秋"]


def test_accept_all_creates_new_records(story):
    mems = story.memories
    mems.propose([Draft("设定", "星落镇", "北境小镇。"), Draft("对话", "陆沉", "“雪停之前别出门。”")], "extract")
    kept = mems.accept()
    assert [(m.type, m.source) for m in kept] == [("setting", "extract"), ("dialogue", "extract")]
    assert mems.pending() == [] and mems.accept() == []


def test_generation_moves_with_every_change(story):
    mems = story.memories
    g = mems.generation()
    m = mems.add(Draft("笔记", "伏笔", "灯塔里有一封信。"))
    mems.edit(m.id, text="灯塔里有两封信。")
    mems.delete([m.id])
    assert mems.generation() == g + 3


def test_read_drafts(tmp_path):
    f = tmp_path / "m.jsonl"
    f.write_text('{"type": "人物", "name": "林秋", "text": "琥珀色眼睛", "tags": ["主角"], "chapter": 2}\n\n'
                 '{"type": "setting", "name": "寒霜", "text": "一把剑"}\n', encoding="utf-8")
    assert [(d.type, d.name, d.chapter) for d in read_drafts(f)] == [("character", "林秋", 2), ("setting", "寒霜", None)]
    f.write_text(json.dumps([{"type": "note", "name": "a", "text": "b"}]), encoding="utf-8")
    assert [d.name for d in read_drafts(f)] == ["a"]
    for content, message in (('{"type": "人物"}\n{oops', "line 2: not valid JSON"),
                             ('{"type": "人物", "name": "x", "text": ""}', "line 1: memory 'x': text must be"),
                             ("[1]", "record 1: not an object")):
        f.write_text(content, encoding="utf-8")
        with pytest.raises(InputError, match=message):
            read_drafts(f)
    f.write_text("\n", encoding="utf-8")
    with pytest.raises(EmptyInputError):
        read_drafts(f)
