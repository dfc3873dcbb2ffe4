"""Writing-workspace fixtures: projects in a fresh ZHIKU_HOME (real SQLite, real embedded store, the bundled
embedder), a short story to work on, and `Scripted`, a stand-in for a model's replies where a test needs exact
ones (invalid JSON): it implements the LLM protocol's complete/stream only, and the write code under test is real."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.generate.conftest import small_gguf, small_llm  # noqa: F401 - fixtures, re-used not re-written

STORY = """《星落镇》

第一章 石桥
林秋站在星落镇的石桥上。她有一双罕见的琥珀色眼睛，是镇上唯一的女猎手。
她的师父陆沉住在镇北的灯塔里。

第二章 铁匠
铁匠周大山为镇长赵明远打了一把长剑，名叫寒霜。寒霜剑的剑柄上刻着一只白鹤。

第三章 夜雪
那天夜里下起了雪。林秋在灯塔下等到天亮，陆沉也没有回来。
"""


class Scripted:
    """Replies given in advance, one per call; records every call's messages."""

    name = "scripted"

    def __init__(self, replies: list[str]):
        self.replies = list(replies)
        self.calls: list[list[dict]] = []

    def stream(self, messages, sampling, usage=None) -> Iterator[str]:
        self.calls.append(messages)
        reply = self.replies.pop(0)
        if usage is not None:
            usage.prompt_tokens, usage.completion_tokens = sum(len(m["content"]) for m in messages), len(reply)
        for i in range(0, len(reply), 3):
            yield reply[i : i + 3]

    def complete(self, messages, sampling) -> str:
        return "".join(self.stream(messages, sampling)).strip()


@pytest.fixture()
def projects(settings):
    from zhiku.write import Projects

    c = Projects(settings)
    yield c
    c.close()


@pytest.fixture()
def story(projects, tmp_path):
    """A project with STORY imported: chapters 1 (title page), 2-4 (第一章 … 第三章)."""
    f = tmp_path / "星落镇.txt"
    f.write_text(STORY, encoding="utf-8")
    project, _ = projects.import_file("星落", f)
    return project
