"""Memory search: the real embedded store and bundled embedder, kept in step with SQLite."""
from __future__ import annotations

import shutil

import pytest

from zhiku.errors import InputError
from zhiku.write import Draft, Projects

MEMORIES = [
    Draft("人物", "林秋", "林秋有一双琥珀色的眼睛，是星落镇唯一的女猎手。", ["主角"], 2),
    Draft("人物", "陆沉", "陆沉是林秋的师父，住在镇北的灯塔里。", [], 2),
    Draft("设定", "寒霜剑", "铁匠周大山为镇长赵明远打造的长剑，剑柄上刻着一只白鹤。", ["兵器"], 3),
    Draft("设定", "星落镇", "北境边陲的小镇，镇中央有一座石桥。", [], 2),
    Draft("情节", "陆沉失踪", "下雪的夜里陆沉离开灯塔，再也没有回来。", [], 4),
]


@pytest.fixture()
def remembered(story):
    story.memories.add_many(MEMORIES)
    return story


def names(hits) -> list[str]:
    return [h.memory.name for h in hits]


def test_search_ranks_the_record_that_answers(remembered):
    mems = remembered.memories
    assert names(mems.search("林秋的眼睛是什么颜色", 3))[0] == "林秋"
    assert names(mems.search("剑柄上刻的是什么", 3))[0] == "寒霜剑"
    assert names(mems.search("师父住在哪里", 3))[0] == "陆沉"
    hit = mems.search("白鹤", 1)[0]
    assert hit.memory.name == "寒霜剑" and hit.score > 0 and set(hit.scores) <= {"bm25", "bigram", "dense"}
    assert names(mems.search("林秋", 5, types=["设定"])) and set(names(mems.search("林秋", 5, types=["设定"]))) <= {
        "寒霜剑", "星落镇"}
    assert mems.search("林秋", 5, types=["对话"]) == []
    with pytest.raises(InputError, match="empty memory search query"):
        mems.search("  ")


def test_the_index_follows_changes_from_any_process(remembered, settings):
    mems = remembered.memories
    assert names(mems.search("白鹤", 1)) == ["寒霜剑"]
    other = Projects(settings).open("星落").memories  # another process's handle on the same project
    sword = next(m for m in other.list() if m.name == "寒霜剑")
    other.edit(sword.id, text="铁匠周大山为镇长打造的长剑，剑柄上刻着一条青龙。")
    assert names(mems.search("青龙", 1)) == ["寒霜剑"]
    other.delete([sword.id])
    assert "寒霜剑" not in names(mems.search("青龙 剑", 5))
    other.add(Draft("对话", "陆沉", "“雪停之前，不要出镇。”"))
    assert names(mems.search("雪停之前不要出镇", 1)) == ["陆沉"]


def test_a_missing_or_foreign_index_is_rebuilt_from_sqlite(remembered):
    mems = remembered.memories
    assert names(mems.search("白鹤", 1)) == ["寒霜剑"]
    mems.close()
    shutil.rmtree(remembered.path / "index")
    assert names(mems.search("白鹤", 1)) == ["寒霜剑"]
    mems.close()
    (remembered.path / "index" / "EMBEDDER").write_text("another-embedder")  # made by an embedder since replaced
    assert names(mems.search("白鹤", 1)) == ["寒霜剑"]
    assert (remembered.path / "index" / "EMBEDDER").read_text() == mems.index.embedder().name


def test_recall_says_why_each_memory_was_picked(remembered):
    hits = remembered.memories.index.recall("林秋在灯塔下等到天亮。", "写寒霜剑出鞘的一幕", k=3)
    by_name = {h.memory.name: h for h in hits}
    assert len(hits) == 3 and {"林秋", "寒霜剑"} <= set(by_name)
    assert "名字出现在要求中" in by_name["寒霜剑"].why and "名字出现在前文中" in by_name["林秋"].why
    assert all(h.why and h.score > 0 for h in hits)
    assert any(w.startswith("与要求相关（第") for w in by_name["寒霜剑"].why)
    assert remembered.memories.index.recall("", "", 3) == [] and remembered.memories.index.recall("林秋", "", 0) == []
