"""Projects and their manuscript: catalog, chapters, settings, export; durability across restarts and kill -9."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from zhiku.errors import CorruptStoreError, EmptyInputError, InputError, NotFoundError, ProjectExistsError, ProjectNotFoundError
from zhiku.write import Projects
from zhiku.write.chapters import ChapterText


def test_catalog_lifecycle(projects, settings):
    assert projects.list() == []
    info = projects.create("星落", "北境小说")
    assert (info.name, info.description, info.chapters) == ("星落", "北境小说", 0)
    with pytest.raises(ProjectExistsError, match="already exists"):
        projects.create("星落")
    assert projects.create("星落", exist_ok=True).name == "星落"
    projects.create("b")
    assert [i.name for i in projects.list()] == ["b", "星落"]
    projects.delete("b")
    assert [i.name for i in projects.list()] == ["星落"] and not (settings.write_root / "b").exists()
    assert not [p for p in settings.write_root.iterdir() if p.name.startswith(".")]  # no leftovers
    with pytest.raises(ProjectNotFoundError, match="writing project 'b' does not exist"):
        projects.open("b")
    with pytest.raises(ProjectNotFoundError):
        projects.delete("b")
    for bad in ("", "../x", "a/b", ".hidden"):
        with pytest.raises(InputError, match="invalid writing project name"):
            projects.create(bad)


def test_chapters_read_edit_append(story):
    assert [(c.number, c.title) for c in story.chapters()] == [
        (1, "《星落镇》"), (2, "第一章 石桥"), (3, "第二章 铁匠"), (4, "第三章 夜雪")]
    assert story.chapters()[0].text == "" and story.chapters()[1].chars == len(story.chapter(2).text)
    assert story.chapter(3).text.startswith("铁匠周大山")
    story.set_chapter(3, title="第二章 剑")
    story.set_chapter(3, text="新的正文。")
    assert (story.chapter(3).title, story.chapter(3).text) == ("第二章 剑", "新的正文。")
    assert story.append("续。").number == 4 and story.chapter(4).text.endswith("没有回来。续。")
    assert story.append("再续。", 3).text == "新的正文。再续。"
    assert story.add_chapters([ChapterText("第四章", "甲。"), ChapterText("第五章", "乙。")]) == [5, 6]
    with pytest.raises(NotFoundError, match="no chapter 9 \\(it has 6\\)"):
        story.chapter(9)
    with pytest.raises(NotFoundError):
        story.append("x", 9)


def test_replace_span_checks_the_selection(story):
    text = story.chapter(2).text
    start = text.index("琥珀色")
    story.replace_span(2, start, start + 3, "灰蓝色", expect="琥珀色")
    assert "灰蓝色眼睛" in story.chapter(2).text
    with pytest.raises(InputError, match="changed since the passage was selected"):
        story.replace_span(2, start, start + 3, "黑色", expect="琥珀色")
    with pytest.raises(InputError, match="not a passage"):
        story.replace_span(2, 5, 5 + 10_000, "x")
    assert "灰蓝色眼睛" in story.chapter(2).text


def test_tail_crosses_chapters_and_manuscript_export(story, tmp_path):
    assert story.tail(6) == "也没有回来。" and story.tail(0) == ""
    two = story.tail(len(story.chapter(4).text) + 10)
    assert two.endswith(story.chapter(4).text) and "\n\n" in two and story.chapter(3).text[-8:] in two
    assert story.tail(5, 2) == story.chapter(2).text[-5:]
    n = story.export(tmp_path / "out" / "m.txt")
    text = (tmp_path / "out" / "m.txt").read_text(encoding="utf-8")
    assert n == len(text) and text.index("第一章 石桥") < text.index("琥珀色") < text.index("第三章 夜雪")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["m.txt"]  # no temp file left


def test_empty_project_has_nothing_to_export(projects, tmp_path):
    projects.create("e")
    with pytest.raises(EmptyInputError, match="no text to export"):
        projects.open("e").export(tmp_path / "m.txt")
    assert not (tmp_path / "m.txt").exists()


def test_project_settings_and_adapter(story, tmp_path):
    with pytest.raises(InputError, match="unknown project setting"):
        story.set_setting("llm.temperature", "2")
    with pytest.raises(InputError, match="no such adapter file"):
        story.set_setting("llm.lora", str(tmp_path / "missing.gguf"))
    lora = tmp_path / "style.gguf"
    lora.write_bytes(b"GGUF")
    story.set_setting("llm.lora", str(lora))
    assert story.llm_settings().lora == str(lora.resolve())
    assert story.settings.llm.lora == ""  # the global settings are left alone
    story.set_setting("llm.lora", "")
    assert story.llm_settings().lora == "" and story.project_settings() == {}


def test_import_of_a_bad_file_creates_and_changes_nothing(projects, tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(EmptyInputError):
        projects.import_file("new", tmp_path / "empty.txt")
    assert not projects.exists("new")


def test_everything_survives_a_restart(story, settings):
    from zhiku.write import Draft

    story.append("最后一句。")
    story.memories.add(Draft("人物", "林秋", "琥珀色眼睛"))
    again = Projects(settings).open("星落")  # a second catalog: another process's view
    assert again.chapter(4).text.endswith("最后一句。") and [m.name for m in again.memories.list()] == ["林秋"]


def test_a_20mb_novel_imports_quickly(projects, tmp_path):
    from tests.write.test_chapters import big_novel

    n, para = big_novel(tmp_path / "big.txt")
    t = time.perf_counter()
    project, numbers = projects.import_file("big", tmp_path / "big.txt")
    took = time.perf_counter() - t
    assert numbers == list(range(1, n + 1)) and project.chapter(n).text == para
    assert took < 60, f"{took:.1f} s"
    t = time.perf_counter()
    assert project.tail(100).endswith(para[-50:]) and time.perf_counter() - t < 1


CHILD = """
import sys
from zhiku.config import Settings
from zhiku.write import Draft, Projects
project = Projects(Settings(home=sys.argv[1])).open("k")
i = 0
while True:
    project.append(f"<{i}>")
    project.memories.add(Draft("note", f"n{i}", f"第{i}条笔记"))
    if i % 4 == 3:
        project.memories.search("笔记", 3)  # the derived index is being written too
    print(i, flush=True)
    i += 1
"""


def test_kill_9_mid_write_leaves_the_project_consistent(projects, settings):
    projects.create("k")
    projects.open("k").add_chapters([ChapterText("第一章", "")])
    projects.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for delay in (0.0, 0.3):  # the first kill lands wherever the writes are when line 10 is printed
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(settings.home)], stdout=subprocess.PIPE, env=env,
                                 text=True)
        deadline = time.monotonic() + 180
        done = -1
        while done < 10 and time.monotonic() < deadline:
            done = int(child.stdout.readline() or -1)
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert done >= 10, "the child never got going"
    db = sqlite3.connect(settings.write_root / "k" / "project.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    project = Projects(settings).open("k")
    text = project.chapter(1).text
    marks = text.replace("><", ">\n<").split("\n")  # each append is whole: <0><1>...<k>, twice over (two runs)
    assert all(m.startswith("<") and m.endswith(">") and m[1:-1].isdigit() for m in marks), text[-80:]
    notes = [m.name for m in project.memories.list()]
    assert len(notes) in (len(marks), len(marks) - 1), (len(notes), len(marks))  # killed between the two writes
    hits = project.memories.search("笔记", k=len(notes) + 5)  # the index catches up with SQLite after the kill
    assert sorted(h.memory.name for h in hits) == sorted(notes)


def test_a_damaged_project_file_is_one_clear_error(projects, settings):
    projects.create("d")
    projects.close()
    (settings.write_root / "d" / "project.sqlite").write_bytes(b"garbage" * 1000)
    for name in ("project.sqlite-wal", "project.sqlite-shm"):
        (settings.write_root / "d" / name).unlink(missing_ok=True)
    with pytest.raises(CorruptStoreError) as e:
        Projects(settings).open("d")
    assert "project.sqlite: damaged SQLite database" in str(e.value) and "writing project 'd': restore" in str(e.value)
