"""`zhiku write`: the real command in subprocesses: projects, chapters, memory, review, extraction errors, one short
continuation with the bundled model, and the manuscript as training text."""
from __future__ import annotations

import json

import pytest

from tests.cli.conftest import run
from tests.loadtest.conftest import standin  # noqa: F401 - a fixture: a real OpenAI-compatible stand-in server
from tests.write.conftest import STORY


@pytest.fixture()
def novel(tmp_path):
    f = tmp_path / "星落镇.txt"
    f.write_bytes(STORY.encode("gbk"))  # an old novel file from Chinese Windows
    return f


def jrun(home, *args, **kw):
    return json.loads(run(home, *args, "--json", **kw).stdout)


def test_project_and_manuscript_lifecycle(tmp_path, novel):
    run(tmp_path, "write", "new", "星落", "-d", "北境")
    assert run(tmp_path, "write", "new", "星落", check=2).stderr == "error: writing project '星落' already exists\n"
    p = run(tmp_path, "write", "import", "星落", str(novel))
    assert "4 chapters" in p.stdout and "chapters 1-4" in p.stdout
    assert [c["title"] for c in jrun(tmp_path, "write", "chapters", "星落")] == [
        "《星落镇》", "第一章 石桥", "第二章 铁匠", "第三章 夜雪"]
    assert "琥珀色眼睛" in jrun(tmp_path, "write", "show", "星落", "2")["text"]
    run(tmp_path, "write", "edit", "星落", "3", stdin="铁匠周大山打了一把剑。\n")
    run(tmp_path, "write", "edit", "星落", "3", "--title", "第二章 剑")
    assert jrun(tmp_path, "write", "show", "星落", "3") | {"updated_at": 0} == {
        "number": 3, "title": "第二章 剑", "chars": 12, "updated_at": 0, "text": "铁匠周大山打了一把剑。\n"}
    run(tmp_path, "write", "append", "星落", "--text", "天亮了。")
    run(tmp_path, "write", "append", "星落", "--new", "第四章 春", "--text", "雪化了。")
    assert jrun(tmp_path, "write", "show", "星落", "4")["text"].endswith("没有回来。天亮了。")
    assert jrun(tmp_path, "write", "show", "星落", "5")["title"] == "第四章 春"
    run(tmp_path, "write", "export", "星落", str(tmp_path / "out.txt"))
    assert "第四章 春\n\n雪化了。" in (tmp_path / "out.txt").read_text(encoding="utf-8")
    info = jrun(tmp_path, "write", "list")
    assert [(i["name"], i["chapters"], i["description"]) for i in info] == [("星落", 5, "北境")]
    assert "without --yes" in run(tmp_path, "write", "delete", "星落", check=2).stderr
    run(tmp_path, "write", "delete", "星落", "--yes")
    assert jrun(tmp_path, "write", "list") == []


def test_bad_input_is_one_line_and_changes_nothing(tmp_path, novel):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blob.txt").write_bytes(bytes(range(256)) * 50)
    for f, message in ((tmp_path / "empty.txt", "empty file (no text)"),
                       (tmp_path / "blob.txt", "not a text file (binary content)")):
        p = run(tmp_path, "write", "import", "x", str(f), check=2)
        assert p.stderr == f"error: {f}: {message}\n"
    assert jrun(tmp_path, "write", "list") == []  # importing into a new project: nothing created
    assert run(tmp_path, "write", "show", "x", "1", check=3).stderr.startswith("error: writing project 'x' does not")
    run(tmp_path, "write", "import", "x", str(novel))
    assert run(tmp_path, "write", "show", "x", "9", check=3).stderr == "error: writing project 'x': no chapter 9 (it has 4)\n"
    assert run(tmp_path, "write", "append", "x", stdin="  \n", check=2).stderr == "error: empty text\n"
    p = run(tmp_path, "write", "memory", "add", "x", "--type", "法宝", "--name", "a", "--text", "b", check=2)
    assert p.stderr.startswith("error: unknown memory type '法宝'") and p.stderr.count("\n") == 1
    assert run(tmp_path, "write", "set", "x", "llm.lora", str(tmp_path / "no.gguf"), check=2).stderr.startswith(
        "error: llm.lora")
    p = run(tmp_path, "write", "rewrite", "x", "--chapter", "2", "--from-char", "5", "--to-char", "999", check=2)
    assert "not a passage of its" in p.stderr


def test_memory_commands_and_review(tmp_path, novel):
    run(tmp_path, "write", "import", "x", str(novel))
    added = jrun(tmp_path, "write", "memory", "add", "x", "--type", "人物", "--name", "林秋", "--text", "琥珀色的眼睛",
                 "--tags", "主角,猎手", "-c", "2")
    assert (added["type"], added["tags"], added["chapter"]) == ("character", ["主角", "猎手"], 2)
    (tmp_path / "m.jsonl").write_text(
        '{"type": "设定", "name": "寒霜剑", "text": "剑柄上刻着一只白鹤"}\n{"type": "plot", "name": "陆沉失踪", "text": "雪夜未归"}\n',
        encoding="utf-8")
    assert "2 memories added" in run(tmp_path, "write", "memory", "import", "x", str(tmp_path / "m.jsonl")).stdout
    assert [m["name"] for m in jrun(tmp_path, "write", "memory", "list", "x", "--type", "设定")] == ["寒霜剑"]
    hits = jrun(tmp_path, "write", "memory", "search", "x", "剑柄上刻着什么", "-k", "2")
    assert hits[0]["memory"]["name"] == "寒霜剑" and hits[0]["scores"]
    run(tmp_path, "write", "memory", "edit", "x", str(added["id"]), "--text", "林秋的眼睛是琥珀色的。")
    assert jrun(tmp_path, "write", "memory", "list", "x")[0]["text"] == "林秋的眼睛是琥珀色的。"

    from zhiku.config import Settings
    from zhiku.write import Draft, Projects

    c = Projects(Settings(home=tmp_path))  # proposals as extraction leaves them
    c.open("x").memories.propose([Draft("人物", "林秋", "是女猎手。"), Draft("设定", "灯塔", "在镇北。")], "extract")
    c.close()
    pending = jrun(tmp_path, "write", "memory", "pending", "x")
    assert [(p["name"], p["merges_into"]) for p in pending] == [("林秋", added["id"]), ("灯塔", None)]
    assert "give proposal ids or --all" in run(tmp_path, "write", "memory", "accept", "x", check=2).stderr
    run(tmp_path, "write", "memory", "accept", "x", str(pending[0]["id"]))
    run(tmp_path, "write", "memory", "reject", "x", "--all")
    mems = jrun(tmp_path, "write", "memory", "list", "x")
    assert [m["name"] for m in mems] == ["林秋", "寒霜剑", "陆沉失踪"]
    assert mems[0]["text"] == "林秋的眼睛是琥珀色的。是女猎手。"
    run(tmp_path, "write", "memory", "delete", "x", str(added["id"]))
    assert run(tmp_path, "write", "memory", "delete", "x", str(added["id"]), check=3).stderr.startswith("error:")


def test_extraction_output_that_is_never_json_is_reported_and_nothing_is_saved(tmp_path, novel, standin):  # noqa: F811
    _, upstream = standin  # answers every prompt with legal-sounding prose, never JSON
    run(tmp_path, "write", "import", "x", str(novel))
    env = {"ZHIKU_LLM__BACKEND": "openai", "ZHIKU_LLM__BASE_URL": f"{upstream}/v1", "ZHIKU_LLM__MODEL": "standin"}
    p = run(tmp_path, "write", "extract", "x", "-c", "2", "--type", "人物", check=5, **env)
    assert p.stderr.startswith("error: writing project 'x', chapter 2, 人物: the model's reply is not JSON even "
                               "after a retry") and p.stderr.count("\n") == 1
    assert jrun(tmp_path, "write", "memory", "pending", "x") == [] and jrun(tmp_path, "write", "memory", "list", "x") == []


def test_continue_with_the_bundled_model_and_append(tmp_path, novel):
    run(tmp_path, "write", "import", "x", str(novel))
    run(tmp_path, "write", "memory", "add", "x", "--type", "人物", "--name", "林秋", "--text", "琥珀色的眼睛")
    out = jrun(tmp_path, "write", "continue", "x", "--prompt", "写林秋望向灯塔", "--max-tokens", "8",
               "--temperature", "0", "--repetition-penalty", "1.2", "--append")
    assert out["text"] and out["accepted"] == {"chapter": 4, "chars": out["accepted"]["chars"]}
    assert out["memories"][0]["memory"]["name"] == "林秋" and "名字出现在要求中" in out["memories"][0]["why"]
    assert out["sampling"]["repetition_penalty"] == 1.2 and out["timings"]["ttft_ms"] > 0
    assert jrun(tmp_path, "write", "show", "x", "4")["text"].endswith(out["text"])


def test_the_manuscript_is_training_text(tmp_path, novel):
    run(tmp_path, "write", "import", "x", str(novel))
    manifest = jrun(tmp_path, "train", "prepare", "write:x", "--from", "text", "--out", str(tmp_path / "ds"),
                    "--chunk-size", "40", "--val-split", "0")
    assert manifest["counts"]["train"] >= 4 and manifest["source"]["path"] == "write:x"
    rows = [json.loads(line) for line in (tmp_path / "ds" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    assert any("琥珀色眼睛" in r["text"] for r in rows) and not any("第一章" in r["text"] for r in rows)
    p = run(tmp_path, "train", "prepare", "write:nope", "--from", "text", "--out", str(tmp_path / "d2"), check=3)
    assert p.stderr.startswith("error: writing project 'nope' does not exist")
