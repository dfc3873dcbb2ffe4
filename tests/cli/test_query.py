"""`zhiku search` and `zhiku chat`."""
from __future__ import annotations

import json

from tests.cli.conftest import run


def test_search_json_and_filters(home):
    out = json.loads(run(home, "search", "试用期最长多久", "--kb", "laws", "--k", "3", "--json").stdout)
    refs = [h["ref"] for h in out["hits"]]
    assert "中华人民共和国劳动合同法#第十九条" in refs
    assert len(refs) == 3
    out = json.loads(run(home, "search", "试用期", "--kb", "laws", "--law", "不存在的法", "--json").stdout)
    assert out["hits"] == []


def test_chat_condenses_follow_up(home):
    p = run(home, "chat", "--kb", "laws", stdin="劳动合同的试用期有什么规定？\n那最长能约定多久？\n/exit\n")
    assert p.stdout.count("引用") + p.stdout.count("检索到的条文") + p.stdout.count("未找到") >= 2
    assert "searched as:" in p.stderr  # the follow-up was rewritten into a standalone question


def test_lora_that_does_not_exist_is_one_line_and_exit_2(home, tmp_path):
    for cmd in (["ask", "试用期最长多久", "--kb", "laws"], ["chat", "--kb", "laws"], ["serve", "--port", "1"]):
        p = run(home, *cmd, "--lora", str(tmp_path / "none.gguf"), stdin="", check=2)
        assert p.stderr.strip().splitlines() == [f"error: --lora {tmp_path / 'none.gguf'}: no such adapter file "
                                                 "(make one with `zhiku train export`)"], cmd
