"""`zhiku ingest`: idempotence, partial batches, stdin, locks, size limits."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.cli.conftest import run


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
