"""Continuation and revision: the prompt (memories with reasons, as much preceding text as fits), streaming,
keeping the result; one short real continuation with the bundled model."""
from __future__ import annotations

import pytest

from tests.write.conftest import Scripted
from zhiku.errors import InputError
from zhiku.pipeline import TokenEvent
from zhiku.write import Draft
from zhiku.write.compose import Composer, MemoriesEvent, WrittenEvent
from zhiku.write.chapters import ChapterText


@pytest.fixture()
def remembered(story):
    story.memories.add_many([Draft("人物", "林秋", "林秋有一双琥珀色的眼睛。"),
                             Draft("设定", "寒霜剑", "剑柄上刻着一只白鹤。"),
                             Draft("人物", "陆沉", "林秋的师父，住在灯塔里。")])
    return story


def user_prompt(prepared) -> str:
    return prepared.messages[-1]["content"]


def test_the_prompt_holds_memories_preceding_text_and_instruction(remembered):
    c = Composer(remembered, Scripted([]))
    p = c.prepare_continue("写林秋拔出寒霜剑")
    body = user_prompt(p)
    assert body.index("【记忆】") < body.index("【前文】") < body.index("【要求】写林秋拔出寒霜剑")
    assert "[设定] 寒霜剑：剑柄上刻着一只白鹤。" in body and "[人物] 林秋：林秋有一双琥珀色的眼睛。" in body
    assert body.split("【要求】")[0].rstrip().endswith("陆沉也没有回来。")  # the manuscript's end, right before
    assert p.context_chars > 0 and p.chapter == 4 and p.kind == "continue"
    picked = {h.memory.name: h.why for h in p.memories}
    assert "名字出现在要求中" in picked["寒霜剑"] and "名字出现在要求中" in picked["林秋"]
    off = c.prepare_continue("写林秋拔出寒霜剑", memory=False)
    assert "【记忆】" not in user_prompt(off) and off.memories == []


def test_preceding_text_is_cut_to_the_context(remembered):
    remembered.add_chapters([ChapterText("第四章 长夜", "她走了很久。" * 800)])
    c = Composer(remembered, Scripted([]))  # no tokenizer: one token per character
    c.llm_settings.n_ctx = 1000
    p = c.prepare_continue("", sampling=c.sampling(max_tokens=200))
    assert p.prompt_tokens <= 1000 - 200
    assert 400 < p.context_chars < 800 and user_prompt(p).split("【要求】")[0].strip().endswith("她走了很久。")
    assert "【前文】\n她走了很久。" in user_prompt(p)  # starts at a sentence, not mid-way
    c.llm_settings.n_ctx = 300
    with pytest.raises(InputError, match="leave no room for the preceding text in llm.n_ctx=300"):
        c.prepare_continue("", sampling=c.sampling(max_tokens=250))


def test_stream_then_accept_appends_to_the_chapter(remembered):
    c = Composer(remembered, Scripted(["天亮时，林秋握紧了寒霜剑。"]))
    events = list(c.stream(c.prepare_continue("写天亮")))
    assert isinstance(events[0], MemoriesEvent) and isinstance(events[-1], WrittenEvent)
    assert "".join(e.text for e in events if isinstance(e, TokenEvent)) == "天亮时，林秋握紧了寒霜剑。"
    written = events[-1].written
    assert written.timings["ttft_ms"] > 0 and written.usage["completion_tokens"] > 0
    ch = c.accept(written)
    assert ch.number == 4 and ch.text.endswith("陆沉也没有回来。\n天亮时，林秋握紧了寒霜剑。")


def test_revise_replaces_only_the_selected_passage(remembered):
    text = remembered.chapter(2).text
    start = text.index("她有一双")
    end = text.index("。", start) + 1
    c = Composer(remembered, Scripted(["她的眼睛是少见的琥珀色。", "x"]))
    p = c.prepare_revise("polish", 2, start, end, "更简洁")
    body = user_prompt(p)
    assert f"【原文】\n{text[start:end]}" in body and "润色【原文】" in body and "另外：更简洁" in body
    assert body.index("【记忆】") < body.index("【上文】") < body.index("【原文】") < body.index("【要求】")
    assert p.sampling.max_tokens > 0  # sized to the passage
    c.accept(c.write(p))
    assert remembered.chapter(2).text == text[:start] + "她的眼睛是少见的琥珀色。" + text[end:]
    stale = c.write(c.prepare_revise("rewrite", 2, start, end))
    remembered.set_chapter(2, "全新的一章。" * 20)
    with pytest.raises(InputError, match="changed since the passage was selected"):
        c.accept(stale)
    for kind, a, b, message in (("translate", 0, 5, "unknown revision"), ("expand", 5, 5, "not a passage"),
                                ("expand", 0, 10_000, "not a passage")):
        with pytest.raises(InputError, match=message):
            c.prepare_revise(kind, 2, a, b)


def test_sampling_defaults_are_for_prose_and_checked(remembered):
    c = Composer(remembered, Scripted([]))
    s = c.sampling()
    ws = remembered.settings.write
    assert (s.temperature, s.top_p, s.top_k, s.max_tokens, s.repetition_penalty) == (
        ws.temperature, ws.top_p, ws.sample_top_k, ws.max_tokens, ws.repetition_penalty)
    assert c.sampling(temperature=0.0, repetition_penalty=1.3).repetition_penalty == 1.3
    for bad in ({"temperature": -1}, {"top_p": 0}, {"top_k": -1}, {"repetition_penalty": 0}, {"max_tokens": -5}):
        with pytest.raises(InputError):
            c.sampling(**bad)


def test_a_project_adapter_reaches_the_llm_settings(remembered, tmp_path):
    lora = tmp_path / "style.gguf"
    lora.write_bytes(b"GGUF")
    remembered.set_setting("llm.lora", str(lora))
    assert Composer(remembered, Scripted([])).llm_settings.lora == str(lora.resolve())


def test_the_bundled_model_continues_the_story(remembered, small_llm):
    c = Composer(remembered, small_llm)
    p = c.prepare_continue("写林秋在雪中寻找师父", sampling=c.sampling(max_tokens=12, temperature=0.0))
    assert p.prompt_tokens <= small_llm.n_ctx - 12  # counted with the model's own tokenizer
    events = list(c.stream(p))
    written = events[-1].written
    assert sum(isinstance(e, TokenEvent) for e in events) >= 1 and written.text
    assert 1 <= written.usage["completion_tokens"] <= 13 and written.timings["ttft_ms"] > 0
    assert written.usage["prompt_tokens"] >= p.prompt_tokens - 30  # the estimate is close to what the model read
