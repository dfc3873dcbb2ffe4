"""The real `zhiku` command in subprocesses: exit codes, one-line errors, JSON output."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ZHIKU = [sys.executable, "-m", "zhiku.cli"]


def run(home: Path, *args: str, stdin: str | None = None, check: int | None = 0) -> subprocess.CompletedProcess:
    env = dict(os.environ, ZHIKU_HOME=str(home))
    p = subprocess.run(ZHIKU + list(args), input=stdin, capture_output=True, text=True, env=env, timeout=300)
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


@pytest.fixture(scope="module")
def home(tmp_path_factory, law_files):
    h = tmp_path_factory.mktemp("cli_home")
    run(h, "ingest", str(law_files[0]), "--kb", "laws", "--create")
    return h


def test_kb_lifecycle(tmp_path):
    run(tmp_path, "kb", "create", "x", "-d", "demo")
    listed = json.loads(run(tmp_path, "kb", "list", "--json").stdout)
    assert [k["name"] for k in listed] == ["x"] and listed[0]["stats"]["chunks"] == 0
    p = run(tmp_path, "kb", "create", "x", check=2)
    assert p.stderr.strip() == "error: knowledge base 'x' already exists"
    p = run(tmp_path, "kb", "delete", "x", check=2)  # no terminal, no --yes
    assert "without --yes" in p.stderr
    run(tmp_path, "kb", "delete", "x", "--yes")
    assert json.loads(run(tmp_path, "kb", "list", "--json").stdout) == []


def test_search_json_and_filters(home):
    out = json.loads(run(home, "search", "试用期最长多久", "--kb", "laws", "--k", "3", "--json").stdout)
    refs = [h["ref"] for h in out["hits"]]
    assert "中华人民共和国劳动合同法#第十九条" in refs
    assert len(refs) == 3
    out = json.loads(run(home, "search", "试用期", "--kb", "laws", "--law", "不存在的法", "--json").stdout)
    assert out["hits"] == []


def test_reingest_is_idempotent(home, law_files):
    out = json.loads(run(home, "ingest", str(law_files[0]), "--kb", "laws", "--json").stdout)
    assert out["unchanged"] == 1 and out["added"] == 0 and out["chunks"] == 0


def test_unknown_kb_and_missing_path_fail_clearly(home, tmp_path):
    p = run(home, "search", "试用期", "--kb", "nope", check=3)
    assert p.stderr.strip() == "error: knowledge base 'nope' does not exist (see `zhiku kb list`)"
    p = run(home, "ingest", "--kb", "nope", "--text", "一行", check=3)
    assert p.stderr.strip() == "error: knowledge base 'nope' does not exist (create it with `zhiku kb create` or pass --create)"
    p = run(home, "ingest", str(tmp_path / "missing.txt"), "--kb", "laws", check=2)
    assert f"{tmp_path / 'missing.txt'}: no such file or directory" in p.stderr


def test_partial_batch_exit_1(tmp_path):
    good = tmp_path / "ok.txt"
    good.write_text("用人单位应当按时足额支付劳动报酬。", encoding="utf-8")
    bad = tmp_path / "bad.docx"
    bad.write_bytes(b"PK\x03\x04 not a real docx")
    p = run(tmp_path / "h", "ingest", str(good), str(bad), "--kb", "k", "--create", "--json", check=1)
    report = json.loads(p.stdout)
    assert report["added"] == 1 and str(bad) in report["files_failed"]
    assert f"error: {bad}:" in p.stderr


def test_stdin_lines(tmp_path):
    p = run(tmp_path, "ingest", "-", "--kb", "t", "--create", "--json", stdin="第一行内容\n\n第二行内容\n")
    assert json.loads(p.stdout)["added"] == 2


def test_locked_store_is_reported(home):
    """A second writer gets a one-line 'locked' error while another process holds the KB."""
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys,time\n"
            "from zhiku.config import Settings\nfrom zhiku.kb import KnowledgeBases\n"
            f"c=KnowledgeBases(Settings(home=r'{home}'))\nkb=c.open('laws')\n"
            "kb.store.delete(['no-such-doc'])\nprint('locked', flush=True)\ntime.sleep(60)\n"
        )],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        p = run(home, "ingest", "--kb", "laws", "--text", "新的一行", check=4)
        assert "knowledge base 'laws'" in p.stderr and "locked by another process" in p.stderr
        # readers are not blocked by a writer
        out = json.loads(run(home, "search", "试用期", "--kb", "laws", "--json").stdout)
        assert out["hits"]
    finally:
        holder.kill()
        holder.wait()


def test_eval_retrieval_json(home, tmp_path):
    ds = tmp_path / "ds.jsonl"
    ds.write_text(
        json.dumps({"qid": "1", "query": "劳动合同试用期最长多久", "gold": ["中华人民共和国劳动合同法#第十九条"]}, ensure_ascii=False)
        + "\n"
        + json.dumps({"qid": "2", "query": "用人单位解除劳动合同要给经济补偿吗", "gold": ["中华人民共和国劳动合同法#第四十六条"]}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    p = run(home, "eval", "retrieval", "--kb", "laws", "--dataset", str(ds), "--k", "10,100", "--json")
    res = json.loads(p.stdout)
    assert res["n"] == 2 and set(res) >= {"recall@10", "recall@100", "mrr@10", "ndcg@10"}
    assert res["recall@10"] >= 0.5 and res["recall@100"] == 1.0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "x"}\n', encoding="utf-8")
    p = run(home, "eval", "retrieval", "--kb", "laws", "--dataset", str(bad), check=2)
    assert f"error: {bad}:1:" in p.stderr


def test_eval_answers_reports(home, tmp_path):
    ds = tmp_path / "ds.jsonl"
    ds.write_text(
        json.dumps({"qid": "1", "query": "劳动合同试用期最长多久", "gold": ["中华人民共和国劳动合同法#第十九条"]}, ensure_ascii=False)
        + "\n" + json.dumps({"qid": "2", "query": "不会被问到", "gold": ["x"]}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    un = tmp_path / "un.jsonl"
    un.write_text(json.dumps({"qid": "ot1", "query": "红烧肉怎么做才好吃？"}, ensure_ascii=False) + "\n", encoding="utf-8")
    rep, md, pq = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "pq.jsonl"
    p = run(home, "eval", "answers", "--kb", "laws", "--dataset", str(ds), "--unanswerable", str(un), "--limit", "1",
            "--json", str(rep), "--markdown", str(md), "--per-query", str(pq))
    assert "citation_precision" in p.stdout and "refusal_correctness" in p.stdout  # the rich table
    res = json.loads(rep.read_text(encoding="utf-8"))
    assert res["kb"] == "laws" and res["model"] == "qwen2.5-0.5b" and res["n"] == 2
    assert res["answerable"]["n"] == 1 and res["answerable"]["source_recall"] == 1.0
    # the file's records carry no "answerable": false, --unanswerable makes them so; the gate refuses this one
    assert res["unanswerable"]["refusal_correctness"] == 1.0
    rows = [json.loads(line) for line in pq.read_text(encoding="utf-8").splitlines()]
    assert [r["qid"] for r in rows] == ["1", "ot1"] and not rows[1]["answerable"]
    text = md.read_text(encoding="utf-8")
    assert text.startswith("# Answer quality") and "| refusal_correctness | 1.000 |" in text


def test_eval_answers_errors(home, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "试用期", "gold": ["a"]}\n{"qid": 2}\n', encoding="utf-8")
    p = run(home, "eval", "answers", "--kb", "laws", "--dataset", str(bad), check=2)
    assert p.stderr.startswith(f"error: {bad}:2: not a dataset record with query")
    ok = tmp_path / "ok.jsonl"
    ok.write_text('{"query": "试用期", "gold": ["a"]}\n', encoding="utf-8")
    p = run(home, "eval", "answers", "--kb", "laws", "--dataset", str(ok), "--unanswerable", str(tmp_path / "no.jsonl"), check=2)
    assert "no.jsonl: no such dataset file" in p.stderr
    p = run(home, "eval", "answers", "--kb", "laws", "--dataset", str(ok), "--judge", check=2)
    assert "the faithfulness judge needs an OpenAI-compatible server" in p.stderr
    # an unreachable judge fails before any question is answered
    p = run(home, "eval", "answers", "--kb", "laws", "--dataset", str(ok), "--judge",
            "--judge-url", "http://127.0.0.1:9/v1", "--judge-model", "m", check=5)  # BackendError
    assert "LLM server http://127.0.0.1:9/v1: cannot connect" in p.stderr
    p = run(home, "eval", "answers", "--kb", "nope", "--dataset", str(ok), check=3)
    assert "knowledge base 'nope' does not exist" in p.stderr


def test_config_show_masks_secrets(tmp_path):
    env_key = "ZHIKU_LLM__API_KEY"
    os.environ[env_key] = "sk-secret"
    try:
        out = json.loads(run(tmp_path, "config", "show").stdout)
    finally:
        del os.environ[env_key]
    assert out["llm"]["api_key"] == "***" and out["home"] == str(tmp_path)


def test_100mb_text_file_rejected_rest_ingested(tmp_path):
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.truncate(100 * 1024 * 1024)  # sparse: 100 MB on paper, no disk churn
    ok = tmp_path / "ok.txt"
    ok.write_text("劳动者有权依法参加和组织工会。", encoding="utf-8")
    p = run(tmp_path / "h", "ingest", str(big), str(ok), "--kb", "k", "--create", "--json", check=1)
    assert json.loads(p.stdout)["added"] == 1
    line = next(l for l in p.stderr.splitlines() if "big.txt" in l)
    assert line.startswith(f"error: {big}: file is 100.0 MB, over the 50 MB limit")


def test_chat_condenses_follow_up(home):
    p = run(home, "chat", "--kb", "laws", stdin="劳动合同的试用期有什么规定？\n那最长能约定多久？\n/exit\n")
    assert p.stdout.count("引用") + p.stdout.count("检索到的条文") + p.stdout.count("未找到") >= 2
    assert "searched as:" in p.stderr  # the follow-up was rewritten into a standalone question
